"""Bulk autograding with real nbgrader and real kernels: scores, statuses, resume, export."""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from crmlab.grading.classroom.assign import assign
from crmlab.grading.run.autograde import autograde
from crmlab.grading.classroom.course import Course
from crmlab.grading.demo import demo_spec, write_submission
from crmlab.grading.outputs.export import export
from crmlab.grading.classroom.state import StateStore, submission_digest

MODULE = "m01"
AUTO_POINTS = 11.0
DATA_CHECKS = ["chk_active", "chk_top10", "chk_pareto", "chk_wait", "chk_grid"]
CRMLAB = str(Path(sys.executable).with_name("crmlab"))

IGNORES_INTERRUPTS = """
while True:              # swallows every interrupt nbgrader sends
    try:
        while True:
            pass
    except KeyboardInterrupt:
        pass
"""
# answers that would fool a test run inside the student's kernel
LYING_EQ = """
class _Liar(list):
    def __eq__(self, other):     # "equal" to whatever a test compares it with
        return True
    __hash__ = None

top10 = _Liar(["A0000"] * 10)
"""
FAKE_DATABASE = """
import pandas as pd
active_by_kind = pd.Series({"university": 1, "k12": 1, "vocational": 1, "training": 1})

class _Fake:                     # every query now returns these made-up counts
    def __init__(self, *a, **k): pass
    def __enter__(self): return self
    def __exit__(self, *a): return False
    def execute(self, *a, **k): return self
    def fetchall(self): return [("university", 1), ("k12", 1), ("vocational", 1), ("training", 1)]

sqlite3.connect = _Fake
"""
FREEZES_GRADER = """
import os, signal
os.kill(os.getppid(), signal.SIGSTOP)   # stops the process that runs this kernel: the grader
"""


def _edit_notebook(course, student, edit):
    path = course.path("submitted", student, MODULE) / f"{MODULE}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    edit(nb)
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")


def _set_code(grade_id, code):
    def edit(nb):
        for c in nb["cells"]:
            if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
                c["source"] = code
    return edit


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course") / "c"
    course = Course.init(root, "test-course", secret="grading-test-secret")   # reproducible data
    toml = root / "crmlab.toml"
    # m01 due at midnight Beijing time = 2025-12-31 16:00 UTC
    toml.write_text(toml.read_text().replace("cell_timeout = 20", "cell_timeout = 4")
                    .replace("[modules.m01]\n", "[modules.m01]\ndue = 2026-01-01T00:00:00+08:00\n"))
    course = Course.open(root)
    kinds = {"sol": "correct", "blank": "blank", "copy": "copied_numbers", "trunc": "broken_json",
             "loop": "infinite_loop", "deleted": "tests_deleted", "stubborn": "correct", "freezer": "correct",
             "liar": "correct", "faker": "correct", "edited": "correct", "latecomer": "correct", "ontime": "correct",
             "renamed": "correct", "missing": "no_submission", "wrong": "correct"}
    course.add_students([{"id": s} for s in kinds])
    assign(course, MODULE, progress=False)
    rng = np.random.default_rng(0)
    for student, kind in kinds.items():
        write_submission(course, MODULE, student, kind, rng, copied_from="sol")
    _edit_notebook(course, "stubborn", _set_code("ans_top10", IGNORES_INTERRUPTS))
    _edit_notebook(course, "freezer", _set_code("ans_top10", FREEZES_GRADER))
    _edit_notebook(course, "liar", _set_code("ans_top10", LYING_EQ))
    for cell in ("ans_top10", "ans_wait"):   # two of the plausible wrong answers of course/demo/m01.toml
        _edit_notebook(course, "wrong", _set_code(cell, demo_spec(MODULE)["wrong"][cell]))
    for student, stamp in (("latecomer", "2026-01-02 10:00:00.000000 UTC"), ("ontime", "2025-12-31 15:59:00.000000 UTC")):
        (course.path("submitted", student, MODULE) / "timestamp.txt").write_text(stamp)   # as nbgrader's submit writes
    # the visible checks of a test cell dropped, and the read-only setup cell rewritten
    _edit_notebook(course, "edited", _set_code("chk_grid", 'hand_in("chk_grid", grade)\n'))
    _edit_notebook(course, "edited", lambda nb: nb["cells"][1].update(
        source="".join(nb["cells"][1]["source"]) + "\nPROFIT_THRESHOLD = 0\n"))
    _edit_notebook(course, "faker", _set_code("ans_active", FAKE_DATABASE))
    folder = course.path("submitted", "renamed", MODULE)
    (folder / f"{MODULE}.ipynb").rename(folder / "my answers.ipynb")
    return course


