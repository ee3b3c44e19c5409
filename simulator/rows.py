"""Each table's rows as the CRM shows them at the snapshot (the run's end: its horizon, or the day of
:meth:`Simulation.snapshot`), as columns in key order, a chunk
at a time (:class:`Rows`): what simulator/store.py writes to SQLite or Parquet and the benchmark's storage
floor measures. Columns are named and ordered by simulator/layouts.py."""
from __future__ import annotations

import datetime as dt
import hashlib
from operator import itemgetter
from typing import Iterator, Sequence

import numpy as np

from . import layouts as L
from .engine import SIMULATOR_VERSION, Simulation
from .purchases import MIN_PER_DAY
from .records import take, bulk

CHUNK = 200_000     # rows handed to SQLite (or Parquet) at a time: millions of lines never exist as tuples at once


class Rows:
    """Each table's rows as columns (lists, ready for SQLite), in key order, a chunk at a time: a method
    per table, named after it, yielding tuples of equal-length columns. The records are the snapshot the
    CRM shows at the run's end: what happens later is not known yet (a ticket resolved after the snapshot is
    still open; a survey answered later is missing; a lead decided ahead of its time is still open and its
    account not there yet)."""

    def __init__(self, sim: Simulation, reveal_seed: bool = True):
        self.sim, self.reveal_seed = sim, reveal_seed
        self.end = sim.horizon
        self.later = later_accounts(sim)        # accounts made ahead that have not entered the CRM by the end
        head = sim.scenario.scenario
        self.money = head.currencies[head.locale]

    def __call__(self, table: str) -> Iterator[tuple[Sequence, ...]]:
        return getattr(self, table)()

    def _stamped(self, rows: list, layout: L.Layout, key: tuple[str, ...] | None = None, stamp: tuple[str, ...] = ()):
        """Rows (tuples or lists, in ``layout``'s order) sorted by their key columns, turned into columns, with
        the float-minute columns ``stamp`` as ISO text (vectorised)."""
        if key is not None:
            rows = sorted(rows, key=itemgetter(*layout.places(*key)))
        if not rows:
            return
        cols = list(zip(*rows))
        for c in layout.places(*stamp):
            cols[c] = self.sim.clock.stamps(cols[c])
        yield tuple(cols)

    # lookups and people
    def meta(self):
        sim, s, head = self.sim, self.sim.scenario, self.sim.scenario.scenario
        days = int(sim.horizon // MIN_PER_DAY)       # the scenario's days, or a snapshot's day
        snapshot = head.start_date + dt.timedelta(days=days)
        meta = {
            "scenario": head.id, "title_zh": head.title_zh, "title_en": head.title_en,
            "data_id": data_id(sim), "locale": head.locale, "customers": str(head.customers), "days": str(days),
            "currency": self.money.code, "start_date": head.start_date.isoformat(), "snapshot_date": snapshot.isoformat(),
            "profit_threshold": f"{round(head.profit_threshold * self.money.per_base, 2):g}",
            "sla_seconds": f"{s.service.sla_seconds:g}", "sla_target": f"{s.service.sla_target:g}",
            "open_hour": f"{s.service.open_hour:g}", "close_hour": f"{s.service.close_hour:g}",
            "simulator_version": SIMULATOR_VERSION,
        }
        if self.reveal_seed:
            meta["seed"] = str(sim.seed)
        yield from self._stamped(sorted(meta.items()), L.META)

    def account_kinds(self):
        yield from self._stamped([(k.id, k.name_zh, k.name_en) for k in self.sim.scenario.customer_kinds], L.ACCOUNT_KINDS)

    def lead_sources(self):
        s, per = self.sim.scenario, self.money.per_base
        sources = [(x.id, x.name_zh, x.name_en, round(x.cost_per_lead * per, 2)) for x in s.acquisition.sources]
        if s.acquisition.referrals_per_promoter_year > 0:
            sources.append(("referral", "老客户推荐", "Referral by a customer", 0.0))
        yield from self._stamped(sources, L.LEAD_SOURCES)

    def accounts(self):
        since, at = self.sim.customer_since, L.ACCOUNTS.customer_since   # (the last column: prospects won since)
        later = self.later
        yield from self._stamped([row[:at] + (since.get(i, row[at]),) for i, row in enumerate(self.sim.t.accounts)
                                  if i not in later], L.ACCOUNTS)

    def contacts(self):
        contacts = self.sim.t.contacts
        if self.later:
            gone, by = {self.sim.acc.ids[i] for i in self.later}, L.CONTACTS.account_id
            contacts = [c for c in contacts if c[by] not in gone]
        yield from self._stamped(contacts, L.CONTACTS)

    def products(self):
        per = self.money.per_base
        yield from self._stamped([(p.id, p.name_zh, p.name_en, p.category, round(p.unit_price * per, 2),
                                   round(p.unit_cost * per, 2)) for p in self.sim.scenario.products], L.PRODUCTS)

    def campaigns(self):
        sim, per = self.sim, self.money.per_base
        yield from self._stamped([(c.id, c.name_zh, c.name_en, c.channel, sim.clock.date(c.start_day * 1440),
                                   sim.clock.date((c.start_day + c.days) * 1440), c.offer_zh, c.offer_en, c.discount,
                                   round(c.cost_per_contact * per, 2)) for c in sim.campaigns], L.CAMPAIGNS)

    def reps(self):
        yield from self._stamped(self.sim.t.reps, L.REPS)

    # sales
    def leads(self):
        end, decided, Ld = self.end, self.sim.lead_decided, L.LEADS
        leads = []
        for row in self.sim.t.leads:
            if row[Ld.created_at] >= end:
                continue                                      # (a month's leads are drawn when it starts)
            if decided.get(row[Ld.lead_id], -1.0) >= end:     # decided ahead, not yet
                row = list(row)
                row[Ld.status], row[Ld.qualified_at], row[Ld.account_id] = "open", None, None
            leads.append(row)
        yield from self._stamped(leads, Ld, ("lead_id",), ("created_at", "qualified_at"))

    def opportunities(self):
        yield from self._stamped(self.sim.t.opportunities, L.OPPORTUNITIES, ("opportunity_id",),
                                 ("created_at", "closed_at", "expected_close"))

    def stage_history(self):
        yield from self._stamped(self.sim.t.stage_history, L.STAGE_HISTORY, ("opportunity_id", "stage"), ("entered_at",))

    def quotes(self):
        at = L.QUOTES.quoted_at
        yield from self._stamped([q for q in self.sim.t.quotes if q[at] <= self.end], L.QUOTES, ("quote_id",), ("quoted_at",))

    def activities(self):
        at = L.ACTIVITIES.done_at
        yield from self._stamped([a for a in self.sim.t.activities if a[at] <= self.end], L.ACTIVITIES, ("activity_id",),
                                 ("done_at",))

    def commissions(self):
        yield from self._stamped(self.sim.t.commissions, L.COMMISSIONS, ("opportunity_id",), ("earned_at",))

    # orders, a chunk at a time
    def orders(self):
        sim, o = self.sim, self.sim.t.orders
        acc_ids, contact_ids = sim.acc.ids, sim.contact_ids
        for lo in range(0, len(o), CHUNK):
            part = slice(lo, lo + CHUNK)
            yield (o.ids[part], take(acc_ids, o.account[part].tolist()), take(contact_ids, o.contact[part].tolist()),
                   sim.clock.stamps(o.minute[part]), o.source[part].tolist(), o.campaign[part].tolist(),
                   o.opportunity[part].tolist())

    def order_lines(self):
        sim, lines = self.sim, self.sim.t.order_lines
        ids, product_ids = sim.t.orders.ids, list(sim.products)
        for lo in range(0, len(lines), CHUNK):
            part = slice(lo, lo + CHUNK)
            order = lines.order[part]
            first = int(order[0])                   # lines are in order: a chunk's orders are one run of ids
            price, cost = lines.paid(part)
            yield (take(ids[first: int(order[-1]) + 1], (order - first).tolist()), lines.line_no[part].tolist(),
                   take(product_ids, lines.product[part].tolist()), lines.quantity[part].tolist(), price.tolist(),
                   cost.tolist())

    def campaign_members(self):
        end, M = self.end, L.CAMPAIGN_MEMBERS
        rows = [r if r[M.responded_at] is None or r[M.responded_at] < end else r[:M.responded_at] + (None, None)
                for r in self.sim.t.campaign_members if r[M.contacted_at] < end]   # (contacts spread over 3 days)
        yield from self._stamped(rows, M, ("campaign_id", "account_id"), ("contacted_at", "responded_at"))

    # service
    def agents(self):
        yield from self._stamped(self.sim.t.agents, L.AGENTS)

    def skills(self):
        sv = self.sim.scenario.service
        yield from self._stamped([("general", "通用坐席", "General agents"), ("escalation", "主管（升级处理）", "Managers (escalations)")]
                                 + [(x.skill, x.name_zh, x.name_en) for x in sv.teams], L.SKILLS)

    def routing(self):
        sv = self.sim.scenario.service
        team_of = {reason: x.skill for x in sv.teams for reason in x.reasons}
        yield from self._stamped([(reason, team_of.get(reason, "general")) for reason in sv.reasons], L.ROUTING)

    def tickets(self):
        end, tickets, T = self.end, [], L.TICKETS
        for row in self.sim.t.tickets:
            row = list(row)
            if row[T.first_response_at] is not None and row[T.first_response_at] > end:   # no first response yet:
                row[T.first_response_at], row[T.agent_id] = None, None                     # no agent either
            if (row[T.resolved_at] is not None and row[T.resolved_at] > end) or row[T.status] == "open":
                row[T.resolved_at], row[T.status] = None, "open"
            tickets.append(row)
        yield from self._stamped(tickets, T, ("ticket_id",), ("opened_at", "first_response_at", "resolved_at"))

    def calls(self):
        at = L.CALLS.ended_at
        yield from self._stamped([c for c in self.sim.t.calls if c[at] <= self.end], L.CALLS, ("call_id",),
                                 ("arrived_at", "answered_at", "ended_at"))

    def complaints(self):
        end, at = self.end, L.COMPLAINTS.closed_at   # (the last column: not closed yet at the snapshot)
        yield from self._stamped([c[:at] + ((None if c[at] is not None and c[at] > end else c[at]),)
                                  for c in self.sim.t.complaints], L.COMPLAINTS, ("complaint_id",),
                                 ("registered_at", "closed_at"))

    def csat(self):
        at = L.CSAT.answered_at
        yield from self._stamped([c for c in self.sim.t.csat if c[at] <= self.end], L.CSAT, ("ticket_id",), ("answered_at",))

    # the annual survey
    def surveys(self):
        yield from self._stamped(self.sim.t.surveys, L.SURVEYS, None, ("sent_at",))

    def survey_items(self):
        items = self.sim.scenario.satisfaction.survey_items
        yield from self._stamped([(i.id, i.text_zh, i.text_en) for i in items], L.SURVEY_ITEMS)

    def _responses(self) -> list:
        at = L.SURVEY_RESPONSES.answered_at
        return [r for r in self.sim.t.survey_responses if r[at] <= self.end]

    def survey_responses(self):
        yield from self._stamped(self._responses(), L.SURVEY_RESPONSES, None, ("answered_at",))

    def survey_answers(self):
        answered, by = {r[L.SURVEY_RESPONSES.response_id] for r in self._responses()}, L.SURVEY_ANSWERS.response_id
        yield from self._stamped([a for a in self.sim.t.survey_answers if a[by] in answered], L.SURVEY_ANSWERS)

    def verify_orders(self) -> None:
        """The foreign keys of the orders and their lines, verified on the positions they were built from
        (``PRAGMA foreign_key_check`` would look up some 7 million keys): the accounts' and contacts' rows are
        the lists the positions index, every position is inside its list, an order's contact is one of its
        account's, and campaigns and opportunities named are in their tables."""
        sim, t = self.sim, self.sim.t
        o, a = t.orders, sim.acc
        rows, prods = (t.order_lines.order, t.order_lines.product) if t.order_lines else (np.zeros(0), np.zeros(0))
        problems = []
        if [r[L.ACCOUNTS.account_id] for r in t.accounts] != a.ids:
            problems.append("the accounts' rows are not the accounts' list")
        if [r[L.CONTACTS.contact_id] for r in t.contacts] != sim.contact_ids:
            problems.append("the contacts' rows are not the contacts' list")
        if len(o) and not (0 <= o.account.min() and o.account.max() < a.n):
            problems.append("an order's account is outside the accounts")
        if rows.size and not (0 <= rows.min() and rows.max() < len(o)):
            problems.append("an order line's order is outside the orders")
        if rows.size and (np.diff(rows) < 0).any():
            problems.append("the order lines are not in their orders' order")
        if prods.size and not (0 <= prods.min() and prods.max() < len(sim.products)):
            problems.append("an order line's product is outside the catalogue")
        if set(o.campaign[o.campaign != None].tolist()) - {c.id for c in sim.campaigns}:   # noqa: E711 (elementwise)
            problems.append("an order names an unknown campaign")
        if set(o.opportunity[o.opportunity != None].tolist()) - {x[L.OPPORTUNITIES.opportunity_id] for x in t.opportunities}:   # noqa: E711
            problems.append("an order names an unknown opportunity")
        if len(o):
            first, count = a.first_contact[o.account].astype(np.int64), a.n_contacts[o.account].astype(np.int64)
            if not ((first <= o.contact) & (o.contact < first + count)).all():
                problems.append("an order's contact is not one of its account's")
        if problems:
            raise RuntimeError(f"simulator bug: {'; '.join(problems)}")


def later_accounts(sim: Simulation) -> set[int]:
    """The accounts made ahead of their time (a batch lead's conversion) that enter the CRM after the run's end."""
    return {i for i, at in sim.made_at.items() if at >= sim.horizon}


@bulk()
def data_id(sim: Simulation) -> str:
    """A name for the data a run produced (scenario, seed, simulator version) that does not give the
    seed away: per-student databases carry it instead of the seed, which would let anyone with the
    simulator recompute the ground truth."""
    key = f"{sim.scenario.scenario.id}\x1f{sim.seed}\x1f{SIMULATOR_VERSION}".encode()
    return hashlib.sha256(key).hexdigest()[:16]
