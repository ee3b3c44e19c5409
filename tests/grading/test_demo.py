"""`crmlab demo` (grading/demo.py): the main job on a class of thirty, and the summary an instructor reads —
every student aligned in columns whatever the width of their name, the grader's reasons in full, the hand-graded
part said for what it is, the copied numbers flagged, and the report and feedback to open next.
How long it takes is measured by benchmarks, not here (a bound once failed at 185.6 s on a loaded machine)."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from crmlab.grading.outputs.terminal import width

CRMLAB = str(Path(sys.executable).with_name("crmlab"))


def run(*args, cwd=None):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run([CRMLAB, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "demo"
    r = run("demo", str(root))
    assert r.returncode == 0, r.stderr[-2000:]
    return root, r.stdout


def test_the_demo_grades_a_class_of_thirty(demo):
    root, out = demo
    for status in ("graded", "error", "timeout", "missing"):
        assert status in out
    table = list(csv.DictReader(io.StringIO(run("export", "--course", str(root)).stdout)))
    assert len(table) == 30
    statuses = [row["status"] for row in table]
    assert statuses.count("graded") >= 20
    assert all(row["reason"] for row in table if row["status"] != "graded")


def test_the_summary_lines_up_and_gives_every_reason_in_full(demo):
    root, out = demo
    lines = out.splitlines()
    rows = [ln for ln in lines if ln.startswith("s0")][:30]
    assert len(rows) == 30
    # the status column starts at the same terminal column on every row, names of 2 or 3 Chinese characters alike
    starts = {width(ln[:min(ln.index(w) for w in ("已评分", "出错", "超时", "未提交", "被改动", "迟交") if w in ln)]) for ln in rows}
    assert len(starts) == 1
    table = list(csv.DictReader(io.StringIO(run("export", "--course", str(root)).stdout)))
    for row in table:
        if row["reason"]:
            assert f"{row['student_id']} " in out and row["reason"] in out   # whole, however long


def test_the_summary_names_the_hand_graded_part_and_the_copied_numbers(demo):
    root, out = demo
    assert "hand-graded part: reflection (4 points)" in out and "formgrader" in out
    plan = json.loads((root / ".crmlab" / "demo_plan_m01.json").read_text())
    [copier] = [s for s, kind in plan.items() if kind == "copied_numbers"]
    flagged = [ln for ln in out.splitlines() if ln.startswith("⚑ copied numbers:")]
    assert len(flagged) == 1 and flagged[0].startswith(f"⚑ copied numbers: {copier} ")
    # the flag's points are the grader's: the export's automatic part of that student
    row = next(r for r in csv.DictReader(io.StringIO(run("export", "--course", str(root)).stdout)) if r["student_id"] == copier)
    auto = sum(float(row[c]) for c in row if c.startswith("m01:chk_") and row[c])
    assert f"earn {auto:g} of 11 automatic points" in flagged[0]


def test_the_summary_ends_with_the_report_and_feedback_to_open(demo):
    root, out = demo
    tail = out.splitlines()[-4:]
    report = root / "reports" / "m01.html"
    feedback = root / "feedback" / "s001" / "m01" / "index.html"
    assert any(str(report) in ln for ln in tail) and report.is_file()
    assert any(str(feedback) in ln for ln in tail) and feedback.is_file()
    assert "crmlab export" in tail[-1]


def test_the_copied_numbers_of_an_operational_module_are_computed_outside_ipython(tmp_path):
    """m04's solution cells call display() (a notebook's builtin): the demo runs them in its own process to
    get the numbers a copier hands in, where display was once a NameError."""
    from crmlab.grading.classroom.assign import assign
    from crmlab.grading.classroom.course import Course
    from crmlab.grading.demo import answers_of, as_literals, demo_spec

    course = Course.init(tmp_path / "c", "copy-course", secret="copy-secret")
    course.add_students([{"id": "s01"}])
    assign(course, "m04", ["s01"], workers=1, progress=False)
    answers = answers_of(course, "m04", "s01")
    assert set(answers) == set(demo_spec("m04")["kinds"]["answers"])
    namespace = {"pd": __import__("pandas"), "np": np}
    exec(as_literals(answers), namespace)   # what the copier's cell holds runs as plain code
    assert all(k in namespace for k in answers)
