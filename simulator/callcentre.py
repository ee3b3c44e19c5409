"""The call centre: agents as a SimPy priority resource, callers with patience, shifts per hour.

A model uses it from inside a process: ``outcome = yield from centre.call(priority, patience,
handle)`` (or ``yield env.process(centre.call(...))``). The market engine uses :meth:`CallCentre.take`,
the same call with the outcome as a plain tuple. :func:`simulate_calls` runs it on its own with plain
queueing parameters, for teaching and for the checks against Erlang C and Erlang A
(:mod:`crmlab.simulator.queueing`). Time is in minutes.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd
import simpy

SHIFT = -1  # priority of an off-duty "blocker" request: ahead of every caller (callers use >= 0)


class _Resumed:
    """What a process resumed from a saved run yields first (simulator/checkpoint.py): the saved run already
    holds the event the process waits on, so the resumed generator is only brought to its yield."""

    def __repr__(self) -> str:
        return "RESUMED"


RESUMED = _Resumed()


class CallOutcome(NamedTuple):
    agent_id: str | None       # None: the caller hung up
    answered_at: float | None
    ended_at: float            # end of the conversation, or the moment the caller hung up
    abandoned: bool


class CallCentre:
    """Agents as a ``PriorityResource`` with one slot per agent: a lower priority number is answered
    first, FIFO within a priority. The agent idle longest answers the next call.

    ``staffing(minute) -> agents on duty`` is read at every whole hour (minute 0, 60, …) up to
    ``horizon`` (required then; ``math.inf`` if the caller stops the run itself). An agent goes off
    duty by a "shift blocker" request more urgent than any call: it takes the agent as soon as the
    agent is free, so nobody hangs up on a customer at the end of a shift. Without ``staffing`` no
    process is started and ``env.run()`` ends when the last call does."""

    def __init__(self, env: simpy.Environment, agent_ids: list[str], *,
                 staffing: Callable[[float], int] | None = None, horizon: float | None = None):
        if not agent_ids or len(set(agent_ids)) != len(agent_ids):
            raise ValueError("a call centre needs at least one agent, each with its own id")
        self.env = env
        self.agents = simpy.PriorityResource(env, capacity=len(agent_ids))
        self.idle = deque(agent_ids)          # free agents, idle longest first
        self.size = len(agent_ids)
        self._back: list[simpy.Event] = []    # one per agent sent off duty: succeed() = back on duty
        if staffing is not None:
            if horizon is None:
                raise ValueError("a staffing plan needs a horizon: the shift process must end")
            env.process(self._shifts(staffing, horizon))

    def _shifts(self, staffing: Callable[[float], int], horizon: float, _at: dict | None = None):
        # _at: the saved locals of this process when a run is resumed (simulator/checkpoint.py); so for every
        # process below: it continues from the yield it was suspended at
        env, minute = self.env, 0.0 if _at is None else _at["minute"]
        if _at is not None:
            yield RESUMED
        while minute < horizon:
            want = staffing(minute)
            if want != int(want) or not 0 <= want <= self.size:
                raise ValueError(f"staffing at hour {int(minute // 60) % 24} (day {int(minute // 1440)}) "
                                 f"asks for {want} agents; the pool has {self.size}")
            while len(self._back) < self.size - want:
                self._back.append(env.event())
                env.process(self._off_duty(self._back[-1]))
            while len(self._back) > self.size - want:
                self._back.pop().succeed()    # the latest blocker: one still waiting, if any
            minute += 60.0
            if minute < horizon:
                yield env.timeout(minute - env.now)

    def _off_duty(self, back: simpy.Event, _at: dict | None = None):
        if _at is None:
            req, agent = self.agents.request(priority=SHIFT), None
            yield req | back
        else:
            req, agent = _at["req"], _at["agent"]
            yield RESUMED
        if agent is None:
            if not req.triggered:             # back on duty before this agent was free
                req.cancel()
                return
            agent = self.idle.popleft()
            if not back.triggered:
                yield back
        self.idle.append(agent)
        self.agents.release(req)

    def call(self, priority: int, patience: float, handle: float):
        """Process of one call → :class:`CallOutcome`: queue at most ``patience`` minutes
        (``math.inf``: never hang up), then talk ``handle`` minutes with the agent."""
        return CallOutcome(*(yield from self.take(priority, patience, handle)))

    def take(self, priority: int, patience: float, handle: float, _at: dict | None = None):
        """:meth:`call` with the outcome as a plain tuple (agent, answered, ended, abandoned): the
        market engine's form, a call per contact (a NamedTuple costs more to make)."""
        env = self.env
        if _at is None:
            if priority <= SHIFT:
                raise ValueError(f"call priorities are >= 0 (0 is answered first), not {priority}")
            req, agent = self.agents.request(priority=priority), None
            yield req | env.timeout(patience) if patience < math.inf else req
        else:                                 # queueing (no agent yet) or talking
            req, agent, answered = _at["req"], _at["agent"], _at.get("answered")
            yield RESUMED
        if agent is None:
            if not req.triggered:             # hung up (a request granted at the same instant still counts)
                req.cancel()
                return None, None, env.now, True
            agent, answered = self.idle.popleft(), env.now
            yield env.timeout(handle)
        self.idle.append(agent)
        self.agents.release(req)
        return agent, answered, env.now, False


