"""The course's exchange (grading/classroom/exchange.py) with real nbgrader: `assign` releases one common version
and each student's own data; a student's fetch brings *their* database and never another's;
`crmlab collect` brings the newest submissions into submitted/; `crmlab lab` prepares a student's home.
Students are played on one machine with their own nbgrader config, as `crmlab lab --user` does."""
from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from crmlab.grading.classroom.assign import assign
from crmlab.grading.classroom.course import Course, CourseError
from crmlab.grading.classroom.data import student_database
from crmlab.grading.classroom.labels import code_stub
from crmlab.grading.classroom.lab import lab_launch, student_home
from students import student_app

CRMLAB = str(Path(sys.executable).with_name("crmlab"))
STUDENTS = [{"id": "s01", "first_name": "伟", "last_name": "张", "email": "s01@example.edu"},
            {"id": "s02", "first_name": "芳", "last_name": "王", "email": "s02@example.edu"}]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = Course.init(tmp_path_factory.mktemp("exchange") / "course", course_id="crm-exchange-test")
    course.add_students(STUDENTS)
    assign(course, "m01", workers=2, progress=False)
    return course


def data_id(db: Path) -> str:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT value FROM meta WHERE key = 'data_id'").fetchone()[0]


def test_assign_releases_one_common_version_and_each_students_data_apart(course):
    ex = course.root / "exchange" / "crm-exchange-test"
    assert sorted(p.name for p in (ex / "outbound" / "m01").iterdir()) == ["crmlab_handin.py", "m01.ipynb"]
    ids = set()
    for s in ("s01", "s02"):
        personal = ex / "personal" / s / "m01" / "crm.db"
        assert personal.read_bytes() == student_database(course, "m01", s).read_bytes()
        assert (personal.parent.parent.stat().st_mode & 0o777) == 0o700   # only its owner (on a hub: the student)
        ids.add(data_id(personal))
    assert len(ids) == 2
    assert (ex / "personal").stat().st_mode & 0o777 == 0o711              # enter your own, list nobody's


def test_the_released_answer_cells_say_what_to_do_in_both_languages(course):
    """nbgrader's release puts our stubs where the model answers were (not a bare "# YOUR CODE HERE"): each
    answer cell of the source is, in the release, exactly the code or text stub, in Chinese and English."""
    from crmlab.grading.classroom.labels import STUB, text_stub

    source = json.loads((course.root / "modules" / "m01" / "m01.ipynb").read_text(encoding="utf-8"))["cells"]
    released = json.loads((course.root / "exchange" / "crm-exchange-test" / "outbound" / "m01" / "m01.ipynb")
                          .read_text(encoding="utf-8"))["cells"]
    answers = {c["id"]: c["cell_type"] for c in source if c["metadata"].get("nbgrader", {}).get("solution")}
    got = {c["id"]: "".join(c["source"]) for c in released if c["id"] in answers}
    assert set(got) == set(answers) and "code" in answers.values() and "markdown" in answers.values()
    for cid, kind in answers.items():
        # a code cell's solution region goes whole; m01's answer cells end with the variable shown, which stays
        assert got[cid].startswith(code_stub() if kind == "code" else text_stub()), (cid, got[cid])
    text = json.dumps(released, ensure_ascii=False)
    assert "YOUR CODE HERE" not in text and "YOUR ANSWER HERE" not in text
    assert STUB["code_error"].zh in text and STUB["code_error"].en in text


def test_the_two_hand_outs_are_one_file_and_the_graders_copy_stays_apart(course):
    """Each student's data is stored once for the hand-outs (the outbox and the exchange's personal area: one
    inode, when no OS user of the student's name is given the folder) and once for the grader, read-only; a
    fetched copy is the student's own file."""
    ex = course.root / "exchange" / "crm-exchange-test"
    for s in ("s01", "s02"):
        personal, outbox = ex / "personal" / s / "m01" / "crm.db", course.path("outbox", s, "m01") / "crm.db"
        cached = student_database(course, "m01", s)
        assert personal.stat().st_ino == outbox.stat().st_ino and personal.stat().st_nlink == 2
        assert cached.stat().st_ino != personal.stat().st_ino and cached.stat().st_nlink == 1
        assert cached.stat().st_mode & 0o222 == 0                        # nobody writes the grader's copy


def test_a_student_fetches_the_module_with_their_own_data(course):
    for s in ("s01", "s02"):
        app, home = student_app(course, s, "fetch")
        app.start()
        got = home / "m01"
        assert sorted(p.name for p in got.iterdir()) == ["crm.db", "crmlab_handin.py", "m01.ipynb"]
        assert got.joinpath("crm.db").read_bytes() == student_database(course, "m01", s).read_bytes()
        assert got.joinpath("crm.db").stat().st_nlink == 1                   # the student's own file
    assert data_id(student_home(course, "s01") / "m01" / "crm.db") != data_id(student_home(course, "s02") / "m01" / "crm.db")


