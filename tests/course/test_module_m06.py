"""Module m06 (call-centre operations) graded with real nbgrader, and its staffing-plan checks in-process.

The policy checkpoints replay a student's staffing plan in the simulator; these tests show that the
model solution earns every point, that the manager's reference plan (computed by the grader's checks,
course/checks/m06.py) really meets the targets in the replay, and that plausible wrong plans lose the
policy points."""
from __future__ import annotations

import contextlib
import re
import shutil
import sqlite3
import tomllib

import numpy as np
import pytest
from nbutil import cells, checkpoint_scores, graded_by_student, run_cells, set_submitted_code

from crmlab.grading.classroom.assign import assign
from crmlab.grading.classroom.course import SHIPPED_COURSE, Course
from crmlab.grading.classroom.data import student_database
from crmlab.grading.demo import as_literals, write_submission
from crmlab.grading.run.verify import Context, Wrong, checks_of

MODULE = "m06"
NOTEBOOK = SHIPPED_COURSE / "modules" / MODULE / f"{MODULE}.ipynb"
AUTO_POINTS = 14.0
DATA_CHECKS = ["chk_arrivals", "chk_aht", "chk_service", "chk_peak"]
POLICY_CHECKS = ["chk_policy_hours", "chk_policy_sla", "chk_policy_abandon", "chk_policy_cost"]
DATA_ANSWERS = ("arrivals_per_hour", "aht_min", "service_level", "abandon_rate", "peak_agents", "peak_sl")
WRONG = tomllib.loads((SHIPPED_COURSE / "demo" / f"{MODULE}.toml").read_text(encoding="utf-8"))["wrong"]
POINTS = {gid: c["metadata"]["nbgrader"]["points"] for gid, c in cells(NOTEBOOK).items()
          if c["cell_type"] == "code" and c["metadata"]["nbgrader"].get("grade")}   # the notebook's own


def _cells():
    return cells(NOTEBOOK)


def _run(folder, grade_ids, ns=None):
    return run_cells(NOTEBOOK, folder, grade_ids, ns)


def _policy_checks(course, staffing, student="sol") -> tuple[dict[str, bool | float], dict]:
    """Which policy checkpoints the grader's checks pass for ``staffing`` on ``student``'s data (True, a
    partial credit's fraction, or False); the checks' shared work (the reference plan, the replays)."""
    checks = checks_of(course, MODULE)
    path = student_database(course, MODULE, student)
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        ctx = Context(course, MODULE, student, db, dict(db.execute("SELECT key, value FROM meta")), {})
        passed = {}
        for gid in POLICY_CHECKS:
            try:
                got = checks[gid](list(staffing), ctx)
                passed[gid] = True if got is None else got.fraction
            except Wrong:
                passed[gid] = False
    return passed, ctx.cache


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = Course.init(tmp_path_factory.mktemp("m06") / "c", "test-m06", secret="m06-test-secret")   # reproducible data
    students = ["sol", "blank", "copy", "flat"]
    course.add_students([{"id": s} for s in students])
    assign(course, MODULE, progress=False)   # simulates each student's own airline call centre
    rng = np.random.default_rng(6)
    for student, kind in {"sol": "correct", "blank": "blank", "copy": "correct", "flat": "correct"}.items():
        write_submission(course, MODULE, student, kind, rng)
    # a plan for the average hour, the same all day
    set_submitted_code(course, MODULE, "flat", "ans_policy", WRONG["ans_policy"])
    # numbers (and the plan) copied from a classmate
    ns = _run(course.path("outbox", "sol", MODULE), ["setup", "ans_arrivals", "ans_aht", "ans_service", "ans_peak",
                                                      "ans_policy"])
    ns["con"].close()
    set_submitted_code(course, MODULE, "copy", "ans_arrivals", "# copied from a classmate\n" + as_literals(
        {k: ns[k] for k in (*DATA_ANSWERS, "staffing")}))
    for gid in ("ans_aht", "ans_service", "ans_peak", "ans_policy"):
        set_submitted_code(course, MODULE, "copy", gid, "pass\n")
    return course


