"""The guides run as written: docs/guide-instructor.md, steps 1 to 11, is played in order in an empty home
folder — every command of its ``bash`` blocks run as shown (from the folder the guide is in), its files
(the class list, groups.csv, peer_scores.csv, the crmlab.toml change) made from the blocks that show them,
and every ``# `` line under a command checked against what the command prints (``…``: whatever differs from
run to run; ``~``: the home folder). What the students do in their JupyterLab between two commands is played
with nbgrader's own fetch and submit (tests/support/students.py), and the formgrader's manual grades the way it stores
them. docs/guide-student.md's commands run in the same walk.

A block that is not run here is marked in the guide's source, ``<!-- not run: reason -->`` before its fence
(installing, the CRM show of step 12, JupyterHub), naming the test that plays it instead; every other command
of the guides is run, and tests/docs/test_docs_examples.py checks the markers of every page: a new command cannot
slip into a guide without a test running it.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
from docblocks import INSTRUCTOR, RUNNABLE, STUDENT, Block, Step, blocks, steps
from openpyxl import Workbook

BIN = Path(sys.executable).parent

# the students of the walk (the guide's class list): who hands in what between step 4 and step 6
MODEL, PARTLY, UNTOUCHED = ("2024010101", "2024010102", "2024010103", "2024010104"), ("2024010105",), ("2024010106",)
HAND_GRADED = {"2024010101": 3, "2024010102": 4, "2024010103": 2, "2024010104": 3}   # 2024010105's waits
STUDENT_GUIDE_VALUES = {"<课程文件夹 / course folder>": "~/crm2026", "<你的学号 / your student id>": "2024010101"}


def guide_commands() -> list[tuple[Path, Block, Step]]:
    """Every command of the guides' shell blocks that are not marked as not run."""
    return [(path, b, s) for path in (INSTRUCTOR, STUDENT) for b in blocks(path)
            if b.kind in RUNNABLE and b.not_run is None for s in steps(b)]


# -- playing the guide ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def xlsx_from_text(lines: list[str], path: Path) -> None:
    """The class list as the guide draws it: columns apart by two spaces or more (a name may hold one)."""
    wb = Workbook()
    for line in lines:
        wb.active.append(re.split(r" {2,}", line.strip()))
    wb.save(path)


def apply_toml(lines: list[str], path: Path) -> None:
    """Set each ``key = value`` of a shown snippet in its table of the course's crmlab.toml."""
    text, table = path.read_text(encoding="utf-8"), None
    for line in lines:
        if line.startswith("["):
            table = line.strip()
            continue
        key = line.split("=")[0].strip()
        start = re.search(rf"(?m)^{re.escape(table)}.*\n", text)
        assert start, f"no {table} in {path}"
        head, rest = text[:start.end()], text[start.end():]
        body = re.sub(rf"(?m)^{re.escape(key)} = [^#\n]*?(\s*#.*)?$", lambda m: line.strip() + (m.group(1) or ""), rest,
                      count=1)
        assert body != rest, f"{key} is not in {table} of {path}"
        text = head + body
    path.write_text(text, encoding="utf-8")
    tomllib.loads(text)


