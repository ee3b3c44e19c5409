"""The code blocks of the README and the guides, as the tests that run them read them.

A block is a fenced ```` ```kind name ```` block of README.md or docs/*.md. The kinds a reader would type
(python, bash, sh, shell, console) are run by the suite: the README's Python by tests/docs/test_docs_examples.py,
the guides' commands by tests/docs/test_guides.py's walk. A block that cannot run in a test is marked in the page's
source by an HTML comment on the line before its fence, invisible on the rendered page:

    <!-- not run: why, and which test plays it instead (tests/<folder>/test_x.py or tests/<folder>/test_x.py::test_name) -->

A block's other kinds (text, csv, toml, or none) are files or output it shows; the guide walk makes files of some.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from paths import REPO

README = REPO / "README.md"
INSTRUCTOR, STUDENT = REPO / "docs" / "guide-instructor.md", REPO / "docs" / "guide-student.md"
DOCS = (README, *sorted((REPO / "docs").glob("*.md")))
RUNNABLE = ("python", "bash", "sh", "shell", "console")
MARKER = re.compile(r"<!--\s*not run:\s*(.*?)\s*-->", re.S)


@dataclass
class Block:
    kind: str            # bash, python, text, csv, toml, …
    name: str            # the file a block shows ("学生名单.xlsx"), after the kind
    lines: list[str]
    section: str         # the "## " heading it is under
    path: Path = REPO
    line: int = 0        # the line of its opening fence, from 1
    not_run: str | None = None   # the reason of a `<!-- not run: … -->` marker before it

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)   # the "# " lines under it


@dataclass
class Marker:
    path: Path
    line: int
    reason: str
    block: Block | None   # the block it stands before; None: a marker before no block (an error)


def read(path: Path) -> tuple[list[Block], list[Marker]]:
    """Every fenced block of a page, and every not-run marker with the block it marks."""
    out, markers, section, current, pending = [], [], "", None, None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if current is None and line.startswith("## "):
            section = line[3:]
        if line.startswith("```"):
            if current is None:
                kind, _, name = line[3:].strip().partition(" ")
                current = Block(kind, name.strip(), [], section, path, n, pending.reason if pending else None)
                if pending:
                    pending.block, pending = current, None
            else:
                out.append(current)
                current = None
            continue
        if current is not None:
            current.lines.append(line)
            continue
        m = MARKER.search(line)
        if m:
            pending = Marker(path, n, m.group(1), None)
            markers.append(pending)
        elif line.strip() and pending:   # a marker stands on the line right before its block's fence
            pending = None
    return out, markers


def blocks(path: Path) -> list[Block]:
    return read(path)[0]


def steps(block: Block) -> list[Step]:
    """The commands of a bash block, each with the output lines shown under it (a comment after a command on
    its own line is no output; a line ending in a backslash continues)."""
    out, pending = [], ""
    for line in block.lines:
        if pending:
            pending += " " + line.strip()
        elif line.startswith("# "):
            if out:
                out[-1].expected.append(line[2:])
            continue
        elif not line.strip() or line.startswith("#"):
            continue
        else:
            pending = line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        out.append(Step(re.sub(r"\s+#\s.*$", "", pending).strip()))
        pending = ""
    return out