@pytest.fixture(scope="module")
def graded(course):
    summary = autograde(course, MODULE, workers=2, progress=False, submission_timeout=25)
    return {o.student: o for o in summary.outcomes}, summary


def _scores(course, student):
    with course.gradebook() as gb:
        sub = gb.find_submission(MODULE, student)
        return {g.name: g.score for nb in sub.notebooks for g in nb.grades}


def test_solution_gets_full_automatic_marks(course, graded):
    outcomes, _ = graded
    assert outcomes["sol"].status == "graded" and outcomes["sol"].score == AUTO_POINTS
    assert all(_scores(course, "sol")[c] > 0 for c in DATA_CHECKS)


def test_released_notebook_gets_zero(graded):
    outcomes, _ = graded
    assert outcomes["blank"].status == "graded" and outcomes["blank"].score == 0


def test_numbers_copied_from_a_classmate_lose_the_data_points(course, graded):
    outcomes, _ = graded
    scores = _scores(course, "copy")
    assert outcomes["copy"].status == "graded"
    assert [c for c in DATA_CHECKS if scores[c] > 0] == []


def test_every_student_has_different_data(course):
    a = sqlite3.connect(course.path("outbox", "sol", MODULE) / "crm.db")
    b = sqlite3.connect(course.path("outbox", "copy", MODULE) / "crm.db")
    q = "SELECT COUNT(*), SUM(quantity * unit_price) FROM order_lines"
    assert a.execute(q).fetchone() != b.execute(q).fetchone()


def test_answers_are_verified_outside_the_kernel_so_lies_and_patches_score_nothing(course, graded):
    outcomes, _ = graded
    liar, faker = _scores(course, "liar"), _scores(course, "faker")
    assert liar["chk_top10"] == 0 and faker["chk_active"] == 0
    assert all(liar[c] > 0 for c in ("chk_active", "chk_wait", "chk_grid"))   # chk_pareto needs top10's cell
    assert all(faker[c] > 0 for c in DATA_CHECKS if c != "chk_active")
    assert outcomes["liar"].status == outcomes["faker"].status == "graded"
    # each verdict is kept with the reason, for feedback
    verdicts = {v.check: v for v in outcomes["liar"].checks}
    assert verdicts["chk_top10"].status == "wrong" and "top ten" in verdicts["chk_top10"].message
    assert verdicts["chk_grid"].status == "right" and set(verdicts) == set(DATA_CHECKS)
    state = StateStore(course.private / "state.db")
    try:
        stored = {row[0]: row[3] for row in state.checks(MODULE, "liar")}
    finally:
        state.close()
    assert stored == {v.check: v.status for v in outcomes["liar"].checks}


def test_partly_wrong_gets_partial_marks(course, graded):
    """The top ten ranked by id instead of revenue and the handle time given for the wait: those two checks
    (2 points each) score nothing; the 80/20 share still ranks the right revenue per account (the wrong top-ten
    cell computes it as the solution does), so active 2 + share 2 + grid 3 = 7 of 11."""
    outcomes, _ = graded
    assert outcomes["wrong"].status == "graded" and outcomes["wrong"].score == 7
    assert {c: _scores(course, "wrong")[c] for c in DATA_CHECKS} == {
        "chk_active": 2, "chk_top10": 0, "chk_pareto": 2, "chk_wait": 0, "chk_grid": 3}


