"""The purchase streams and what is made of them at the end: the orders (the streams cut by churn, with
the orders from deals, campaigns and first purchases) and their lines, and the ground truth per account.
Part of :class:`~crmlab.simulator.engine.Simulation` (a mixin)."""
from __future__ import annotations

import numpy as np

from crmlab.vocab import CHURN_CAUSES, VALUE_TIERS

from .purchases import MIN_PER_DAY, MIN_PER_YEAR, order_lines
from .rng import day_stream
from . import layouts as L
from .records import OrderLines, Orders, SpecialOrder, filled


class OrderBook:
    """The purchase streams and the orders of a :class:`~crmlab.simulator.engine.Simulation`."""

    def _last_purchase(self, now: float) -> np.ndarray:
        """Minute of each account's last purchase before ``now`` (−inf if none), as the CRM sees it."""
        last = np.full(self.acc.n, -np.inf)
        owner, t = self._drawn()
        ok = (t < now) & self._valid(owner, t)
        np.maximum.at(last, owner[ok], t[ok])
        if self.t.special_orders:
            who, when = np.array([(row.account, row.minute) for row in self.t.special_orders]).T
            before = when < now
            np.maximum.at(last, who[before].astype(np.int64), when[before])
        return last

    def _drawn(self) -> tuple[np.ndarray, np.ndarray]:
        """Every purchase drawn so far (owner, minute), before cutting by churn."""
        if not self.purchase_segments:
            return np.zeros(0, np.int64), np.zeros(0)
        self.purchase_segments = [(np.concatenate([x[0] for x in self.purchase_segments]),
                                   np.concatenate([x[1] for x in self.purchase_segments]))]
        return self.purchase_segments[0]

    def _valid(self, owner, t) -> np.ndarray:
        """A drawn purchase happens if the customer had not churned (from dissatisfaction) before it;
        purchases of an earlier life (before a win-back) count within that life."""
        a = self.acc
        ok = (t < a.churn_at[owner]) & (t >= a.epoch_start[owner])
        if a.past_epochs:
            lives: dict[int, list] = {}
            for i, start, end in a.past_epochs:
                lives.setdefault(i, []).append((start, end))
            sel = np.flatnonzero(np.isin(owner, list(lives)))
            for j, i, tt in zip(sel.tolist(), owner[sel].tolist(), t[sel].tolist()):
                if any(start <= tt < end for start, end in lives[i]):
                    ok[j] = True
        return ok

    # -- at the end (or at a snapshot): orders from the purchase streams, cut by churn ------------------
    def _orders(self, lines: bool = True):
        """The orders before the end of the run (its horizon, or a snapshot's day): the purchase streams cut
        by churn, and the orders that came from deals, campaigns and first purchases, in time order; with
        ``lines``, their lines too (the orders are the same without them). Each order's contact and lines
        are drawn from its day's own generator (:func:`~crmlab.simulator.rng.day_stream`), so an order has
        the same lines in the company's database as of any later day."""
        a, end = self.acc, self.horizon
        owners, times, src, camp, opp, disc, scale, member = [], [], [], [], [], [], [], []
        owner, t = self._drawn()
        ok = self._valid(owner, t) & (t < end)
        owners.append(owner[ok]); times.append(t[ok])
        k = int(ok.sum())
        src.append(filled(k, "repeat")); camp.append(filled(k, None))   # one shared object, not k copies
        opp.append(filled(k, None)); disc.append(np.zeros(k)); scale.append(np.ones(k))
        member.append(np.full(k, -1))
        special = [row for row in self.t.special_orders if row.minute < end]   # decided ahead, not come yet
        if special:
            sp = SpecialOrder(*zip(*special))      # as columns
            owners.append(np.array(sp.account)); times.append(np.array(sp.minute, float))
            src.append(np.array(sp.source, object)); camp.append(np.array(sp.campaign, object))
            opp.append(np.array(sp.opportunity, object)); disc.append(np.array(sp.discount, float))
            scale.append(np.array(sp.scale, float))
            member.append(np.array(sp.member))
        owner = np.concatenate(owners).astype(np.int64)
        t = np.concatenate(times)
        order = np.lexsort((owner, t))
        owner, t = owner[order], t[order]
        src, camp, opp = (np.concatenate(x)[order] for x in (src, camp, opp))
        disc, scale, member = (np.concatenate(x)[order] for x in (disc, scale, member))
        ids = self.ids.block("O", owner.size)
        # the orders are in time order: each day's are one run [starts[d], stops[d])
        day = (t // MIN_PER_DAY).astype(np.int64)
        cut = np.flatnonzero(np.diff(day)) + 1
        starts, stops = np.r_[0, cut].astype(np.int64), np.r_[cut, day.size].astype(np.int64)
        gens = [day_stream(self.seed, "lines", int(day[s])) for s in starts.tolist()] if day.size else []
        pick = np.zeros(owner.size, np.int64)
        for g, s, e in zip(gens, starts.tolist(), stops.tolist()):
            pick[s:e] = g.integers(0, 1 << 30, e - s)
        at = a.first_contact[owner].astype(np.int64) + pick % a.n_contacts[owner].astype(np.int64)  # the ordering contact
        self.t.orders = Orders(ids, owner, at, t, src, camp, opp, disc)
        placed = self.t.campaign_members.cols[L.CAMPAIGN_MEMBERS.order_id]
        for j in np.flatnonzero(member >= 0).tolist():
            placed[member[j]] = ids[j]
        if not lines:
            return
        kinds = a.kind[owner].astype(np.int64)
        pos = {p: i for i, p in enumerate(self.products)}
        catalogues = [np.array([pos[p] for p in kind.product_mix], np.int16) for kind in self.kinds]
        lines = []
        for g, s, e in zip(gens, starts.tolist(), stops.tolist()):   # the day's orders, kind by kind
            for kj in np.unique(kinds[s:e]).tolist():
                kind = self.kinds[kj]
                sel = s + np.flatnonzero(kinds[s:e] == kj)
                o_idx, nums, prods, qty = order_lines(g, sel.size, kind.product_mix, kind.lines_per_order,
                                                      kind.quantity)
                rows = sel[o_idx].astype(np.int32)
                qty = np.maximum(np.round(qty * scale[rows]).astype(np.int32), 1)
                lines.append((rows, nums.astype(np.int16), catalogues[kj][prods], qty))
        if lines:
            rows, nums, prods, qty = (np.concatenate([x[j] for x in lines]) for j in range(4))
        else:
            rows, nums, prods, qty = (np.zeros(0, np.int32), np.zeros(0, np.int16), np.zeros(0, np.int16),
                                      np.zeros(0, np.int32))
        del lines
        # in key order (order, line number): an order's lines are numbered 1…k, so each line's place is known
        count = np.bincount(rows, minlength=owner.size)
        o = np.empty(rows.size, np.int64)
        o[(np.cumsum(count) - count)[rows] + nums - 1] = np.arange(rows.size)
        rows, nums, prods, qty = rows[o], nums[o], prods[o], qty[o]
        catalogue = list(self.products.values())
        # numpy columns, not a tuple per line: millions of lines stay small until written a chunk at a time
        self.t.order_lines = OrderLines(rows, nums, prods, qty,
                                        np.round(np.array([v.unit_price for v in catalogue]) * self.money, 2),
                                        np.round(np.array([v.unit_cost for v in catalogue]) * self.money, 2), disc)

    def _latent(self):
        """The ground truth per account, as columns: tier by purchase rate against the kind's mean,
        the latent traits, and when and why a customer was lost within the run."""
        a, kinds = self.acc, self.kinds
        kind = a.kind.astype(np.int64)
        rel = a.rate / np.array([k.orders_per_year.mean for k in kinds])[kind]
        high, mid, low = VALUE_TIERS
        tier = np.where(rel >= 1.3, high, np.where(rel < 0.7, low, mid)).astype(object)
        gone = np.minimum(a.churn_at, a.died_at)
        lost = (gone < self.horizon) & np.isfinite(a.since)
        dissatisfaction, dropout = CHURN_CAUSES
        cause = np.where(lost, np.where(a.churn_at <= a.died_at, dissatisfaction, dropout), None)
        self.t.latent = (list(a.ids), tier.tolist(), a.rate.tolist(), a.dropout.tolist(), a.service.tolist(),
                         a.propensity.tolist(), (a.hazard * MIN_PER_YEAR).tolist(), a.sat.tolist(),
                         np.where(lost, gone, np.nan).tolist(), cause.tolist())
