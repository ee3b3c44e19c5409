"""Module m04 (sales force automation), an operational module, graded with real nbgrader.

The student changes their CRM while the notebook runs; the grading sandbox leaves the data file and
the console's action log writable for this module only, and the grader's checks read the database
the executed notebook left (course/checks/m04.py), against targets recomputed from the pristine
data. These tests show that the model solution earns every point, the released notebook none,
that a classmate's ids and numbers lose the data points, that plausible wrong operations (a merge
that leaves the orders behind, deleting instead of merging, a discount above the authority, a lost
deal without a reason …) lose the points of what they got wrong, and that work done by clicking in
the console is replayed inside the sandbox and counts."""
from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sqlite3
import sys
import tomllib

import numpy as np
import pytest
from nbutil import cells, checkpoint_scores, run_cells

from crmlab.grading.run import sandbox
from crmlab.grading.classroom.assign import assign
from crmlab.grading.run.autograde import autograde
from crmlab.grading.classroom.course import SHIPPED_COURSE, Course
from crmlab.grading.classroom.data import student_database
from crmlab.grading.demo import as_literals, write_submission

MODULE = "m04"
NOTEBOOK = SHIPPED_COURSE / "modules" / MODULE / f"{MODULE}.ipynb"
POINTS = {"chk_merge": 2, "chk_forecast": 2, "chk_deal": 3, "chk_followup": 2, "chk_commission": 2, "chk_lost": 2,
          "chk_lead": 3}
WRONG = tomllib.loads((SHIPPED_COURSE / "demo" / f"{MODULE}.toml").read_text(encoding="utf-8"))["wrong"]
SOLVED = ["setup", "ans_merge", "ans_forecast", "ans_deal", "ans_followup", "ans_commission", "ans_lost", "ans_lead"]
ANSWERS = ("survivor", "merged", "forecast_reps", "forecast_history", "key_deal", "followup", "commission_rate",
           "commission", "lost_deal", "lead", "converted")
DELETE_INSTEAD_OF_MERGE = '''
accounts = pd.read_sql_query(
    "SELECT a.account_id, a.name, a.city, a.created_on, COUNT(o.order_id) AS orders FROM accounts a "
    "LEFT JOIN orders o USING (account_id) WHERE a.merged_into IS NULL GROUP BY a.account_id", con)
dups = accounts[accounts.groupby(["name", "city"])["account_id"].transform("size") > 1]
schools = dups.groupby(["name", "city"]).agg(orders=("orders", "sum"), first_id=("account_id", "min"))
name, city = schools.sort_values(["orders", "first_id"], ascending=[False, True]).index[0]
school = dups[(dups["name"] == name) & (dups["city"] == city)].sort_values(["created_on", "account_id"])
survivor, merged = school["account_id"].iloc[0], school["account_id"].iloc[1:].tolist()
edit = sqlite3.connect("crm.db")      # the duplicate is simply deleted
with edit:
    edit.executemany("DELETE FROM accounts WHERE account_id = ?", [(m,) for m in merged])
edit.close()
'''


def _cells():
    return cells(NOTEBOOK)


def _solve(folder, grade_ids=SOLVED) -> dict:
    """Run cells of the source notebook (solution markers removed) in ``folder``, as a kernel
    would; changes the database there. Returns the namespace (sessions closed)."""
    ns = {"display": lambda *a, **k: None}
    try:
        run_cells(NOTEBOOK, folder, grade_ids, ns)
    finally:
        ns["crm"].close()
        ns["con"].close()
    return ns


def _set_code(course, student, grade_id, code):
    path = course.path("submitted", student, MODULE) / f"{MODULE}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    hits = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id]
    assert hits, grade_id
    for c in hits:
        c["source"] = code
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = Course.init(tmp_path_factory.mktemp("m04") / "c", "test-m04", secret="m04-test-secret")   # reproducible data
    students = ["sol", "blank", "copy", "wrong", "deleter", "clicker"]
    course.add_students([{"id": s} for s in students])
    assign(course, MODULE, progress=False)
    rng = np.random.default_rng(4)
    for student in students:
        write_submission(course, MODULE, student, "blank" if student == "blank" else "correct", rng)
    # every plausible wrong operation and answer of course/demo/m04.toml at once
    for gid, code in WRONG.items():
        _set_code(course, "wrong", gid, code)
    _set_code(course, "deleter", "ans_merge", DELETE_INSTEAD_OF_MERGE)
    # ids and numbers copied from a classmate (what the classmate's notebook held), no operations
    scratch = tmp_path_factory.mktemp("classmate")
    shutil.copytree(course.path("outbox", "sol", MODULE), scratch, dirs_exist_ok=True)
    ns = _solve(scratch)
    _set_code(course, "copy", "ans_merge", "# copied from a classmate\n" + as_literals({k: ns[k] for k in ANSWERS}))
    for gid in SOLVED[2:]:
        _set_code(course, "copy", gid, "pass\n")
    # the clicker merges the duplicates in the console (its clicks go to crm_actions.jsonl beside the
    # submitted database) and only writes down the ids in the notebook
    from crmlab.crm.console import ConsoleModel

    mine = tmp_path_factory.mktemp("clicker")
    shutil.copytree(course.path("outbox", "clicker", MODULE), mine, dirs_exist_ok=True)
    ids = _solve(mine, ["setup", "ans_merge"])
    with ConsoleModel(course.path("submitted", "clicker", MODULE) / "crm.db", user="sales_manager") as console:
        for other in ids["merged"]:
            assert console.act("account.merge", ids["survivor"], other).ok
    _set_code(course, "clicker", "ans_merge", f"survivor, merged = {ids['survivor']!r}, {ids['merged']!r}\n")
    return course