class Walk:
    def __init__(self, home: Path):
        self.home, self.cwd = home, home
        self.env = {k: v for k, v in os.environ.items() if k != "CRMLAB_COURSE"}
        self.env.update(HOME=str(home), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
        self.ran: list[tuple[str, str]] = []   # (command, what it printed, the home folder as ~), in order

    def show(self, text: str) -> str:
        return text.replace(str(self.home), "~")

    def run(self, step: Step) -> str:
        command = step.command
        for placeholder, value in STUDENT_GUIDE_VALUES.items():
            command = command.replace(placeholder, value)
        if command.startswith("cd "):
            self.cwd = Path(subprocess.run(["bash", "-c", f"{command} && pwd"], cwd=self.cwd, env=self.env,
                                           capture_output=True, text=True, check=True).stdout.strip())
            out = ""
        elif command.startswith("crmlab lab"):
            out = self.lab(command)
        else:
            r = subprocess.run(["bash", "-c", command], cwd=self.cwd, env=self.env, capture_output=True, text=True,
                               timeout=900)
            out = self.show(r.stdout + r.stderr)
            assert r.returncode == 0, f"{command}\n{out[-3000:]}"
        self.ran.append((step.command, out))
        lines = [ln.rstrip() for ln in out.splitlines()]
        at = 0
        for want in step.expected:   # in order, each a whole line of the output
            pattern = re.compile(".*".join(re.escape(part) for part in want.rstrip().split("…")))
            while at < len(lines) and not pattern.fullmatch(lines[at]):
                at += 1
            assert at < len(lines), f"{command}: the guide shows\n  {want}\nbut it printed\n{out}"
            at += 1
        return out

    def lab(self, command: str) -> str:
        """Start the server as shown, on a free port (another may hold 8888 on a shared machine), until it answers."""
        shown = re.search(r"--port (\d+)", command)
        port = free_port()
        argv = command.replace(f"--port {shown.group(1)}", f"--port {port}") if shown else f"{command} --port {port}"
        proc = subprocess.Popen(["bash", "-c", f"exec {argv}"], cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        printed = []
        try:
            for line in proc.stdout:
                printed.append(line)
                if line.startswith("open: "):
                    url = line.split(" ", 1)[1].strip()
                    break
            else:
                raise AssertionError(f"{command}: no address printed\n{''.join(printed)}")
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(url.replace("/lab?", "/api/status?"), timeout=5) as r:
                        assert r.status == 200
                        break
                except OSError:
                    assert time.monotonic() < deadline and proc.poll() is None, f"{command}: the server did not answer"
                    time.sleep(1)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        out = self.show("".join(printed))
        return out.replace(f":{port}/", f":{shown.group(1) if shown else 8888}/")


def students_hand_in(course) -> None:
    """Step 5, in each student's JupyterLab: fetch, answer, submit (nbgrader's own apps, as the lab runs them)."""
    from students import answer, model_answers, student_app

    from crmlab.grading.classroom.course import SHIPPED_COURSE
    wrong = tomllib.loads((SHIPPED_COURSE / "demo" / "m01.toml").read_text(encoding="utf-8"))["wrong"]
    for s in (*MODEL, *PARTLY, *UNTOUCHED):
        app, home = student_app(course, s, "fetch")
        app.start()
        answers = model_answers(course, "m01")
        if s in PARTLY:
            answers["ans_top10"] = wrong["ans_top10"]
        if s not in UNTOUCHED:
            answers["reflection"] = "AA 客户收入占比最高，建议指定大客户经理。The AA accounts bring most revenue."
            answer(home / "m01" / "m01.ipynb", answers)
        student_app(course, s, "submit")[0].start()


def formgrader_grades(course) -> None:
    """Step 7: the reflection's points as the formgrader stores them."""
    with course.gradebook() as gb:
        for s, points in HAND_GRADED.items():
            grade = gb.find_grade("reflection", "m01", "m01", s)
            grade.manual_score, grade.needs_manual_grade = float(points), False
            gb.find_comment("reflection", "m01", "m01", s).manual_comment = "分析清楚。Clear."
        gb.db.commit()


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    from crmlab.grading.classroom.course import Course

    w = Walk(tmp_path_factory.mktemp("guide") / "home")
    w.home.mkdir()
    course = lambda: Course.open(w.home / "crm2026")  # noqa: E731
    for path in (INSTRUCTOR, STUDENT):
        for block in blocks(path):
            if block.not_run is not None:
                continue
            if block.kind == "text" and block.name.endswith(".xlsx"):
                xlsx_from_text(block.lines, w.cwd / block.name)
            elif block.kind == "csv" and block.name:
                (w.cwd / block.name).write_text("\n".join(block.lines) + "\n", encoding="utf-8")
            elif block.kind == "toml" and block.name == "crmlab.toml":
                apply_toml(block.lines, w.cwd / "crmlab.toml")
            elif block.kind in RUNNABLE:
                assert block.kind == "bash", f"{block.where}: the walk plays bash blocks, not {block.kind}"
                for step in steps(block):
                    if step.command.startswith("crmlab collect"):
                        students_hand_in(course())
                    if step.command.startswith("crmlab feedback"):
                        formgrader_grades(course())
                    w.run(step)
        if path == INSTRUCTOR:   # the student guide's last step: their scores so far, from the feedback they fetch
            from students import student_app
            app, home = student_app(course(), "2024010101", "fetch_feedback")
            app.start()
            w.cwd = home
            w.run(Step("crmlab my-scores", ["crm-2026-spring · 2024010101 — 你目前的成绩 / your scores so far — 截至 as of … (UTC+08:00)"]))
    return w


# -- the tests ---------------------------------------------------------------------------------------------
def test_every_command_shown_in_the_guides_is_run(walk):
    """Each command of a block not marked as not run, in the order the guides show them (the markers and the
    tests they name are checked by tests/docs/test_docs_examples.py)."""
    assert [c for c, _ in walk.ran if c != "crmlab my-scores"] == [s.command for _, _, s in guide_commands()]


def test_the_instructor_guide_walks_a_whole_term(walk):
    """The walk got through (each command's exit code and its shown output are checked as it runs); what it
    covers is a term: these commands, in this order."""
    order = [c.split()[1] if c.split()[1] not in ("course", "roster") else " ".join(c.split()[1:3])
             for c, _ in walk.ran if c.startswith("crmlab ")]
    wanted = ["course init", "roster import", "roster list", "roster remove", "assign", "lab", "lab", "collect",
              "autograde", "feedback", "report", "release-feedback", "export", "export", "grades", "grades", "my-scores",
              "lab"]
    assert [c for c in order if c != "--help"] == wanted
    home = walk.home / "crm2026"
    assert (home / "reports" / "m01.html").is_file() and (home / "grades.xlsx").is_file()
    finals = (home / "final.csv").read_text(encoding="utf-8")
    assert "2024010105" in finals and "manual grading pending" in finals


def test_the_guides_grade_example_follows_the_rule(walk):
    """The guide's peer scores worked by hand: per group drop one highest and one lowest, average the rest."""
    # G1: 9, 8, 7 → 8; G2: 8, 8, 6 → 8; G3: 7, 9, 8 → 8; G4: 6, 7, 7 → 7
    with_show, without = [o for c, o in walk.ran if c.startswith("crmlab grades")]
    assert "CRM show (peer scores): G1 8, G2 8, G3 8, G4 7" in with_show
    assert "modules only" in without and "peer scores" not in without
    # with peer_share = 0 (the last run): 2024010101's grade is m01's points alone, 11 automatic + 3 by hand of 15
    import csv
    import io
    final = (walk.home / "crm2026" / "final.csv").read_bytes()
    assert final.startswith(b"\xef\xbb\xbf")   # for Excel on Chinese Windows (crmlab/cli/handlers.py CSV_ENCODING)
    rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO(final.decode("utf-8-sig")))}
    assert float(rows["2024010101"]["final"]) == pytest.approx(100 * 14 / 15, abs=0.01)
    assert rows["2024010107"]["final"] == "" and rows["2024010107"]["missing"] == "m01: missing"


# PYTHONPATH=tests/support python tests/docs/test_guides.py DIR: play the walk and print what each command printed
if __name__ == "__main__":
    def mktemp(name):
        (Path(sys.argv[1]) / name).mkdir(parents=True)
        return Path(sys.argv[1]) / name
    w = walk.__wrapped__(type("F", (), {"mktemp": staticmethod(mktemp)})())
    for command, out in w.ran:
        print(f"$ {command}\n{out}")
