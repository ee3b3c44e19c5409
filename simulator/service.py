"""The service contacts: drawn for a customer's life (:meth:`Service._contacts`), fed in time order to the
call centre and the desks, each worked from the first attempt to resolution; every experience moves the
customer's satisfaction and churn clock. Part of :class:`~crmlab.simulator.engine.Simulation` (a mixin: the
state it reads is set up in ``Simulation.__init__`` and :meth:`Service._open_service_centre`).

A contact goes draws (:class:`Draws`, all at once) → row (:class:`ContactRow`, all at once) → one SimPy
process (:meth:`Service._contact`); what it does to the customer is :meth:`Population._experience`."""
from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np

from . import layouts as L
from .callcentre import RESUMED, CallCentre
from .purchases import MIN_PER_YEAR
from .records import take
from .rng import cumulative_shares, draw_from_cdf
from crmlab.vocab import CHANNELS, SEVERITIES

CHANNEL_DELAY = {"email": 1.0, "messaging": 0.3, "chat": 0.02, "visit": 0.0}  # × ticket_hours
PHONE, VISIT = CHANNELS.index("phone"), CHANNELS.index("visit")
OWN_FEED = 10_000         # a batch of this many contacts gets a feed of its own (:meth:`Simulation._join_pool`)
TICKET, CALL = L.TICKETS, L.CALLS   # the places of their rows' columns


class Draws(NamedTuple):
    """What is random about a contact, drawn ahead (:meth:`Service._draws`: one column each, in this order)."""
    pick_contact: float          # which of the account's contacts gets in touch
    pick_agent: float            # which desk agent answers a written contact
    patience: float
    handle: float                # talking, or working on the ticket
    first_hours: float           # first response of a written channel (× channel)
    resolved_first: float        # (a flag)
    escalate: float              # (a flag) if not resolved at once: to a manager …
    manager_handle: float        # … who takes longer,
    follow_up: float             # … or a follow-up later
    calls_back: float            # (a flag) a caller who hung up tries again …
    callback_after: float        # … after a while
    cause: float                 # a complaint's cause and severity (places in their lists)
    severity: float
    noise: float                 # CSAT: noise, answered or not, when
    responds: float              # (a flag)
    response_after: float
    restart_abandoned: float     # churn clocks restarted after a hang-up …
    restart: float               # … and after the contact


class ContactRow(NamedTuple):
    """A contact as :meth:`Service._contact` takes it: what follows from its draws alone (:meth:`Service._rows`
    makes the rows' columns by these names; a row itself is a plain tuple in this order, which the contact
    unpacks into locals of these names: a tuple per row and locals cost least, in the hot path)."""
    account_id: str
    contact: str                 # the contact person's id
    channel: str
    reason: str
    route: CallCentre | None     # the queue of a call (None: written, or a visit)
    kind: int                    # the customer's kind (its place)
    patience: float
    handle: float
    delay: float                 # until the first response of a written contact
    wait_pen: float              # what the wait costs the CSAT
    first_agent: str | None      # the desk agent of a written contact (None: a call)
    resolved_first: int          # (0 or 1)
    escalate: int                # (0 or 1)
    manager_handle: float
    follow_up: float             # 0 if resolved at once
    penalty: float               # CSAT lost to an unresolved or escalated contact
    calls_back: bool
    callback_after: float
    cause: str | None            # a complaint's (None: not a complaint)
    severity: str
    noise: float
    responds: bool               # answers the CSAT survey
    response_after: float
    restart_abandoned: float
    restart: float



