"""A whole term on the company track, for a small class, with real nbgrader (docs/design.md "The company track").

The course puts m04 (sales force automation, operational: the student merges duplicate accounts, converts a lead …)
at its day and m01 after it (know your customers) on the company track, so that what a student does in m04 shows in their m01 data.
Three students: two hand in m04's model solution, one hands in nothing. The test shows that a decision in one
module changes the next module's data for that student only, that a student who handed nothing in gets the
company as it goes by itself, that m01's solution gets full marks on every student's (changed) data, that the course
grade counts both, and that regrading m04 afterwards changes no m01 hand-out — rebuilt from its record it comes out
the same. Run for each company the course can have."""
from __future__ import annotations

import hashlib
import json
import sqlite3

import numpy as np
import pytest

from crmlab.grading.classroom.assign import assign
from crmlab.grading.classroom.company import SEED_KEY, content_digest, record_path
from crmlab.grading.classroom.course import Course
from crmlab.grading.classroom.data import cached_database, student_database
from crmlab.grading.demo import write_submission
from crmlab.grading.outputs.grades import course_grades
from crmlab.grading.run.autograde import autograde
from crmlab.simulator import open_run, save, student_seed

STUDENTS = ("ann", "ben", "cat")          # ann and cat hand in m04's solution, ben nothing
M04_DAY, M01_DAY = 455, 600


def _term_course(root, company: str) -> Course:
    course = Course.init(root, "term-test", secret=f"term-{company}")
    toml = course.root / "crmlab.toml"
    text = toml.read_text(encoding="utf-8")
    text = text.replace('scenario = "education_services"   # the brief', f'scenario = "{company}"   # the brief', 1)
    text = text.replace("day = 365 ", f"day = {M01_DAY} ", 1)
    toml.write_text(text, encoding="utf-8")
    course = Course.open(course.root)
    assert course.company_modules == ["m04", "m01"] and course.settings.company.scenario == company
    course.add_students([{"id": s} for s in STUDENTS])
    return course


def _rows(path, sql) -> list[tuple]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        return con.execute(sql).fetchall()


def _merged(path) -> set[tuple[str, str]]:
    """(merged, survivor) of the accounts merged in the database (none where the CRM never touched it)."""
    if "merged_into" not in {r[1] for r in _rows(path, "PRAGMA table_info(accounts)")}:
        return set()
    return set(_rows(path, "SELECT account_id, merged_into FROM accounts WHERE merged_into IS NOT NULL"))


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module", params=["education_services", "auto_dealer_4s"])
def term(request, tmp_path_factory):
    company = request.param
    course = _term_course(tmp_path_factory.mktemp(company) / "c", company)
    rng = np.random.default_rng(17)
    # module 1 of the term: m04 at day 200
    assign(course, "m04", progress=False)
    for s in ("ann", "cat"):
        write_submission(course, "m04", s, "correct", rng)
    m04 = {o.student: o for o in autograde(course, "m04", workers=2, progress=False).outcomes}
    # module 2: m01 at day 365, each student's company with their m04 decisions applied
    assign(course, "m01", progress=False)
    for s in STUDENTS:
        write_submission(course, "m01", s, "correct", rng)
    m01 = {o.student: o for o in autograde(course, "m01", workers=2, progress=False).outcomes}
    return course, m04, m01


def test_each_company_module_hands_out_the_students_company_at_its_day(term):
    course, _, _ = term
    for s in STUDENTS:
        a, b = (dict(_rows(student_database(course, m, s), "SELECT key, value FROM meta")) for m in ("m04", "m01"))
        assert (a["term_day"], b["term_day"]) == (str(M04_DAY), str(M01_DAY))
        assert a["data_id"] == b["data_id"] and a["snapshot_date"] < b["snapshot_date"]   # one company, later
        assert a["scenario"] == b["scenario"] == course.settings.company.scenario
    ids = {s: dict(_rows(student_database(course, "m01", s), "SELECT key, value FROM meta"))["data_id"] for s in STUDENTS}
    assert len(set(ids.values())) == len(STUDENTS)                   # each student's own


def test_a_student_who_handed_nothing_in_gets_the_company_as_it_goes_by_itself(term, tmp_path):
    course, _, _ = term
    c = course.settings.company
    sim = open_run(c.scenario, student_seed(course.course_id, SEED_KEY, "ben", course.secret), customers=c.customers,
                   days=c.days, locale=course.locale)
    sim.run(until_day=M01_DAY)
    save(sim.snapshot(), tmp_path / "alone.db", reveal_seed=False)
    ben = student_database(course, "m01", "ben")
    for table in ("accounts", "orders", "order_lines", "leads", "opportunities", "tickets"):
        assert _rows(ben, f"SELECT * FROM {table} ORDER BY 1") == _rows(tmp_path / "alone.db", f"SELECT * FROM {table} ORDER BY 1")
    said = json.loads(dict(_rows(ben, "SELECT key, value FROM meta"))["term_decisions"])
    assert said == [{"module": "m04", "handed_in": False, "policy": [], "crm_done": 0, "crm_refused": []}]