def test_truncated_json_is_an_error_with_a_reason(graded):
    o = graded[0]["trunc"]
    assert o.status == "error" and "not valid JSON" in o.reason and o.score is None


def test_a_looping_cell_is_a_timeout_and_the_rest_is_graded(course, graded):
    o = graded[0]["loop"]
    assert o.status == "timeout" and "ans_wait" in o.reason
    scores = _scores(course, "loop")
    assert scores["chk_wait"] == 0 and scores["chk_active"] > 0


def test_a_loop_that_ignores_interrupts_is_a_timeout(graded):
    o = graded[0]["stubborn"]
    assert o.status == "timeout" and "ignored the interrupt" in o.reason


def test_a_submission_that_freezes_its_grader_cannot_or_is_stopped_by_the_watchdog(course, graded):
    o, summary = graded[0]["freezer"], graded[1]
    if summary.unsandboxed:   # it stops the grading worker: the watchdog replaces it
        assert o.status == "timeout" and "longer than 25 s" in o.reason
    else:                     # in its sandbox the grader is out of sight: that cell fails, the rest is graded
        assert o.status == "graded"   # not stopped by the 25 s watchdog
        # its top-ten cell defines neither top10 nor the revenue the 80/20 share ranks: those two checks (2 points
        # each) score nothing, the other three are the solution's: active 2 + wait 2 + grid 3
        assert o.score == 7 and _scores(course, "freezer")["chk_pareto"] == 0


def test_deleted_test_cells_are_restored_graded_and_reported_as_tampering(graded):
    o = graded[0]["deleted"]
    assert o.status == "tampered" and o.score == AUTO_POINTS
    assert "chk_top10" in o.reason and "chk_grid" in o.reason and "deleted" in o.reason


def test_a_submission_stamped_after_the_due_time_is_late_and_keeps_its_score(graded):
    late, ontime = graded[0]["latecomer"], graded[0]["ontime"]
    assert late.status == "late" and late.score == AUTO_POINTS
    # 2026-01-02 10:00 − 2025-12-31 16:00 UTC = 42 h, said in the course's time zone (Asia/Shanghai, UTC+8)
    assert ("submitted 2026-01-02 18:00 (UTC+08:00), 42.0 h after the due time (2026-01-01 00:00 (UTC+08:00))"
            in late.reason), late.reason
    assert ontime.status == "graded" and ontime.score == AUTO_POINTS and not ontime.reason
    assert graded[0]["sol"].status == "graded"   # no stamp: nothing to judge lateness by


def test_edited_read_only_cells_are_recorded_restored_and_graded(graded):
    o = graded[0]["edited"]
    assert o.status == "tampered" and o.score == AUTO_POINTS   # the originals ran: the right answers count
    assert "chk_grid (2 lines removed)" in o.reason and "setup (" in o.reason and "restored" in o.reason
    honest = graded[0]["sol"]
    assert honest.status == "graded" and "changed" not in honest.reason


def test_missing_and_renamed_submissions_are_missing_with_a_reason(graded):
    outcomes, _ = graded
    assert (outcomes["missing"].status, outcomes["missing"].reason) == ("missing", "no submission")
    assert outcomes["renamed"].status == "missing" and "my answers.ipynb" in outcomes["renamed"].reason


def test_rerun_skips_finished_and_regrades_changed_or_forced(course, graded):
    again = autograde(course, MODULE, workers=2, progress=False)
    assert [o.student for o in again.outcomes] == ["missing"]  # nothing to grade: only the missing one is re-noted
    assert len(again.skipped) == 15   # every submission but the missing one
    _edit_notebook(course, "blank", lambda nb: nb["metadata"].update(resubmitted=True))
    changed = autograde(course, MODULE, workers=2, progress=False)
    assert [o.student for o in changed.outcomes if o.status != "missing"] == ["blank"]
    forced = autograde(course, MODULE, workers=2, progress=False, force=True, students=["sol", "copy"])
    assert sorted(o.student for o in forced.outcomes) == ["copy", "sol"]
    assert {o.student: o.score for o in forced.outcomes} == {"sol": AUTO_POINTS, "copy": 0}


