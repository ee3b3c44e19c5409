"""The SimPy call centre against queueing theory (Erlang C, Erlang A) and its own promises."""
import numpy as np
import pandas as pd
import pytest
import simpy

from simulator.callcentre import CallCentre, simulate_calls, summarise
from simulator.queueing import erlang_a, erlang_c, erlang_c_mean_wait, erlang_c_service_level


@pytest.mark.parametrize("horizon, tol_p, tol_w", [
    pytest.param(100_000, 0.03, 0.06, id="fast"),
    # ../shared/notes/simulation-facts.md: mean-wait sd ≈1.4 % at 300k minutes, ≈550k minutes for 95 % of
    # runs within 2 %; we use 800k minutes (8M calls would be too slow) — sd ≈0.85 %, 2 % ≈ 2.4 sd
    pytest.param(800_000, 0.01, 0.02, id="long", marks=pytest.mark.slow),
])
def test_mmc_matches_erlang_c(horizon, tol_p, tol_w):
    calls = simulate_calls(10, 1, 12, horizon=horizon, seed=2024, warmup=100)
    s = summarise(calls)
    assert s["p_wait"] == pytest.approx(erlang_c(10, 1, 12), rel=tol_p)
    assert s["mean_wait"] == pytest.approx(erlang_c_mean_wait(10, 1, 12), rel=tol_w)
    assert s["service_level"] == pytest.approx(erlang_c_service_level(10, 1, 12, 1 / 3), abs=0.02)
    assert s["abandon_rate"] == 0


@pytest.mark.parametrize("horizon, tol", [
    pytest.param(50_000, 0.04, id="fast"),
    pytest.param(400_000, 0.02, id="long", marks=pytest.mark.slow),
])
def test_impatient_callers_match_erlang_a(horizon, tol):
    want = erlang_a(10, 1, 10, 0.5)
    s = summarise(simulate_calls(10, 1, 10, horizon=horizon, seed=7, patience_rate=0.5, warmup=100))
    assert s["abandon_rate"] == pytest.approx(want.p_abandon, rel=tol)
    assert s["mean_wait"] == pytest.approx(want.mean_wait, rel=tol)
    assert s["service_level"] == pytest.approx(want.service_level(1 / 3), abs=0.01)


def test_high_priority_callers_wait_less_under_load():
    calls = simulate_calls(9, 1, 10, horizon=20_000, seed=1, priority_share=0.3)
    wait = calls.groupby("priority")["wait"].mean()
    assert wait.loc[0] < wait.loc[1] / 3


def test_staffing_plan_is_followed_and_calls_are_not_cut_at_shift_end():
    staffing = [0] * 9 + [4] * 8 + [0] * 7   # on duty 9:00–17:00 only
    calls = simulate_calls(0.05, 1 / 8, 4, horizon=20 * 1440, seed=3, staffing=staffing, patience_rate=None)
    answered = calls.dropna(subset=["answered"])
    hour = (answered["answered"] % 1440) // 60
    assert hour.between(9, 16).all()                       # nobody answers off duty
    night = calls[(calls["arrived"] % 1440) < 9 * 60]
    assert len(night) and (night["answered"] >= night["arrived"] // 1440 * 1440 + 9 * 60).all()
    # calls answered shortly before 17:00 run past it: agents finish the conversation
    late = answered[(answered["answered"] % 1440 < 17 * 60) & (answered["ended"] % 1440 > 17 * 60)]
    assert len(late) > 0


def test_staffing_above_the_pool_names_the_hour():
    with pytest.raises(ValueError, match="hour 10"):
        simulate_calls(1, 1, 3, horizon=100, seed=1, staffing=[3] * 10 + [5] + [3] * 13)


def test_same_seed_same_calls_other_seed_other_calls():
    a = simulate_calls(3, 1, 4, horizon=2_000, seed=5, patience_rate=1)
    b = simulate_calls(3, 1, 4, horizon=2_000, seed=5, patience_rate=1)
    c = simulate_calls(3, 1, 4, horizon=2_000, seed=6, patience_rate=1)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_centre_used_from_a_hand_written_simpy_model():
    """The way the market engine uses it: one process per caller, outcome returned."""
    env = simpy.Environment()
    centre = CallCentre(env, ["G01", "G02"])
    out = []

    def caller(at, priority, patience, handle):
        yield env.timeout(at)
        out.append((at, (yield env.process(centre.call(priority, patience, handle)))))

    for args in ((0, 1, 9, 10), (0, 1, 9, 10), (1, 1, 2, 5), (2, 0, 20, 5)):
        env.process(caller(*args))
    env.run()
    (_, a), (_, b), (_, c), (_, d) = sorted(out, key=lambda x: x[0])
    assert {a.agent_id, b.agent_id} == {"G01", "G02"} and a.answered_at == 0
    assert c.abandoned and c.agent_id is None and c.ended_at == 3      # waited 2 minutes, hung up
    assert not d.abandoned and d.answered_at == 10 and d.ended_at == 15
