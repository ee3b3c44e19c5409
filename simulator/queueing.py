"""Queueing formulas a call-centre manager uses: Erlang B, Erlang C (M/M/c) and Erlang A (M/M/c+M).

Pure functions of the standard library, for teaching and as the truth the SimPy call centre is
checked against. Rates are in any one time unit, the same for all of them (the course uses
minutes): ``lam`` arrivals, ``mu`` services per agent, ``theta`` abandonments per waiting caller
(1 / mean patience). ``c`` agents. Waits and ``t`` are in that unit too. The *service level* is the
call-centre figure: the share of **all** arrivals answered within ``t``.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

MAX_STATES = 5_000_000  # a birth–death chain longer than this does not settle: the rates are wrong


def _positive(**values: float) -> None:
    for name, v in values.items():
        if not (isinstance(v, numbers.Real) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a finite number > 0, not {v!r}")


def _agents(c) -> int:
    if isinstance(c, bool) or not isinstance(c, numbers.Real) or not math.isfinite(c) or c != int(c) or c < 0:
        raise ValueError(f"the number of agents must be a whole number >= 0, not {c!r}")
    return int(c)


def erlang_b(a: float, c: int) -> float:
    """Blocking probability of M/M/c/c (no queue) with offered load ``a`` = λ/μ.

    The recursion B(k) = a·B(k−1) / (k + a·B(k−1)) never forms a^c or c!, so it stays exact for
    hundreds of agents where the textbook formula overflows."""
    if not (isinstance(a, numbers.Real) and math.isfinite(a) and a >= 0):
        raise ValueError(f"the offered load must be a finite number >= 0, not {a!r}")
    b = 1.0
    for k in range(1, _agents(c) + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(lam: float, mu: float, c: int) -> float:
    """Probability that a caller has to wait in M/M/c (nobody hangs up), via Erlang B:
    C = c·B / (c − a·(1 − B))."""
    _positive(lam=lam, mu=mu)
    c = _agents(c)
    a = lam / mu
    if a >= c:
        raise ValueError(f"unstable: the offered load λ/μ = {a:g} needs more than {c} agents "
                         "(the queue grows without end)")
    b = erlang_b(a, c)
    return c * b / (c - a * (1 - b))


def erlang_c_mean_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait of all callers (those answered at once count 0): C / (cμ − λ)."""
    return erlang_c(lam, mu, c) / (c * mu - lam)


def erlang_c_service_level(lam: float, mu: float, c: int, t: float) -> float:
    """P(wait ≤ t) = 1 − C·exp(−(cμ − λ)·t): a waiting caller's wait is exponential at rate cμ − λ."""
    if not t >= 0:
        raise ValueError(f"t must be >= 0, not {t!r}")
    return 1 - erlang_c(lam, mu, c) * math.exp(-(c * mu - lam) * t)


@dataclass(frozen=True)
class ErlangA:
    """Steady state of M/M/c+M: Poisson arrivals, exponential service, exponential patience.

    ``mean_wait`` is over all arrivals: the time until answered, or until hanging up."""
    lam: float
    mu: float
    c: int
    theta: float
    p_wait: float        # an arrival finds every agent busy
    p_abandon: float     # an arrival hangs up before being answered
    mean_wait: float
    mean_queue: float    # callers waiting, on average
    probabilities: tuple[float, ...] = field(repr=False)  # P(k callers in the system), k = 0, 1, …

    def service_level(self, t: float) -> float:
        """Share of all arrivals answered within ``t`` (a caller who hangs up, at any time, is not).

        By PASTA an arrival finds k callers in the system with the stationary probability; k < c
        is answered at once. With j = k − c callers ahead, the tagged caller moves one place up at
        rate cμ + jθ (an agent frees up, or one of the j hangs up), is answered from j = 0 at rate cμ,
        and hangs up at rate θ. That small absorbing chain is solved exactly by uniformisation at
        rate q ≥ every exit rate: P(answered by t) = Σ_m Poisson(m; q·t) · P(answered within m jumps).
        All terms are positive, so there is no cancellation (the hypoexponential CDF has it)."""
        if not t >= 0:
            raise ValueError(f"t must be >= 0, not {t!r}")
        c, cmu, th = self.c, self.c * self.mu, self.theta
        at_once = math.fsum(self.probabilities[:c])
        v = list(self.probabilities[c:])                # v[j]: tagged caller has j callers ahead
        if t == 0 or not v:
            return at_once
        q = cmu + len(v) * th
        steps = int(q * t + 12 * math.sqrt(q * t) + 30)   # Poisson(qt) beyond this: < 1e-30
        v = v[:steps]                                   # j ≥ steps needs more than `steps` jumps
        q = cmu + len(v) * th                           # the largest exit rate still in play
        qt = q * t
        steps = int(qt + 12 * math.sqrt(qt) + 30)
        up = [(cmu + j * th) / q for j in range(len(v) + 1)]   # j → j − 1 (j = 0: answered)
        stay = [1 - up[j] - th / q for j in range(len(v))]
        answered, terms = 0.0, []
        for m in range(steps + 1):
            terms.append(math.exp(m * math.log(qt) - qt - math.lgamma(m + 1)) * answered)
            answered += v[0] * up[0]
            n = max(1, min(len(v), steps - m))          # states that can still be answered in time
            v = [v[j] * stay[j] + v[j + 1] * up[j + 1] for j in range(n - 1)] + [v[n - 1] * stay[n - 1]]
        return at_once + math.fsum(terms)