def test_export_has_a_row_per_student_with_status_reason_and_checkpoints(course, graded):
    table = list(csv.DictReader(io.StringIO(export(course, "csv"))))
    by_student = {r["student_id"]: r for r in table}
    assert len(table) == 16 and {r["module"] for r in table} == {MODULE}
    assert by_student["sol"]["status"] == "graded" and float(by_student["sol"]["total"]) == AUTO_POINTS
    assert float(by_student["sol"]["m01:chk_grid"]) == 3
    assert by_student["sol"]["m01:reflection"] == ""  # waiting for the instructor, not 0
    assert by_student["trunc"]["status"] == "error" and by_student["trunc"]["total"] == ""
    assert by_student["missing"]["reason"] == "no submission"
    assert by_student["stubborn"]["status"] == "timeout" and by_student["stubborn"]["total"] == ""
    records = {r["student_id"]: r for r in json.loads(export(course, "json"))}
    assert records["loop"]["status"] == "timeout" and records["loop"]["checkpoints"]["chk_wait"] == 0
    assert set(records["sol"]["checkpoints"]) == set(DATA_CHECKS) | {"reflection"}


@pytest.mark.parametrize("kill", ["the machine goes down", "the coordinator alone is killed"])
def test_an_interrupted_run_resumes(tmp_path, kill):
    """kill -9 mid-run, of every grading process or of the coordinator alone (its workers must not go on
    grading behind the next run's back): a rerun grades the rest and gives the same grades."""
    course = Course.init(tmp_path / "c", "resume-course")
    students = [f"r{i}" for i in range(6)]
    course.add_students([{"id": s} for s in students])
    assign(course, MODULE, progress=False)
    rng = np.random.default_rng(1)
    for s in students:
        write_submission(course, MODULE, s, "correct", rng)
    before = {s: submission_digest(course.path("submitted", s, MODULE)) for s in students}
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.Popen([CRMLAB, "autograde", MODULE, "--course", str(course.root), "--workers", "1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    state = course.private / "state.db"
    deadline = time.monotonic() + 120
    finished = 0
    while time.monotonic() < deadline and finished < 2:
        time.sleep(0.5)
        if state.exists():
            with sqlite3.connect(state) as con:
                try:
                    finished = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
                except sqlite3.OperationalError:   # the state file is being made
                    pass
    if kill == "the machine goes down":
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= finished < len(students)
    rerun = autograde(course, MODULE, workers=2, progress=False)
    assert len(rerun.skipped) >= 2
    assert len(rerun.skipped) + len(rerun.outcomes) == len(students)
    assert {o.status for o in rerun.outcomes} == {"graded"}
    # the same grades as an uninterrupted run (every one of these is a model answer: full marks, checkpoint
    # by checkpoint), and nothing in submitted/ changed
    full = {"chk_active": 2, "chk_top10": 2, "chk_pareto": 2, "chk_wait": 2, "chk_grid": 3}   # the cells' points
    for s in students:
        assert {c: _scores(course, s)[c] for c in DATA_CHECKS} == full, s
    assert {s: submission_digest(course.path("submitted", s, MODULE)) for s in students} == before


def test_grading_waits_for_a_gradebook_lock_instead_of_failing(course, graded):
    """nbgrader's own SQLite gradebook raises 'database is locked' after 5 s; ours waits."""
    import threading

    course.add_students([{"id": "late"}])
    assign(course, MODULE, ["late"], progress=False)
    write_submission(course, MODULE, "late", "correct", np.random.default_rng(2))
    locked = threading.Event()

    def hold_lock():
        con = sqlite3.connect(course.gradebook_path, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")  # another writer (say, the formgrader) holds the lock
        locked.set()
        time.sleep(12)
        con.execute("COMMIT")
        con.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(10)
    rerun = autograde(course, MODULE, workers=1, progress=False, students=["late"])  # new rows: real writes
    holder.join()
    assert [(o.status, o.score) for o in rerun.outcomes] == [("graded", AUTO_POINTS)]
