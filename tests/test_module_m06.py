"""Module m06 (call-centre operations) graded with real nbgrader, and its staffing-plan checks in-process.

The policy checkpoints replay a student's staffing plan in the simulator; these tests show that the
model solution earns every point, that the manager's reference plan (computed by the hidden tests)
really meets the targets in the replay, and that plausible wrong plans lose the policy points."""
from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import tomllib

import numpy as np
import pytest

from grading.assign import assign
from grading.autograde import autograde
from grading.course import SHIPPED_COURSE, Course
from grading.demo import as_literals, solution_code, write_submission

MODULE = "m06"
NOTEBOOK = SHIPPED_COURSE / "modules" / MODULE / f"{MODULE}.ipynb"
AUTO_POINTS = 14.0
DATA_CHECKS = ["chk_arrivals", "chk_aht", "chk_service", "chk_peak"]
POLICY_CHECKS = ["chk_policy_hours", "chk_policy_sla", "chk_policy_abandon", "chk_policy_cost"]
DATA_ANSWERS = ("arrivals_per_hour", "aht_min", "service_level", "abandon_rate", "peak_agents", "peak_sl")
WRONG = tomllib.loads((SHIPPED_COURSE / "demo" / f"{MODULE}.toml").read_text(encoding="utf-8"))["wrong"]
SOLUTION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.M)


def _cells():
    return {c["metadata"]["nbgrader"]["grade_id"]: c for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]}


def _run(folder, grade_ids, ns=None):
    """Run cells of the source notebook (solution markers removed) in ``folder``, as a kernel would."""
    cells, ns = _cells(), {} if ns is None else ns
    with contextlib.chdir(folder), contextlib.redirect_stdout(io.StringIO()):
        for gid in grade_ids:
            exec(SOLUTION.sub("", cells[gid]["source"]), ns)  # our own notebook's code
    return ns


def _policy_checks(folder, staffing) -> dict[str, bool]:
    """Which policy checkpoints ``staffing`` passes on the data in ``folder``; the namespace for a closer look."""
    ns = _run(folder, ["setup"])
    ns["staffing"] = staffing
    passed = {}
    with contextlib.chdir(folder), contextlib.redirect_stdout(io.StringIO()):
        for gid in POLICY_CHECKS:
            try:
                exec(_cells()[gid]["source"], ns)
                passed[gid] = True
            except AssertionError:
                passed[gid] = False
    ns["con"].close()
    return passed, ns


def _set_code(course, student, grade_id, code):
    path = course.path("submitted", student, MODULE) / f"{MODULE}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    for c in nb["cells"]:
        if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            c["source"] = code
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = Course.init(tmp_path_factory.mktemp("m06") / "c", "test-m06")
    students = ["sol", "blank", "copy", "flat"]
    course.add_students([{"id": s} for s in students])
    assign(course, MODULE, progress=False)   # simulates each student's own airline call centre
    rng = np.random.default_rng(6)
    for student, kind in {"sol": "correct", "blank": "blank", "copy": "correct", "flat": "correct"}.items():
        write_submission(course, MODULE, student, kind, rng)
    # a plan for the average hour, the same all day
    _set_code(course, "flat", "ans_policy", WRONG["ans_policy"])
    # numbers (and the plan) copied from a classmate
    ns = _run(course.path("outbox", "sol", MODULE), ["setup", "ans_arrivals", "ans_aht", "ans_service", "ans_peak",
                                                      "ans_policy"])
    ns["con"].close()
    _set_code(course, "copy", "ans_arrivals", "# copied from a classmate\n" + as_literals(
        {k: ns[k] for k in (*DATA_ANSWERS, "staffing")}))
    for gid in ("ans_aht", "ans_service", "ans_peak", "ans_policy"):
        _set_code(course, "copy", gid, "pass\n")
    return course


@pytest.fixture(scope="module")
def graded(course):
    summary = autograde(course, MODULE, workers=2, progress=False)
    return {o.student: o for o in summary.outcomes}


def _scores(course, student):
    with course.gradebook() as gb:
        sub = gb.find_submission(MODULE, student)
        return {g.name: g.score for nb in sub.notebooks for g in nb.grades}


def test_the_notebook_states_the_scenario_s_patience():
    from simulator import load_scenario

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


def test_a_plan_for_the_average_hour_loses_the_policy_points(course, graded):
    scores = _scores(course, "flat")
    assert all(scores[c] > 0 for c in DATA_CHECKS)
    assert [c for c in POLICY_CHECKS if scores[c] > 0] == []


@pytest.fixture(scope="module")
def own_data(course, tmp_path_factory):
    """A folder holding one student's own database, as the kernel sees it."""
    folder = tmp_path_factory.mktemp("own")
    shutil.copyfile(course.path("outbox", "sol", MODULE) / "crm.db", folder / "crm.db")
    return folder


def test_the_reference_plan_meets_the_targets_in_the_replay_and_is_the_model_solution(own_data):
    ns = _run(own_data, ["setup", "ans_arrivals", "ans_aht", "ans_peak", "ans_policy"])
    passed, hidden = _policy_checks(own_data, ns["staffing"])
    reference = hidden["_truth"]["reference"]
    assert ns["staffing"] == reference
    assert passed == dict.fromkeys(POLICY_CHECKS, True)
    assert hidden["_replay"]["all"]["service_level"] >= hidden["_truth"]["target"]
    assert hidden["_replay"]["all"]["abandon_rate"] < hidden["_truth"]["max_abandon"]
    # the lesson of the module: the busiest hour needs more agents than the average hour suggests
    from simulator import queueing

    average = sum(ns["arrivals_per_hour"]) / 24 / 60
    assert ns["peak_agents"] > queueing.agents_for_service_level(average, 1 / ns["aht_min"], ns["SLA_TARGET"],
                                                                 ns["SLA_SECONDS"] / 60)


def test_plans_too_cheap_or_too_dear_lose_the_policy_points(own_data):
    _, hidden = _policy_checks(own_data, [0] * 24)
    reference = hidden["_truth"]["reference"]
    assert _policy_checks(own_data, [0] * 24)[0] == dict.fromkeys(POLICY_CHECKS, False)
    cheaper = [max(1, c - 1) for c in reference]   # one agent fewer wherever there are two or more
    passed, _ = _policy_checks(own_data, cheaper)
    assert not passed["chk_policy_hours"] and not passed["chk_policy_abandon"] and not passed["chk_policy_cost"]
    dearer = [c + 1 for c in reference]            # safe, but a third more expensive
    passed, _ = _policy_checks(own_data, dearer)
    assert passed == {"chk_policy_hours": True, "chk_policy_sla": True, "chk_policy_abandon": True,
                      "chk_policy_cost": False}