@pytest.fixture(scope="module")
def graded(course):
    return graded_by_student(course, MODULE)


def _scores(course, student):
    return checkpoint_scores(course, MODULE, student)


def test_the_notebook_states_the_scenario_s_patience():
    from crmlab.simulator import load_scenario

    stated = re.search(r"^PATIENCE_MIN = ([0-9.]+)", _cells()["setup"]["source"], re.M)
    assert float(stated.group(1)) == load_scenario("airline_service").service.patience_minutes.mean


def test_solution_gets_full_automatic_marks(course, graded):
    assert graded["sol"].status == "graded" and graded["sol"].score == AUTO_POINTS
    assert all(_scores(course, "sol")[c] > 0 for c in DATA_CHECKS + POLICY_CHECKS)


def test_released_notebook_gets_zero(graded):
    assert graded["blank"].status == "graded" and graded["blank"].score == 0


def test_numbers_copied_from_a_classmate_lose_the_data_points(course, graded):
    scores = _scores(course, "copy")
    assert graded["copy"].status == "graded"
    assert [c for c in DATA_CHECKS if scores[c] > 0] == []


def test_a_plan_for_the_average_hour_loses_the_policy_points_but_half_of_the_days_service_level(course, graded):
    """The flat plan staffs the average hour all day: the whole day can meet the service level (half of
    chk_policy_sla), the busiest hours cannot, and every other policy checkpoint is lost."""
    scores = _scores(course, "flat")
    assert all(scores[c] > 0 for c in DATA_CHECKS)
    message = {v.check: v for v in graded["flat"].checks}["chk_policy_sla"].message
    assert "busiest hours" in message
    day_met = "in the replay is below" not in message
    assert {c: scores[c] for c in POLICY_CHECKS if scores[c] > 0} == (
        {"chk_policy_sla": pytest.approx(0.5 * POINTS["chk_policy_sla"])} if day_met else {})


@pytest.fixture(scope="module")
def own_data(course, tmp_path_factory):
    """A folder holding one student's hand-out (their database, crmlab_handin.py), as the kernel sees it."""
    folder = tmp_path_factory.mktemp("own")
    for name in ("crm.db", "crmlab_handin.py"):
        shutil.copyfile(course.path("outbox", "sol", MODULE) / name, folder / name)
    return folder


def test_the_reference_plan_meets_the_targets_in_the_replay_and_is_the_model_solution(course, own_data):
    ns = _run(own_data, ["setup", "ans_arrivals", "ans_aht", "ans_peak", "ans_policy"])
    passed, shared = _policy_checks(course, ns["staffing"])
    truth, replay = shared["truth"], shared[("replay", tuple(ns["staffing"]))]
    assert ns["staffing"] == truth["reference"]
    assert passed == dict.fromkeys(POLICY_CHECKS, True)
    assert replay["all"]["service_level"] >= truth["target"]
    assert replay["all"]["abandon_rate"] < 0.05
    # the lesson of the module: the busiest hour needs more agents than the average hour suggests
    from crmlab.simulator import queueing

    average = sum(ns["arrivals_per_hour"]) / 24 / 60
    assert ns["peak_agents"] > queueing.agents_for_service_level(average, 1 / ns["aht_min"], ns["SLA_TARGET"],
                                                                 ns["SLA_SECONDS"] / 60)


