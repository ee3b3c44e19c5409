"""Queueing formulas against published and hand-computed values, and against independent methods
(the textbook formula in logarithms, a generator matrix solved with numpy, an ODE integration)."""
import math

import numpy as np
import pytest

from crmlab.simulator.queueing import (agents_for_service_level, erlang_a, erlang_b, erlang_c, erlang_c_mean_wait,
                                erlang_c_service_level)


def test_erlang_b_small_cases_by_hand():
    assert erlang_b(1.0, 1) == pytest.approx(1 / 2)                  # a / (1 + a)
    assert erlang_b(2.0, 2) == pytest.approx(2 / 5)                  # (a²/2) / (1 + a + a²/2)
    assert erlang_b(3.0, 3) == pytest.approx(4.5 / 13)               # (27/6) / (1 + 3 + 9/2 + 27/6)
    assert erlang_b(3.0, 0) == 1.0                                   # no line: every call is lost


def test_erlang_c_matches_published_and_hand_computed_values():
    # λ=10/min, μ=1/min, c=12 (a = 10 erlang): Erlang C's formula worked out apart from this code,
    # P(wait) = (a^c/c!·c/(c−a)) / (Σ_{k<c} a^k/k! + a^c/c!·c/(c−a)) = 0.449388, W = P(wait)/(cμ−λ) = 0.224694 min,
    # P(answered within 20 s) = 1 − P(wait)·e^{−(cμ−λ)·(1/3)} = 0.769276
    assert erlang_c(10, 1, 12) == pytest.approx(0.44939, abs=5e-6)
    assert erlang_c_mean_wait(10, 1, 12) == pytest.approx(0.22469, abs=5e-6)
    assert erlang_c_service_level(10, 1, 12, 20 / 60) == pytest.approx(0.769, abs=5e-4)
    # M/M/3, λ=2, μ=1 by hand: P0 = 1/9, P(wait) = (a³/3!)·(c/(c−a))·P0 = 4/9, W = P(wait)/(cμ−λ) = 4/9
    assert erlang_c(2, 1, 3) == pytest.approx(4 / 9)
    assert erlang_c_mean_wait(2, 1, 3) == pytest.approx(4 / 9)
    # M/M/1: P(wait) = ρ, W = ρ/(μ−λ), P(W ≤ t) = 1 − ρ·e^{−(μ−λ)t}
    assert erlang_c(0.7, 1, 1) == pytest.approx(0.7)
    assert erlang_c_mean_wait(0.7, 1, 1) == pytest.approx(0.7 / 0.3)
    assert erlang_c_service_level(0.7, 1, 1, 2.0) == pytest.approx(1 - 0.7 * math.exp(-0.6))


@pytest.mark.parametrize("lam, c", [(10, 12), (380, 400), (780, 800)])
def test_erlang_c_agrees_with_the_textbook_formula_for_large_centres(lam, c):
    """a^c/c! overflows floats for hundreds of agents; in logarithms the textbook formula is fine."""
    a = lam
    log_terms = [k * math.log(a) - math.lgamma(k + 1) for k in range(c)]
    log_last = c * math.log(a) - math.lgamma(c + 1) + math.log(c / (c - a))
    top = max(log_terms + [log_last])
    below = math.fsum(math.exp(x - top) for x in log_terms)
    last = math.exp(log_last - top)
    assert erlang_c(lam, 1, c) == pytest.approx(last / (below + last), rel=1e-9)


@pytest.mark.parametrize("call", [
    lambda: erlang_c(10, 1, 10),        # λ = cμ: unstable
    lambda: erlang_c(12, 1, 10),        # λ > cμ
    lambda: erlang_c(0, 1, 3),
    lambda: erlang_c(1, 0, 3),
    lambda: erlang_c(1, 1, 2.5),
    lambda: erlang_c(1, 1, -1),
    lambda: erlang_b(-1, 2),
    lambda: erlang_c_service_level(2, 1, 3, -1),
    lambda: erlang_a(12, 1, 10, 0),     # no abandonment and λ > cμ
    lambda: erlang_a(2, 1, 3, -0.1),
    lambda: agents_for_service_level(10, 1, 1.0, 1 / 3),
    lambda: agents_for_service_level(100, 1, 0.8, 1 / 3, max_agents=50),
])
def test_instability_and_bad_arguments_raise(call):
    with pytest.raises(ValueError):
        call()


def test_instability_message_says_what_is_wrong():
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(12, 1, 10)


@pytest.mark.parametrize("theta", [0, 1e-9])
def test_erlang_a_without_abandonment_is_erlang_c(theta):
    a = erlang_a(10, 1, 12, theta)
    assert a.p_wait == pytest.approx(erlang_c(10, 1, 12), rel=1e-7)
    assert a.mean_wait == pytest.approx(erlang_c_mean_wait(10, 1, 12), rel=1e-7)
    assert a.p_abandon == pytest.approx(0, abs=1e-8)
    for t in (0, 1 / 3, 1, 5):
        assert a.service_level(t) == pytest.approx(erlang_c_service_level(10, 1, 12, t), rel=1e-7)


