"""The course's whole round in a real JupyterLab, clicked in headless Chromium.

A course is created, a roster with Chinese names imported and m01 assigned with the `crmlab` command.
Then student s01, in `crmlab lab --user s01`, opens the assignment list, fetches m01, opens it, runs
it and sees *their own* data, types one answer (the other code answers are the model answers written
into the file before it is opened: typing them all would take minutes) and the reflection, validates
and submits. The instructor collects and autogrades with the `crmlab` command, opens the formgrader
in `crmlab lab`, sees the submissions with their scores and grades the reflection by hand. Last the
instructor releases feedback with `crmlab release-feedback`; s01 clicks Fetch Feedback in the assignment
list, opens the page (with their scores so far) and runs `crmlab my-scores` in a notebook.

Screenshots go to ``$CRMLAB_ARTIFACTS`` (default: the test's temp folder); docs/screenshots/lab-*.png
are copies of them.
"""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser import MARKS, artifacts, chromium, free_port, jupyter_env, serve
from students import answer, model_answers, student_app

from crmlab.grading.classroom.course import Course
from crmlab.grading.classroom.data import student_database
from crmlab.grading.classroom.lab import student_home

pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
expect = sync_api.expect

CRMLAB = str(Path(sys.executable).with_name("crmlab"))
TOKEN = "crmlab-lab-test"
COURSE_ID = "crm-2026-spring"
ROSTER = "id,first_name,last_name,email\ns01,伟,张,s01@example.edu\ns02,芳,王,s02@example.edu\n"
AUTO_POINTS, MAX_POINTS = 11, 15          # m01: five checkpoints (2+2+2+2+3) and a reflection (4, by hand)
# typed by the student, one statement a line (the editor closes brackets and quotes as they are typed);
# `revenue` is what the next checkpoint's model answer builds on
TYPED_TOP10 = [
    'revenue = pd.read_sql_query("SELECT o.account_id, SUM(l.quantity * l.unit_price) AS revenue '
    'FROM order_lines l JOIN orders o ON o.order_id = l.order_id GROUP BY o.account_id", con)',
    'top10 = revenue.sort_values(["revenue", "account_id"], ascending=[False, True])["account_id"].head(10).tolist()',
    "top10",
]
TYPED_REFLECTION = ("我的价值矩阵里大部分高校是 AA 客户，与案例一致。AA 客户的收入占比最高，建议为每个 AA 客户指定大客户经理，"
                    "每季度拜访一次，投诉当天回复。Most universities are AA in my grid, as in the case.")
PEEK_SQL = ("SELECT a.name FROM accounts a LEFT JOIN orders o ON o.account_id = a.account_id "
            "GROUP BY a.account_id ORDER BY COUNT(o.order_id) DESC LIMIT 5")


