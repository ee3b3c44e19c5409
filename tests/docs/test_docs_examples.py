"""Every example of README.md and docs/*.md is executed by the suite, so none can go stale unseen.

- Python blocks (README's simulator, stepping, console, role-play examples): run here, each as a fresh process of
  this environment's Python, a page's blocks in order in one temporary folder, as a reader following the page
  does (the console opens the ``crm.db`` the simulator's block wrote). A failing line fails the test naming the
  page and the block's line; an ``assert`` in an example is checked like any other line.
- The guides' commands (docs/guide-*.md, bash blocks): played in order by tests/docs/test_guides.py's walk, each
  command's printed output checked against the ``# `` lines the guide shows under it.
- README's command synopsis (``[optional]``, ``a|b``): every line checked here against that command's own
  ``--help``: the command exists, each option it shows is one of the command's, an ``a|b|c`` list is exactly the
  option's choices, and every command of ``crmlab --help`` is in the synopsis.
- A block that cannot run in a test is marked in the page's source, ``<!-- not run: reason -->`` on the line
  before its fence (tests/docs/docblocks.py). Each marker is checked here: it stands before a block a reader would
  run, and its reason is installing or names the test that plays the block instead, which must exist. A block
  of a kind that is neither run nor marked fails the first test, naming where it is.
- Inline names ``crmlab.x.y`` in the pages' prose resolve to a module or attribute of the installed package, and
  every test file (``tests/…/test_x.py``, ``tests/…/test_x.py::test_name``) a page names exists.
"""
from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from docblocks import DOCS, INSTRUCTOR, README, REPO, RUNNABLE, STUDENT, Block, read

BIN = Path(sys.executable).parent
GUIDES = (INSTRUCTOR, STUDENT)             # their commands: tests/docs/test_guides.py
DATA_KINDS = ("", "text", "csv", "toml")   # a file or an output a block shows
SYNOPSIS_TEST = "test_the_readme_synopsis_shows_every_command_with_real_options"
# inline code that reads like a crmlab.… name but is none
NOT_NAMES = {"crmlab.toml": "the course's settings file", "crmlab.kernels": "a cgroup's name (docs/design.md, sandbox)"}


def all_blocks() -> list[Block]:
    return [b for doc in DOCS for b in read(doc)[0]]


def all_markers():
    return [m for doc in DOCS for m in read(doc)[1]]


def python_blocks() -> list[Block]:
    return [b for b in all_blocks() if b.kind == "python"]


def short(block: Block) -> str:
    first = next((ln.strip() for ln in block.lines if ln.strip()), "")
    return f"{block.where} {first[:50]}"


# -- every block is run or marked ----------------------------------------------------------------------------
def test_every_block_a_reader_would_run_is_run_or_marked():
    unaccounted, unknown = [], []
    for b in all_blocks():
        if b.kind not in RUNNABLE:
            if b.kind not in DATA_KINDS:
                unknown.append(f"{b.where}: ```{b.kind}")
            continue
        runs_here = b.kind == "python"
        runs_in_walk = b.path in GUIDES and b.kind == "bash"
        if b.not_run is None and not (runs_here or runs_in_walk):
            unaccounted.append(short(b))
    assert unaccounted == [], "no test runs these blocks: run them, or mark them <!-- not run: reason -->"
    assert unknown == [], f"a block of a kind no test reads (known: {RUNNABLE + DATA_KINDS})"


def test_the_pages_have_examples_to_run():
    """The walk and the runner here read what the pages hold (a renamed fence kind would skip them all)."""
    assert len(python_blocks()) >= 5
    assert sum(b.kind == "bash" and b.not_run is None for b in read(INSTRUCTOR)[0]) >= 10
    assert sum(b.kind == "bash" and b.not_run is None for b in read(STUDENT)[0]) >= 1


@pytest.mark.parametrize("marker", all_markers(), ids=lambda m: f"{m.path.relative_to(REPO)}:{m.line}")
def test_a_block_not_run_says_why_and_what_plays_it(marker):
    where = f"{marker.path.relative_to(REPO)}:{marker.line}"
    assert marker.block is not None, f"{where}: a not-run marker must stand on the line before a block's fence"
    assert marker.block.kind in RUNNABLE, f"{where}: marks a {marker.block.kind or 'plain'} block, which is not run anyway"
    named = re.findall(r"(tests/[\w/]+\.py)(?:::(\w+))?", marker.reason)
    assert marker.reason.startswith("installing") or named, \
        f"{where}: the reason must be 'installing …' or name the test that plays the block: {marker.reason!r}"
    for file, test in named:
        source = (REPO / file).read_text(encoding="utf-8")
        assert test == "" or f"def {test}(" in source, f"{where}: {file} has no {test}"


# -- the Python blocks ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def python_runs(tmp_path_factory):
    """Each page's Python blocks, in order, in one folder of the page: {block's place: (exit code, output)}."""
    runs = {}
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", MPLBACKEND="Agg")
    for doc in DOCS:
        todo = [b for b in read(doc)[0] if b.kind == "python" and b.not_run is None]
        if not todo:
            continue
        folder, scripts = tmp_path_factory.mktemp(doc.stem), tmp_path_factory.mktemp(f"{doc.stem}_blocks")
        for b in todo:
            script = scripts / f"line_{b.line}.py"   # outside the folder: the examples there see only their own files
            script.write_text("\n".join(b.lines) + "\n", encoding="utf-8")
            r = subprocess.run([sys.executable, str(script)], cwd=folder, env=env, capture_output=True, text=True,
                               timeout=600)
            runs[b.where] = (r.returncode, r.stdout + r.stderr)
    return runs


