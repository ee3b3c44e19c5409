"""The call centre: agents as a SimPy priority resource, callers with patience, shifts per hour.

Used inside the market engine and on its own (:func:`simulate_calls`) with plain queueing
parameters, for teaching and for the checks against Erlang C and Erlang A.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import simpy

SHIFT = -1  # priority of an off-duty "blocker": more urgent than any caller


@dataclass(frozen=True)
class CallOutcome:
    agent_id: str | None
    answered_at: float | None
    ended_at: float
    abandoned: bool


class CallCentre:
    """Agents as a ``PriorityResource`` (lower number first, FIFO within a priority); the agent idle
    longest answers the next call. ``staffing(minute)`` (checked every whole hour) sets how many
    agents are on duty; agents going off duty finish their current call first."""

    def __init__(self, env: simpy.Environment, agent_ids: list[str], *,
                 staffing: Callable[[float], int] | None = None, horizon: float | None = None):
        if not agent_ids:
            raise ValueError("a call centre needs at least one agent")
        self.env = env
        self.lines = simpy.PriorityResource(env, capacity=len(agent_ids))
        self.idle = deque(agent_ids)
        self.size = len(agent_ids)
        self._off: list[tuple[simpy.Resource, str]] = []   # blockers holding an agent off duty
        self._pending: list = []                            # blocker requests still waiting
        if staffing is not None:
            if horizon is None:
                raise ValueError("a staffing plan needs a horizon (the shift process must end)")
            env.process(self._shifts(staffing, horizon))

    def _shifts(self, staffing, horizon):
        minute = 0.0
        while minute < horizon:
            want = int(staffing(minute))
            if not 0 <= want <= self.size:
                raise ValueError(f"staffing at hour {int(minute // 60) % 24} (minute {minute:g}) is {want}; "
                                 f"the pool has {self.size} agents")
            off_wanted = self.size - want
            off_now = len(self._off) + len(self._pending)
            for _ in range(off_wanted - off_now):       # send agents off duty when free
                self.env.process(self._block())
            for _ in range(off_now - off_wanted):       # bring agents back on duty
                if self._pending:
                    self._pending.pop().cancel()
                else:
                    req, agent = self._off.pop()
                    self.idle.append(agent)
                    self.lines.release(req)
            minute += 60.0
            if minute < horizon:
                yield self.env.timeout(minute - self.env.now)

    def _block(self):
        req = self.lines.request(priority=SHIFT)
        self._pending.append(req)
        yield req
        self._pending.remove(req)
        self._off.append((req, self.idle.popleft()))

    def call(self, priority: int, patience: float, handle: float):
        """Process: queue (at most ``patience`` minutes), talk ``handle`` minutes → CallOutcome."""
        env = self.env
        req = self.lines.request(priority=priority)
        if math.isfinite(patience):
            yield req | env.timeout(patience)
            if not req.triggered:
                req.cancel()
                return CallOutcome(None, None, env.now, True)
        else:
            yield req
        agent = self.idle.popleft()
        answered = env.now
        yield env.timeout(handle)
        self.idle.append(agent)
        self.lines.release(req)
        return CallOutcome(agent, answered, env.now, False)


def simulate_calls(arrival_rate: float, service_rate: float, agents: int, *, horizon: float, seed: int,
                   patience_rate: float | None = None, staffing: list[int] | None = None,
                   arrivals_per_hour: list[float] | None = None, priority_share: float = 0.0,
                   warmup: float = 0.0) -> pd.DataFrame:
    """The call centre alone, in minutes: Poisson arrivals (``arrival_rate`` per minute, or a daily
    profile of mean arrivals per hour), exponential service (``service_rate`` per minute) and
    patience (``patience_rate``; None = callers never hang up), ``agents`` in the pool, optionally
    a ``staffing`` plan of 24 agents-on-duty per hour. Calls arriving before ``horizon`` are all
    completed. One row per call."""
    if arrivals_per_hour is not None:
        if len(arrivals_per_hour) != 24 or min(arrivals_per_hour) < 0:
            raise ValueError("arrivals_per_hour needs 24 non-negative values")
    elif arrival_rate <= 0:
        raise ValueError("arrival_rate must be > 0")
    if service_rate <= 0:
        raise ValueError("service_rate must be > 0")
    if staffing is not None:
        if len(staffing) != 24:
            raise ValueError("staffing needs 24 values, one per hour of the day")
        for h, n in enumerate(staffing):
            if not 0 <= n <= agents:
                raise ValueError(f"staffing at hour {h} is {n}; the pool has {agents} agents")
    arr, serv, pat, pri = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    # arrival times: homogeneous, or per-hour counts with uniform times (exact for a piecewise
    # constant rate)
    if arrivals_per_hour is None:
        n = arr.poisson(arrival_rate * horizon)
        t = np.sort(arr.random(n) * horizon)
    else:
        hours = int(math.ceil(horizon / 60))
        lam = np.resize(np.asarray(arrivals_per_hour, float), hours)
        counts = arr.poisson(lam)
        t = np.repeat(np.arange(hours) * 60.0, counts) + arr.random(int(counts.sum())) * 60.0
        t = np.sort(t[t < horizon])
    n = t.size
    handle = serv.exponential(1 / service_rate, n)
    patience = pat.exponential(1 / patience_rate, n) if patience_rate else np.full(n, math.inf)
    priority = (pri.random(n) >= priority_share).astype(int)  # 0 = high priority

    env = simpy.Environment()
    ids = [f"G{i:02d}" for i in range(1, agents + 1)]
    plan = (lambda minute: staffing[int(minute // 60) % 24]) if staffing is not None else None
    centre = CallCentre(env, ids, staffing=plan, horizon=horizon if plan else None)
    answered = np.full(n, np.nan)
    ended = np.zeros(n)
    abandoned = np.zeros(n, bool)
    agent = np.full(n, None, object)

    def caller(i):
        out = yield env.process(centre.call(int(priority[i]), float(patience[i]), float(handle[i])))
        answered[i] = np.nan if out.answered_at is None else out.answered_at
        ended[i], abandoned[i], agent[i] = out.ended_at, out.abandoned, out.agent_id

    def source():
        for i, at in enumerate(t.tolist()):
            yield env.timeout(at - env.now)
            env.process(caller(i))

    env.process(source())
    env.run()
    wait = np.where(abandoned, ended, answered) - t
    df = pd.DataFrame({"call_id": np.arange(n), "priority": priority, "arrived": t, "answered": answered,
                       "ended": ended, "abandoned": abandoned, "wait": wait, "agent": agent})
    return df[df["arrived"] >= warmup].reset_index(drop=True)


def summarise(calls: pd.DataFrame, within: float = 20 / 60) -> dict:
    """Figures a call-centre manager reads: service level = share of all arrivals answered within
    ``within`` minutes."""
    n = len(calls)
    if n == 0:
        return {"n": 0, "p_wait": 0.0, "mean_wait": 0.0, "service_level": 1.0, "abandon_rate": 0.0}
    served = ~calls["abandoned"]
    return {
        "n": n,
        "p_wait": float(((calls["wait"] > 0) | calls["abandoned"]).mean()),
        "mean_wait": float(calls["wait"].mean()),
        "service_level": float((served & (calls["wait"] <= within)).mean()),
        "abandon_rate": float(calls["abandoned"].mean()),
    }
