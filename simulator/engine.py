"""The market run: scenario + seed → the records of a year (or more) of CRM life.

Time is in minutes from the scenario's start date (midnight). The design, measured in
``docs/design.md``: what does not contend for anything (a customer's purchases, when they need
service) is drawn with numpy up front; what contends for people (callers for agents and managers,
opportunities for sales reps) runs in SimPy as plain generator processes. Feedback closes the loop
as the run goes: every service experience moves the customer's satisfaction, satisfaction drives the
churn hazard, churn cuts later purchases and contacts; promoters bring referrals; lapsed customers can
be won back.

:class:`Simulation` is also the stepping API: ``run(until_day)``, change the :class:`Policy`, run on.
All randomness comes from named streams derived from the one seed (simulator/rng.py).

The run's rooms, each a mixin of :class:`Simulation` (its state is set up here, in ``__init__``):

- simulator/population.py — the accounts, their contacts and latent traits; a customer's life; the churn hazard
- simulator/service.py — the service centre and the service contacts, from the first attempt to resolution
- simulator/sales.py — lead sources, referrals, upsells and the deals through the pipeline
- simulator/marketing.py — campaigns and the annual survey
- simulator/orders.py — the purchase streams, and at the end the orders, their lines and the ground truth
- simulator/policy.py — what a manager may change between steps
- simulator/clock.py, simulator/records.py — calendar time; how the rows and per-account state are kept
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import simpy

from . import layouts as L
from .clock import Clock
from .marketing import Marketing
from .orders import OrderBook
from .people import Directory
from .policy import Policies, Policy
from .population import Population
from .purchases import MIN_PER_DAY, Season
from .records import Accounts, Columns, Ids, OrderLines, Orders, Serials, Tables, bulk
from .rng import STREAMS, streams
from .sales import Sales
from .scenario import Scenario
from .service import Service

# (Policy, Clock, Tables, Accounts … are also named here: a run saved by an older build names them engine.X, and
# is loaded so as to be refused with a clear message, simulator/checkpoint.py)
__all__ = ["SIMULATOR_VERSION", "Simulation", "Policy", "Clock", "Tables", "Accounts", "Ids", "Orders", "OrderLines",
           "Serials", "Columns", "STREAMS", "streams", "bulk"]

SIMULATOR_VERSION = "8"  # bump when the same scenario + seed would give other data (8: each day's order lines
#                          drawn from that day's own generator, so a snapshot as of day k holds the same orders)


class Simulation(Population, Service, Sales, Marketing, OrderBook, Policies):
    """One run. ``run(until_day)`` advances it; ``policy`` may change between steps; ``finish()``
    completes the run and returns the tables. Same scenario, seed and policy changes ⇒ same data."""

    @bulk()
    def __init__(self, scenario: Scenario, seed: int, progress: Callable[[float], None] | None = None,
                 tables: frozenset[str] | None = None):
        self.scenario, self.seed = scenario, int(seed)
        # the tables the run will be saved with (None: all): what only other tables need is not built at the end
        self.tables = None if tables is None else frozenset(tables)
        head = scenario.scenario
        self.rng = streams(self.seed)
        self.clock = Clock(scenario)
        self.horizon = head.days * MIN_PER_DAY
        self.season = Season(head.start_date, head.days + 31, scenario.seasonality.get("month"),
                             scenario.seasonality.get("weekday"))
        self.kinds = list(scenario.customer_kinds)
        self.kind_index = {k.id: i for i, k in enumerate(self.kinds)}
        self.kind_business = np.array([k.business for k in self.kinds], bool)   # per kind index: an organisation
        self.products = {p.id: p for p in scenario.products}
        self.money = head.currencies[head.locale].per_base
        self.directory = Directory(head.locale, self.rng["people"])
        n = head.customers
        big = max(n * 3, 1000)
        self.ids = Ids({"A": max(4, len(str(big))), "C": max(5, len(str(big * 3))), "O": max(6, len(str(big * 60))),
                        "T": max(6, len(str(big * 20))), "K": max(6, len(str(big * 20))), "L": 5, "Y": 5,
                        "Q": 5, "V": 6, "M": 5, "R": 6, "G": 2, "S": 2, "X": 2})
        self.t = Tables()
        self.acc = Accounts()
        self.contact_ids: list[str] = []          # every contact person's id; an account's are consecutive
        self.pool, self.pool_next, self.pool_feed = None, 0, 0   # contacts of small batches (:meth:`_join_pool`)
        self.purchase_segments: list[tuple[np.ndarray, np.ndarray]] = []  # (account, minute) as drawn
        self.policy = Policy(staffing=tuple(scenario.service.staffing) if scenario.service.staffing else None,
                             priority={k.id: k.priority for k in self.kinds},
                             recovery=dict(scenario.complaints.policy))
        self._policy_in_force()
        sat = scenario.satisfaction   # what every contact's CSAT and satisfaction use, as plain values
        self.feel = (sat.base_csat, sat.wait_penalty_per_minute, sat.memory, sat.churn_sensitivity)
        self.progress = progress
        self.customer_since: dict[int, str] = {}  # prospects won during the run
        self.reasons = list(scenario.service.reasons)
        self.org_names: set[str] = set()          # every organisation's name so far (each its own)
        self.org_next: dict[tuple[str, str], int] = {}   # (template, city) → the next part of the city to try
        self.duplicates: dict[int, int] = {}      # a second record of an organisation → its first (truth)
        # what is decided ahead of its time (a batch of leads): when each comes true, so that a snapshot as of an
        # earlier day shows the lead still open and no account yet
        self.made_at: dict[int, float] = {}       # an account made ahead → the minute it enters the CRM
        self.lead_decided: dict[str, float] = {}  # a lead decided ahead → the minute it is qualified or not
        self.ticket_id, self.call_id, self.complaint_id = self.ids.maker("T"), self.ids.maker("K"), self.ids.maker("Y")
        self.causes = list(scenario.complaints.causes)
        self.finished = False
        self.contact_draws = None                 # the columns of :meth:`_draws`, made on first use

        self.campaigns = [c for c in scenario.campaigns if c.start_day < head.days]  # within the run
        self.env = simpy.Environment()

        self._open_service_centre()
        if scenario.sales:
            self._open_sales()

        self._initial_accounts()
        for src in scenario.acquisition.sources:
            self.env.process(self._leads(src))
        if scenario.acquisition.referrals_per_promoter_year > 0:
            self.env.process(self._referrals())
        if scenario.sales and scenario.sales.upsell_per_year > 0:
            self.env.process(self._upsells())
        for c in self.campaigns:
            self.env.process(self._campaign(c))
        self.env.process(self._surveys())

    # -- stepping API ---------------------------------------------------------------------------
    def checkpoint(self, path) -> None:
        """Save the run as it stands, between steps, to resume it later (``simulator.resume(path)``): a
        resumed run goes on exactly as this one would (simulator/checkpoint.py)."""
        from .checkpoint import save_run
        save_run(self, path)

    def __getstate__(self) -> dict:
        # the progress callback belongs to whoever runs it; the contact draws' functions are made on first use
        return {**self.__dict__, "progress": None, "contact_draws": None}

    @bulk()
    def run(self, until_day: float | None = None) -> None:
        """Advance the run to the start of day ``until_day`` (default: the end of the horizon)."""
        if self.finished:
            raise RuntimeError("this run is finished")
        until = self.horizon if until_day is None else min(float(until_day) * MIN_PER_DAY, self.horizon)
        if until < self.env.now:
            raise ValueError(f"the run is already at day {self.env.now / MIN_PER_DAY:g}")
        step = MIN_PER_DAY * 7
        while self.env.now < until:
            self.env.run(until=min(until, self.env.now + step))
            if self.progress:
                self.progress(self.env.now / self.horizon)

    @property
    def day(self) -> float:
        return self.env.now / MIN_PER_DAY

    def kpis(self) -> dict:
        """Service and customer figures so far: what a manager would look at between steps."""
        C = L.CALLS
        calls = [c for c in self.t.calls if c[C.callback_of] != "escalation"]  # calls to agents
        answered = [c for c in calls if not c[C.abandoned]]
        sla = self.scenario.service.sla_seconds / 60
        alive = self._alive_now()
        return {
            "day": self.day, "calls": len(calls),
            "abandon_rate": (len(calls) - len(answered)) / len(calls) if calls else 0.0,
            "service_level": sum(1 for c in answered if c[C.answered_at] - c[C.arrived_at] <= sla) / len(calls)
            if calls else 1.0,
            "mean_wait_min": float(np.mean([c[C.answered_at] - c[C.arrived_at] for c in answered])) if answered else 0.0,
            "active_customers": int(alive.sum()), "mean_satisfaction": float(self.acc.sat[alive].mean()) if alive.any() else 0.0,
            "complaints": len(self.t.complaints),
        }

    def snapshot(self) -> "Simulation":
        """The company as it stands now — at the start of a day — as a finished run of its own, to save
        (``save(sim.snapshot(), "crm.db")``): the records up to now, what is under way still open, what was
        decided ahead of its time not come true yet. This run goes on untouched; an order has the same id and
        lines in every later snapshot and in the finished run."""
        if self.finished:
            raise RuntimeError("this run is finished")
        if self.env.now % MIN_PER_DAY:
            raise ValueError(f"a snapshot is taken at the start of a day, not at day {self.day:g}")
        from .checkpoint import copy_run
        twin = copy_run(self)
        twin.horizon = self.env.now
        twin.finish()
        return twin

    @bulk()
    def finish(self) -> Tables:
        if not self.finished:
            self.run()  # the data is a snapshot at the horizon: what is under way stays open
            if self.builds("orders"):
                self._orders(lines=self.builds("order_lines"))
            self._latent()
            self.finished = True
        return self.t

    def builds(self, table: str) -> bool:
        """Whether the run's data will include ``table`` (tables asked for come with the tables their keys
        point at: ``order_lines`` and ``campaign_members`` bring ``orders``)."""
        return self.tables is None or table in self.tables