class Service:
    """The service contacts of a :class:`~crmlab.simulator.engine.Simulation`."""

    def _open_service_centre(self) -> None:
        """The agents, the managers and their queues: a call centre per team (skill-based routing), the desk
        agents who answer written contacts per reason, and the lookups per reason and channel index that
        the contacts' rows use (:meth:`_rows`)."""
        scenario = self.scenario
        sv = scenario.service
        agent_ids = self.ids.many("G", sv.agents)
        manager_ids = [f"M{i:02d}" for i in range(1, sv.managers + 1)]
        names = self.directory.names(sv.agents + sv.managers)
        self.t.agents = [(a, nm, "agent", "general") for a, nm in zip(agent_ids, names)] + \
                        [(m, nm, "manager", "escalation") for m, nm in zip(manager_ids, names[sv.agents:])]
        staffing = self._staffing if (self.policy.staffing is not None) else None
        self.centre = CallCentre(self.env, agent_ids, staffing=staffing, horizon=self.horizon if staffing else None)
        # skill-based routing: a reason's calls queue for its team (general agents by default)
        self.route = dict.fromkeys(sv.reasons, self.centre)
        self.desk = dict.fromkeys(sv.reasons, agent_ids)       # who answers e-mail, chat … for a reason
        self.handle_factor = dict.fromkeys(sv.reasons, 1.0)
        for team in sv.teams:
            ids = self.ids.many("G", team.agents)
            self.t.agents += [(a, nm, "agent", team.skill) for a, nm in zip(ids, self.directory.names(team.agents))]
            centre = CallCentre(self.env, ids)
            for reason in team.reasons:
                self.route[reason], self.desk[reason], self.handle_factor[reason] = centre, ids, team.handle_factor
        self.managers = CallCentre(self.env, manager_ids)
        # the same per reason index and per channel index, for the contacts' rows (:meth:`_rows`)
        self.reason_route = [self.route[x] for x in sv.reasons]
        self.reason_desk = [self.desk[x] for x in sv.reasons]
        self.reason_handle = np.array([self.handle_factor[x] for x in sv.reasons])
        # every reason's desk agents one after the other: (all of them, where each reason's start, how many)
        self.desks = (np.asarray([g for desk in self.reason_desk for g in desk], object),
                      np.cumsum([0] + [len(desk) for desk in self.reason_desk[:-1]]),
                      np.array([len(desk) for desk in self.reason_desk], float))
        self.names_of = {"channel": np.asarray(CHANNELS, object), "reason": np.asarray(self.reasons, object),
                         "route": np.asarray(self.reason_route, object), "cause": np.asarray(self.causes, object),
                         "severity": np.asarray(SEVERITIES, object)}   # index → value, for the contacts' rows
        self.channel_delay = np.array([CHANNEL_DELAY.get(c, 0.0) for c in CHANNELS])
        self.complaint_reason = self.reasons.index("complaint") if "complaint" in self.reasons else -1

    def _contacts(self, idx: np.ndarray, start: np.ndarray, end: np.ndarray):
        """Draw every service contact of these accounts for their life, feed them in time order."""
        r, kinds = self.rng["service"], self.acc.kind[idx].astype(int)
        span = np.maximum(end - start, 0)
        n = r.poisson(self.acc.service[idx] * span / MIN_PER_YEAR)
        owner = np.repeat(idx, n)
        if owner.size == 0:
            return
        t = np.repeat(start, n) + r.random(owner.size) * np.repeat(span, n)
        chan = np.empty(owner.size, dtype=np.int64)
        okind = np.repeat(kinds, n)
        for j, kind in enumerate(self.kinds):
            sel = okind == j
            w = np.array([kind.channels.get(c, 0.0) for c in CHANNELS])
            chan[sel] = r.choice(len(CHANNELS), size=int(sel.sum()), p=w / w.sum())
        sv = self.scenario.service
        w = np.array(list(sv.reasons.values()))
        reason = r.choice(len(w), size=owner.size, p=w / w.sum())
        phone_or_visit = (chan == PHONE) | (chan == VISIT)
        t = np.where(phone_or_visit, self.clock.business_hours(t, r), t)
        keep = np.flatnonzero(t < self.horizon)
        keep = keep[np.argsort(t[keep], kind="stable")]
        life = np.repeat(start, n)[keep]
        batch = (owner[keep], t[keep], life, chan[keep], reason[keep], self._draws(keep.size))
        if keep.size >= OWN_FEED:
            self.env.process(self._feed(*batch))
        else:
            self._join_pool(*batch)

    def _join_pool(self, *batch):
        """Small batches of contacts (customers won during the run) share one feed: a feed per batch
        would leave a hundred processes waiting at once, and every SimPy event costs more the longer
        the event queue. The contacts not started yet and the new ones are merged in time order and a
        new feed takes over from the old one, which stops when it wakes."""
        if self.pool is not None:
            left = [x[self.pool_next:] for x in self.pool]
            merged = [np.concatenate([a, b]) for a, b in zip(left, batch)]
            order = np.argsort(np.maximum(merged[1], self.env.now), kind="stable")   # those due now: in turn
            batch = tuple(x[order] for x in merged)
        self.pool, self.pool_next, self.pool_feed = batch, 0, self.pool_feed + 1
        self.env.process(self._feed(*batch, pool=self.pool_feed))

    def _draws(self, n: int) -> np.ndarray:
        """Everything random about ``n`` contacts, one row each (the columns of :class:`Draws`), drawn at
        once: vectorised draws cost a fraction of one scalar draw each.
        Only what no decision can change is drawn ahead; who answers and when stays live. A caller who
        tries again draws one row (:meth:`_contact`), so the row is filled column by column into one
        array (``column_stack`` of 18 arrays cost more than the draws for one row)."""
        if self.contact_draws is None:
            self.contact_draws = self._contact_draw_columns()
        r, columns = self.rng["calls"], self.contact_draws
        out = np.empty((n, len(columns)))
        for j, draw in enumerate(columns):
            out[:, j] = draw(r, n)
        return out

    def _contact_draw_columns(self) -> Draws:
        """The columns of :meth:`_draws`, each a draw of ``n`` values, ``(r, n) → values`` (the scenario's
        numbers read once: a pydantic attribute costs more than a plain one)."""
        sv, sat, cp = self.scenario.service, self.scenario.satisfaction, self.scenario.complaints
        fcr, escalation, callback, answers = sv.first_contact_resolution, sv.escalation, sv.callback, sat.csat_response_rate
        patience, handle, ticket_hours, again = sv.patience_minutes, sv.handle_minutes, sv.ticket_hours, sv.callback_minutes
        causes, severities = cumulative_shares(list(cp.causes.values())), cumulative_shares([cp.severity[s] for s in SEVERITIES])
        noise = sat.noise_sd
        return Draws(   # (drawn in this order: the order of the fields)
            pick_contact=lambda r, n: r.random(n),
            pick_agent=lambda r, n: r.random(n),
            patience=(lambda r, n: patience.draw(r, n)) if patience else (lambda r, n: math.inf),
            handle=lambda r, n: handle.draw(r, n),
            first_hours=lambda r, n: ticket_hours.draw(r, n) * 60,
            resolved_first=lambda r, n: r.random(n) < fcr,
            escalate=lambda r, n: r.random(n) < escalation,
            manager_handle=lambda r, n: handle.draw(r, n) * 1.5,
            follow_up=lambda r, n: ticket_hours.draw(r, n) * 60,
            calls_back=lambda r, n: r.random(n) < callback,
            callback_after=lambda r, n: again.draw(r, n),
            cause=lambda r, n: draw_from_cdf(r, causes, n),
            severity=lambda r, n: draw_from_cdf(r, severities, n),
            noise=lambda r, n: r.normal(0, noise, n),
            responds=lambda r, n: r.random(n) < answers,
            response_after=lambda r, n: r.exponential(120, n),
            restart_abandoned=lambda r, n: r.standard_exponential(n),
            restart=lambda r, n: r.standard_exponential(n),
        )

    def _feed(self, owner, times, life, chan, reason, draws, pool: int = 0, _at: dict | None = None):
        """Start each drawn contact at its time, if its customer is still in the life it was drawn
        for (``life``: that life's start; a won-back customer's earlier contacts are not theirs any
        more), has not churned and has not dropped out. ``pool``: this feed's number if it feeds the
        shared pool (:meth:`_join_pool`); it stops once a newer feed has taken the pool over. ``_at``:
        resumed from a saved run (simulator/checkpoint.py), waiting for contact ``_at["j"]`` (a contact's
        row follows from its draws alone, so the rows are worked out again from there)."""
        env, contact, d = self.env, self._contact, self.acc.view   # the hot path: arrays indexed directly
        chunk = 256 if pool else 4096          # Python rows for a chunk at a time: small while waiting
        start = 0 if _at is None else _at["j"]
        for lo in range(start, owner.size, chunk):
            part = slice(lo, lo + chunk)
            for j, i, t, b, row in zip(itertools.count(lo), owner[part].tolist(), times[part].tolist(),
                                       life[part].tolist(), self._rows(owner[part], chan[part], reason[part],
                                                                       draws[part])):
                now = env.now
                if _at is not None:
                    _at = None
                    yield RESUMED
                elif t > now:
                    if pool:
                        self.pool_next = j
                    yield env.timeout(t - now)
                if pool and pool != self.pool_feed:   # a newer feed has the pool
                    return
                if d["epoch_start"][i] == b and t < d["churn_at"][i] and t <= d["died_at"][i]:
                    env.process(contact(i, row))

    def _rows(self, owner: np.ndarray, chan: np.ndarray, reason: np.ndarray, draws: np.ndarray) -> list[tuple]:
        """The contacts' rows for :meth:`_contact`: what follows from their draws alone, worked out
        for all of them at once (who gets in touch, the handling time, a written channel's delay and
        the agent at the desk, the fixed part of the CSAT …). Only what a policy or another contact
        can change — priority, waiting for an agent, the recovery action, the customer's mood — is
        left to the contact."""
        d = Draws(*draws.T)
        n, a, sat = owner.size, self.acc, self.scenario.satisfaction
        acc_ids = a.ids
        handle = d.handle * self.reason_handle[reason]
        delay = d.first_hours * self.channel_delay[chan]
        phone = chan == PHONE
        agent = np.empty(n, object)                       # the desk agent of a written contact (None: a call)
        desk, first, size = self.desks
        written = np.flatnonzero(~phone)
        on = reason[written]
        agent[written] = desk[first[on] + (d.pick_agent[written] * size[on]).astype(np.int64)]
        resolved_first, escalate = d.resolved_first.astype(bool), d.escalate.astype(bool)
        penalty = np.where(resolved_first, 0.0, sat.unresolved_penalty + np.where(escalate, sat.escalation_penalty, 0))
        complaint = reason == self.complaint_reason
        names = self.names_of
        cause = np.where(complaint, names["cause"][d.cause.astype(np.int64)], None)
        columns = ContactRow(
            account_id=take(acc_ids, owner.tolist()), contact=self._persons(owner, d.pick_contact),
            channel=names["channel"][chan].tolist(), reason=names["reason"][reason].tolist(),
            route=np.where(phone, names["route"][reason], None).tolist(),
            kind=a.kind[owner].astype(np.int64).tolist(), patience=d.patience.tolist(), handle=handle.tolist(),
            delay=delay.tolist(),
            wait_pen=(sat.wait_penalty_per_minute * np.minimum(delay, 600) / 20).tolist(),   # hours of waiting feel
            first_agent=agent.tolist(),                                                      # like minutes on hold
            resolved_first=resolved_first.astype(np.int64).tolist(),
            escalate=(~resolved_first & escalate).astype(np.int64).tolist(),
            manager_handle=d.manager_handle.tolist(), follow_up=np.where(resolved_first, 0.0, d.follow_up).tolist(),
            penalty=penalty.tolist(), calls_back=d.calls_back.astype(bool).tolist(),
            callback_after=d.callback_after.tolist(), cause=cause.tolist(),
            severity=names["severity"][d.severity.astype(np.int64)].tolist(), noise=d.noise.tolist(),
            responds=d.responds.astype(bool).tolist(), response_after=d.response_after.tolist(),
            restart_abandoned=d.restart_abandoned.tolist(), restart=d.restart.tolist())
        return list(zip(*columns))             # rows in ContactRow's order

    def _contact(self, i: int, row: tuple, _at: dict | None = None):
        """One service contact, from the first attempt to resolution; moves satisfaction. ``row``: the
        contact's row of :meth:`_rows` (:class:`ContactRow`'s fields). The ticket row is recorded when the contact opens and completed
        when it closes (a snapshot in between shows it open). A caller who hung up may try again: a new
        attempt with new draws (a new ``row``), the same ticket and caller.

        ``step`` says where the contact is, so that a run saved between steps resumes each contact from its
        saved locals (``_at``, simulator/checkpoint.py) at the yield it was waiting at."""
        env, (base_csat, wait_per_minute, _, _) = self.env, self.feel
        # the row's fields as locals, in ContactRow's order (tests/simulator/test_simulator.py checks each such
        # unpacking): a NamedTuple per row cost 0.26 µs to make and 30 ns a field read, some twenty a contact
        (account_id, contact, channel, reason, route, kind, patience, handle, delay, wait_pen, first_agent,
         resolved_first, escalate, manager_handle, follow_up, penalty, calls_back, callback_after, cause, severity,
         noise, responds, response_after, restart_abandoned, restart) = row
        if _at is None:
            step, ticket, callback_of = "open", None, None
        else:
            step, ticket, callback_of, inner = _at["step"], _at["ticket"], _at["callback_of"], _at.get("_inner")
            now, tid, contact, priority, call_id = _at["now"], _at["tid"], _at["contact"], _at.get("priority"), \
                _at.get("call_id")
            wait_pen, first_agent, first_response, done = _at["wait_pen"], _at["first_agent"], \
                _at.get("first_response"), _at.get("done")
        while True:
            if step == "open":
                now = env.now
                if ticket is None:
                    ticket = [self.ticket_id(), account_id, contact, channel, reason, now, None, None, "open", 0, None,
                              0]   # (L.TICKETS' columns)
                    self.t.tickets.append(ticket)
                # a new attempt after a hang-up: the same ticket and caller
                contact, tid = ticket[TICKET.contact_id], ticket[TICKET.ticket_id]
                if route is None:   # written, or a visit: answered after the channel's delay
                    first_response = now + delay
                    done = first_response + handle
                    step = "written"
                    yield env.timeout(done - now)
                    step = "handled"
                else:               # a phone call: wait for an agent of the reason's team
                    priority = self.priority_of[kind]
                    step = "call"
                    outcome = yield from route.take(priority, patience, handle)  # inline
                    step = "called"
            elif step in ("call", "manager"):          # resumed on a call (an agent's or a manager's)
                outcome = yield from inner
                step = "called" if step == "call" else "escalated"
            else:                                      # resumed waiting for an answer or to call back
                yield RESUMED
                step = {"written": "handled", "callback": "retry"}[step]
            if step == "called":
                agent, answered, done, _ = outcome
                call_id = self.call_id()
                self.t.calls.append([call_id, tid, account_id, contact, agent, reason, priority, now, answered,
                                     callback_of, agent is None, done])   # (L.CALLS' columns)
                if agent is None:   # hung up
                    self._experience(i, restart_abandoned, delta=-self.scenario.satisfaction.abandon_penalty)
                    if not calls_back:
                        ticket[TICKET.status] = "abandoned"
                        return
                    step = "callback"
                    yield env.timeout(callback_after)
                    step = "retry"
                else:
                    first_response, first_agent = answered, agent
                    wait_pen = wait_per_minute * (answered - now)
                    step = "handled"
            if step == "retry":
                if not (self._alive(i, env.now) and self.clock.is_open(env.now)):
                    ticket[TICKET.status] = "abandoned"
                    return
                row = self._rows(np.array([i]), np.array([PHONE]), np.array([self.reasons.index(reason)]),
                                 self._draws(1))[0]   # a new attempt, new draws
                (account_id, contact, channel, reason, route, kind, patience, handle, delay, wait_pen, first_agent,
                 resolved_first, escalate, manager_handle, follow_up, penalty, calls_back, callback_after, cause,
                 severity, noise, responds, response_after, restart_abandoned, restart) = row
                step, callback_of = "open", call_id
                continue
            if step == "handled":
                if escalate:   # not resolved at once: to a manager …
                    step = "manager"
                    outcome = yield from self.managers.take(0, math.inf, manager_handle)
                    step = "escalated"
                else:              # … or a follow-up later (0 if resolved at once)
                    resolved_at = done + follow_up
            if step == "escalated":
                agent, answered, resolved_at, _ = outcome
                self.t.calls.append([self.call_id(), tid, account_id, contact, agent, reason, 0, done,
                                     answered, "escalation", False, resolved_at])   # (L.CALLS' columns)
            break
        csat = base_csat - wait_pen + noise - penalty
        if cause is not None:
            csat += self._complaint(account_id, tid, ticket[TICKET.opened_at], resolved_at, cause, severity)
        self._experience(i, restart, score=csat)
        ticket[TICKET.first_response_at], ticket[TICKET.resolved_at], ticket[TICKET.status] = \
            first_response, resolved_at, "resolved"
        ticket[TICKET.escalated], ticket[TICKET.agent_id], ticket[TICKET.first_contact_resolution] = \
            escalate, first_agent, resolved_first   # (0 or 1)
        if responds:
            score = round(csat)
            self.t.csat.append((tid, account_id, resolved_at + response_after,
                                5 if score > 5 else 1 if score < 1 else score))   # (L.CSAT's columns)

    def _complaint(self, account_id: str, ticket_id: str, opened: float, resolved_at: float, cause: str,
                   severity: str) -> float:
        """Record a complaint; the recovery action follows the policy in force. → satisfaction change."""
        action, cost, effect = self.recovery_of[severity]
        self.t.complaints.append((self.complaint_id(), ticket_id, account_id, cause, severity, action, cost, opened,
                                  resolved_at))
        return effect