def simulate_calls(arrival_rate: float, service_rate: float, agents: int, *, horizon: float, seed: int,
                   patience_rate: float | None = None, staffing: list[int] | None = None,
                   arrivals_per_hour: list[float] | None = None, priority_share: float = 0.0,
                   warmup: float = 0.0) -> pd.DataFrame:
    """The call centre alone, in minutes, one row per call arriving in [``warmup``, ``horizon``).

    Poisson arrivals at ``arrival_rate`` per minute, or, if ``arrivals_per_hour`` (24 mean counts
    per hour of day, repeating daily) is given, at that piecewise-constant rate (``arrival_rate`` is
    then ignored); exponential handling at ``service_rate`` per minute; exponential patience at
    ``patience_rate`` (None: nobody hangs up). ``agents`` is the pool, all on duty unless
    ``staffing`` gives 24 agents-on-duty per hour of day. A share ``priority_share`` of calls has
    priority 0 (answered first), the rest 1. Every call is followed to its end, after ``horizon``
    if need be (the staffing plan goes on)."""
    _check_plain(arrival_rate, service_rate, agents, horizon, patience_rate, staffing, arrivals_per_hour,
                 priority_share, warmup)
    agents = int(agents)
    rng = dict(zip(("arrivals", "service", "patience", "priority"),
                   map(np.random.default_rng, np.random.SeedSequence(seed).spawn(4))))
    # Counts per hour, then uniform times within the hour: exact for a rate constant in each hour
    # (and for a constant rate). The last hour may be cut short by the horizon.
    hours = math.ceil(horizon / 60)
    per_hour = (np.resize(np.asarray(arrivals_per_hour, float), hours) if arrivals_per_hour is not None
                else np.full(hours, arrival_rate * 60.0))
    length = np.minimum(60.0, horizon - 60.0 * np.arange(hours))
    counts = rng["arrivals"].poisson(per_hour * length / 60)
    start = np.repeat(60.0 * np.arange(hours), counts)
    arrived = np.sort(start + rng["arrivals"].random(start.size) * np.repeat(length, counts))
    n = arrived.size
    handle = rng["service"].exponential(1 / service_rate, n)
    patience = rng["patience"].exponential(1 / patience_rate, n) if patience_rate else np.full(n, math.inf)
    priority = (rng["priority"].random(n) >= priority_share).astype(np.int64)  # 0 with probability share

    env = simpy.Environment()
    ids = [f"G{i:0{max(2, len(str(agents)))}d}" for i in range(1, agents + 1)]
    plan = None if staffing is None else (lambda minute: staffing[int(minute // 60) % 24])
    # the plan runs on past the horizon while late callers wait; the run stops at the last call's end
    centre = CallCentre(env, ids, staffing=plan, horizon=math.inf if plan else None)
    answered, ended = np.full(n, np.nan), np.zeros(n)
    abandoned, agent = np.zeros(n, bool), np.full(n, None, object)
    done, left = env.event(), [n]

    def caller(i, pri, pat, hdl):
        out = yield from centre.call(pri, pat, hdl)   # same process: cheaper than env.process
        agent[i], ended[i], abandoned[i] = out.agent_id, out.ended_at, out.abandoned
        if out.answered_at is not None:
            answered[i] = out.answered_at
        left[0] -= 1
        if not left[0]:
            done.succeed()

    def feeder():
        for i, (at, pri, pat, hdl) in enumerate(zip(arrived.tolist(), priority.tolist(), patience.tolist(),
                                                    handle.tolist())):
            yield env.timeout(at - env.now)
            env.process(caller(i, pri, pat, hdl))

    if n:
        env.process(feeder())
        env.run(until=done)
    calls = pd.DataFrame({"call_id": np.arange(n), "priority": priority, "arrived": arrived, "answered": answered,
                          "ended": ended, "abandoned": abandoned,
                          "wait": np.where(abandoned, ended, answered) - arrived, "agent": agent})
    return calls[calls["arrived"] >= warmup].reset_index(drop=True)


def _check_plain(arrival_rate, service_rate, agents, horizon, patience_rate, staffing, arrivals_per_hour,
                 priority_share, warmup):
    if arrivals_per_hour is not None:
        if len(arrivals_per_hour) != 24 or min(arrivals_per_hour) < 0:
            raise ValueError("arrivals_per_hour needs 24 mean counts >= 0, one per hour of day")
    elif not arrival_rate > 0:
        raise ValueError(f"arrival_rate must be > 0 (calls per minute), not {arrival_rate!r}")
    if not service_rate > 0:
        raise ValueError(f"service_rate must be > 0 (calls per agent-minute), not {service_rate!r}")
    if patience_rate is not None and not patience_rate > 0:
        raise ValueError(f"patience_rate must be > 0 (1 / mean patience), or None, not {patience_rate!r}")
    if int(agents) != agents or agents < 1:
        raise ValueError(f"agents must be a whole number >= 1, not {agents!r}")
    if not 0 < horizon < math.inf or not 0 <= warmup < horizon:
        raise ValueError("need 0 < horizon < inf and 0 <= warmup < horizon (minutes)")
    if not 0 <= priority_share <= 1:
        raise ValueError(f"priority_share is a probability, not {priority_share!r}")
    if staffing is not None:
        if len(staffing) != 24:
            raise ValueError("staffing needs 24 agent counts, one per hour of day")
        for h, k in enumerate(staffing):
            if k != int(k) or not 0 <= k <= agents:
                raise ValueError(f"staffing at hour {h} asks for {k} agents; the pool has {agents}")
        if max(staffing) == 0 and patience_rate is None:
            raise ValueError("staffing has nobody on duty at any hour: callers would wait forever")


def summarise(calls: pd.DataFrame, within: float = 20 / 60) -> dict:
    """The figures a call-centre manager reads, over all calls in ``calls``: ``p_wait`` (not
    answered at once: waited, or hung up), ``mean_wait`` (until answered or hanging up),
    ``service_level`` (share answered within ``within`` minutes; a caller who hung up never
    counts) and ``abandon_rate``."""
    if calls.empty:
        return {"n": 0, "p_wait": math.nan, "mean_wait": math.nan, "service_level": math.nan,
                "abandon_rate": math.nan}
    lost = calls["abandoned"]
    return {
        "n": len(calls),
        "p_wait": float(((calls["wait"] > 0) | lost).mean()),
        "mean_wait": float(calls["wait"].mean()),
        "service_level": float((~lost & (calls["wait"] <= within)).mean()),
        "abandon_rate": float(lost.mean()),
    }
