"""Queueing formulas a call-centre manager uses: Erlang B, Erlang C (M/M/c) and Erlang A (M/M/c+M).

Rates in any one time unit (the course uses minutes): λ arrivals, μ services per agent, θ
abandonments per waiting caller. Service level = share of *all* arrivals answered within ``t``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _check(lam, mu, c):
    if lam <= 0 or mu <= 0:
        raise ValueError("arrival and service rates must be > 0")
    if int(c) != c or c < 1:
        raise ValueError("the number of agents must be a whole number >= 1")


def erlang_b(a: float, c: int) -> float:
    """Blocking probability of M/M/c/c with offered load ``a`` = λ/μ (stable recursion)."""
    b = 1.0
    for k in range(1, int(c) + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(lam: float, mu: float, c: int) -> float:
    """Probability that a caller has to wait (M/M/c, nobody hangs up)."""
    _check(lam, mu, c)
    a = lam / mu
    if a >= c:
        raise ValueError(f"unstable: offered load λ/μ = {a:g} needs more than {c} agents")
    b = erlang_b(a, c)
    return c * b / (c - a * (1 - b))


def erlang_c_mean_wait(lam: float, mu: float, c: int) -> float:
    return erlang_c(lam, mu, c) / (c * mu - lam)


def erlang_c_service_level(lam: float, mu: float, c: int, t: float) -> float:
    """P(wait ≤ t) = 1 − C·exp(−(cμ − λ)t)."""
    return 1 - erlang_c(lam, mu, c) * math.exp(-(c * mu - lam) * t)


@dataclass(frozen=True)
class ErlangA:
    lam: float
    mu: float
    c: int
    theta: float
    p: np.ndarray  # stationary probabilities of 0, 1, 2, … callers in the system

    @property
    def p_wait(self) -> float:
        return float(self.p[self.c:].sum())

    @property
    def mean_queue(self) -> float:
        k = np.arange(len(self.p))
        return float((np.maximum(k - self.c, 0) * self.p).sum())

    @property
    def p_abandon(self) -> float:
        return self.theta * self.mean_queue / self.lam  # each waiting caller leaves at rate θ

    @property
    def mean_wait(self) -> float:
        return self.mean_queue / self.lam  # Little's law, over all arrivals

    def service_level(self, t: float) -> float:
        """Share of all arrivals answered within ``t``. A caller who finds j others queueing ahead
        moves one place up at rate cμ + jθ (a service at the front or an abandonment ahead), is
        answered from the front at rate cμ, and hangs up at rate θ. This small absorbing chain is
        solved exactly by uniformisation: P(answered by t) = Σ_m Poisson(m; qt) · P(answered within
        m jumps)."""
        c, mu, th = self.c, self.mu, self.theta
        now = float(self.p[:c].sum())                 # answered at once
        v = np.array(self.p[c:], float)               # arrival sees j = 0, 1, … callers ahead
        if v.size == 0 or t <= 0:
            return now
        ahead = c * mu + th * np.arange(v.size)       # rate of moving one place up (answered from 0)
        out = ahead + th
        q = float(out.max())
        stay = 1 - out / q
        up = ahead[1:] / q
        qt, answered, total = q * t, 0.0, 0.0
        for m in range(int(qt + 12 * math.sqrt(qt) + 30)):
            if m:
                answered += v[0] * ahead[0] / q
                v = np.append(v[:-1] * stay[:-1] + v[1:] * up, v[-1] * stay[-1])
            total += math.exp(m * math.log(qt) - qt - math.lgamma(m + 1)) * answered  # Poisson(m; qt)
        return now + total


def erlang_a(lam: float, mu: float, c: int, theta: float, tol: float = 1e-12) -> ErlangA:
    """M/M/c+M (exponential patience at rate θ) by its exact birth–death chain, truncated where the
    tail probability is below ``tol``."""
    _check(lam, mu, c)
    if theta < 0:
        raise ValueError("the abandonment rate must be >= 0")
    if theta == 0 and lam >= c * mu:
        raise ValueError(f"unstable without abandonment: λ/μ = {lam / mu:g} ≥ {c} agents")
    weights = [1.0]
    k = 0
    while True:
        k += 1
        death = min(k, c) * mu + max(k - c, 0) * theta
        weights.append(weights[-1] * lam / death)
        if k > c and weights[-1] < tol * sum(weights) and lam < death:
            break
        if k > 200_000:
            raise ValueError("the chain does not settle: check the rates")
    p = np.array(weights)
    return ErlangA(lam, mu, int(c), theta, p / p.sum())


def agents_for_service_level(lam: float, mu: float, target: float, t: float, patience_rate: float | None = None,
                             max_agents: int = 1000) -> int:
    """The least number of agents answering ``target`` of all callers within ``t``."""
    if not 0 < target < 1:
        raise ValueError("target is a share between 0 and 1")
    c = math.floor(lam / mu) + 1
    while erlang_c_service_level(lam, mu, c, t) < target:
        c += 1
        if c > max_agents:
            raise ValueError(f"more than {max_agents} agents needed")
    if not patience_rate:
        return c
    # impatient callers leave the queue, so Erlang A never needs more: bisect below c
    lo, hi = 0, c                      # SL(lo) < target <= SL(hi); SL grows with agents
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if erlang_a(lam, mu, mid, patience_rate).service_level(t) >= target:
            hi = mid
        else:
            lo = mid
    return hi