def test_plans_too_cheap_or_too_dear_lose_the_policy_points(course):
    nobody, shared = _policy_checks(course, [0] * 24)
    reference = shared["truth"]["reference"]
    assert nobody == dict.fromkeys(POLICY_CHECKS, False)
    cheaper = [max(1, c - 1) for c in reference]   # one agent fewer wherever there are two or more
    passed, _ = _policy_checks(course, cheaper)
    assert not passed["chk_policy_hours"] and not passed["chk_policy_abandon"] and not passed["chk_policy_cost"]
    dearer = [c + 1 for c in reference]            # safe, but a third more expensive
    passed, _ = _policy_checks(course, dearer)
    assert passed == {"chk_policy_hours": True, "chk_policy_sla": True, "chk_policy_abandon": True,
                      "chk_policy_cost": False}


def _verdict(course, check, answer, student="sol"):
    """None (right), a Partial's fraction, or "wrong": the grader's check ``check`` on ``answer``."""
    path = student_database(course, MODULE, student)
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        ctx = Context(course, MODULE, student, db, dict(db.execute("SELECT key, value FROM meta")), {})
        try:
            got = checks_of(course, MODULE)[check](answer, ctx)
        except Wrong:
            return "wrong"
    return None if got is None else got.fraction


def test_the_two_part_data_checkpoints_give_each_part_half_the_points(course, own_data):
    """chk_service (service level, abandonment rate): one part right is half the points; chk_peak (agents for the
    busiest hour, their service level): the service level right for a wrong count is half. The service level of a wrong number of agents is worked out
    with the simulator's own Erlang C (crmlab.simulator.queueing), not the check's."""
    from crmlab.simulator import queueing

    ns = _run(own_data, ["setup", "ans_arrivals", "ans_aht", "ans_service", "ans_peak"])
    ns["con"].close()
    sl, ab = float(ns["service_level"]), float(ns["abandon_rate"])
    assert _verdict(course, "chk_service", {"service_level": sl, "abandon_rate": ab}) is None
    assert _verdict(course, "chk_service", {"service_level": sl, "abandon_rate": ab + 0.01}) == 0.5
    assert _verdict(course, "chk_service", {"service_level": 1 - sl, "abandon_rate": ab}) == 0.5
    assert _verdict(course, "chk_service", {"service_level": 1 - sl, "abandon_rate": ab + 0.01}) == "wrong"
    agents, t = int(ns["peak_agents"]), ns["SLA_SECONDS"] / 60
    lam, mu = max(ns["arrivals_per_hour"]) / 60, 1 / ns["aht_min"]
    more = queueing.erlang_c_service_level(lam, mu, agents + 1, t)
    assert _verdict(course, "chk_peak", {"peak_agents": agents, "peak_sl": float(ns["peak_sl"])}) is None
    assert _verdict(course, "chk_peak", {"peak_agents": agents + 1, "peak_sl": more}) == 0.5  # Erlang C right, count not
    # the count alone earns nothing (a small whole number, guessed or copied): its service level must be right too
    assert _verdict(course, "chk_peak", {"peak_agents": agents, "peak_sl": more}) == "wrong"
    assert _verdict(course, "chk_peak", {"peak_agents": agents + 1, "peak_sl": 0.5 * more}) == "wrong"


def test_a_plan_that_meets_the_day_but_not_the_busiest_hours_gets_half_the_service_level_points(course):
    """chk_policy_sla's two conditions: the reference plan with agents taken away only in the busiest hours
    (and added in the quiet ones) can keep the whole day at the target while the peak misses it."""
    _, shared = _policy_checks(course, [0] * 24)
    reference, lams = shared["truth"]["reference"], shared["truth"]["lams"]
    busiest = sorted(range(24), key=lambda h: -lams[h])[:3]
    for cut in (1, 2, 3):
        plan = [max(1, c - cut) if h in busiest else (c + 2 if c else 0) for h, c in enumerate(reference)]
        passed, shared = _policy_checks(course, plan)
        replay = shared[("replay", tuple(plan))]
        if replay["all"]["service_level"] >= shared["truth"]["target"] > replay["busy"]["service_level"] + 0.02:
            assert passed["chk_policy_sla"] == 0.5
            return
    pytest.fail("no plan found that meets the day but not the busiest hours")
