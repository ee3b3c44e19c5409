"""Role-play in a real browser: module m07 opened in JupyterLab, the complaint played to the end by
clicking the player's buttons, then the autograder scores the saved transcript (replayed in the
grader's process); and the player alone served as a Voila page, played by clicking.

Needs Debian's chromium at /usr/bin/chromium and the playwright package (skipped otherwise).
Screenshots go to ``$CRMLAB_ARTIFACTS`` (default: the test's temp folder); docs/screenshots/roleplay-*.png
are copies.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from browser import MARKS, artifacts, chromium, free_port, jupyter_env, lab_argv, serve, voila_page
from paths import SUPPORT
from students import answer, model_answers

from crmlab.grading.classroom.assign import assign
from crmlab.grading.run.autograde import autograde
from crmlab.grading.classroom.course import Course
from crmlab.grading.run.verify import checks_of
from crmlab.roleplay import play_seed, replay, score

TOKEN = "crmlab-roleplay-test"
MODULE, SCENE = "m07", "hotpot_angry_guest"
REACTIVE = (SUPPORT / "reactive_policy.py").read_text(encoding="utf-8")


def reading_clicks(seed: int, db=None) -> tuple[list, float]:
    """The clicks of a student who reads *this* guest (customers differ in temper, hidden per seed): the moves
    the m07 solution's policy makes, as (move, amount), and the score they earn."""
    from crmlab.roleplay.policy import load_policy, play_policy

    s = play_policy(load_policy(REACTIVE), SCENE, "specialist", seed, db=db)
    assert s.end == "resolved" and s.stopped is None
    return [(t["move"], t["args"].get("amount")) for t in s.turns], score(s)["total"]
pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


def click_through(page, clicks, turn_label: str, shot: Path | None = None) -> None:
    """Play the moves by clicking the player's buttons, waiting for each turn to be shown. The amount box
    stops at the role's authority, shown beside it (a specialist's 500 becomes 200), so the engine's refusal
    of a larger remedy is tested without a browser (tests/roleplay/test_roleplay.py)."""
    for turn, (move, amount) in enumerate(clicks, start=1):
        if amount is not None:
            sync_api.expect(page.locator(".rp-limit")).to_contain_text("200")
            if shot is not None:   # the amount box with the role's limit beside it
                page.locator(".roleplay-player").screenshot(path=shot)
            box = page.locator(".rp-amount input")
            box.fill(str(amount))
            box.press("Tab")   # the widget syncs its value on change
        page.locator(f"button.rp-move-{move}").click()
        sync_api.expect(page.locator(".roleplay-player")).to_contain_text(f"{turn_label} {turn} /", timeout=20_000)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = Course.init(tmp_path_factory.mktemp("rp") / "c", "test-rp", secret="rp-browser-secret")
    course.add_students([{"id": "s01", "first_name": "小红", "last_name": "李"}])
    assign(course, MODULE, progress=False)
    return course


