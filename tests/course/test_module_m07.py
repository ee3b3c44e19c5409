"""Module m07 (complaint handling with the three roles) graded with real nbgrader.

The played conversation is handed in as the transcript the player saved; the grader replays it with its
own scenario, the student's seed and database (course/checks/m07.py). The response policy is played by
the grader on hidden seeds, the policy's code in a sandboxed process (grading/run/policy.py). These tests
show the solution earns every automatic point, the released notebook none, that a classmate's
transcript, an edited one and one with a move beyond the role's authority earn nothing, that a
dismissive policy scores below the best-practice one on the hidden seeds, and that the complaint is
checked in the CRM the notebook left."""
from __future__ import annotations

import contextlib
import json
import sqlite3
import tomllib

import numpy as np
import pytest

from nbutil import checkpoint_scores, graded_by_student, set_submitted_code
from paths import SUPPORT
from crmlab.grading.classroom.assign import assign
from crmlab.grading.classroom.course import SHIPPED_COURSE, Course
from crmlab.grading.classroom.data import student_database
from crmlab.grading.demo import solution_code, write_submission
from crmlab.grading.classroom.groupplay import GroupPlay, play_as_group, transcript_name
from crmlab.grading.run.verify import Context, Partial, Wrong, checks_of
from crmlab.roleplay import Session, load_roleplay, play_seed

MODULE = "m07"
AUTO_POINTS = 20.0
CHECKS = ["chk_customer", "chk_play", "chk_policy", "chk_crm"]
SPEC = tomllib.loads((SHIPPED_COURSE / "demo" / f"{MODULE}.toml").read_text(encoding="utf-8"))
TRANSCRIPT = "roleplay_hotpot_angry_guest.json"


def _transcript(course, student) -> dict:
    return json.loads((course.path("submitted", student, MODULE) / TRANSCRIPT).read_text(encoding="utf-8"))


def _put_transcript(course, student, transcript):
    (course.path("submitted", student, MODULE) / TRANSCRIPT).write_text(json.dumps(transcript, ensure_ascii=False),
                                                                       encoding="utf-8")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = Course.init(tmp_path_factory.mktemp("m07") / "c", "test-m07", secret="m07-test-secret")
    kinds = {"sol": "correct", "blank": "blank", "copy": "correct", "edited": "correct", "beyond": "correct",
             "rude": "correct", "wrong": "partly_wrong"}
    kinds.update({s: "correct" for s in ("g1b", "g1c", "g2a", "g2b", "g3a", "g3b", "g3c")})
    course.add_students([{"id": s} for s in kinds])
    # the CRM show: three groups; roles dealt round group_roles (specialist, manager, consultant) in roster order
    (course.root / "groups.csv").write_text("student,group\nsol,G1\ng1b,G1\ng1c,G1\ng2a,G2\ng2b,G2\n"
                                            "g3a,G3\ng3b,G3\ng3c,G3\n", encoding="utf-8")
    assign(course, MODULE, progress=False)   # each student's own hot-pot chain (≈2 s each)
    rng = np.random.default_rng(7)
    for student, kind in kinds.items():
        write_submission(course, MODULE, student, kind, rng)
    # student A's transcript handed in by student B
    _put_transcript(course, "copy", _transcript(course, "sol"))
    # a score cannot be edited (there is none in the file): the recorded final mood is edited instead
    t = _transcript(course, "edited")
    t["turns"][-1]["mood"]["satisfaction"] = 100
    t["final"]["mood"]["satisfaction"] = 100
    _put_transcript(course, "edited", t)
    # a move beyond the specialist's authority (200 yuan) written into the file, states and all
    t = _transcript(course, "beyond")
    step = next(x for x in t["turns"] if x["move"] == "offer_remedy")
    step["args"]["amount"] = 600.0
    _put_transcript(course, "beyond", t)
    # a dismissive policy, everything else right
    set_submitted_code(course, MODULE, "rude", "ans_policy", SPEC["wrong"]["ans_policy"])
    # every plausible wrong answer at once: money first in the player, the wrong agent, wrong sums, the rude policy
    for gid, code in SPEC["wrong"].items():
        set_submitted_code(course, MODULE, "wrong", gid, code)
    # the CRM show. G1: played by all three, and each hands the group's transcript in
    play = GroupPlay.of(course, MODULE)
    casts = play.casts(course)
    g1 = _play_group(course, play, "G1", casts["G1"])
    for member in casts["G1"]:
        _put_group(course, member, g1)
    # G2: one member hands in G1's transcript, the other G2's own with the manager's 500-yuan remedy moved
    # to the specialist (states and all)
    _put_group(course, "g2a", g1)
    g2 = _play_group(course, play, "G2", casts["G2"], remedy=500)
    turn = next(t for t in g2["turns"] if t["move"] == "offer_remedy")
    assert turn["by"] == "g2b" and turn["role"] == "manager"
    turn["by"], turn["role"] = "g2a", "specialist"
    _put_group(course, "g2b", g2)
    # G3: g3c plays no turn; only g3a hands the transcript in
    _put_group(course, "g3a", _play_group(course, play, "G3", casts["G3"], silent=("g3c",)))
    return course