def test_a_second_fetch_restores_only_what_is_missing(course):
    home = student_home(course, "s02") / "m01"
    if not home.exists():
        student_app(course, "s02", "fetch")[0].start()
    nb = home / "m01.ipynb"
    doc = json.loads(nb.read_text(encoding="utf-8"))
    stubs = [c for c in doc["cells"] if "".join(c["source"]).startswith(code_stub())]   # the answer cells
    assert stubs
    for c in stubs:
        c["source"] = "x = 1"
    nb.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    (home / "crm.db").unlink()
    app, _ = student_app(course, "s02", "fetch", ExchangeFetchAssignment__replace_missing_files=True)
    app.start()
    assert (home / "crm.db").read_bytes() == student_database(course, "m01", "s02").read_bytes()
    kept = json.loads(nb.read_text(encoding="utf-8"))["cells"]   # the student's work is kept
    assert ["".join(c["source"]) for c in kept if c["id"] in {c["id"] for c in stubs}] == ["x = 1"] * len(stubs)


@pytest.mark.parametrize("who", ["s99", "../personal/s01", "s01/../s02"])
def test_nobody_gets_data_that_is_not_theirs(course, who):
    from nbgrader.exchange import ExchangeError
    app, home = student_app(course, who, "fetch")
    with pytest.raises(ExchangeError, match="ask your instructor|invalid student id"):
        app.start()
    assert not (home / "m01").exists()   # not even the common release without data


