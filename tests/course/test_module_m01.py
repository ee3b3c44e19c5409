"""Module m01 (Know your customers) on its own: the solution passes every check on every test student's data
(in-process, no nbgrader: tests/grading/run/test_grading.py grades the module through nbgrader), the partial
credit of the two-part checkpoints on hand-made databases whose answers are worked out by hand, and the
instructor's model answer of the waiting-time question holding on every student's data."""
from __future__ import annotations

import contextlib
import shutil
import sqlite3
import statistics
from pathlib import Path

import pytest
from nbutil import run_cells

from crmlab.grading.classroom.assign import assign
from crmlab.grading.classroom.course import SHIPPED_COURSE, Course
from crmlab.grading.classroom.data import student_database
from crmlab.grading.run.verify import Context, Partial, Wrong, checks_of

MODULE = "m01"
NOTEBOOK = SHIPPED_COURSE / "modules" / MODULE / f"{MODULE}.ipynb"
STUDENTS = [f"t{i:02d}" for i in range(8)]
ANSWER_CELLS = ["setup", "ans_active", "ans_top10", "ans_pareto", "ans_wait", "ans_grid"]
HANDED = {"chk_active": "active_by_kind", "chk_top10": "top10", "chk_pareto": "top20_share",
          "chk_wait": lambda ns: {"mean_wait_s": ns["mean_wait_s"], "over_20s_share": ns["over_20s_share"]},
          "chk_grid": "grade"}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = Course.init(tmp_path_factory.mktemp("m01") / "c", "test-m01", secret="m01-test-secret")
    course.add_students([{"id": s} for s in STUDENTS])
    assign(course, MODULE, progress=False)
    return course


def _plain(value):
    """What the release's hand_in sends for ``value`` (course/handin/crmlab_handin.py), as the grader reads it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("crmlab_handin_test", SHIPPED_COURSE / "handin" / "crmlab_handin.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.plain(value)


def _ctx(db: sqlite3.Connection, student: str = "hand") -> Context:
    return Context(None, MODULE, student, db, dict(db.execute("SELECT key, value FROM meta")), {})


@pytest.fixture(scope="module")
def solved(course, tmp_path_factory):
    """Every test student's model answers (the notebook's solution run on their own data) and each check's verdict."""
    checks, out = checks_of(course, MODULE), {}
    for s in STUDENTS:
        folder = tmp_path_factory.mktemp(s)
        shutil.copyfile(student_database(course, MODULE, s), folder / "crm.db")
        shutil.copyfile(SHIPPED_COURSE / "handin" / "crmlab_handin.py", folder / "crmlab_handin.py")
        ns = run_cells(NOTEBOOK, folder, ANSWER_CELLS, {"display": lambda *a, **k: None})
        ns["con"].close()
        verdicts = {}
        with contextlib.closing(sqlite3.connect(f"file:{student_database(course, MODULE, s)}?mode=ro", uri=True)) as db:
            for check, name in HANDED.items():
                answer = _plain(name(ns) if callable(name) else ns[name])
                verdicts[check] = checks[check](answer, _ctx(db, s))   # None: right; Partial; Wrong raises
        out[s] = (ns, verdicts)
    return out


def test_the_solution_passes_every_check_on_every_students_data(solved):
    for s, (_, verdicts) in solved.items():
        assert verdicts == {c: None for c in HANDED}, (s, verdicts)


def test_the_model_answer_of_the_waiting_question_holds_on_every_students_data(course, solved):
    """The grader's note (reflection, question 3) says: over the day about 95 % of calls are answered within 20 s
    and the median is 0, but at 9 o'clock callers wait two to three times the day's mean or more (≈25–40 s)."""
    for s, (ns, _) in solved.items():
        with contextlib.closing(sqlite3.connect(f"file:{student_database(course, MODULE, s)}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT strftime('%H', arrived_at), strftime('%s', answered_at) - strftime('%s', arrived_at) "
                              "FROM calls WHERE answered_at IS NOT NULL AND (callback_of IS NULL OR "
                              "callback_of <> 'escalation')").fetchall()
        waits = [w for _, w in rows]
        by_hour: dict[str, list[int]] = {}
        for h, w in rows:
            by_hour.setdefault(h, []).append(w)
        busy = {h: statistics.mean(v) for h, v in by_hour.items() if len(v) >= 30}   # hours with real traffic
        peak = max(busy, key=busy.get)
        assert 0.90 <= 1 - ns["over_20s_share"] <= 0.98, (s, ns["over_20s_share"])
        assert statistics.median(waits) == 0, s
        assert peak == "09" and busy[peak] >= 2 * ns["mean_wait_s"] and 20 <= busy[peak] <= 45, (s, busy)


def _calls_db(path: Path, calls: list[tuple]) -> sqlite3.Connection:
    """A database with only what chk_wait reads: agents (two agents, one manager) and calls
    (wait in seconds or None for abandoned, the answering agent, callback_of)."""
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE meta (key TEXT, value TEXT);"
                     "CREATE TABLE agents (agent_id TEXT, role TEXT);"
                     "INSERT INTO agents VALUES ('G1', 'agent'), ('G2', 'agent'), ('M1', 'manager');"
                     "CREATE TABLE calls (arrived_at TEXT, answered_at TEXT, agent_id TEXT, callback_of TEXT);")
    for i, (wait, agent, callback_of) in enumerate(calls):
        arrived = f"2025-03-03 09:{i:02d}:00"
        db.execute("INSERT INTO calls VALUES (?, CASE WHEN ? IS NULL THEN NULL ELSE datetime(?, ? || ' seconds') END, ?, ?)",
                   (arrived, wait, arrived, wait, agent, callback_of))
    return db