def test_a_student_plays_m07_in_jupyterlab_and_the_autograder_scores_it(course, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    work = shutil.copytree(course.path("outbox", "s01", MODULE), home / MODULE)   # what the student fetched
    typed = model_answers(course, MODULE)   # the code cells the student writes (the clicks are the play)
    (data_id,) = sqlite3.connect(work / "crm.db").execute("SELECT value FROM meta WHERE key = 'data_id'").fetchone()
    clicks, expected = reading_clicks(play_seed(data_id, SCENE), db=work / "crm.db")
    # the checkpoint's rule (course/checks/m07.py): all 6 points from PLAY_FULL/100, in proportion below
    play_full = checks_of(course, MODULE)["chk_play"].__globals__["PLAY_FULL"]
    play_points = 6 * min(1.0, expected / play_full)
    assert expected >= 80 and play_points > 5   # the reading student's play: (nearly) every point
    answer(work / f"{MODULE}.ipynb", {k: v for k, v in typed.items() if k.startswith("ans_")})
    shots = artifacts(tmp_path_factory)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve(lab_argv(work, port, TOKEN), jupyter_env(home / ".jupyter"), url, TOKEN, home / "lab.log"), \
            chromium(tmp_path_factory.mktemp("chromium")) as context:
        page = context.new_page()
        page.goto(f"{url}/lab/tree/{MODULE}.ipynb?reset&token={TOKEN}")
        sync_api.expect(page.locator("#jp-main-statusbar")).to_contain_text("Python 3 (ipykernel) | Idle",
                                                                            timeout=60_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
        page.locator("li[data-command='runmenu:run-all']").click()   # stops at chk_play: nothing played yet
        sync_api.expect(page.locator(".roleplay-player")).to_be_visible(timeout=60_000)
        page.locator(".jp-Notebook").evaluate(
            "n => n.scrollTop = n.querySelector('.roleplay-player').closest('.jp-Cell').offsetTop - 10")
        page.locator(".roleplay-player").screenshot(path=shots / "roleplay-start.png")
        click_through(page, clicks, "回合")
        sync_api.expect(page.locator(".rp-result")).to_contain_text(f"得分 {expected:g}/100", timeout=20_000)
        page.locator(".roleplay-player").screenshot(path=shots / "roleplay-end.png")
    saved = json.loads((work / f"roleplay_{SCENE}.json").read_text(encoding="utf-8"))
    assert [t["move"] for t in saved["turns"]] == [m for m, _ in clicks]
    assert score(replay(SCENE, saved)).get("total") == expected

    # hand it in as nbgrader's submit would place it, and grade
    dest = course.path("submitted", "s01", MODULE)
    shutil.copytree(work, dest, ignore=shutil.ignore_patterns(".jupyter", ".ipynb_checkpoints", "crm_original.db"),
                    dirs_exist_ok=True)
    (dest / "timestamp.txt").write_text("2026-01-05 10:00:00.000000 UTC")
    outcome = autograde(course, MODULE, workers=1, progress=False).outcomes[0]
    # customer 2 + policy 6 + CRM 3 (no group: s01 is in none) + the play's points
    assert outcome.status == "graded" and outcome.score == pytest.approx(11 + play_points), outcome
    with course.gradebook() as gb:
        grades = {g.name: g.score for nb in gb.find_submission(MODULE, "s01").notebooks for g in nb.grades}
    assert grades["chk_play"] == pytest.approx(play_points) and grades["chk_crm"] == 3


@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    """Voila serving a one-cell notebook with the player (the airline passenger, in English)."""
    root, home = tmp_path_factory.mktemp("voila"), tmp_path_factory.mktemp("voila-home")
    source = "from crmlab.roleplay.player import Player\nPlayer(\"hotpot_angry_guest\", role=\"specialist\", seed=11, lang=\"en_US\")"
    with voila_page(root, home, "player.ipynb", source) as url:
        yield url, root


def test_the_player_works_as_a_voila_page(voila, tmp_path_factory):
    url, root = voila
    with chromium(tmp_path_factory.mktemp("chromium"), locale="en-US", viewport=(1000, 2200)) as context:
        page = context.new_page()
        page.goto(url)
        sync_api.expect(page.locator(".roleplay-player")).to_be_visible(timeout=90_000)
        assert page.locator(".jp-InputArea, .jp-CodeCell .jp-Editor").count() == 0   # no code on the page
        clicks, expected = reading_clicks(11)
        click_through(page, clicks, "Turn", shot=artifacts(tmp_path_factory) / "roleplay-amount-en.png")
        sync_api.expect(page.locator(".rp-result")).to_contain_text(f"Score {expected:g}/100", timeout=20_000)
        assert "：" not in page.locator(".roleplay-player").inner_text()   # English punctuation in English
        page.locator(".roleplay-player").screenshot(path=artifacts(tmp_path_factory) / "roleplay-voila.png")
    saved = json.loads((root / f"roleplay_{SCENE}.json").read_text(encoding="utf-8"))
    assert saved["final"]["end"] == "resolved" and replay(SCENE, saved, role="specialist", seed=11).end == "resolved"