def test_autograde_before_collect_says_the_submissions_wait_in_the_exchange(course):
    from crmlab.grading.classroom.exchange import waiting

    for s in ("s01", "s02"):
        if not (student_home(course, s) / "m01").exists():
            student_app(course, s, "fetch")[0].start()
        student_app(course, s, "submit")[0].start()
    assert waiting(course, "m01") == ["s01", "s02"] and waiting(course, "m04") == []
    r = subprocess.run([CRMLAB, "autograde", "m01", "--course", str(course.root)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "2 submission(s) of m01 wait in the exchange, not collected yet (s01, s02): `crmlab collect m01` brings " \
           "them in" in r.stderr
    assert "s01: missing — no submission  (a submission waits in the exchange: crmlab collect)" in r.stdout


def test_collect_of_a_module_never_assigned_is_refused(course):
    r = subprocess.run([CRMLAB, "collect", "m04", "--course", str(course.root)], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "m04 has not been assigned in this course" in r.stderr and "crmlab assign m04" in r.stderr
    r = subprocess.run([CRMLAB, "collect", "m99", "--course", str(course.root)], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown module 'm99'" in r.stderr


def test_collect_brings_the_newest_submission_of_each_student(course):
    for s in ("s01", "s02"):
        if not (student_home(course, s) / "m01").exists():
            student_app(course, s, "fetch")[0].start()
        student_app(course, s, "submit")[0].start()
    first = subprocess.run([CRMLAB, "collect", "m01", "--course", str(course.root)], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "new 2, updated 0, unchanged 0" in first.stdout
    for s in ("s01", "s02"):
        folder = course.path("submitted", s, "m01")
        names = {p.name for p in folder.iterdir()}
        # the student's copy of their data is not collected: grading rebuilds it, and it is the largest file
        assert {"m01.ipynb", "timestamp.txt"} <= names and "crm.db" not in names
    nb = student_home(course, "s02") / "m01" / "m01.ipynb"
    work = json.loads(nb.read_text(encoding="utf-8"))
    answer = next(c for c in work["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "ans_active")
    answer["source"] = "# second try\n" + "".join(answer["source"])
    nb.write_text(json.dumps(work), encoding="utf-8")
    student_app(course, "s02", "submit")[0].start()
    again = subprocess.run([CRMLAB, "collect", "m01", "--course", str(course.root)], capture_output=True, text=True)
    assert "new 0, updated 1, unchanged 1" in again.stdout, again.stdout + again.stderr
    assert "# second try" in course.path("submitted", "s02", "m01").joinpath("m01.ipynb").read_text(encoding="utf-8")
    from crmlab.grading.classroom.exchange import waiting
    assert waiting(course, "m01") == []                 # everything collected: nothing waits


def test_lab_for_a_student_keeps_jupyter_inside_their_home(course):
    launch = lab_launch(course, "s01", port=8899, token="t")
    home = student_home(course, "s01")
    assert launch.cwd == home and f"--ServerApp.root_dir={home}" in launch.argv
    assert launch.url == "http://127.0.0.1:8899/lab?token=t"
    for key in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR", "IPYTHONDIR"):
        assert Path(launch.env[key]).is_relative_to(home), key
    config = (home / ".jupyter" / "nbgrader_config.py").read_text(encoding="utf-8")
    assert "c.CourseDirectory.student_id = 's01'" in config
    assert "CourseDirectory.root" not in config and "db_url" not in config   # nothing of the instructor's
    server = json.loads((home / ".jupyter" / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"]["nbgrader.server_extensions.formgrader"] is False
    instructor = lab_launch(course)
    assert instructor.cwd == course.root and instructor.who == "instructor"
    assert "JUPYTER_CONFIG_DIR" not in instructor.env or instructor.env["JUPYTER_CONFIG_DIR"] != launch.env["JUPYTER_CONFIG_DIR"]
    with pytest.raises(CourseError, match="not on the roster"):
        lab_launch(course, "s99")


# -- feedback back through the exchange ------------------------------------------------------------------
def handed_in_and_graded(course) -> None:
    """s01 hands in the model answers and s02 the module untouched; both collected and graded."""
    from crmlab.grading.run.autograde import autograde
    from students import answer, model_answers

    for s in ("s01", "s02"):
        if not (student_home(course, s) / "m01").exists():
            student_app(course, s, "fetch")[0].start()
    answer(student_home(course, "s01") / "m01" / "m01.ipynb", model_answers(course, "m01"))
    for s in ("s01", "s02"):
        student_app(course, s, "submit")[0].start()
    subprocess.run([CRMLAB, "collect", "m01", "--course", str(course.root)], check=True, capture_output=True)
    autograde(course, "m01", workers=2, progress=False)


def fetched_feedback(course, student: str, **config) -> list[Path]:
    student_app(course, student, "fetch_feedback", **config)[0].start()
    return sorted((student_home(course, student) / "m01" / "feedback").glob("*/m01.html"))


def test_released_feedback_reaches_its_own_student_only_and_carries_their_scores_so_far(course):
    handed_in_and_graded(course)
    # what nbgrader's generate_feedback would write beside our page (the graded notebook): never released
    leak = course.path("feedback", "s01", "m01") / "m01.html"
    leak.parent.mkdir(parents=True, exist_ok=True)
    leak.write_text("<html>NBGRADER-GENERATED hidden parts</html>", encoding="utf-8")
    course.add_students([{"id": "s03", "first_name": "静", "last_name": "李", "email": None}])  # never submitted

    r = subprocess.run([CRMLAB, "release-feedback", "m01", "--course", str(course.root)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "released to 2 students" in r.stdout
    assert "no submission collected from the exchange" in r.stderr and "s03" in r.stderr

    released = course.root / "exchange" / "crm-exchange-test" / "feedback"
    assert released.stat().st_mode & 0o777 == 0o711        # students may open a page they can name, list none
    pages = sorted(released.iterdir())
    assert len(pages) == 2 and all(re.fullmatch(r"[0-9a-f]{32}\.html", p.name) for p in pages)
    assert not any("NBGRADER-GENERATED" in p.read_text(encoding="utf-8") for p in pages)

    mine = {}
    for s, other in (("s01", "s02"), ("s02", "s01")):
        [page] = fetched_feedback(course, s)
        text = page.read_text(encoding="utf-8")
        assert f"({s})" in text and f"({other})" not in text and f'"student": "{other}"' not in text
        mine[s] = text
    # s01: the automatic part, the reflection waits for the instructor; s02 wrote nothing: nbgrader scores it 0
    assert "11 <small>/ 15</small>" in mine["s01"] and "自动 11/11 + 人工 —/4 = 11/15" in mine["s01"]
    assert "0 <small>/ 15</small>" in mine["s02"]
    assert "Your scores so far" in mine["s01"]

    # a student who names a classmate in their config still finds only their own submission's feedback
    [page] = fetched_feedback(course, "s02", CourseDirectory__student_id="s01")
    assert "(s02)" in page.read_text(encoding="utf-8") and "(s01)" not in page.read_text(encoding="utf-8")

    # crmlab my-scores in a student's folder: their own scores so far, from what they fetched
    out = subprocess.run([CRMLAB, "my-scores", str(student_home(course, "s01"))], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "crm-exchange-test · s01" in out.stdout and "automatic 11/11 + by hand —/4 = 11/15" in out.stdout
    assert "the hand-graded part is still to grade" in out.stdout and "(UTC+08:00)" in out.stdout   # the course's time
    assert "s02" not in out.stdout
    nothing = subprocess.run([CRMLAB, "my-scores", str(course.root / "elsewhere")], capture_output=True, text=True)
    assert nothing.returncode == 1 and "Fetch Feedback" in nothing.stdout