def _generator_solution(lam, mu, c, theta, n=120):
    """Stationary law of the truncated M/M/c+M chain from its generator matrix: πQ = 0, Σπ = 1."""
    q = np.zeros((n, n))
    for k in range(n):
        if k + 1 < n:
            q[k, k + 1] = lam
        if k:
            q[k, k - 1] = min(k, c) * mu + max(k - c, 0) * theta
        q[k, k] = -q[k].sum()
    return np.linalg.lstsq(np.vstack([q.T, np.ones(n)]), np.append(np.zeros(n), 1), rcond=None)[0]


def _answered_by(pi, mu, c, theta, t, steps=4000):
    """P(answered within t) by integrating the tagged caller's forward equations (RK4): state j =
    callers ahead, plus 'answered' and 'hung up'."""
    ahead = pi[c:]
    m = len(ahead)
    rate = np.zeros((m + 2, m + 2))                       # states 0..m-1 ahead, m answered, m+1 hung up
    for j in range(m):
        rate[j, j - 1 if j else m] = c * mu + j * theta
        rate[j, m + 1] = theta
        rate[j, j] = -rate[j].sum()
    x = np.append(ahead, [0, 0])
    f, h = (lambda v: v @ rate), t / steps
    for _ in range(steps):
        k1 = f(x); k2 = f(x + h / 2 * k1); k3 = f(x + h / 2 * k2); k4 = f(x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return pi[:c].sum() + x[m]


@pytest.mark.parametrize("lam, mu, c, theta", [(0.8, 1.0, 1, 0.5), (3.0, 1.0, 1, 2.0), (3.0, 1.0, 3, 0.8),
                                               (4.0, 1.0, 3, 0.3)])   # the last is overloaded: λ > cμ
def test_erlang_a_against_an_independently_solved_generator(lam, mu, c, theta):
    pi = _generator_solution(lam, mu, c, theta)
    k = np.arange(len(pi))
    got = erlang_a(lam, mu, c, theta)
    assert got.p_wait == pytest.approx(pi[c:].sum(), rel=1e-8)
    queue = (np.maximum(k - c, 0) * pi).sum()
    assert got.mean_queue == pytest.approx(queue, rel=1e-8)
    assert got.p_abandon == pytest.approx(theta * queue / lam, rel=1e-8)     # Little: θ·Lq = λ·P(abandon)
    assert got.mean_wait == pytest.approx(queue / lam, rel=1e-8)             # Little: Lq = λ·W
    # flow balance: whoever is not served hangs up
    served = (np.minimum(k, c) * mu * pi).sum()
    assert got.p_abandon == pytest.approx(1 - served / lam, abs=1e-9)
    for t in (0.1, 1 / 3, 2.0):
        assert got.service_level(t) == pytest.approx(_answered_by(pi, mu, c, theta, t), abs=1e-8)


def test_erlang_a_service_level_tends_to_the_share_never_lost():
    a = erlang_a(10, 1, 10, 0.5)
    levels = [a.service_level(t) for t in (0, 0.1, 1 / 3, 1, 5, 60)]
    assert levels[0] == pytest.approx(1 - a.p_wait)                # t = 0: answered at once
    assert all(x < y for x, y in zip(levels, levels[1:-1]))
    # j callers ahead: answered with probability Π (cμ+iθ)/(cμ+(i+1)θ) = cμ/(cμ+(j+1)θ) in the end
    p, c = np.array(a.probabilities), a.c
    ever = p[:c].sum() + sum(p[c + j] * c / (c + (j + 1) * 0.5) for j in range(len(p) - c))
    assert ever == pytest.approx(1 - a.p_abandon, abs=1e-9)
    assert levels[-1] == pytest.approx(ever, abs=1e-9)


def test_erlang_a_handles_hundreds_of_agents():
    a = erlang_a(780, 1, 800, 0.05)
    assert math.isfinite(a.mean_wait) and 0 < a.p_wait < 1
    assert math.fsum(a.probabilities) == pytest.approx(1)
    assert a.p_wait < erlang_c(780, 1, 800)                       # callers leaving shorten the queue


@pytest.mark.parametrize("lam, mu", [(10, 1), (2.5, 1 / 6), (40, 0.25), (300, 1)])
@pytest.mark.parametrize("target, t", [(0.8, 1 / 3), (0.95, 1.0)])
def test_agents_for_service_level_is_the_least_that_meets_the_target(lam, mu, target, t):
    c = agents_for_service_level(lam, mu, target, t)
    assert erlang_c_service_level(lam, mu, c, t) >= target
    assert c - 1 <= lam / mu or erlang_c_service_level(lam, mu, c - 1, t) < target
    ca = agents_for_service_level(lam, mu, target, t, patience_rate=0.5)
    assert erlang_a(lam, mu, ca, 0.5).service_level(t) >= target > erlang_a(lam, mu, ca - 1, 0.5).service_level(t)


def test_impatience_can_need_fewer_or_more_agents_than_erlang_c():
    # a short answer time: callers who leave shorten the queue, fewer agents suffice
    assert agents_for_service_level(10, 1, 0.8, 1 / 3, patience_rate=0.5) < agents_for_service_level(10, 1, 0.8, 1 / 3)
    # a long answer time and a high target: under Erlang C nearly everyone is answered within 5 min,
    # under Erlang A whoever hangs up is never answered, so abandonment itself must be kept below 1 %
    assert agents_for_service_level(10, 1, 0.99, 5, patience_rate=0.5) > agents_for_service_level(10, 1, 0.99, 5)