def erlang_a(lam: float, mu: float, c: int, theta: float, tol: float = 1e-13) -> ErlangA:
    """M/M/c+M (exponential patience at rate ``theta``) by its exact birth–death chain: k callers
    in the system go to k + 1 at rate λ and to k − 1 at rate min(k, c)·μ + max(k − c, 0)·θ.

    The chain is stable for any θ > 0 (impatient callers empty the queue), even with λ ≥ cμ. It is
    cut where the rest of the tail is below ``tol`` times the largest probability; θ = 0 gives
    Erlang C. Weights are kept as logarithms so that several hundred agents do not overflow."""
    _positive(lam=lam, mu=mu)
    c = _agents(c)
    if not (isinstance(theta, numbers.Real) and math.isfinite(theta) and theta >= 0):
        raise ValueError(f"theta (the abandonment rate) must be a finite number >= 0, not {theta!r}")
    if theta == 0 and lam >= c * mu:
        raise ValueError(f"unstable without abandonment: the offered load λ/μ = {lam / mu:g} needs "
                         f"more than {c} agents")
    logw, top, k = [0.0], 0.0, 0
    while True:
        k += 1
        logw.append(logw[-1] + math.log(lam / (min(k, c) * mu + max(k - c, 0) * theta)))
        top = max(top, logw[-1])
        if k >= c:
            # beyond c the ratio r = λ/death only falls, so the tail is below w_k·r/(1 − r)
            r = lam / (c * mu + (k + 1 - c) * theta)
            if r < 1 and logw[-1] + math.log(r / (1 - r)) - top < math.log(tol):
                break
        if k > MAX_STATES:
            raise ValueError("the Erlang A chain does not settle: check the rates")
    w = [math.exp(x - top) for x in logw]
    total = math.fsum(w)
    p = tuple(x / total for x in w)
    queue = math.fsum((k - c) * p[k] for k in range(c + 1, len(p)))
    return ErlangA(lam=lam, mu=mu, c=c, theta=theta, p_wait=math.fsum(p[c:]),
                   p_abandon=theta * queue / lam,      # every waiting caller hangs up at rate θ
                   mean_wait=queue / lam,              # Little's law over all arrivals
                   mean_queue=queue, probabilities=p)


def agents_for_service_level(lam: float, mu: float, target: float, t: float, patience_rate: float | None = None,
                             max_agents: int = 1000) -> int:
    """The least number of agents that answers ``target`` (a share) of all callers within ``t``:
    Erlang C, or Erlang A when callers hang up at ``patience_rate``.

    Under Erlang A this can be fewer agents than Erlang C (callers leaving shorten the queue) or
    more (a caller who hangs up is never answered: a high target with a long ``t`` needs extra
    agents to keep abandonment down)."""
    _positive(lam=lam, mu=mu)
    if not 0 < target < 1:
        raise ValueError(f"target is a share strictly between 0 and 1, not {target!r}")
    if not t >= 0:
        raise ValueError(f"t must be >= 0, not {t!r}")

    def level(c: int) -> float:
        if patience_rate is not None:
            return erlang_a(lam, mu, c, patience_rate).service_level(t)
        return erlang_c_service_level(lam, mu, c, t) if lam < c * mu else 0.0  # unstable: waits grow

    # the service level grows with the number of agents: double until met, then bisect
    lo, hi = 0, min(max(1, math.ceil(lam / mu)), max_agents)
    while level(hi) < target:
        if hi >= max_agents:
            raise ValueError(f"more than max_agents = {max_agents} agents would be needed")
        lo, hi = hi, min(2 * hi, max_agents)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if level(mid) >= target else (mid, hi)
    return hi