@pytest.mark.parametrize("block", python_blocks(), ids=lambda b: b.where)
def test_a_python_example_runs(block, python_runs):
    if block.not_run is not None:
        pytest.skip(f"not run: {block.not_run}")
    code, out = python_runs[block.where]
    assert code == 0, f"{short(block)} failed (run from the page's folder, after the page's earlier blocks):\n{out[-3000:]}"


# -- README's command synopsis -------------------------------------------------------------------------------
@cache
def crmlab_help(*path: str) -> str:
    """``crmlab PATH… --help`` as printed (empty if there is no such command)."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", COLUMNS="200")
    r = subprocess.run([str(BIN / "crmlab"), *path, "--help"], env=env, capture_output=True, text=True, timeout=120)
    return r.stdout if r.returncode == 0 else ""


def usage_path(text: str) -> tuple[str, ...]:
    """The command a help text is of, from its usage line: ``crmlab roster import [-h] …`` → (roster, import)."""
    m = re.search(r"crmlab((?: [a-z][\w-]*)*) \[-h\]", text)
    return tuple(m.group(1).split()) if m else ()


def subcommands(text: str) -> list[str]:
    """The commands (or actions) a help text lists, each on a line of its own indented by four spaces."""
    return re.findall(r"(?m)^ {4}([a-z][a-z-]*)(?=\s|$)", text)


def command_of(words: list[str]) -> tuple[str, ...]:
    """The longest start of a synopsis line's words that is a command of crmlab (its help's usage says so)."""
    path: tuple[str, ...] = ()
    for w in words:
        if not re.fullmatch(r"[a-z][\w-]*", w) or usage_path(crmlab_help(*path, w)) != (*path, w):
            break
        path = (*path, w)
    return path


def leaf_commands(path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = subcommands(crmlab_help(*path))
    if not subs:
        return [path]
    return [leaf for s in subs for leaf in leaf_commands((*path, s))]


def test_the_readme_synopsis_shows_every_command_with_real_options():
    (synopsis,) = [b for b in read(README)[0] if b.not_run and SYNOPSIS_TEST in b.not_run]
    text = "\n".join(synopsis.lines)
    leaves = leaf_commands()
    assert len(leaves) >= 15, leaves
    assert [" ".join(c) for c in leaves if f"crmlab {' '.join(c)}" not in text] == [], "commands the synopsis omits"
    checked = 0
    for line in synopsis.lines:
        code = re.sub(r"\s+#\s.*$", "", line).strip()
        if not code or code.startswith("cd "):
            continue
        assert code.startswith("crmlab "), f"README synopsis: {code!r} is not a crmlab command"
        words = code.split()[1:]
        path = command_of(words)
        assert path or words == ["--help"], f"README synopsis: {code!r} names no command of crmlab"
        help_text = crmlab_help(*path)
        for option in re.findall(r"(?<![\w-])--[a-z][\w-]*", code):
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text), \
                f"README synopsis: crmlab {' '.join(path)} has no option {option}"
        for option, listed in re.findall(r"(--[a-z][\w-]*)[ =]([\w.-]+(?:\|[\w.-]+)+)", code):
            choices = re.search(rf"{re.escape(option)} \{{([^}}]+)\}}", help_text)
            assert choices and sorted(listed.split("|")) == sorted(choices.group(1).split(",")), \
                f"README synopsis: {option} {listed} against the command's choices {choices and choices.group(1)}"
        checked += 1
    assert checked >= 15


# -- inline names ----------------------------------------------------------------------------------------------
def inline_names() -> list[tuple[str, str]]:
    out = []
    for doc in DOCS:
        prose = re.sub(r"(?ms)^```.*?^```", "", doc.read_text(encoding="utf-8"))
        for span in re.findall(r"`([^`\n]+)`", prose):
            m = re.match(r"(?:\w+ = )?(crmlab(?:\.\w+)+)", span)
            if m and m.group(1) not in NOT_NAMES:
                out.append((str(doc.relative_to(REPO)), m.group(1)))
    return out


def resolves(name: str) -> bool:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_the_names_the_pages_give_are_the_package_s():
    names = inline_names()
    assert len(names) >= 5, names
    assert [f"{doc}: {name}" for doc, name in names if not resolves(name)] == []


def test_the_tests_the_pages_name_exist():
    named = [(doc, m.group(1), m.group(2)) for doc in DOCS
             for m in re.finditer(r"(tests/[\w/]+\.py)(?:::(\w+))?", doc.read_text(encoding="utf-8"))]
    assert len(named) >= 10
    missing = [f"{doc.relative_to(REPO)}: {file}" + (f"::{test}" if test else "") for doc, file, test in named
               if not (REPO / file).is_file() or (test and f"def {test}(" not in (REPO / file).read_text(encoding="utf-8"))]
    assert missing == []
