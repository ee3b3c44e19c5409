"""Acquisition and sales: lead sources a month at a time, referrals from promoters, upsells, and the deals
that contend for reps through the pipeline's stages. Part of :class:`~crmlab.simulator.engine.Simulation`
(a mixin)."""
from __future__ import annotations

import numpy as np
import simpy

from . import layouts as L
from .callcentre import RESUMED
from .population import PROMOTER, head_locale
from .purchases import MIN_PER_DAY, MIN_PER_YEAR
from .records import SpecialOrder
from .rng import draw_weighted
from crmlab.vocab import CLOSED_STAGES, OPEN_STAGES

LEAD, OPP = L.LEADS, L.OPPORTUNITIES   # the places of their rows' columns


class Sales:
    """Acquisition and the sales pipeline of a :class:`~crmlab.simulator.engine.Simulation`."""

    def _open_sales(self) -> None:
        """The sales team: reps with their load, each rep's forecast bias, and the deals they have room for."""
        scenario = self.scenario
        rep_ids = [f"S{i:02d}" for i in range(1, scenario.sales.reps + 1)]
        self.t.reps = list(zip(rep_ids, self.directory.names(len(rep_ids))))
        self.rep_load = {r: 0 for r in rep_ids}
        # each rep's forecast leans optimistic or cautious by a personal bias (truth only)
        bias = self.rng["forecast"].normal(0, scenario.sales.rep_optimism_sd, len(rep_ids))
        self.rep_optimism = dict(zip(rep_ids, bias.tolist()))
        self.rep_slots = simpy.Resource(self.env, capacity=scenario.sales.reps * scenario.sales.deals_per_rep)

    def _leads(self, src, _at: dict | None = None):
        """A lead source, a month at a time: the month's leads are drawn at its start. Leads of
        organisations go through the sales pipeline one by one (they contend for reps); the rest
        are decided in one batch (:meth:`_lead_batch`)."""
        env, r = self.env, self.rng["sales"]
        if src.leads_per_month <= 0:
            return
        month = 30 * MIN_PER_DAY
        mix = [self.kind_index[k] for k in src.kind_mix]
        pipeline = np.array([bool(self.scenario.sales) and self.kinds[k].business for k in mix], bool)
        if _at is not None:   # resumed from a saved run (simulator/checkpoint.py), waiting for the next month
            yield RESUMED
        while env.now < self.horizon:
            span = min(month, self.horizon - env.now)
            m = int(r.poisson(src.leads_per_month * span / month))
            created = env.now + np.sort(r.random(m)) * span
            pick = draw_weighted(r, list(src.kind_mix.values()), m)
            kinds = np.array(mix)[pick]
            for k, at in zip(kinds[pipeline[pick]].tolist(), created[pipeline[pick]].tolist()):
                env.process(self._lead(src.id, k, src.cost_per_lead, src.qualify_rate, src.convert_rate, at))
            self._lead_batch(src.id, kinds[~pipeline[pick]], created[~pipeline[pick]], src.cost_per_lead,
                             src.qualify_rate, src.convert_rate)
            yield env.timeout(span)

    def _lead_batch(self, source: str, kinds: np.ndarray, created: np.ndarray, cost: float, qualify: float,
                    convert: float):
        """Leads outside the sales pipeline, decided at once: each is qualified (or not) some days
        after it came in; a qualified lead becomes a customer with probability ``convert``, buying
        for the first time on that day. Leads still undecided at the horizon stay open."""
        m = kinds.size
        if not m:
            return
        r, acq = self.rng["sales"], self.scenario.acquisition
        decided = created + np.asarray(acq.days_to_qualify.draw(r, m), float) * MIN_PER_DAY
        qualified = r.random(m) < qualify
        converted = qualified & (r.random(m) < convert)
        ids = self.ids.many("L", m)
        people, phones, cities = self.directory.names(m), self.directory.phones(m), self.directory.pick_cities(m)
        pick = r.random(m).tolist()
        names = []
        for j, k in enumerate(kinds.tolist()):
            kind = self.kinds[k]
            templates = kind.name_templates.get(head_locale(self)) or ["{city}"]
            names.append(self._org_name(templates, pick[j], cities[j]) if kind.business else people[j])
        open_ = decided >= self.horizon
        money = round(cost * self.money, 2)
        rows = [LEAD.row(lead_id=ids[j], source_id=source, kind=self.kinds[k].id, company=names[j],
                         contact_name=people[j], phone=phones[j], created_at=float(created[j]),
                         status="open" if open_[j] else "converted" if converted[j] else "qualified" if qualified[j]
                         else "disqualified", qualified_at=None if open_[j] or not qualified[j] else float(decided[j]),
                         account_id=None, cost=money)
                for j, k in enumerate(kinds.tolist())]
        self.t.leads.extend(rows)
        self.lead_decided.update(zip(ids, decided.tolist()))
        new = np.flatnonzero(converted & ~open_)
        if new.size:
            idx = self._new_accounts(kinds[new], decided[new], self.clock.dates(decided[new]), source,
                                     [ids[j] for j in new.tolist()], names=[names[j] for j in new.tolist()])
            self.made_at.update(zip(idx.tolist(), decided[new].tolist()))
            for j, i in zip(new.tolist(), idx.tolist()):   # (their lives started with the accounts)
                rows[j][LEAD.account_id] = self.acc_id(i)
                self.t.special_orders.append(SpecialOrder(i, float(decided[j]), "first", None, None, 0.0, 1.0, -1))

    def _lead(self, source: str, kind: int, cost: float, qualify: float, convert: float, at: float | None = None,
              _at: dict | None = None):
        """A lead of an organisation, worked through the sales pipeline once it comes in at ``at``. ``_at``:
        resumed from a saved run (simulator/checkpoint.py), still to come in or being qualified."""
        env, r, acq = self.env, self.rng["sales"], self.scenario.acquisition
        step = "coming" if _at is None else _at["step"]
        if step == "coming":
            if _at is not None:
                yield RESUMED
            elif at is not None and at > env.now:
                yield env.timeout(at - env.now)
            lead_id, created = self.ids.next("L"), env.now
            k = self.kinds[kind]
            person = self.directory.names(1)[0]
            templates = k.name_templates.get(head_locale(self)) or ["{city}"]
            company = self._org_name(templates, float(r.random()), self.directory.pick_cities(1)[0])
            row = LEAD.row(lead_id=lead_id, source_id=source, kind=k.id, company=company, contact_name=person,
                           phone=self.directory.phones(1)[0], created_at=created, status="open", qualified_at=None,
                           account_id=None, cost=round(cost * self.money, 2))
            self.t.leads.append(row)  # still open if the snapshot comes before it is qualified
            step = "qualifying"
            yield env.timeout(float(acq.days_to_qualify.draw(r)) * MIN_PER_DAY)
        else:
            lead_id, company, row = _at["lead_id"], _at["company"], _at["row"]
            yield RESUMED
        if r.random() >= qualify:
            row[LEAD.status] = "disqualified"
            return
        row[LEAD.status], row[LEAD.qualified_at] = "qualified", env.now
        idx = self._new_accounts(np.array([kind]), np.array([env.now]), [self.clock.date(env.now)], source, lead_id,
                                 names=[company], prospect=True)
        row[LEAD.account_id] = self.acc_id(int(idx[0]))
        env.process(self._opportunity(int(idx[0]), lead_id, "new"))

    def _referrals(self, _at: dict | None = None):
        """Promoters recommend the company. Each month's referrals are handled in one batch (at 100k
        customers there are thousands a month), except referred organisations, which go through
        the sales pipeline one by one."""
        env, r, acq = self.env, self.rng["sales"], self.scenario.acquisition
        month = 30 * MIN_PER_DAY
        while _at is not None or env.now + month < self.horizon:
            if _at is not None:   # resumed from a saved run (simulator/checkpoint.py), in the month's wait
                _at = None
                yield RESUMED
            else:
                yield env.timeout(month)
            a, now = self.acc, env.now
            alive = self._alive_now() & (a.sat >= PROMOTER)
            referrers = np.flatnonzero(alive)[r.random(int(alive.sum())) < acq.referrals_per_promoter_year / 12]
            kinds = a.kind[referrers].astype(int)
            pipeline = np.array([bool(self.scenario.sales) and self.kinds[k].business for k in kinds], bool)
            for k in kinds[pipeline].tolist():
                env.process(self._lead("referral", k, 0.0, acq.referral_qualify_rate, 0.5))
            kinds = kinds[~pipeline]
            self._lead_batch("referral", kinds, now - r.random(kinds.size) * month,   # referred during the past month
                             0.0, acq.referral_qualify_rate, 0.5)

    def _upsells(self, _at: dict | None = None):
        """Upsell deals with organisations that are customers, one at a time; the one picked is among those
        who were customers when the wait for it began. ``_at``: resumed from a saved run, in that wait."""
        env, r, s = self.env, self.rng["sales"], self.scenario.sales
        while True:
            if _at is not None:
                business, n, _at = _at["business"], _at["n"], None
                yield RESUMED
            else:
                a = self.acc
                # a lookup per kind index, not a Python object per account: this runs at every upsell
                business = self.kind_business[a.kind.astype(np.int64)] & self._alive_now()
                n = int(business.sum())
                yield env.timeout(r.exponential(MIN_PER_YEAR / max(n * s.upsell_per_year, 1e-9)) if n else 30 * MIN_PER_DAY)
            if env.now >= self.horizon:
                return
            if n:
                i = int(r.choice(np.flatnonzero(business)))
                if self._alive(i, env.now):
                    env.process(self._opportunity(i, None, "upsell"))

    def _typical_order(self, kind) -> float:
        price = sum(w * self.products[p].unit_price for p, w in kind.product_mix.items()) / sum(kind.product_mix.values())
        lines = (kind.lines_per_order.min + kind.lines_per_order.max) / 2
        return price * lines * kind.quantity.mean * self.money

    def _opportunity(self, i: int, lead_id, kind_of_deal: str, _at: dict | None = None):
        """A deal through the pipeline: it waits for a rep with room, then goes stage by stage (the rep's
        forecast, activities, a quote on entering 'proposal') until lost or won. ``_at``: resumed from a saved
        run (simulator/checkpoint.py), waiting for a rep or in a stage."""
        env, r, s = self.env, self.rng["sales"], self.scenario.sales
        if _at is None:
            kind = self.kinds[int(self.acc.kind[i])]
            opp_id = self.ids.next("Q")
            amount = round(self._typical_order(kind) * s.deal_orders * float(r.lognormal(0, 0.3)), 2)
            step, slot = "waiting", self.rep_slots.request()
        else:
            kind, opp_id, amount, step, slot = _at["kind"], _at["opp_id"], _at["amount"], _at["step"], _at["slot"]
        with slot:
            if step == "waiting":
                yield RESUMED if _at is not None else slot
                rep = min(self.rep_load, key=lambda k: (self.rep_load[k], k))
                self.rep_load[rep] += 1
                row = OPP.row(opportunity_id=opp_id, account_id=self.acc_id(i), lead_id=lead_id, rep_id=rep,
                              deal_type=kind_of_deal, amount=amount, created_at=env.now, stage="qualified",
                              closed_at=None, lost_reason=None, won_amount=None, probability=None,
                              expected_close=None)   # (the stage and the rep's forecast are set as it enters it)
                self.t.opportunities.append(row)
                outcome, stages, resumed = "won", OPEN_STAGES, False
            else:                   # resumed in a stage
                rep, row, outcome, resumed = _at["rep"], _at["row"], _at["outcome"], True
                stages = OPEN_STAGES[OPEN_STAGES.index(_at["stage"]):]
            for stage in stages:
                if resumed:
                    resumed = False
                    yield RESUMED
                else:
                    row[OPP.stage] = stage
                    row[OPP.probability], row[OPP.expected_close] = self._forecast(rep, stage)
                    self.t.stage_history.append((opp_id, stage, env.now))
                    days = float(s.stage_days[stage].draw(r))
                    for kind_of_act, per_week in s.activities_per_week.items():
                        for at in np.sort(env.now + r.random(r.poisson(per_week * days / 7)) * days * MIN_PER_DAY).tolist():
                            self.t.activities.append((self.ids.next("V"), rep, self.acc_id(i), opp_id, kind_of_act, at))
                    if stage == "proposal":
                        disc = float(np.clip(s.quote_discount.draw(r), 0, 0.5))
                        # the quote is what puts a deal in "proposal": it goes out as the stage is entered
                        self.t.quotes.append((self.ids.next("R"), opp_id, env.now, amount, round(disc, 4),
                                              round(amount * (1 - disc), 2), self.clock.date(env.now + 30 * MIN_PER_DAY)))
                        amount = round(amount * (1 - disc), 2)
                    step = "stage"
                    yield env.timeout(days * MIN_PER_DAY)
                if r.random() >= s.advance[stage]:
                    outcome = "lost"
                    break
            self.rep_load[rep] -= 1
        row[OPP.stage], row[OPP.closed_at] = outcome, env.now
        row[OPP.probability], row[OPP.expected_close] = float(outcome == "won"), env.now
        self.t.stage_history.append((opp_id, outcome, env.now))
        if outcome == "lost":
            reasons = list(s.lost_reasons)
            w = np.array([s.lost_reasons[x] for x in reasons])
            row[OPP.lost_reason] = reasons[r.choice(len(reasons), p=w / w.sum())]
            return
        row[OPP.won_amount] = amount
        if env.now >= self.horizon:
            return
        self.t.commissions.append((opp_id, rep, round(amount * s.commission_rate, 2), env.now))
        scale = amount / max(self._typical_order(kind), 1e-9)
        self.t.special_orders.append(SpecialOrder(i, env.now, "deal", None, opp_id, 0.0, scale, -1))
        a = self.acc
        if not np.isfinite(a.since[i]):  # a prospect becomes a customer
            a.since[i] = a.epoch_start[i] = env.now
            self._churn_clock(np.array([i]), env.now, self.rng["accounts"])
            self.customer_since[i] = self.clock.date(env.now)
            self._start_life(np.array([i]))

    def _forecast(self, rep: str, stage: str) -> tuple[float, float]:
        """What the rep enters in the CRM on reaching ``stage``: a win probability (the stage's
        default, shifted by the rep's bias, in steps of 5 %) and an expected close date (the mean
        days of the stages still to go)."""
        s = self.scenario.sales
        p = min(0.95, max(0.05, round((s.stage_probability[stage] + self.rep_optimism[rep]) * 20) / 20))
        to_go = sum(s.stage_days[x].mean for x in OPEN_STAGES[OPEN_STAGES.index(stage):])
        return p, self.env.now + to_go * MIN_PER_DAY

    def win_probability(self, stage: str) -> float:
        """The true chance that an opportunity now in ``stage`` is won: it must clear every stage
        still to go (ground truth for forecasting exercises; 1 or 0 once closed)."""
        if stage in CLOSED_STAGES:
            return float(stage == "won")
        return float(np.prod([self.scenario.sales.advance[x] for x in OPEN_STAGES[OPEN_STAGES.index(stage):]]))