def test_a_decision_in_one_module_changes_the_next_modules_data_for_that_student_only(term):
    course, m04, _ = term
    for s in ("ann", "cat"):
        assert m04[s].checks and all(v.status == "right" for v in m04[s].checks), m04[s].checks
    for s in ("ann", "cat"):
        # what ann merged in m04 (the graded notebook's database) is merged in her m01 data, by her, at m04's time
        merges = {(m, sv) for _, _, m, sv in _m04_merges(course, s)}
        assert merges and merges <= _merged(student_database(course, "m01", s)), s
        said = json.loads(dict(_rows(student_database(course, "m01", s), "SELECT key, value FROM meta"))["term_decisions"])
        assert said[0]["handed_in"] and said[0]["crm_done"] >= len(merges), said
        # what the company's own course overtook (a deal the student quoted that the company has since closed) is
        # listed with the CRM's reason, never dropped silently
        assert all(r["reason"] and r["operation"] != "account.merge" for r in said[0]["crm_refused"]), said
        audit = _rows(student_database(course, "m01", s), "SELECT DISTINCT user FROM audit_log")
        assert audit == [(s,)]
    # ann's merges are not in cat's data, nor in ben's
    assert not _merged(student_database(course, "m01", "ben"))
    ann = {m for _, _, m, _ in _m04_merges(course, "ann")}
    assert not ann & {m for m, _ in _merged(student_database(course, "m01", "cat"))}


def test_the_notebook_says_which_decisions_the_students_data_includes(term, capsys):
    import importlib.util
    from crmlab.grading.classroom.course import SHIPPED_COURSE

    spec = importlib.util.spec_from_file_location("handin_for_test", SHIPPED_COURSE / "handin" / "crmlab_handin.py")
    handin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handin)
    course, _, _ = term
    said = {}
    for s in ("ann", "ben"):
        with sqlite3.connect(f"file:{student_database(course, 'm01', s)}?mode=ro", uri=True) as con:
            handin.company_note(con)
        said[s] = capsys.readouterr().out
    done = json.loads(dict(_rows(student_database(course, "m01", "ann"), "SELECT key, value FROM meta"))["term_decisions"])
    assert f"第 {M01_DAY} 天" in said["ann"] and f"day {M01_DAY}" in said["ann"]
    assert f"m04：带入 CRM 操作 {done[0]['crm_done']} 步" in said["ann"]
    assert f"carried in: {done[0]['crm_done']} CRM operations" in said["ann"]
    assert "m04：没有提交" in said["ben"] and "not handed in" in said["ben"]
    with sqlite3.connect(f"file:{student_database(course, 'm04', 'ann')}?mode=ro", uri=True) as con:
        handin.company_note(con)                  # the first company module of this term
    assert "no earlier company module" in capsys.readouterr().out


def _m04_merges(course, student):
    """(op, at, merged, survivor) of the merges kept as the student's m04 decisions."""
    kept = json.loads((course.private / "decisions" / "m04" / f"{student}.json").read_text(encoding="utf-8"))
    return [(c["operation"], c["at"], c["args"][1], c["args"][0]) for d in kept["decisions"] for c in d["calls"]
            if c["operation"] == "account.merge"]


def test_the_next_modules_solution_gets_full_marks_on_every_students_data(term):
    course, _, m01 = term
    for s in STUDENTS:
        assert m01[s].checks and all(v.status == "right" for v in m01[s].checks), (s, m01[s].checks)
    # the written parts graded by hand (full marks), then the course grade counts both sub-projects
    with course.gradebook() as gb:
        for module, who in (("m04", ("ann", "cat")), ("m01", STUDENTS)):
            for s in who:
                for nb in gb.find_submission(module, s).notebooks:
                    for g in nb.grades:
                        if g.needs_manual_grade:
                            g.manual_score, g.needs_manual_grade = g.max_score, False
        gb.db.commit()
    grades = {g.student: g for g in course_grades(course)[0]}
    for s in ("ann", "cat"):
        assert grades[s].modules["m01"] > 0 and grades[s].modules["m04"] > 0 and grades[s].coursework == 1.0, grades[s]
    assert grades["ben"].modules["m01"] > 0 and grades["ben"].modules.get("m04") is None   # ben handed in no m04
    assert grades["ben"].coursework is None or grades["ben"].coursework < 1.0


def test_regrading_an_earlier_module_changes_no_later_hand_out(term):
    course, _, _ = term
    before = {s: (_sha(cached_database(course, "m01", s)), _sha(course.path("outbox", s, "m01") / "crm.db"))
              for s in STUDENTS}
    records = {s: record_path(course, "m01", s).read_text(encoding="utf-8") for s in STUDENTS}
    # ann hands in a blank m04 after all (a regrade: her m04 decisions are now none), ben hands in the solution late
    write_submission(course, "m04", "ann", "blank", np.random.default_rng(3))
    write_submission(course, "m04", "ben", "correct", np.random.default_rng(3))
    autograde(course, "m04", workers=2, force=True, progress=False)
    assert not _m04_merges(course, "ann")
    assert _m04_merges(course, "ben")
    assert {s: (_sha(cached_database(course, "m01", s)), _sha(course.path("outbox", s, "m01") / "crm.db"))
            for s in STUDENTS} == before
    assert {s: record_path(course, "m01", s).read_text(encoding="utf-8") for s in STUDENTS} == records
    # the grader's copy lost (a new grading machine): rebuilt from the record, the same data
    lost = cached_database(course, "m01", "ann")
    digest = content_digest(lost)
    lost.chmod(0o644)
    lost.unlink()
    assert content_digest(student_database(course, "m01", "ann")) == digest
    assert _merged(student_database(course, "m01", "ann"))          # her merges of then, not her blank of now