@pytest.fixture(scope="module")
def graded(course):
    pristine = {s: _digest(student_database(course, MODULE, s)) for s in ("sol", "wrong")}
    summary = autograde(course, MODULE, workers=2, progress=False)
    # the grader's own copies of the data are never what the kernels changed
    assert pristine == {s: _digest(student_database(course, MODULE, s)) for s in pristine}
    return {o.student: o for o in summary.outcomes}


def _scores(course, student):
    return {k: v for k, v in checkpoint_scores(course, MODULE, student).items() if k in POINTS}


def _verdicts(graded, student) -> dict:
    """check → (points, status, message), as kept for feedback."""
    return {v.check: (v.points, v.status, v.message) for v in graded[student].checks}


OPERATIONAL = {"m04", "m07"}   # modules whose notebooks change the student's CRM (data_writable in crmlab.toml)


def test_the_module_is_operational_and_only_operational_modules_have_writable_data(course):
    assert course.module(MODULE).writable_files == ["crm.db", "crm_actions.jsonl"]
    assert OPERATIONAL <= set(course.module_ids)
    for m in course.module_ids:
        writable = course.module(m).writable_files
        assert (writable != []) == (m in OPERATIONAL), (m, writable)
        assert m not in OPERATIONAL or "crm.db" in writable, (m, writable)


def test_solution_gets_full_automatic_marks(course, graded):
    assert graded["sol"].status == "graded", graded["sol"].reason
    assert _scores(course, "sol") == POINTS
    assert graded["sol"].score == sum(POINTS.values())


def test_the_grader_read_the_database_the_notebook_changed(course, graded):
    work = course.path("autograded", "sol", MODULE) / "crm.db"
    with contextlib.closing(sqlite3.connect(f"file:{work}?mode=ro", uri=True)) as db:
        ops = {r[0] for r in db.execute("SELECT DISTINCT operation FROM audit_log WHERE user = 'sales_manager'")}
    assert {"account.merge", "opportunity.quote", "opportunity.stage", "activity.log", "followup.schedule",
            "lead.qualify", "lead.convert"} <= ops


def test_released_notebook_gets_zero(graded):
    assert graded["blank"].status == "graded" and graded["blank"].score == 0


def test_ids_and_numbers_copied_from_a_classmate_lose_the_data_points(course, graded):
    assert graded["copy"].status == "graded"
    verdicts = _verdicts(graded, "copy")
    assert {c for c, v in verdicts.items() if v[1] != "no_answer"} == set(POINTS)   # every answer was handed in …
    assert {c: s for c, s in _scores(course, "copy").items() if s > 0} == {}   # … and none is right


def test_plausible_wrong_operations_lose_the_points_of_what_they_got_wrong(course, graded):
    scores, verdicts = _scores(course, "wrong"), _verdicts(graded, "wrong")
    assert graded["wrong"].status == "graded", graded["wrong"].reason
    assert all(scores[c] < POINTS[c] for c in POINTS), scores
    # partial credit per condition: marked merged but the orders left behind; won, but above the
    # discount authority and not through the CRM; closed lost without a reason
    for check, missing in (("chk_merge", "orders"), ("chk_deal", "authority"), ("chk_lost", "reason lost")):
        assert 0 < scores[check] < POINTS[check], (check, scores[check])
        assert missing in verdicts[check][2], verdicts[check][2]
    assert scores["chk_forecast"] == scores["chk_followup"] == scores["chk_commission"] == 0
    # closed lost by hand in the table (course/checks/m04.py chk_lost): the stage (1) and the other deals left open
    # (1) met, the reason (1) and the audited operation (0.5) not — 2 of 3.5 of its 2 points
    assert scores["chk_lost"] == pytest.approx(2 * 2 / 3.5, abs=1e-4)
    # won by hand in the tables after the CRM refused the 30 % quote (chk_deal): the stage won (1) met; the quote
    # through the CRM (0.5), a first smaller offer before the final one (0.5), a quote within the discount
    # authority (1), won at that quote (0.5) not — 1 of 3.5 of its 3 points
    assert scores["chk_deal"] == pytest.approx(3 * 1 / 3.5, abs=1e-4)