def _play_group(course, play, group, cast, silent=(), remedy=150):
    """The group at one player: members take turns (all but ``silent``), each choosing what the solution's
    policy would in their own role — the remedy by the manager, ``remedy`` yuan."""
    return play_as_group(play, course, group, cast, solution_code(course, MODULE)["ans_policy"], silent, remedy)


def _put_group(course, student, transcript):
    (course.path("submitted", student, MODULE) / transcript_name("hotpot_angry_guest")).write_text(
        json.dumps(transcript, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def graded(course):
    return graded_by_student(course, MODULE)


def _scores(course, student):
    return checkpoint_scores(course, MODULE, student)


def _grader(course) -> dict:
    """The namespace of the course's checks/m07.py (its helpers beside the checks)."""
    return checks_of(course, MODULE)["chk_policy"].__globals__


def _ctx(course, student, answers=None):
    path = student_database(course, MODULE, student)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    return Context(course, MODULE, student, db, dict(db.execute("SELECT key, value FROM meta")), answers or {})


def test_the_module_is_registered_and_operational(course):
    m = course.module(MODULE)
    assert m.scenario == load_roleplay("hotpot_angry_guest").industry == load_roleplay("social_media_complaint").industry
    assert m.writable_files == ["crm.db", "crm_actions.jsonl"]


def test_solution_gets_full_automatic_marks(course, graded):
    assert graded["sol"].status == "graded" and graded["sol"].score == AUTO_POINTS
    assert all(_scores(course, "sol")[c] > 0 for c in CHECKS)


def test_released_notebook_gets_zero(graded):
    assert graded["blank"].status == "graded" and graded["blank"].score == 0


def test_a_classmate_s_transcript_earns_nothing(course, graded):
    scores = _scores(course, "copy")
    assert scores["chk_play"] == 0 and scores["chk_crm"] == 0
    assert scores["chk_customer"] > 0 and scores["chk_policy"] > 0   # the rest is their own work


@pytest.mark.parametrize("student", ["edited", "beyond"])
def test_an_edited_transcript_or_a_move_beyond_authority_earns_nothing(course, graded, student):
    assert graded[student].status == "graded"
    scores = _scores(course, student)
    assert scores["chk_play"] == 0 and scores["chk_crm"] == 0


def test_a_dismissive_policy_loses_the_policy_points(course, graded):
    scores = _scores(course, "rude")
    assert scores["chk_policy"] == 0
    assert all(scores[c] > 0 for c in CHECKS if c != "chk_policy")


def test_plausible_wrong_answers_lose_points(course, graded):
    scores, full = _scores(course, "wrong"), _scores(course, "sol")
    assert graded["wrong"].status == "graded"
    # the account and its complaints right, the visits (tickets counted) and the spend (at cost) not: one of the
    # three figures, a third of its 2 points (course/checks/m07.py chk_customer)
    assert full["chk_customer"] == 2 and scores["chk_customer"] == pytest.approx(2 / 3, abs=1e-4)
    assert scores["chk_policy"] == 0
    assert 0 < scores["chk_play"] < full["chk_play"]   # money first: partial credit only
    assert scores["chk_crm"] == 0                      # never recorded in the conversation, so nothing to check


# -- the checks in-process ------------------------------------------------------------------------
# a fixed order of good moves that never looks at the guest: the best practice before customers had a temper
FIXED_ORDER = '''
def policy(view):
    can = {o["move"]: o for o in view["options"]}
    for move in ["listen", "ask", "apologise", "offer_remedy", "record", "promise_followup", "confirm"]:
        if move in can and move not in view["moves"]:
            if move == "offer_remedy":
                if "apologise" not in view["moves"]:
                    continue
                return f"offer_remedy:{can[move]['limit']}"
            return move
    for move in ("apologise", "listen", "empathise", "confirm"):
        if move in can:
            return move
    first = view["options"][0]
    return f"{first['move']}:{first['limit']}" if first["amount"] else first["move"]
'''
# the best practice now: read the guest (the module's solution, tests/support/reactive_policy.py)
GOOD = (SUPPORT / "reactive_policy.py").read_text(encoding="utf-8")
GREEDY = '''
def policy(view):   # a remedy beyond the specialist's authority as soon as one is possible
    can = [o["move"] for o in view["options"]]
    if "offer_remedy" in can and "listen" in view["moves"]:
        return "offer_remedy:500"
    return next(m for m in ("listen", "apologise") + tuple(can) if m in can)
'''


def test_the_best_practice_policy_beats_a_dismissive_one_on_the_hidden_seeds(course):
    m07 = _grader(course)
    ctx = _ctx(course, "sol")
    with contextlib.closing(ctx.db):
        good = m07["policy_results"](GOOD, ctx)
        rude = m07["policy_results"](SPEC["wrong"]["ans_policy"], ctx)
        greedy = m07["policy_results"](GREEDY, ctx)
        seeds = m07["policy_seeds"](ctx)
    assert len(good) == len(rude) == 2 * len(seeds) and len(set(seeds)) == len(seeds)
    assert seeds[0] != play_seed(ctx.meta["data_id"], "hotpot_angry_guest")   # not the student's visible seed
    assert min(r["total"] for r in good) >= 90 and all(r["end"] == "resolved" for r in good)
    assert max(r["total"] for r in rude) < 30 < min(r["total"] for r in good)
    # a move beyond authority stops the conversation there, and it scores 0
    assert all(r["stopped"] and r["stopped"]["code"] == "over_limit" and r["total"] == 0 for r in greedy)


def test_policy_points_are_partial_between_the_bounds(course):
    checks, m07 = checks_of(course, MODULE), _grader(course)
    ctx = _ctx(course, "sol")
    assert checks["chk_policy"](GOOD, ctx) is None
    with pytest.raises(Wrong):
        checks["chk_policy"](SPEC["wrong"]["ans_policy"], ctx)
    with pytest.raises(Wrong, match="over_limit|超出权限|beyond"):
        checks["chk_policy"](GREEDY, ctx)
    # a fixed order of good moves does worse than reading the guest: some need to vent longer, some tire of
    # it. Over the class's hidden conversations (7 students × 6), not one student's six: the margin (≈6
    # rubric points) is smaller than one student's spread, so one student's six alone can go either way.
    class_ = ("sol", "blank", "copy", "edited", "beyond", "rude", "wrong")
    contexts = [_ctx(course, st) for st in class_]
    mean = {name: sum(r["total"] for c in contexts for r in m07["policy_results"](src, c)) / (6 * len(class_))
            for name, src in (("fixed", FIXED_ORDER), ("good", GOOD))}
    assert mean["good"] - mean["fixed"] >= 3, mean
    verdicts = [checks["chk_policy"](FIXED_ORDER, c) for c in contexts]
    assert all(checks["chk_policy"](GOOD, c) is None for c in contexts)
    assert any(isinstance(v, Partial) and v.fraction < 1 for v in verdicts), verdicts
    for c in contexts:
        c.db.close()
    # money before the apology (refused here, so it waits), then no follow-up: a middling policy
    middling = FIXED_ORDER.replace('"ask", "apologise", "offer_remedy", "record", "promise_followup", "confirm"',
                            '"offer_remedy", "apologise", "confirm"').replace(
        'if "apologise" not in view["moves"]:\n                    continue\n', "")
    got = checks["chk_policy"](middling, ctx)
    assert isinstance(got, Partial) and 0 < got.fraction < 1, got
    means = [sum(r["total"] for r in m07["policy_results"](src, ctx)) / 6 for src in (middling, GOOD)]
    assert means[0] < means[1]
    ctx.db.close()


def test_the_student_s_seed_draws_their_own_guest(course):
    guests = {}
    for s in ("sol", "copy"):
        ctx = _ctx(course, s)
        guests[s] = Session("hotpot_angry_guest", "specialist", play_seed(ctx.meta["data_id"], "hotpot_angry_guest"),
                            db=student_database(course, MODULE, s)).persona
        ctx.db.close()
    assert guests["sol"]["account"] != guests["copy"]["account"] or guests["sol"]["name"] != guests["copy"]["name"]


def test_the_policy_cannot_reach_the_grader(course, tmp_path):
    """The policy's process sees no course, no secret and no network; it only answers with choices."""
    from crmlab.grading.run.policy import SandboxedPolicy
    from crmlab.roleplay.policy import play_policy

    (tmp_path / "flag").write_text("x")
    snoop = f'''
def policy(view):
    import os, socket
    seen = [p for p in ({str(course.root)!r}, {str(tmp_path / "flag")!r}) if os.path.exists(p)]
    try:
        socket.create_connection(("127.0.0.1", 22), timeout=0.2)
        seen.append("network")
    except OSError:
        pass
    return "listen" if not seen else "argue"
'''
    with SandboxedPolicy(snoop, course.grading) as choose:
        session = play_policy(choose, "hotpot_angry_guest", "specialist", 1)
    assert "argue" not in session.moves



# -- the CRM show: group play --------------------------------------------------------------------------
def test_a_group_of_three_each_handing_in_all_get_the_group_s_points(course, graded):
    for member in ("sol", "g1b", "g1c"):
        assert _scores(course, member)["chk_group"] == 3, member
    # the brief's three service roles dealt round (specialist, manager, consultant) in roster order
    assert json.loads((course.path("outbox", "sol", MODULE) / "group.json").read_text(encoding="utf-8"))["cast"] == \
        {"g1b": "specialist", "g1c": "manager", "sol": "consultant"}
    assert not (course.path("outbox", "blank", MODULE) / "group.json").exists()   # in no group
    assert _scores(course, "blank")["chk_group"] == 0


def test_the_cast_is_enforced_and_another_group_s_transcript_earns_nothing(course, graded):
    from crmlab.grading.classroom.groupplay import group_result

    for member in ("g2a", "g2b"):
        assert graded[member].status == "graded" and _scores(course, member)["chk_group"] == 0
        assert _scores(course, member)["chk_play"] > 0          # their own work still counts
    play = GroupPlay.of(course, MODULE)
    result = group_result(course, play, "G2", play.casts(course)["G2"])
    why = dict(result.problems)
    assert result.handed_in_by is None and set(why) == {"g2a", "g2b"}
    assert "seed" in why["g2a"]                                   # G1's transcript: another group's customer
    assert "200" in why["g2b"] and "specialist" in why["g2b"]     # the specialist may not give 500 yuan


def test_a_member_who_played_no_turn_is_named_and_loses_a_share(course, graded):
    assert _scores(course, "g3a")["chk_group"] == _scores(course, "g3b")["chk_group"] == 3   # g3b handed nothing in
    assert _scores(course, "g3c")["chk_group"] == 1.5                                         # group_silent_share 0.5
    message = next(v.message for v in graded["g3c"].checks if v.check == "chk_group")
    assert "g3c" in message and "no turn" in message


def test_crmlab_groups_shows_casts_and_results(course, graded):
    from crmlab.cli import main

    import io
    from contextlib import redirect_stdout
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["groups", MODULE, "--course", str(course.root)]) == 0
    text = out.getvalue()
    assert "G1  transcript handed in by g1b" in text and "G2  no group transcript that replays" in text
    assert "g3c" in text and "(played no turn)" in text and "! g2b's transcript does not count" in text
    bad = course.root / "bad_groups.csv"
    bad.write_text("student,group,role\nsol,G1,waiter\n", encoding="utf-8")   # a role the scene does not have
    err = io.StringIO()
    from contextlib import redirect_stderr
    with redirect_stderr(err):
        assert main(["groups", MODULE, "--course", str(course.root), "--groups", str(bad)]) == 2
    assert "row 2" in err.getvalue() and "waiter" in err.getvalue()
