"""Marketing and the voice of the customer: campaigns (who is on a list, who answers, who is won back) and
the annual survey. Part of :class:`~crmlab.simulator.engine.Simulation` (a mixin)."""
from __future__ import annotations

import datetime as dt

import numpy as np

from .callcentre import RESUMED
from .population import NEUTRAL
from .purchases import MIN_PER_DAY
from .records import SpecialOrder, take


class Marketing:
    """Campaigns and the annual survey of a :class:`~crmlab.simulator.engine.Simulation`."""

    def _campaign(self, c, _at: dict | None = None):
        env, r = self.env, self.rng["campaigns"]
        yield RESUMED if _at is not None else env.timeout(c.start_day * MIN_PER_DAY)   # (resumed: simulator/checkpoint.py)
        a = self.acc
        now = env.now
        targets = self.policy.campaign_targets.get(c.id)
        known = np.flatnonzero(a.since <= now)
        if targets is not None:
            pos = {aid: j for j, aid in enumerate(a.ids)}
            members = np.array([pos[x] for x in targets if x in pos], dtype=np.int64)
        elif c.target == "all":
            members = known
        elif c.target == "lapsed":
            last = self._last_purchase(now)
            members = known[(now - last[known]) >= c.lapsed_days * MIN_PER_DAY]
        else:
            wanted = [self.kind_index[k] for k in c.target]
            members = known[np.isin(a.kind[known].astype(int), wanted)]
        contacted = now + r.random(members.size) * MIN_PER_DAY * 3
        p = np.clip(a.propensity[members] * c.response_lift, 0, 1)
        gone = (a.since[members] <= now) & ~self._alive_now()[members]   # customers who left (not prospects)
        p = np.where(gone, p * (0.5 if c.target == "lapsed" else 0.0), p)
        responds = r.random(members.size) < p
        when = contacted + r.random(members.size) * c.days * MIN_PER_DAY
        responds &= when < self.horizon
        first = len(self.t.campaign_members)
        ids = self.acc.ids
        self.t.campaign_members.extend([c.id] * members.size, take(ids, members.tolist()), contacted.tolist(),
                                       np.where(responds, when, None).tolist(), [None] * members.size)
        # Nothing about an answer contends for anyone, so it is decided now and takes effect when it
        # comes: the responder's order at that minute; a lapsed responder may be won back and start
        # a new life then (purchases and contacts drawn from that minute; until then not active).
        resp = np.flatnonzero(responds)
        self.t.special_orders.extend(SpecialOrder(i, at, "campaign", c.id, None, c.discount, 1.0, first + j)
                                     for i, at, j in zip(members[resp].tolist(), when[resp].tolist(), resp.tolist()))
        back = resp[gone[resp] & (r.random(resp.size) < c.reactivation)]
        back = back[np.unique(members[back], return_index=True)[1]]       # a name listed twice: one new life
        back = back[a.epoch_start[members[back]] <= now]                  # not already waiting for a new life
        if back.size:
            idx, at = members[back], when[back]
            a.past_epochs.extend(zip(idx.tolist(), a.epoch_start[idx].tolist(),
                                     np.minimum(a.churn_at[idx], a.died_at[idx]).tolist()))
            a.epoch_start[idx] = at
            a.sat[idx] = np.maximum(a.sat[idx], NEUTRAL)
            self._churn_clock(idx, at, r)
            self._start_life(idx)

    # -- the annual survey ------------------------------------------------------------------------
    def _surveys(self, _at: dict | None = None):
        env, sat = self.env, self.scenario.satisfaction
        start = self.clock.start.date()
        for year in range(start.year, start.year + self.scenario.scenario.days // 365 + 2):
            if _at is not None:   # resumed from a saved run (simulator/checkpoint.py), waiting for this year's
                if year < _at["year"]:
                    continue
                _at = None
                yield RESUMED
                self._survey(year)
                continue
            sent = dt.datetime(year, sat.survey_month, 1) - self.clock.start
            minute = sent.total_seconds() / 60 + 9 * 60
            if minute < env.now or minute >= self.horizon:
                continue
            yield env.timeout(minute - env.now)
            self._survey(year)

    def _survey(self, year: int):
        """The annual survey, for every active customer at once: who answers, NPS and Likert items
        driven by their satisfaction now."""
        r, sat, a, now = self.rng["survey"], self.scenario.satisfaction, self.acc, self.env.now
        survey_id = f"SV{year}"
        self.t.surveys.append((survey_id, year, now))
        alive = np.flatnonzero(self._alive_now())
        answering = alive[r.random(alive.size) < sat.survey_response_rate]
        m, s = answering.size, a.sat[answering]
        nps = np.clip(np.round(2.5 * (s - 1) + r.normal(0, 1.2, m)), 0, 10).astype(int)
        pick = r.random(m)
        answered = now + r.exponential(3 * MIN_PER_DAY, m)
        weight = np.array([item.weight for item in sat.survey_items])
        likert = weight * s[:, None] + (1 - weight) * NEUTRAL + r.normal(0, 0.7, (m, weight.size))
        likert = np.clip(np.round(likert), 1, 5).astype(int)
        first = len(self.t.survey_responses) + 1
        rids = [f"{survey_id}-{first + j:05d}" for j in range(m)]
        self.t.survey_responses.extend(zip(rids, [survey_id] * m, take(a.ids, answering.tolist()),
                                           self._persons(answering, pick), answered.tolist(), nps.tolist()))
        items = [item.id for item in sat.survey_items]
        self.t.survey_answers.extend(np.repeat(np.asarray(rids, object), len(items)).tolist(), items * m,
                                     likert.ravel().tolist())