def crmlab(*args, timeout=600):
    r = subprocess.run([CRMLAB, *args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"crmlab {' '.join(args)}:\n{r.stdout}\n{r.stderr[-3000:]}"
    return r.stdout


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course as the instructor guide makes it: init, roster import (CSV), assign m01."""
    root = tmp_path_factory.mktemp("lab-course") / "course"
    crmlab("course", "init", str(root), "--course-id", COURSE_ID)
    roster = root.parent / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    crmlab("roster", "import", str(roster), "--course", str(root))
    crmlab("assign", "m01", "--course", str(root))
    return Course.open(root)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return artifacts(tmp_path_factory)


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium"), viewport=(1440, 960)) as ctx:
        yield ctx


def lab(course: Course, tmp: Path, *user: str):
    """`crmlab lab` as a person starts it, as the instructor or ``--user s01``; yields the base URL."""
    port = free_port()
    argv = [CRMLAB, "lab", "--course", str(course.root), "--port", str(port), "--token", TOKEN, *user]
    return serve(argv, jupyter_env(tmp), f"http://127.0.0.1:{port}", TOKEN, tmp / "lab.log")


def open_lab(page, url: str) -> None:
    page.goto(f"{url}/lab?reset&token={TOKEN}")
    expect(page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")).to_be_visible(timeout=60_000)
    # JupyterLab drops ?reset from the address once the fresh workspace is restored; a link clicked before that
    # (the assignment list's #… toggles) makes it reload the page onto an empty workspace
    page.wait_for_url(lambda u: "reset" not in u, timeout=60_000)


def nbgrader_menu(page, command: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator(f"li[data-command='{command}']").click()


def run_all(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
    page.locator("li[data-command='runmenu:run-all']").click()


def wait_until_run(page, timeout=90_000) -> None:
    """Every code cell has run: none waits with [*] or is blank, and the kernel is idle again."""
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent);
            return prompts.length > 0 && prompts.every(t => /\\[\\d+\\]/.test(t));
        }""", timeout=timeout)
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle", timeout=timeout)


def cell(page, notebook: Path, grade_id: str):
    """A notebook cell by its nbgrader grade id (its position in the file: the page does not show ids)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    index = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in cells].index(grade_id)
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def replace_text(page, editor, lines: list[str]) -> None:
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    for i, line in enumerate(lines):
        if i:
            page.keyboard.press("Enter")
            page.keyboard.press("Home")   # no automatic indentation carried over
        page.keyboard.type(line)


def top_accounts(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute(PEEK_SQL)]


def test_a_student_fetches_works_validates_and_submits_in_the_lab(course, context, shots, tmp_path):
    mine, theirs = student_database(course, "m01", "s01"), student_database(course, "m01", "s02")
    # every cell on the page, also those scrolled away (JupyterLab 4 renders only the visible ones by default)
    settings = student_home(course, "s01") / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    with lab(course, tmp_path, "--user", "s01") as server:
        url = f"http://127.0.0.1:{server.args[server.args.index('--port') + 1]}"
        page = context.new_page()
        open_lab(page, url)

        # a student's Nbgrader menu has the assignment list and no formgrader, and the server has none either
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        expect(page.locator("li[data-command='nbgrader:open-assignment-list']")).to_be_visible()
        expect(page.locator("li[data-command='nbgrader:open-formgrader']")).to_be_hidden()
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"{url}/formgrader?token={TOKEN}", timeout=10)

        # the assignment list: m01 released, fetched with this student's own database
        page.locator("li[data-command='nbgrader:open-assignment-list']").click()
        released = page.locator("#released_assignments_list .list_item", has_text="m01")
        expect(released).to_be_visible(timeout=30_000)
        page.screenshot(path=shots / "lab-student-assignments.png")
        released.locator("button", has_text="Fetch").click()
        fetched = page.locator("#fetched_assignments_list .list_item", has_text="m01").first
        expect(fetched.locator("button", has_text="Submit")).to_be_visible(timeout=30_000)
        work = student_home(course, "s01") / "m01"
        assert (work / "crm.db").read_bytes() == mine.read_bytes()
        assert (work / "crm.db").read_bytes() != theirs.read_bytes()

        # the code answers except one, as if typed before; then open it from the list
        nb = work / "m01.ipynb"
        answers = model_answers(course, "m01")
        answer(work / "m01.ipynb", {k: v for k, v in answers.items() if k not in ("ans_top10", "reflection")})
        fetched.locator("a.assignment-notebooks-link").click()
        page.locator("#fetched_assignments_list .nested_list_item a", has_text="m01").click()
        expect(page.locator("#jp-main-statusbar")).to_contain_text("Python 3 (ipykernel) | Idle", timeout=60_000)

        # run it: the student's own data shows (the five busiest accounts of *their* database)
        run_all(page)
        expect(page.locator(".jp-OutputArea-output", has_text="NotImplementedError").first).to_be_visible(timeout=60_000)
        expect(cell(page, nb, "setup")).to_contain_text("snapshot:")
        peek = cell(page, nb, "peek").locator(".jp-OutputArea-output")
        for name in top_accounts(mine):
            expect(peek).to_contain_text(name)
        assert any(name not in peek.inner_text() for name in top_accounts(theirs))   # not the classmate's
        peek.evaluate("e => e.scrollIntoView({block: 'center'})")
        page.screenshot(path=shots / "lab-student-own-data.png")

        # type the top-ten answer and the reflection
        top10 = cell(page, nb, "ans_top10")
        replace_text(page, top10.locator(".cm-content"), TYPED_TOP10)
        top10.scroll_into_view_if_needed()
        page.screenshot(path=shots / "lab-student-typing.png")
        reflection = cell(page, nb, "reflection")
        reflection.scroll_into_view_if_needed()
        reflection.dblclick()
        replace_text(page, reflection.locator(".cm-content"), [TYPED_REFLECTION])
        page.keyboard.press("Control+Enter")   # render in place (Shift+Enter would add a cell at the end)
        expect(reflection).to_contain_text("大客户经理")

        run_all(page)
        wait_until_run(page)
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.count() == 0, errors.all_inner_texts()
        expect(cell(page, nb, "ans_top10").locator(".jp-OutputArea-output")).to_contain_text("[")
        page.keyboard.press("Control+S")
        expect(page.locator(".jp-mod-dirty")).to_have_count(0, timeout=20_000)

        # Validate (nbgrader's toolbar button): runs the saved notebook, every test passes
        page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate").click()
        dialog = page.locator(".jp-Dialog")
        expect(dialog).to_contain_text("Success", timeout=90_000)
        page.screenshot(path=shots / "lab-student-validate.png")
        dialog.locator("button", has_text="OK").first.click()

        # Submit from the assignment list
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Assignments").click()
        fetched.locator("button", has_text="Submit").click()
        expect(page.locator("#submitted_assignments_list .nested_list_item").first).to_contain_text("UTC",
                                                                                                     timeout=30_000)
        page.screenshot(path=shots / "lab-student-submitted.png")

    inbound = course.root / "exchange" / COURSE_ID / "inbound"
    [submission] = [p for p in inbound.iterdir() if p.name.startswith("s01+m01+")]
    assert "top10 = revenue.sort_values" in (submission / "m01.ipynb").read_text(encoding="utf-8")
    assert "大客户经理" in (submission / "m01.ipynb").read_text(encoding="utf-8")


def submit_without_browser(course: Course, student: str, answers: dict[str, str]) -> None:
    app, home = student_app(course, student, "fetch")
    if not (home / "m01").exists():
        app.start()
    answer(home / "m01" / "m01.ipynb", answers)
    student_app(course, student, "submit")[0].start()


def test_the_instructor_collects_autogrades_and_grades_by_hand_in_the_formgrader(course, context, shots, tmp_path):
    inbound = course.root / "exchange" / COURSE_ID / "inbound"
    if not any(p.name.startswith("s01+") for p in inbound.iterdir()):   # run alone: s01 hands in the model answers
        submit_without_browser(course, "s01", {**model_answers(course, "m01"), "reflection": TYPED_REFLECTION})
    submit_without_browser(course, "s02", {})   # s02 hands in the module untouched

    assert "new 2" in crmlab("collect", "m01", "--course", str(course.root))
    graded = crmlab("autograde", "m01", "--course", str(course.root))
    assert "graded 2" in graded, graded
    with course.gradebook() as gb:
        scores = {s: gb.find_submission("m01", s).score for s in ("s01", "s02")}
    assert scores == {"s01": AUTO_POINTS, "s02": 0}

    with lab(course, tmp_path) as server:
        url = f"http://127.0.0.1:{server.args[server.args.index('--port') + 1]}"
        page = context.new_page()
        open_lab(page, url)
        nbgrader_menu(page, "nbgrader:open-formgrader")
        fg = page.frame_locator("iframe").first
        expect(fg.locator("body")).to_contain_text("m01", timeout=60_000)
        page.screenshot(path=shots / "lab-formgrader-assignments.png")

        # the submissions of m01 with their scores
        fg.locator("a[href*='manage_submissions/m01']").first.click()
        expect(fg.locator("tr", has_text="s01").first).to_contain_text(f"{AUTO_POINTS} / {MAX_POINTS}", timeout=30_000)
        expect(fg.locator("tr", has_text="s01").first).to_contain_text("needs manual grading")
        expect(fg.locator("tr", has_text="s02").first).to_contain_text(f"0 / {MAX_POINTS}")
        page.screenshot(path=shots / "lab-formgrader-submissions.png")

        # manual grading: s01's submission → the notebook → points for the reflection (the last graded cell)
        fg.locator("tr", has_text="s01").locator("a").first.click()
        fg.locator("a[href*='submissions/']").first.click()
        expect(fg.locator("body")).to_contain_text("大客户经理", timeout=30_000)   # s01's own reflection
        score = fg.locator("input.score").last
        score.fill("3")
        score.press("Tab")    # the formgrader saves a score when the field is left
        score.evaluate("e => e.scrollIntoView({block: 'center'})")
        page.wait_for_timeout(1000)
        page.screenshot(path=shots / "lab-formgrader-manual.png")

        # back to the list: the total includes the hand-given points
        fg.locator("a", has_text="Manual Grading").first.click()
        fg.locator("a", has_text="Manage Assignments").first.click()
        fg.locator("a[href*='manage_submissions/m01']").first.click()
        expect(fg.locator("tr", has_text="s01").first).to_contain_text(f"{AUTO_POINTS + 3} / {MAX_POINTS}",
                                                                       timeout=30_000)
        page.screenshot(path=shots / "lab-formgrader-graded.png")

    with course.gradebook() as gb:
        assert gb.find_submission("m01", "s01").score == AUTO_POINTS + 3
    # the export has the hand-given points, and nothing left to grade by hand
    rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO(crmlab("export", "--course", str(course.root))))}
    assert (rows["s01"]["total"], rows["s01"]["m01:reflection"], rows["s01"]["needs_manual_grade"]) == (
        f"{AUTO_POINTS + 3}.0", "3.0", "False")


def test_the_instructor_releases_feedback_and_the_student_fetches_it_with_their_scores(course, context, shots, tmp_path):
    if not course.path("submitted", "s01", "m01").is_dir():   # run alone: hand in, collect, grade without a browser
        submit_without_browser(course, "s01", {**model_answers(course, "m01"), "reflection": TYPED_REFLECTION})
        crmlab("collect", "m01", "--course", str(course.root))
        crmlab("autograde", "m01", "--course", str(course.root))
        with course.gradebook() as gb:   # the reflection's 3 points, as the formgrader stores them
            grade = gb.find_grade("reflection", "m01", "m01", "s01")
            grade.manual_score, grade.needs_manual_grade = 3.0, False
            gb.db.commit()
    released = crmlab("release-feedback", "m01", "--course", str(course.root))
    assert f"released to {len(course.submitted_students('m01'))} students" in released, released

    with lab(course, tmp_path, "--user", "s01") as server:
        url = f"http://127.0.0.1:{server.args[server.args.index('--port') + 1]}"
        page = context.new_page()
        open_lab(page, url)
        nbgrader_menu(page, "nbgrader:open-assignment-list")
        submitted = page.locator("#submitted_assignments_list .list_item", has_text="m01").first
        expect(submitted).to_contain_text("feedback available to fetch", timeout=30_000)
        submitted.locator("button", has_text="Fetch Feedback").click()
        view = submitted.locator("a", has_text="view feedback")
        expect(view).to_be_visible(timeout=30_000)
        page.screenshot(path=shots / "lab-student-feedback-fetched.png")

        # the file browser goes to m01/feedback/<time of the submission>/; the page opens in the lab
        view.click()
        page.locator(".jp-DirListing-item", has_text="m01.html").dblclick()
        frame = page.frame_locator(".jp-HTMLViewer iframe").first
        expect(frame.locator("h1")).to_contain_text("m01", timeout=30_000)
        expect(frame.locator("body")).to_contain_text("张伟 (s01)")
        expect(frame.locator(".summary")).to_contain_text(f"{AUTO_POINTS + 3} / {MAX_POINTS}")   # with the hand-given 3
        expect(frame.locator("#scores")).to_contain_text("Your scores so far")   # at the end of the page
        page.screenshot(path=shots / "lab-student-feedback.png")
        body = frame.locator("body").inner_text()
        assert "s02" not in body and "王芳" not in body            # nothing of a classmate's

        # `crmlab my-scores` in a notebook of the student's own folder: the same, read from what they fetched
        page.locator(".jp-BreadCrumbs-home").first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
        page.locator(".lm-Menu-itemLabel", has_text="New").first.hover()
        page.locator("li[data-command='notebook:create-new']").first.click()
        page.locator(".jp-Dialog .jp-mod-accept").click(timeout=30_000)   # the kernel: Python 3, as offered
        expect(page.locator("#jp-main-statusbar")).to_contain_text("Python 3 (ipykernel) | Idle", timeout=60_000)
        page.locator(".jp-Notebook .jp-Cell .cm-content").last.click()
        page.keyboard.type("!crmlab my-scores")
        page.keyboard.press("Shift+Enter")
        output = page.locator(".jp-Notebook .jp-OutputArea-output").first
        expect(output).to_contain_text("coursework so far", timeout=60_000)
        assert "自动 11/11 + 人工 3/4 = 14/15" in output.inner_text() and "s02" not in output.inner_text()
        page.screenshot(path=shots / "lab-student-my-scores.png")