def test_feedback_gives_each_missed_checkpoint_its_hint_in_both_languages_and_no_answer(course, graded):
    """The feedback pages of m04 (crmlab feedback): the student who got every checkpoint partly or wholly wrong
    sees each one's hint (course/checks/m04.hints.toml) in Chinese and English; the solution's page shows none;
    neither page holds a right value the check computed (the key deal's amount won, the historical forecast)."""
    import html
    import re

    from crmlab.grading.outputs.feedback import write_feedback

    hints = tomllib.loads((SHIPPED_COURSE / "checks" / f"{MODULE}.hints.toml").read_text(encoding="utf-8"))
    assert set(hints) == set(POINTS)
    pages = {p.parent.parent.name: p.read_text(encoding="utf-8") for p in write_feedback(course, MODULE)}
    seen = {s: re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", page,
                                                                                   flags=re.S))))
            for s, page in pages.items()}
    for c, h in hints.items():
        assert h["zh"] in seen["wrong"] and h["en"] in seen["wrong"], c
        assert h["en"] not in seen["sol"], c
    # the right won amount of the wrong student's key deal (the open deal of the largest amount, at the largest
    # discount allowed), from their own data as handed out
    with contextlib.closing(sqlite3.connect(f"file:{student_database(course, MODULE, 'wrong')}?mode=ro",
                                            uri=True)) as db:
        amount = db.execute("SELECT amount FROM opportunities WHERE stage IN ('qualified', 'proposal', 'negotiation') "
                            "ORDER BY amount DESC, opportunity_id LIMIT 1").fetchone()[0]
    from crmlab.crm.migrate import SETTINGS   # the authority of a fresh CRM (the notebook's MAX_DISCOUNT)

    right = round(amount * (1 - SETTINGS["max_discount"][0]), 2)
    assert not any(f"{right:{f}}" in seen["wrong"] for f in ("g", ".2f", ",.2f", ",.0f", ".0f")), right


def test_deleting_a_duplicate_instead_of_merging_loses_the_merge(course, graded):
    points, status, message = _verdicts(graded, "deleter")["chk_merge"]
    assert points < POINTS["chk_merge"] and status in ("partly", "wrong")
    assert "does not exist" in message and "account.merge" in message


def test_clicks_in_the_console_are_replayed_in_the_sandbox_and_count(course, graded):
    assert graded["clicker"].status == "graded", graded["clicker"].reason
    assert _scores(course, "clicker") == POINTS
    work = course.path("autograded", "clicker", MODULE) / "crm.db"
    with contextlib.closing(sqlite3.connect(f"file:{work}?mode=ro", uri=True)) as db:
        users = {r[0] for r in db.execute("SELECT DISTINCT user FROM audit_log WHERE operation = 'account.merge'")}
    assert users == {"sales_manager"}


def test_every_student_works_on_other_records(course):
    """The rules pick different records (and numbers) on different students' data."""
    from crmlab.grading.run.verify import Context, checks_of

    targets = {}
    targets_of = checks_of(course, MODULE)["chk_merge"].__globals__["_targets"]
    for student in ("sol", "copy", "wrong"):
        path = student_database(course, MODULE, student)
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            ctx = Context(course, MODULE, student, db, dict(db.execute("SELECT key, value FROM meta")), {})
            t = targets_of(ctx)
            targets[student] = (t["merge"]["survivor"], t["key"]["id"], t["key"]["amount"], t["lead"]["id"])
    assert len(set(targets.values())) == 3


@pytest.mark.skipif(sandbox.available() is not None, reason=f"no sandbox here: {sandbox.available()}")
def test_the_sandbox_leaves_only_the_module_s_named_files_writable(tmp_path):
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook
    from traitlets.config import Config

    probe = ("import os\nfor name in ('crm.db', 'crm_actions.jsonl', 'notes.txt'):\n"
             "    try:\n        open(name, 'a').write('x')\n        print(name, 'written')\n"
             "    except OSError:\n        print(name, 'read-only')")
    config = Config({"SandboxedKernelManager": {"writable": {"m04": ["crm.db", "crm_actions.jsonl"]}}})
    seen = {}
    for module in ("m04", "m01"):
        work = tmp_path / "autograded" / "s1" / module
        work.mkdir(parents=True)
        for name in ("crm.db", "crm_actions.jsonl", "notes.txt"):
            (work / name).write_text("")
        nb = new_notebook(cells=[new_code_cell(probe)])
        NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(work)}}, config=config,
                       kernel_manager_class=sandbox.SandboxedKernelManager, timeout=20).execute()
        seen[module] = nb.cells[0].outputs[0]["text"].split()
    assert seen["m04"] == ["crm.db", "written", "crm_actions.jsonl", "written", "notes.txt", "read-only"]
    assert seen["m01"] == ["crm.db", "read-only", "crm_actions.jsonl", "read-only", "notes.txt", "read-only"]