HAND_CALLS = [(0, "G1", None), (10, "G2", None), (20, "G1", None), (30, "G2", "K1"),   # the hotline's answered calls
              (100, "M1", "escalation"),                                           # a manager's escalation: not counted
              (None, None, None)]                                                  # hung up: no answer time
# by hand: the mean over the four hotline calls (0 + 10 + 20 + 30) / 4 = 15 s; more than 20 s: only the 30 s one → 1/4


@pytest.mark.parametrize("answer, fraction", [
    ({"mean_wait_s": 15, "over_20s_share": 0.25}, None),          # right
    ({"mean_wait_s": 15, "over_20s_share": 0.5}, 0.5),            # 20 s counted as more than 20: half
    ({"mean_wait_s": 32, "over_20s_share": 0.25}, 0.5),           # the escalation and its 100 s counted: (160) / 5
    ({"mean_wait_s": 0.25, "over_20s_share": 0.25}, 0.5),         # minutes, not seconds
    ({"mean_wait_s": 32, "over_20s_share": 0.4}, "wrong"),        # both: the escalation counted in both
])
def test_the_waiting_checkpoint_gives_each_of_its_two_parts_half_the_points(tmp_path, answer, fraction):
    chk = checks_of(_shipped(), MODULE)["chk_wait"]
    with contextlib.closing(_calls_db(tmp_path / "calls.db", HAND_CALLS)) as db:
        if fraction == "wrong":
            with pytest.raises(Wrong, match="mean wait.*; .*more than 20 s"):
                chk(answer, _ctx(db))
            return
        got = chk(answer, _ctx(db))
    assert (got is None) if fraction is None else (isinstance(got, Partial) and got.fraction == fraction), got


def _shipped():
    """A stand-in course for checks_of: its own checks folder does not exist, so the shipped checks are used."""
    from types import SimpleNamespace

    return SimpleNamespace(root=Path("/nonexistent-course"))


def _grid_db(path: Path, accounts: list[tuple[str, float, float, int]]) -> sqlite3.Connection:
    """A database with only what chk_grid reads: the accounts (one kind), one order per account with one line of
    (revenue, gross profit, quantity), and the profit threshold."""
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE meta (key TEXT, value TEXT); INSERT INTO meta VALUES ('profit_threshold', '1500');"
                     "CREATE TABLE accounts (account_id TEXT, kind TEXT);"
                     "CREATE TABLE orders (order_id TEXT, account_id TEXT);"
                     "CREATE TABLE order_lines (order_id TEXT, quantity INTEGER, unit_price REAL, unit_cost REAL);")
    for account, revenue, profit, units in accounts:
        db.execute("INSERT INTO accounts VALUES (?, 'university')", (account,))
        db.execute("INSERT INTO orders VALUES (?, ?)", (f"O{account}", account))
        db.execute("INSERT INTO order_lines VALUES (?, ?, ?, ?)",
                   (f"O{account}", units, revenue / units, (revenue - profit) / units))
    return db


# by hand: revenue 600, 250, 100, 50 of 1000 in all. Shares before each account: 0, 0.6, 0.85, 0.95 → A, A, B, B.
# Profit per unit: 2000, 1000, 1600, 1500 (not above 1500) → A, B, A, B. Grades: AA, AB, BA, BB.
HAND_GRID = [("a1", 600, 20000, 10), ("a2", 250, 5000, 5), ("a3", 100, 3200, 2), ("a4", 50, 1500, 1)]


@pytest.mark.parametrize("answer, fraction", [
    ({"a1": "AA", "a2": "AB", "a3": "BA", "a4": "BB"}, None),
    ({"a1": "AA", "a2": "AB", "a3": "AA", "a4": "BB"}, 0.5),      # a3's volume by the median, not the 80 % rule
    ({"a1": "AA", "a2": "AB", "a3": "BA", "a4": "BA"}, 0.5),      # a4: 1500 is not above the threshold
    ({"a1": "AA", "a2": "BB", "a3": "BA", "a4": "BA"}, "wrong"),   # a2 the wrong volume, a4 the wrong profit
    ({"a1": "AA", "a2": "AB", "a3": "BA"}, "wrong"),               # an account with revenue missing
])
def test_the_value_grid_gives_each_dimension_half_the_points(tmp_path, answer, fraction):
    chk = checks_of(_shipped(), MODULE)["chk_grid"]
    with contextlib.closing(_grid_db(tmp_path / "grid.db", HAND_GRID)) as db:
        if fraction == "wrong":
            with pytest.raises(Wrong):
                chk(answer, _ctx(db))
            return
        got = chk(answer, _ctx(db))
    assert (got is None) if fraction is None else (isinstance(got, Partial) and got.fraction == fraction), got


def test_the_grader_notes_give_each_students_own_waiting_numbers(course, solved):
    """The class report's notes for the reflection (course/checks/m01.py notes, by SQL) agree with the notebook's
    pandas solution on every student's data, and name the 9 o'clock peak."""
    from crmlab.grading.run.verify import grader_notes

    notes = dict(grader_notes(course, MODULE, STUDENTS))
    assert set(notes) == set(STUDENTS)
    for s, (ns, _) in solved.items():
        rows = {en: value for _, en, value in notes[s]}
        assert rows["mean wait / share over 20 s"] == f"{ns['mean_wait_s']:.1f} s / {ns['over_20s_share']:.1%}"
        assert rows["the hour callers wait longest (mean wait)"].startswith("9:00 ")
        aa = ns["grade"].eq("AA")
        assert rows["AA accounts and their share of revenue"].startswith(f"{int(aa.sum())}, ")
