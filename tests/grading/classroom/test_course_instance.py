"""The course instance (crmlab.grading.classroom.course): its settings naming a missing or bad field, the seed
kept secret, due times and the time zone, the tables a module declares. (The course sources — notebooks,
nbgrader metadata — are checked in tests/course/test_sources.py.)"""
import sqlite3
import tomllib

import pytest

from crmlab.grading.classroom.course import SHIPPED_COURSE

MODULES = sorted(tomllib.loads((SHIPPED_COURSE / "crmlab.toml").read_text(encoding="utf-8"))["modules"])


def test_course_instance_settings_name_a_missing_field(tmp_path):
    from crmlab.grading.classroom.course import Course, CourseError

    course = Course.init(tmp_path / "c", "settings-course")
    assert course.course_id == "settings-course" and course.module_ids == MODULES
    toml = course.root / "crmlab.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("cell_timeout = 20", ""), encoding="utf-8")
    with pytest.raises(CourseError, match="missing field 'grading.cell_timeout'"):
        Course.open(course.root).settings  # noqa: B018 - reading is what fails
    with pytest.raises(CourseError, match="already holds a course"):
        Course.init(course.root)


def test_student_data_keeps_its_seed_secret(tmp_path):
    """A student's database names its data without giving the seed away, and the seed depends on the
    course's own secret: the same course id and student in two instances get different data, and
    nobody can recompute a student's data (or its ground truth) from the public ids."""
    from crmlab.grading.classroom.course import Course
    from crmlab.grading.classroom.data import student_database
    from crmlab.simulator import simulate, student_seed

    a, b = Course.init(tmp_path / "a", "same-id"), Course.init(tmp_path / "b", "same-id")
    assert a.secret and a.secret != b.secret
    assert (a.private / "secret").stat().st_mode & 0o077 == 0   # the grader's alone
    db_a, db_b = student_database(a, "m01", "s1"), student_database(b, "m01", "s1")
    meta = dict(sqlite3.connect(db_a).execute("SELECT key, value FROM meta").fetchall())
    assert "seed" not in meta and meta["data_id"] != dict(sqlite3.connect(db_b).execute(
        "SELECT key, value FROM meta").fetchall())["data_id"]
    # m01 is on the company track: the student's company, seeded by (course, student) — not by module — and the secret
    from crmlab.grading.classroom.company import SEED_KEY
    company = a.settings.company
    run = dict(customers=company.customers, days=company.days, locale=a.locale, reveal_seed=False)
    public = simulate(company.scenario, student_seed("same-id", SEED_KEY, "s1"), tmp_path / "guess.db", **run)
    guess = dict(sqlite3.connect(public.db_path).execute("SELECT key, value FROM meta").fetchall())
    assert guess["data_id"] != meta["data_id"]
    again = simulate(company.scenario, student_seed("same-id", SEED_KEY, "s1", a.secret), tmp_path / "again.db", **run)
    assert dict(sqlite3.connect(again.db_path).execute("SELECT key, value FROM meta").fetchall())["data_id"] \
        == meta["data_id"]
    # and m04, the same company some months on, names the same data
    m04 = dict(sqlite3.connect(student_database(a, "m04", "s1")).execute("SELECT key, value FROM meta").fetchall())
    assert m04["data_id"] == meta["data_id"] and m04["snapshot_date"] > meta["snapshot_date"]


def test_a_due_time_without_its_time_zone_is_refused_naming_the_field(tmp_path):
    from crmlab.grading.classroom.course import Course, CourseError

    course = Course.init(tmp_path / "c", "due-course")
    toml = course.root / "crmlab.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[modules.m01]\n", "[modules.m01]\ndue = 2026-12-20T23:59:00\n"),
                    encoding="utf-8")
    with pytest.raises(CourseError, match=r"'modules\.m01\.due' must be a date and time with its time zone"):
        Course.open(course.root).module("m01")
    toml.write_text(toml.read_text(encoding="utf-8").replace("due = 2026-12-20T23:59:00\n", "due = \"2026-12-20T23:59:00+08:00\"\n"),
                    encoding="utf-8")
    assert Course.open(course.root).module("m01").due.utcoffset().total_seconds() == 8 * 3600


def test_the_course_time_zone_is_its_own_and_a_bad_one_is_named(tmp_path):
    from crmlab.grading.classroom.course import Course, CourseError
    from crmlab.grading.classroom.labels import when

    course = Course.init(tmp_path / "c", "tz-course")
    assert course.now().utcoffset().total_seconds() == 8 * 3600                 # Asia/Shanghai, the shipped default
    toml = course.root / "crmlab.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('timezone = "Asia/Shanghai"', 'timezone = "Asia/Urumqi"'),
                    encoding="utf-8")
    assert Course.open(course.root).now().utcoffset().total_seconds() == 6 * 3600
    toml.write_text(toml.read_text(encoding="utf-8").replace('timezone = "Asia/Urumqi"', 'timezone = "Beijing"'),
                    encoding="utf-8")
    with pytest.raises(CourseError, match=r"'course.timezone' = 'Beijing' is not a time zone"):
        Course.open(course.root).now()
    # a time is shown in the zone it was taken in, with its offset: 10:00 UTC is 18:00 in Shanghai
    import datetime as dt
    from zoneinfo import ZoneInfo
    moment = dt.datetime(2026, 6, 30, 10, 0, tzinfo=dt.timezone.utc).astimezone(ZoneInfo("Asia/Shanghai"))
    assert when(moment) == when(moment.isoformat()) == "2026-06-30 18:00 (UTC+08:00)"


def test_a_module_declares_its_tables_and_its_students_get_those(tmp_path):
    """m06 reads calls, tickets, agents and meta: its students' databases hold those and the tables their keys
    point at, with the rows the whole database would have; an unknown table is refused naming the field."""
    from crmlab.grading.classroom.course import Course, CourseError
    from crmlab.grading.classroom.data import student_database

    course = Course.init(tmp_path / "c", "tables-course")
    assert course.module("m01").tables is None                   # m01 explores the whole database
    m06 = course.module("m06")
    assert set(m06.tables) == {"meta", "calls", "tickets", "agents"}
    toml = course.root / "crmlab.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace("customers = 30000", "customers = 300"), encoding="utf-8")   # small: fast
    with sqlite3.connect(student_database(Course.open(course.root), "m06", "s1")) as con:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names == {"meta", "calls", "tickets", "agents", "accounts", "contacts", "skills", "account_kinds",
                     "lead_sources"}
    toml.write_text(text.replace('tables = ["meta", "calls", "tickets", "agents"]', 'tables = ["calls", "agent"]'),
                    encoding="utf-8")
    with pytest.raises(CourseError, match=r"'modules\.m06\.tables' names unknown tables agent \(the database's tables"):
        Course.open(course.root).module("m06")
    toml.write_text(text.replace('tables = ["meta", "calls", "tickets", "agents"]', 'tables = "calls"'), encoding="utf-8")
    with pytest.raises(CourseError, match=r"'modules\.m06\.tables' must be a list of table names"):
        Course.open(course.root).module("m06")