def test_the_grader_reads_a_database_as_committed(tmp_path):
    """A transaction the kernel left unfinished (killed mid-write) is rolled back in the grader's copy."""
    from crmlab.grading.run.verify import settled_copy

    db = tmp_path / "work" / "crm.db"
    db.parent.mkdir()
    with contextlib.closing(sqlite3.connect(db)) as con:
        con.execute("CREATE TABLE t (x)")
        con.execute("INSERT INTO t VALUES ('committed')")
        con.commit()
    # a hot journal: the state a process killed in the middle of a commit leaves behind
    script = (f"import sqlite3, os\ncon = sqlite3.connect({str(db)!r})\ncon.execute('PRAGMA cache_size = 1')\n"
              "con.execute('BEGIN')\ncon.execute(\"UPDATE t SET x = 'uncommitted'\")\n"
              "con.executemany('INSERT INTO t VALUES (?)', [('y' * 2000,)] * 500)\nos._exit(0)")
    import subprocess

    subprocess.run([sys.executable, "-c", script], check=True)
    assert db.with_name("crm.db-journal").exists()
    copy = settled_copy(db, tmp_path)
    with contextlib.closing(sqlite3.connect(f"file:{copy}?mode=ro", uri=True)) as con:
        assert con.execute("SELECT x FROM t").fetchall() == [("committed",)]
    db.unlink()
    db.symlink_to(copy)
    assert settled_copy(db, tmp_path / "work") is None   # a link could point anywhere: not followed


@pytest.mark.parametrize("company, kind, city, right", [
    ("杭州育才小学", "k12", "杭州", True),
    ("杭州育才小学", "k12", "杭州育才", False),            # more than the city
    ("杭州育才小学", "k12", "", False),
    ("杭州育才小学", "k12", "广州", False),
    ("昆明高新区优才教育咨询", "training", "昆明", True),     # a district after the city: still the city
    ("University of Springfield", "university", "Springfield", True),   # en_US: the city is not first
    ("University of Springfield", "university", "University", False),
])
def test_the_city_of_a_converted_lead_is_the_city_in_its_name(company, kind, city, right):
    import importlib.util
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("m04_checks_city", SHIPPED_COURSE / "checks" / f"{MODULE}.py")
    checks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checks)
    ctx = SimpleNamespace(meta={"scenario": "education_services"})
    assert checks._city_of_name(ctx, {"company": company, "kind": kind}, city) is right


def test_the_class_report_gives_the_grader_each_students_own_numbers_for_the_reflection(course, graded):
    """The model answer cannot name the most optimistic rep or the forecasts (drawn anew for every student), so
    the class report lists each student's own: checked here against pandas on the student's data as handed out."""
    import html
    import re

    import pandas as pd

    from crmlab.grading.outputs.report import write_report

    page = html.unescape(write_report(course, MODULE).read_text(encoding="utf-8"))
    assert "each student's own numbers" in page
    for student in ("sol", "wrong"):
        with contextlib.closing(sqlite3.connect(f"file:{student_database(course, MODULE, student)}?mode=ro",
                                                uri=True)) as db:
            deals = pd.read_sql_query("SELECT rep_id, stage, amount, probability FROM opportunities "
                                      "WHERE stage IN ('qualified', 'proposal', 'negotiation')", db)
            hist = pd.read_sql_query("SELECT h.stage, o.stage = 'won' AS won FROM stage_history h JOIN opportunities o "
                                     "USING (opportunity_id) WHERE o.stage IN ('won', 'lost')", db)
        rate = hist.groupby("stage")["won"].mean()
        deals["reps"], deals["history"] = deals["amount"] * deals["probability"], deals["amount"] * deals["stage"].map(rate)
        by_rep = deals.groupby("rep_id")[["reps", "history"]].sum()
        ratio = (by_rep["reps"] / by_rep["history"]).sort_index()
        row = re.search(rf"<tr><td>{student} [^<]*</td>(.*?)</tr>", page, re.S).group(1)
        assert f"{deals['reps'].sum():,.0f}" in row and f"{deals['history'].sum():,.0f}" in row
        assert f"{ratio.idxmax()} ({ratio.max():.2f})" in row
