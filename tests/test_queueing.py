"""Queueing formulas against published and hand-computed values, and against each other."""
import math

import numpy as np
import pytest

from simulator.queueing import (agents_for_service_level, erlang_a, erlang_b, erlang_c, erlang_c_mean_wait,
                                erlang_c_service_level)


def test_erlang_b_small_cases_by_hand():
    assert erlang_b(1.0, 1) == pytest.approx(1 / 2)            # a/(1+a)
    assert erlang_b(2.0, 2) == pytest.approx(2 / 5)            # (a²/2)/(1+a+a²/2)
    assert erlang_b(3.0, 0) == 1.0


def test_erlang_c_matches_published_and_hand_computed_values():
    # λ=10/min, μ=1/min, c=12 (../shared/notes/simulation-facts.md)
    assert erlang_c(10, 1, 12) == pytest.approx(0.44939, abs=5e-6)
    assert erlang_c_mean_wait(10, 1, 12) == pytest.approx(0.22469, abs=5e-6)
    assert erlang_c_service_level(10, 1, 12, 20 / 60) == pytest.approx(0.769, abs=5e-4)
    # M/M/3, λ=2, μ=1 by hand: P0 = 1/9, P(wait) = (a³/3!)·(c/(c−a))·P0 = 4/9, W = 4/9
    assert erlang_c(2, 1, 3) == pytest.approx(4 / 9)
    assert erlang_c_mean_wait(2, 1, 3) == pytest.approx(4 / 9)
    # M/M/1: P(wait) = ρ
    assert erlang_c(0.7, 1, 1) == pytest.approx(0.7)


def test_erlang_c_is_stable_for_large_centres():
    p = erlang_c(380, 1, 400)
    assert 0 < p < 1 and math.isfinite(p)


@pytest.mark.parametrize("args", [(10, 1, 10), (12, 1, 10), (0, 1, 3), (1, 1, 0)])
def test_instability_and_bad_arguments_raise(args):
    with pytest.raises(ValueError):
        erlang_c(*args)


def test_erlang_a_without_abandonment_is_erlang_c():
    a = erlang_a(10, 1, 12, 1e-9)
    assert a.p_wait == pytest.approx(erlang_c(10, 1, 12), rel=1e-6)
    assert a.mean_wait == pytest.approx(erlang_c_mean_wait(10, 1, 12), rel=1e-5)
    assert a.service_level(1 / 3) == pytest.approx(erlang_c_service_level(10, 1, 12, 1 / 3), rel=1e-6)


def test_erlang_a_against_an_independently_solved_generator():
    """Build the truncated generator matrix of M/M/2+M and solve πQ = 0 with numpy."""
    lam, mu, c, th, n = 3.0, 1.0, 2, 0.8, 80
    q = np.zeros((n, n))
    for k in range(n):
        if k + 1 < n:
            q[k, k + 1] = lam
        if k:
            q[k, k - 1] = min(k, c) * mu + max(k - c, 0) * th
        q[k, k] = -q[k].sum()
    a = np.vstack([q.T, np.ones(n)])
    pi = np.linalg.lstsq(a, np.append(np.zeros(n), 1), rcond=None)[0]
    got = erlang_a(lam, mu, c, th)
    assert got.p_wait == pytest.approx(pi[c:].sum(), rel=1e-8)
    queue = (np.maximum(np.arange(n) - c, 0) * pi).sum()
    assert got.p_abandon == pytest.approx(th * queue / lam, rel=1e-8)
    # flow balance: every caller is either served or abandons
    served = (np.minimum(np.arange(n), c) * mu * pi).sum()
    assert got.p_abandon + served / lam == pytest.approx(1, abs=1e-8)


def test_erlang_a_service_level_is_a_probability_growing_with_time():
    a = erlang_a(10, 1, 10, 0.5)
    levels = [a.service_level(t) for t in (0, 0.1, 1 / 3, 1, 5, 60)]
    assert levels[0] == pytest.approx(1 - a.p_wait)
    assert all(x <= y + 1e-12 for x, y in zip(levels, levels[1:]))
    assert levels[-1] == pytest.approx(1 - a.p_abandon, abs=1e-6)  # in the long run: everyone not lost


def test_agents_for_service_level_is_the_least_that_meets_the_target():
    for lam, mu in ((10, 1), (2.5, 1 / 6), (40, 0.25)):
        c = agents_for_service_level(lam, mu, 0.8, 1 / 3)
        assert erlang_c_service_level(lam, mu, c, 1 / 3) >= 0.8
        assert c - 1 <= lam / mu or erlang_c_service_level(lam, mu, c - 1, 1 / 3) < 0.8
        ca = agents_for_service_level(lam, mu, 0.8, 1 / 3, patience_rate=0.5)
        assert erlang_a(lam, mu, ca, 0.5).service_level(1 / 3) >= 0.8 > erlang_a(lam, mu, ca - 1, 0.5).service_level(1 / 3)
        assert ca <= c  # impatient callers leave the queue: never more agents needed
