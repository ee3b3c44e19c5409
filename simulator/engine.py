"""The market run: scenario + seed → the records of a year (or more) of CRM life.

Time is in minutes from the scenario's start date (midnight). The design, measured in
``docs/design.md``: what does not contend for anything (a customer's purchases, when they need
service) is drawn with numpy up front; what contends for people (callers for agents and managers,
opportunities for sales reps) runs in SimPy as plain generator processes. Feedback closes the loop
as the run goes: every service experience moves the customer's satisfaction, satisfaction drives the
churn hazard, churn cuts later purchases and contacts; promoters bring referrals; lapsed customers can
be won back.

:class:`Simulation` is also the stepping API: ``run(until_day)``, change the :class:`Policy`, run on.
All randomness comes from named streams derived from the one seed.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import math
import operator
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import simpy

from .callcentre import RESUMED, CallCentre
from .people import Directory
from .purchases import MIN_PER_DAY, MIN_PER_YEAR, Season, order_lines, purchase_times
from crmlab.vocab import CHANNELS, OPEN_STAGES, SEVERITIES

from .scenario import Scenario

SIMULATOR_VERSION = "7"  # bump when the same scenario + seed would give other data
STREAMS = ("people", "accounts", "purchases", "lines", "service", "calls", "sales", "campaigns", "survey",
           "forecast")
NEUTRAL = 3.5            # satisfaction at which a customer churns at the kind's base rate
PROMOTER = 4.3           # satisfaction from which a customer recommends the company
CHANNEL_DELAY = {"email": 1.0, "messaging": 0.3, "chat": 0.02, "visit": 0.0}  # × ticket_hours
PHONE, VISIT = CHANNELS.index("phone"), CHANNELS.index("visit")
OWN_FEED = 10_000         # a batch of this many contacts gets a feed of its own (:meth:`Simulation._join_pool`)
COMPASS = ("North", "South", "East", "West", "Central", "Old Town", "Lakeside", "Riverside")   # en_US name parts
ZONES = ("高新区", "开发区", "新区", "东城区", "西城区", "南城区", "北城区", "经开区")              # zh_CN name parts


@contextlib.contextmanager
def bulk():
    """Pause Python's cyclic garbage collector for bulk work (also a decorator). A run keeps
    millions of rows alive and makes almost no reference cycles (measured: 10 objects collected
    in a 100k-customer run); each full collection rescans every row, which cost a quarter of the
    SimPy run (benchmarks/simulate_scale.py). Reference counting still frees everything else."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.freeze()     # what the bulk work made is long-lived (rows kept until saved): straight into the
            gc.unfreeze()   # oldest generation, not one young collection over every row on the way there
            gc.enable()


def streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent RNG streams, one per concern, all derived from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


@dataclass(frozen=True)
class Policy:
    """What a manager (or a student) may change between steps of a run."""
    staffing: tuple[int, ...] | None = None        # agents on duty per hour of day
    priority: dict[str, int] = field(default_factory=dict)   # customer kind → call priority (0 first)
    recovery: dict[str, str] = field(default_factory=dict)   # complaint severity → recovery action
    campaign_targets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # campaign → account ids


class Clock:
    """Minutes since the start date ⇄ calendar time and the service centre's opening hours."""

    def __init__(self, scenario: Scenario):
        head, sv = scenario.scenario, scenario.service
        self.start = dt.datetime.combine(head.start_date, dt.time())
        self.service = sv
        self.open_min, self.close_min = sv.open_hour * 60, sv.close_hour * 60
        days = head.days + 30
        weekday = (np.arange(days) + self.start.weekday()) % 7
        self.open_day = np.isin(weekday, sv.open_weekdays)
        # for each day, the next day (itself included) on which the centre opens
        nxt = np.full(days + 1, days + 7)
        for d in range(days - 1, -1, -1):
            nxt[d] = d if self.open_day[d] else nxt[d + 1]
        self.next_open_day = nxt

    def stamps(self, minutes) -> list:
        """ISO text 'YYYY-MM-DD HH:MM:SS' for an array of minutes (None for NaN/inf)."""
        m = np.asarray(minutes, float)
        ok = np.isfinite(m)
        sec = np.where(ok, np.round(m * 60), 0).astype("int64")
        txt = (np.datetime64(self.start, "s") + sec.astype("timedelta64[s]")).astype("U19")
        txt.view(np.uint32).reshape(-1, 19)[:, 10] = ord(" ")    # 'YYYY-MM-DDTHH:MM:SS': the T becomes a space
        out = txt.tolist()
        for j in np.flatnonzero(~ok).tolist():
            out[j] = None
        return out

    def date(self, minute: float) -> str:
        return (self.start + dt.timedelta(minutes=float(minute))).date().isoformat()

    def dates(self, minutes) -> list[str]:
        """:meth:`date` for an array of minutes, vectorised."""
        days = np.floor(np.asarray(minutes, float) / MIN_PER_DAY).astype("int64")
        return (np.datetime64(self.start.date(), "D") + days.astype("timedelta64[D]")).astype(str).tolist()

    def is_open(self, minute: float) -> bool:
        day, tod = divmod(minute, MIN_PER_DAY)
        return bool(self.open_day[int(day)]) and self.open_min <= tod < self.close_min

    def business_hours(self, minutes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Move contacts that need the centre open (calls, visits) into opening hours: the day moves
        to the next open day; the time of day follows the scenario's hourly profile, except for a
        share of contacts wanted while closed that come right after opening — the morning peak that
        makes the mean wait much larger than the median."""
        sv = self.service
        day = (minutes // MIN_PER_DAY).astype(np.int64)
        tod = minutes - day * MIN_PER_DAY
        was_open = self.open_day[np.minimum(day, len(self.open_day) - 1)] & (tod >= self.open_min) & (tod < self.close_min)
        later = np.where(tod >= self.close_min, day + 1, day)
        day = np.where(was_open, day, self.next_open_day[np.minimum(later, len(self.next_open_day) - 1)])
        # hour weights restricted to the open part of each hour
        hours = np.arange(24)
        open_part = np.clip(np.minimum(hours + 1, sv.close_hour) - np.maximum(hours, sv.open_hour), 0, 1)
        w = np.asarray(sv.hourly_profile if sv.hourly_profile else np.ones(24), float) * open_part
        hour = rng.choice(24, size=minutes.size, p=w / w.sum())
        start = np.maximum(hour, sv.open_hour) * 60
        within = start + rng.random(minutes.size) * open_part[hour] * 60
        deferred = ~was_open & (rng.random(minutes.size) < sv.deferred_share)
        first_hour = self.open_min + rng.random(minutes.size) * min(60.0, self.close_min - self.open_min)
        return day * MIN_PER_DAY + np.where(deferred, first_hour, within)


class Columns:
    """An append-only table kept as one list per column: no Python object per row. Campaign lists
    and survey answers add hundreds of thousands of rows in batches, and the garbage collector
    walks every row object a run keeps. Iterating gives the rows as tuples."""

    def __init__(self, width: int):
        self.cols = tuple([] for _ in range(width))

    def extend(self, *cols) -> None:
        for col, values in zip(self.cols, cols, strict=True):
            col.extend(values)

    def __len__(self) -> int:
        return len(self.cols[0])

    def __iter__(self):
        return zip(*self.cols)


class Serials:
    """Ids of consecutive numbers (O0000001 …) made when they are read: a million orders keep no string each."""

    def __init__(self, fmt: str, first: int, n: int):
        self.fmt, self.first, self.n = fmt, first, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k):
        if isinstance(k, slice):
            return list(map(self.fmt.__mod__, range(self.first, self.first + self.n)[k]))
        return self.fmt % range(self.first, self.first + self.n)[k]

    def take(self, idx: np.ndarray) -> list[str]:
        """The ids at positions ``idx`` (a numpy array)."""
        return list(map(self.fmt.__mod__, (np.asarray(idx, np.int64) + self.first).tolist()))


@dataclass
class Orders:
    """The orders in time order, as columns (made by :meth:`Simulation._orders`)."""
    ids: Serials
    account: np.ndarray          # place in the accounts
    contact: np.ndarray          # the ordering person, as a place in Simulation.contact_ids
    minute: np.ndarray
    source: np.ndarray           # 'repeat', 'first', 'deal', 'campaign' (object: shared strings)
    campaign: np.ndarray         # campaign id or None
    opportunity: np.ndarray      # opportunity id or None
    discount: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class OrderLines:
    """The orders' lines in key order (order, line number), as columns; prices are worked out when read."""
    order: np.ndarray            # place in the orders
    line_no: np.ndarray
    product: np.ndarray          # place in the catalogue (Simulation.products)
    quantity: np.ndarray
    list_price: np.ndarray       # per product: the catalogue's price and cost in the run's money
    unit_cost: np.ndarray
    discount: np.ndarray         # per order

    def __len__(self) -> int:
        return self.order.size

    def paid(self, part: slice) -> tuple[np.ndarray, np.ndarray]:
        """Unit price paid (after the order's discount) and unit cost of the lines ``part``."""
        product = self.product[part]
        return np.round(self.list_price[product] * (1 - self.discount[self.order[part]]), 2), self.unit_cost[product]


@dataclass
class Tables:
    """Rows as tuples, times as float minutes (stamped when written)."""
    accounts: list = field(default_factory=list)
    contacts: list = field(default_factory=list)
    agents: list = field(default_factory=list)
    reps: list = field(default_factory=list)
    leads: list = field(default_factory=list)
    opportunities: list = field(default_factory=list)
    stage_history: list = field(default_factory=list)
    quotes: list = field(default_factory=list)
    activities: list = field(default_factory=list)
    commissions: list = field(default_factory=list)
    campaign_members: Columns = field(default_factory=lambda: Columns(5))   # campaign, account, contacted, responded, order
    tickets: list = field(default_factory=list)
    calls: list = field(default_factory=list)
    complaints: list = field(default_factory=list)
    csat: list = field(default_factory=list)
    surveys: list = field(default_factory=list)
    survey_responses: list = field(default_factory=list)
    survey_answers: Columns = field(default_factory=lambda: Columns(3))     # response, item, answer
    # orders that are not part of a purchase stream:
    # (account, minute, source, campaign, opportunity, discount, size scale, campaign_members row or -1)
    special_orders: list = field(default_factory=list)
    # filled by finish()
    orders: Orders | None = None
    order_lines: OrderLines | None = None
    latent: tuple = ()    # columns: account, tier, rate, dropout, service, propensity, hazard, sat, lost at, cause


class Accounts:
    """Per-account state as growable numpy arrays (100k+ accounts without per-object overhead).
    ``view`` holds a memoryview of each array for the per-contact hot path: indexing one gives and
    takes plain floats, about twice as fast as a numpy scalar, and so is arithmetic on them."""

    COLS = ("kind", "rate", "dropout", "service", "propensity", "hazard", "sat", "churn_at", "died_at",
            "since", "epoch_start", "first_contact", "n_contacts")

    def __init__(self):
        self.n = 0
        self.ids: list[str] = []
        self.data = {c: np.zeros(1024) for c in self.COLS}
        self.view = {c: memoryview(a) for c, a in self.data.items()}
        self.past_epochs: list[tuple[int, float, float]] = []  # (account, start, end) before a win-back

    def __getstate__(self) -> dict:   # a saved run (simulator/checkpoint.py): memoryviews are made again
        return {k: v for k, v in self.__dict__.items() if k != "view"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.view = {c: memoryview(a) for c, a in self.data.items()}

    def add(self, ids: list[str], **cols) -> np.ndarray:
        k = len(ids)
        while self.n + k > len(self.data["kind"]):
            for c in self.COLS:
                self.data[c] = np.concatenate([self.data[c], np.zeros_like(self.data[c])])
                self.view[c] = memoryview(self.data[c])
        idx = np.arange(self.n, self.n + k)
        for c in self.COLS:
            self.data[c][idx] = cols.get(c, 0.0)
        self.ids.extend(ids)
        self.n += k
        return idx

    def __getattr__(self, name):
        if name in Accounts.COLS:
            return self.data[name][: self.n]
        raise AttributeError(name)


class Ids:
    """Sequential, zero-padded ids per prefix: deterministic and readable (A0001, O000042)."""

    def __init__(self, widths: dict[str, int]):
        self.widths, self.counters = widths, {}

    def maker(self, prefix: str) -> Callable[[], str]:
        """The next id of ``prefix`` at each call (per ticket and call: kept cheap)."""
        if prefix not in self.counters:
            self.counters[prefix] = itertools.count(1)
        count, fmt = self.counters[prefix], f"{prefix}%0{self.widths.get(prefix, 5)}d"
        return map(fmt.__mod__, count).__next__   # no Python frame per id

    def next(self, prefix: str) -> str:
        return self.maker(prefix)()

    def many(self, prefix: str, k: int) -> list[str]:
        make = self.maker(prefix)
        return [make() for _ in range(k)]

    def block(self, prefix: str, k: int) -> Serials:
        """The next ``k`` ids of ``prefix``, made when read (:class:`Serials`)."""
        first = next(self.counters.setdefault(prefix, itertools.count(1)))
        self.counters[prefix] = itertools.count(first + k)
        return Serials(f"{prefix}%0{self.widths.get(prefix, 5)}d", first, k)


class Simulation:
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
        self.ticket_id, self.call_id, self.complaint_id = self.ids.maker("T"), self.ids.maker("K"), self.ids.maker("Y")
        self.causes = list(scenario.complaints.causes)
        self.finished = False
        self.contact_draws = None                 # the columns of :meth:`_draws`, made on first use

        self.campaigns = [c for c in scenario.campaigns if c.start_day < head.days]  # within the run
        self.env = simpy.Environment()
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
        if scenario.sales:
            rep_ids = [f"S{i:02d}" for i in range(1, scenario.sales.reps + 1)]
            self.t.reps = list(zip(rep_ids, self.directory.names(len(rep_ids))))
            self.rep_load = {r: 0 for r in rep_ids}
            # each rep's forecast leans optimistic or cautious by a personal bias (truth only)
            bias = self.rng["forecast"].normal(0, scenario.sales.rep_optimism_sd, len(rep_ids))
            self.rep_optimism = dict(zip(rep_ids, bias.tolist()))
            self.rep_slots = simpy.Resource(self.env, capacity=scenario.sales.reps * scenario.sales.deals_per_rep)

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

    def set_policy(self, **changes) -> Policy:
        """Change the policy from now on, e.g. ``staffing=[…24…]``, ``recovery={"high": "refund"}``."""
        sv, cp = self.scenario.service, self.scenario.complaints
        if "staffing" in changes and changes["staffing"] is not None:
            st = tuple(int(x) for x in changes["staffing"])
            if len(st) != 24 or min(st) < 0 or max(st) > sv.agents:
                raise ValueError(f"staffing needs 24 values between 0 and {sv.agents} (the agent pool)")
            if self.policy.staffing is None:
                raise ValueError("this scenario has no staffing plan to change (set service.staffing)")
            changes["staffing"] = st
        for key, allowed, what in (("priority", None, "customer kind"), ("recovery", cp.recovery, "recovery action")):
            for k, v in changes.get(key, {}).items():
                if key == "priority" and (k not in self.kind_index or not 0 <= int(v) <= 9):
                    raise ValueError(f"priority: unknown kind '{k}' or priority outside 0–9")
                if key == "recovery" and (k not in SEVERITIES or v not in allowed):
                    raise ValueError(f"recovery: '{k}' → '{v}' (severities {SEVERITIES}, actions {list(allowed)})")
        merged = {k: ({**getattr(self.policy, k), **v} if isinstance(v, dict) else v) for k, v in changes.items()}
        if "campaign_targets" in merged:
            merged["campaign_targets"] = {c: tuple(v) for c, v in merged["campaign_targets"].items()}
        self.policy = replace(self.policy, **merged)
        self._policy_in_force()
        return self.policy

    def _policy_in_force(self) -> None:
        """What the contacts read of the policy, ready to use: the call priority per kind index, and per
        complaint severity the recovery action, its cost in the run's money and its net effect."""
        cp = self.scenario.complaints
        self.priority_of = [int(self.policy.priority.get(k.id, k.priority)) for k in self.kinds]
        self.recovery_of = {}
        for severity in SEVERITIES:
            action = self.policy.recovery.get(severity, cp.policy[severity])
            rec = cp.recovery[action]
            self.recovery_of[severity] = (action, round(rec.cost * self.money, 2), rec.effect - cp.penalty[severity])

    def kpis(self) -> dict:
        """Service and customer figures so far: what a manager would look at between steps."""
        calls = [c for c in self.t.calls if c[9] != "escalation"]  # calls to agents
        answered = [c for c in calls if not c[10]]
        sla = self.scenario.service.sla_seconds / 60
        alive = self._alive_now()
        return {
            "day": self.day, "calls": len(calls),
            "abandon_rate": (len(calls) - len(answered)) / len(calls) if calls else 0.0,
            "service_level": sum(1 for c in answered if c[8] - c[7] <= sla) / len(calls) if calls else 1.0,
            "mean_wait_min": float(np.mean([c[8] - c[7] for c in answered])) if answered else 0.0,
            "active_customers": int(alive.sum()), "mean_satisfaction": float(self.acc.sat[alive].mean()) if alive.any() else 0.0,
            "complaints": len(self.t.complaints),
        }

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

    # -- accounts -------------------------------------------------------------------------------
    def _initial_accounts(self):
        head, r = self.scenario.scenario, self.rng["accounts"]
        counts = _kind_counts([k.share for k in self.kinds], head.customers)
        kinds = np.repeat(np.arange(len(self.kinds)), counts)
        kinds = kinds[r.permutation(len(kinds))]
        created = [(head.start_date - dt.timedelta(days=int(d))).isoformat() for d in r.integers(30, 6 * 365, len(kinds))]
        idx = self._new_accounts(kinds, since=np.zeros(len(kinds)), created=created, source=None, lead=None, initial=True)
        # organisations entered twice: the second record (another department's) copies the name and city
        orgs = idx[[self.kinds[k].business for k in kinds.tolist()]]
        m = min(int(round(head.duplicate_share * orgs.size)) or int(head.duplicate_share > 0), orgs.size // 2)
        if m:
            originals = np.sort(r.choice(orgs, m, replace=False))
            rows = self.t.accounts
            names = [rows[i][1] for i in originals.tolist()]
            cities = [rows[i][3] for i in originals.tolist()]
            later = [(head.start_date - dt.timedelta(days=int(d))).isoformat() for d in r.integers(1, 3 * 365, m)]
            twins = self._new_accounts(self.acc.kind[originals].astype(int), since=np.zeros(m), created=later,
                                       source=None, lead=None, initial=True, names=names, cities=cities)
            self.duplicates = dict(zip(twins.tolist(), originals.tolist()))

    def _new_accounts(self, kinds: np.ndarray, since: np.ndarray, created: list[str], source, lead,
                      initial: bool = False, names: list[str] | None = None, prospect: bool = False,
                      cities: list[str] | None = None) -> np.ndarray:
        """Create accounts (with contacts and latent traits); customers start buying at ``since``.
        ``names`` are taken as given; otherwise an organisation is named from its kind's templates and
        its city, a name no other organisation has (:meth:`_org_name`)."""
        r, d = self.rng["accounts"], self.directory
        k = len(kinds)
        ids = self.ids.many("A", k)
        cities = d.pick_cities(k) if cities is None else list(cities)
        addresses = d.addresses(cities)
        people = d.names(k)
        since_dates = None if (prospect or initial) else self.clock.dates(since)
        loc = head_locale(self)
        # per kind, one vectorised draw of each trait (a scalar draw per account costs microseconds each)
        by_kind = [(j, kind, np.flatnonzero(kinds == j)) for j, kind in enumerate(self.kinds)]
        by_kind = [(j, kind, sel) for j, kind, sel in by_kind if sel.size]
        pick = r.random(k)                                   # name template of an organisation
        n_con = np.ones(k, np.int64)
        for _, kind, sel in by_kind:
            if kind.business:
                n_con[sel] = np.maximum(r.integers(kind.contacts.min, kind.contacts.max + 1, sel.size), 1)
        kind_of = [self.kinds[j] for j in np.asarray(kinds).tolist()]
        for i in range(k):
            kind = kind_of[i]
            if names is not None:
                name = names[i]
            elif kind.business:
                name = self._org_name(kind.name_templates[loc], pick[i], cities[i])
            else:
                name = people[i]
            cust_since = None if prospect else (created[i] if initial else since_dates[i])
            lead_id = lead[i] if isinstance(lead, list) else lead
            self.t.accounts.append((ids[i], name, kind.id, cities[i], addresses[i], created[i], source, lead_id,
                                    cust_since))
        # contacts
        cids = self.ids.many("C", int(n_con.sum()))
        cnames = d.names(len(cids))
        phones = d.phones(len(cids))
        serial = np.arange(len(self.t.contacts) + 1, len(self.t.contacts) + len(cids) + 1)
        emails = d.emails(serial)
        title_pick = r.random(len(cids)).tolist()
        pos = 0
        for i, m in enumerate(n_con.tolist()):
            kind = kind_of[i]
            titles = kind.contact_titles.get(loc) or ["-"]
            for j, cid in enumerate(cids[pos: pos + m]):
                nm = people[i] if not kind.business else cnames[pos + j]
                title = titles[int(title_pick[pos + j] * len(titles))]
                self.t.contacts.append((cid, ids[i], nm, title, phones[pos + j], emails[pos + j]))
            pos += m
        self.contact_ids.extend(cids)
        # latent traits
        rate, drop, serv, prop, hazard = (np.zeros(k) for _ in range(5))
        for _, kind, sel in by_kind:
            m = sel.size
            rate[sel] = kind.orders_per_year.draw(r, m)
            drop[sel] = kind.dropout.draw(r, m) if kind.dropout else 0.0
            serv[sel] = kind.service_per_year.draw(r, m)
            prop[sel] = kind.campaign_response.draw(r, m)
            hazard[sel] = -math.log(1 - kind.churn_per_year) / MIN_PER_YEAR
        sat0 = np.clip(self.scenario.satisfaction.start + r.normal(0, 0.4, k), 1, 5)
        start = np.asarray(since, float)
        if prospect:
            start = np.full(k, np.inf)
        first_contact = len(self.contact_ids) - len(cids) + np.concatenate([[0], np.cumsum(n_con)[:-1]])
        idx = self.acc.add(ids, kind=kinds, rate=rate, dropout=drop, service=serv, propensity=prop, hazard=hazard,
                           sat=sat0, churn_at=np.inf, died_at=np.inf, since=start, epoch_start=start,
                           first_contact=first_contact, n_contacts=n_con)
        self.acc.churn_at[idx] = start + r.exponential(1 / np.maximum(self._hazard(idx), 1e-300))
        if not prospect:
            self._start_life(idx)
        return idx

    def _org_name(self, templates: list[str], pick: float, city: str) -> str:
        """An organisation's name from its kind's templates in its city, one no other organisation of
        the run has: the picked template, else the next free one, else a part of the city (a zone in
        zh_CN, a compass point in en_US) with it. Two records of one organisation (a duplicate
        entered by another department) are made on purpose, never by chance."""
        taken = self.org_names
        k = len(templates)
        start = int(pick * k)
        for j in range(k):
            name = templates[(start + j) % k].format(city=city)
            if name not in taken:
                taken.add(name)
                return name
        zh = head_locale(self) == "zh_CN"
        parts = ZONES if zh else COMPASS
        key = (templates[start], city)
        first = self.org_next.get(key, 0)    # the parts tried before for this name are taken (names stay taken)
        for n, part in enumerate(itertools.chain(parts[first:], itertools.count(max(2, first - len(parts) + 2))), first):
            where = f"{city}{part}" if zh or n >= len(parts) else f"{part} {city}"
            name = templates[start].format(city=where)
            if name not in taken:
                taken.add(name)
                self.org_next[key] = n + 1
                return name
        raise AssertionError("unreachable")

    def _start_life(self, idx: np.ndarray, first_order: bool = False):
        """Draw purchases (until BG/NBD dropout) and service contacts for accounts from ``since``."""
        a = self.acc
        start = a.epoch_start[idx]
        end = np.full(idx.size, float(self.horizon))
        owner, t, died = purchase_times(self.rng["purchases"], a.rate[idx], a.dropout[idx], start, end, self.season)
        a.died_at[idx] = died
        self.purchase_segments.append((idx[owner], t))
        life_end = np.minimum(died, end)
        self._contacts(idx, start, life_end)

    def _hazard(self, idx):
        k = self.scenario.satisfaction.churn_sensitivity
        return self.acc.hazard[idx] * np.exp(k * (NEUTRAL - self.acc.sat[idx]))

    def _alive(self, i: int, now: float) -> bool:
        """A customer in their current life (a won-back customer's new life starts when they answer
        the win-back campaign: ``epoch_start``), not churned, not dropped out."""
        d = self.acc.view  # per-call hot path: index the arrays directly
        return d["epoch_start"][i] <= now < d["churn_at"][i] and now <= d["died_at"][i]

    def _alive_now(self) -> np.ndarray:
        """:meth:`_alive` for every account at once, now."""
        a, now = self.acc, self.env.now
        return (a.epoch_start <= now) & (a.churn_at > now) & (a.died_at > now)

    # -- service --------------------------------------------------------------------------------
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

    def _persons(self, idx: np.ndarray, pick: np.ndarray) -> list[str]:
        """For each account ``idx[k]``, the contact person at fraction ``pick[k]`` (in [0, 1)) of its list."""
        a = self.acc
        person = a.first_contact[idx].astype(np.int64) + (pick * a.n_contacts[idx]).astype(np.int64)
        return _take(self.contact_ids, person.tolist())

    def _draws(self, n: int) -> np.ndarray:
        """Everything random about ``n`` contacts, one row each (columns in the order :meth:`_contact`
        unpacks them), drawn at once: vectorised draws cost a fraction of one scalar draw each.
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

    def _contact_draw_columns(self) -> list[Callable[[np.random.Generator, int], np.ndarray]]:
        """The columns of :meth:`_draws`, in order, each a draw of ``n`` values (the scenario's numbers
        read once: a pydantic attribute costs more than a plain one)."""
        sv, sat, cp = self.scenario.service, self.scenario.satisfaction, self.scenario.complaints
        fcr, escalation, callback, answers = sv.first_contact_resolution, sv.escalation, sv.callback, sat.csat_response_rate
        patience, handle, ticket_hours, again = sv.patience_minutes, sv.handle_minutes, sv.ticket_hours, sv.callback_minutes
        causes, severities = _cdf(list(cp.causes.values())), _cdf([cp.severity[s] for s in SEVERITIES])
        noise = sat.noise_sd
        return [
            lambda r, n: r.random(n),                       # which of the account's contacts gets in touch
            lambda r, n: r.random(n),                       # which desk agent answers a written contact
            (lambda r, n: patience.draw(r, n)) if patience else (lambda r, n: math.inf),
            lambda r, n: handle.draw(r, n),                 # talking, or working on the ticket
            lambda r, n: ticket_hours.draw(r, n) * 60,      # first response of a written channel (× channel)
            lambda r, n: r.random(n) < fcr,
            lambda r, n: r.random(n) < escalation,          # if not resolved at once: to a manager …
            lambda r, n: handle.draw(r, n) * 1.5,           # … who takes longer,
            lambda r, n: ticket_hours.draw(r, n) * 60,      # … or a follow-up later
            lambda r, n: r.random(n) < callback,            # a caller who hung up tries again …
            lambda r, n: again.draw(r, n),                  # … after a while
            lambda r, n: _pick_cdf(r, causes, n),           # a complaint's cause and severity
            lambda r, n: _pick_cdf(r, severities, n),
            lambda r, n: r.normal(0, noise, n),             # CSAT: noise, answered or not, when
            lambda r, n: r.random(n) < answers,
            lambda r, n: r.exponential(120, n),
            lambda r, n: r.standard_exponential(n),         # churn clocks restarted after a hang-up …
            lambda r, n: r.standard_exponential(n),         # … and after the contact
        ]

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
        (pick_contact, pick_agent, patience, handle, first_hours, resolved_first, escalate, manager_handle,
         follow_up, calls_back, callback_after, cause, severity, noise, responds, response_after,
         restart_abandoned, restart) = draws.T
        n, a, sat = owner.size, self.acc, self.scenario.satisfaction
        acc_ids = a.ids
        handle = handle * self.reason_handle[reason]
        delay = first_hours * self.channel_delay[chan]
        phone = chan == PHONE
        agent = np.empty(n, object)                       # the desk agent of a written contact (None: a call)
        desk, first, size = self.desks
        written = np.flatnonzero(~phone)
        on = reason[written]
        agent[written] = desk[first[on] + (pick_agent[written] * size[on]).astype(np.int64)]
        resolved_first, escalate = resolved_first.astype(bool), escalate.astype(bool)
        penalty = np.where(resolved_first, 0.0, sat.unresolved_penalty + np.where(escalate, sat.escalation_penalty, 0))
        complaint = reason == self.complaint_reason
        names = self.names_of
        cause = np.where(complaint, names["cause"][cause.astype(np.int64)], None)
        return list(zip(
            _take(acc_ids, owner.tolist()), self._persons(owner, pick_contact), names["channel"][chan].tolist(),
            names["reason"][reason].tolist(),
            np.where(phone, names["route"][reason], None).tolist(),
            a.kind[owner].astype(np.int64).tolist(), patience.tolist(), handle.tolist(), delay.tolist(),
            (sat.wait_penalty_per_minute * np.minimum(delay, 600) / 20).tolist(),   # hours of waiting feel like
            agent.tolist(),                                                            # minutes on hold
            resolved_first.astype(np.int64).tolist(), (~resolved_first & escalate).astype(np.int64).tolist(),
            manager_handle.tolist(),
            np.where(resolved_first, 0.0, follow_up).tolist(), penalty.tolist(), calls_back.astype(bool).tolist(),
            callback_after.tolist(), cause.tolist(), names["severity"][severity.astype(np.int64)].tolist(),
            noise.tolist(), responds.astype(bool).tolist(), response_after.tolist(), restart_abandoned.tolist(),
            restart.tolist()))

    def _contact(self, i: int, row: tuple, _at: dict | None = None):
        """One service contact, from the first attempt to resolution; moves satisfaction. ``row``: the
        contact's row of :meth:`_rows`. The ticket row is recorded when the contact opens and completed
        when it closes (a snapshot in between shows it open). A caller who hung up may try again: a new
        attempt with new draws, the same ticket and caller.

        ``step`` says where the contact is, so that a run saved between steps resumes each contact from its
        saved locals (``_at``, simulator/checkpoint.py) at the yield it was waiting at."""
        env, (base_csat, wait_per_minute, memory, sensitivity) = self.env, self.feel
        (aid, contact, channel, reason_id, route, kind, patience, handle, delay, wait_pen, first_agent,
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
                    ticket = [self.ticket_id(), aid, contact, channel, reason_id, now, None, None, "open", 0, None, 0]
                    self.t.tickets.append(ticket)
                contact, tid = ticket[2], ticket[0]   # a new attempt after a hang-up: the same ticket and caller
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
                self.t.calls.append([call_id, tid, aid, contact, agent, reason_id, priority, now, answered, callback_of,
                                     agent is None, done])
                if agent is None:   # hung up
                    self._experience(i, restart_abandoned, delta=-self.scenario.satisfaction.abandon_penalty)
                    if not calls_back:
                        ticket[8] = "abandoned"
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
                    ticket[8] = "abandoned"
                    return
                row = self._rows(np.array([i]), np.array([PHONE]), np.array([self.reasons.index(reason_id)]),
                                 self._draws(1))[0]   # a new attempt, new draws
                (aid, contact, channel, reason_id, route, kind, patience, handle, delay, wait_pen, first_agent,
                 resolved_first, escalate, manager_handle, follow_up, penalty, calls_back, callback_after, cause,
                 severity, noise, responds, response_after, restart_abandoned, restart) = row
                step, callback_of = "open", call_id
                continue
            if step == "handled":
                if escalate:   # not resolved at once: to a manager …
                    step = "manager"
                    outcome = yield from self.managers.take(0, math.inf, manager_handle)
                    step = "escalated"
                else:          # … or a follow-up later (0 if resolved at once)
                    resolved_at = done + follow_up
            if step == "escalated":
                agent, answered, resolved_at, _ = outcome
                self.t.calls.append([self.call_id(), tid, aid, contact, agent, reason_id, 0, done,
                                     answered, "escalation", False, resolved_at])
            break
        csat = base_csat - wait_pen + noise - penalty
        if cause is not None:
            csat += self._complaint(aid, tid, ticket[5], resolved_at, cause, severity)
        # the experience (inline :meth:`_experience`: once per contact)
        acc, now = self.acc.view, env.now
        churn_at = acc["churn_at"]
        if acc["epoch_start"][i] <= now < churn_at[i]:
            sats = acc["sat"]
            old = sats[i]
            new = old + memory * (csat - old)
            sats[i] = new = 5.0 if new > 5.0 else 1.0 if new < 1.0 else new
            h = acc["hazard"][i] * math.exp(sensitivity * (NEUTRAL - new))
            churn_at[i] = now + restart / h if h > 0 else math.inf
        ticket[6:] = first_response, resolved_at, "resolved", escalate, first_agent, resolved_first   # (0 or 1)
        if responds:
            score = round(csat)
            self.t.csat.append((tid, aid, resolved_at + response_after, 5 if score > 5 else 1 if score < 1 else score))

    def _complaint(self, account_id: str, ticket_id: str, opened: float, resolved_at: float, cause: str,
                   severity: str) -> float:
        """Record a complaint; the recovery action follows the policy in force. → satisfaction change."""
        action, cost, effect = self.recovery_of[severity]
        self.t.complaints.append((self.complaint_id(), ticket_id, account_id, cause, severity, action, cost, opened,
                                  resolved_at))
        return effect

    def _experience(self, i: int, restart: float, delta: float | None = None, score: float | None = None):
        """Satisfaction follows experiences (exponential smoothing); the churn clock restarts with
        the new hazard (memoryless, so redrawing the remaining time is exact: ``restart`` is a
        standard exponential draw, scaled by the new hazard). A customer who left while the contact
        was under way has gone: the experience changes nothing."""
        d, now = self.acc.view, self.env.now
        churn_at = d["churn_at"]
        if not d["epoch_start"][i] <= now < churn_at[i]:
            return
        sat, sats = self.scenario.satisfaction, d["sat"]
        old = sats[i]
        target = score if score is not None else old + delta
        new = min(5.0, max(1.0, old + sat.memory * (target - old)))
        sats[i] = new
        h = d["hazard"][i] * math.exp(sat.churn_sensitivity * (NEUTRAL - new))
        churn_at[i] = now + restart / h if h > 0 else math.inf

    def acc_id(self, i: int) -> str:
        return self.acc.ids[i]

    def _staffing(self, minute: float) -> int:
        day = int(minute // MIN_PER_DAY)
        if not self.clock.open_day[min(day, len(self.clock.open_day) - 1)]:
            return 0
        return self.policy.staffing[int(minute % MIN_PER_DAY // 60)]

    # -- acquisition and sales ------------------------------------------------------------------
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
            pick = _pick(r, list(src.kind_mix.values()), m)
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
        rows = [[ids[j], source, self.kinds[k].id, names[j], people[j], phones[j], float(created[j]),
                 "open" if open_[j] else "converted" if converted[j] else "qualified" if qualified[j]
                 else "disqualified", None if open_[j] or not qualified[j] else float(decided[j]), None, money]
                for j, k in enumerate(kinds.tolist())]
        self.t.leads.extend(rows)
        new = np.flatnonzero(converted & ~open_)
        if new.size:
            idx = self._new_accounts(kinds[new], decided[new], self.clock.dates(decided[new]), source,
                                     [ids[j] for j in new.tolist()], names=[names[j] for j in new.tolist()])
            for j, i in zip(new.tolist(), idx.tolist()):   # (their lives started with the accounts)
                rows[j][9] = self.acc_id(i)
                self.t.special_orders.append((i, float(decided[j]), "first", None, None, 0.0, 1.0, -1))

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
            row = [lead_id, source, k.id, company, person, self.directory.phones(1)[0], created, "open",
                   None, None, round(cost * self.money, 2)]
            self.t.leads.append(row)  # still open if the snapshot comes before it is qualified
            step = "qualifying"
            yield env.timeout(float(acq.days_to_qualify.draw(r)) * MIN_PER_DAY)
        else:
            lead_id, company, row = _at["lead_id"], _at["company"], _at["row"]
            yield RESUMED
        if r.random() >= qualify:
            row[7] = "disqualified"
            return
        row[7], row[8] = "qualified", env.now
        idx = self._new_accounts(np.array([kind]), np.array([env.now]), [self.clock.date(env.now)], source, lead_id,
                                 names=[company], prospect=True)
        row[9] = self.acc_id(int(idx[0]))
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
                row = [opp_id, self.acc_id(i), lead_id, rep, kind_of_deal, amount, env.now, "qualified", None, None,
                       None, None, None]
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
                    row[7] = stage
                    row[11], row[12] = self._forecast(rep, stage)
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
        row[7], row[8] = outcome, env.now
        row[11], row[12] = float(outcome == "won"), env.now
        self.t.stage_history.append((opp_id, outcome, env.now))
        if outcome == "lost":
            reasons = list(s.lost_reasons)
            w = np.array([s.lost_reasons[x] for x in reasons])
            row[9] = reasons[r.choice(len(reasons), p=w / w.sum())]
            return
        row[10] = amount
        if env.now >= self.horizon:
            return
        self.t.commissions.append((opp_id, rep, round(amount * s.commission_rate, 2), env.now))
        scale = amount / max(self._typical_order(kind), 1e-9)
        self.t.special_orders.append((i, env.now, "deal", None, opp_id, 0.0, scale, -1))
        a = self.acc
        if not np.isfinite(a.since[i]):  # a prospect becomes a customer
            a.since[i] = a.epoch_start[i] = env.now
            a.churn_at[i] = env.now + self.rng["accounts"].exponential(1 / float(self._hazard(np.array([i]))[0]))
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
        if stage in ("won", "lost"):
            return float(stage == "won")
        return float(np.prod([self.scenario.sales.advance[x] for x in OPEN_STAGES[OPEN_STAGES.index(stage):]]))

    # -- marketing ------------------------------------------------------------------------------
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
        self.t.campaign_members.extend([c.id] * members.size, _take(ids, members.tolist()), contacted.tolist(),
                                       np.where(responds, when, None).tolist(), [None] * members.size)
        # Nothing about an answer contends for anyone, so it is decided now and takes effect when it
        # comes: the responder's order at that minute; a lapsed responder may be won back and start
        # a new life then (purchases and contacts drawn from that minute; until then not active).
        resp = np.flatnonzero(responds)
        self.t.special_orders.extend((i, at, "campaign", c.id, None, c.discount, 1.0, first + j) for i, at, j in
                                     zip(members[resp].tolist(), when[resp].tolist(), resp.tolist()))
        back = resp[gone[resp] & (r.random(resp.size) < c.reactivation)]
        back = back[np.unique(members[back], return_index=True)[1]]       # a name listed twice: one new life
        back = back[a.epoch_start[members[back]] <= now]                  # not already waiting for a new life
        if back.size:
            idx, at = members[back], when[back]
            a.past_epochs.extend(zip(idx.tolist(), a.epoch_start[idx].tolist(),
                                     np.minimum(a.churn_at[idx], a.died_at[idx]).tolist()))
            a.epoch_start[idx] = at
            a.sat[idx] = np.maximum(a.sat[idx], NEUTRAL)
            a.churn_at[idx] = at + r.exponential(1 / np.maximum(self._hazard(idx), 1e-300))
            self._start_life(idx)

    def _last_purchase(self, now: float) -> np.ndarray:
        """Minute of each account's last purchase before ``now`` (−inf if none), as the CRM sees it."""
        last = np.full(self.acc.n, -np.inf)
        owner, t = self._drawn()
        ok = (t < now) & self._valid(owner, t)
        np.maximum.at(last, owner[ok], t[ok])
        if self.t.special_orders:
            who, when = np.array([row[:2] for row in self.t.special_orders]).T
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
        self.t.survey_responses.extend(zip(rids, [survey_id] * m, _take(a.ids, answering.tolist()),
                                           self._persons(answering, pick), answered.tolist(), nps.tolist()))
        items = [item.id for item in sat.survey_items]
        self.t.survey_answers.extend(np.repeat(np.asarray(rids, object), len(items)).tolist(), items * m,
                                     likert.ravel().tolist())

    # -- at the end: orders from the purchase streams, cut by churn ---------------------------------
    def _orders(self, lines: bool = True):
        """The orders: the purchase streams cut by churn, and the orders that came from deals, campaigns
        and first purchases, in time order; with ``lines``, their lines too (drawn last: the orders are
        the same without them)."""
        a, r = self.acc, self.rng["lines"]
        owners, times, src, camp, opp, disc, scale, member = [], [], [], [], [], [], [], []
        owner, t = self._drawn()
        ok = self._valid(owner, t) & (t < self.horizon)
        owners.append(owner[ok]); times.append(t[ok])
        k = int(ok.sum())
        src.append(_filled(k, "repeat")); camp.append(_filled(k, None))   # one shared object, not k copies
        opp.append(_filled(k, None)); disc.append(np.zeros(k)); scale.append(np.ones(k))
        member.append(np.full(k, -1))
        if self.t.special_orders:
            sp = self.t.special_orders
            owners.append(np.array([x[0] for x in sp])); times.append(np.array([x[1] for x in sp], float))
            src.append(np.array([x[2] for x in sp], object)); camp.append(np.array([x[3] for x in sp], object))
            opp.append(np.array([x[4] for x in sp], object)); disc.append(np.array([x[5] for x in sp], float))
            scale.append(np.array([x[6] for x in sp], float))
            member.append(np.array([x[7] for x in sp]))
        owner = np.concatenate(owners).astype(np.int64)
        t = np.concatenate(times)
        order = np.lexsort((owner, t))
        owner, t = owner[order], t[order]
        src, camp, opp = (np.concatenate(x)[order] for x in (src, camp, opp))
        disc, scale, member = (np.concatenate(x)[order] for x in (disc, scale, member))
        ids = self.ids.block("O", owner.size)
        at = (a.first_contact[owner].astype(np.int64)
              + r.integers(0, 1 << 30, owner.size) % a.n_contacts[owner].astype(np.int64))   # the ordering contact
        self.t.orders = Orders(ids, owner, at, t, src, camp, opp, disc)
        placed = self.t.campaign_members.cols[4]
        for j in np.flatnonzero(member >= 0).tolist():
            placed[member[j]] = ids[j]
        if not lines:
            return
        kinds = a.kind[owner].astype(np.int64)
        pos = {p: i for i, p in enumerate(self.products)}
        lines = []
        for kj, kind in enumerate(self.kinds):
            sel = np.flatnonzero(kinds == kj)
            if sel.size == 0:
                continue
            o_idx, nums, prods, qty = order_lines(r, sel.size, kind.product_mix, kind.lines_per_order, kind.quantity)
            rows = sel[o_idx].astype(np.int32)
            del o_idx
            qty = np.maximum(np.round(qty * scale[rows]).astype(np.int32), 1)
            catalogue = np.array([pos[p] for p in kind.product_mix], np.int16)   # the mix's products in the catalogue
            lines.append((rows, nums.astype(np.int16), catalogue[prods], qty))
            del rows, nums, prods, qty
        rows, nums, prods, qty = (np.concatenate([x[j] for x in lines]) for j in range(4))
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
        tier = np.where(rel >= 1.3, "high", np.where(rel < 0.7, "low", "mid")).astype(object)
        gone = np.minimum(a.churn_at, a.died_at)
        lost = (gone < self.horizon) & np.isfinite(a.since)
        cause = np.where(lost, np.where(a.churn_at <= a.died_at, "dissatisfaction", "dropout"), None)
        self.t.latent = (list(a.ids), tier.tolist(), a.rate.tolist(), a.dropout.tolist(), a.service.tolist(),
                         a.propensity.tolist(), (a.hazard * MIN_PER_YEAR).tolist(), a.sat.tolist(),
                         np.where(lost, gone, np.nan).tolist(), cause.tolist())


def _take(seq: list, idx: list[int]) -> list:
    """``[seq[k] for k in idx]``, in C (itemgetter): a few times faster for thousands of indexes."""
    if len(idx) < 2:
        return [seq[k] for k in idx]
    return list(operator.itemgetter(*idx)(seq))


def _pick(r: np.random.Generator, weights: list[float], n: int) -> np.ndarray:
    """``n`` indices drawn with the given (unnormalised) weights."""
    return _pick_cdf(r, _cdf(weights), n)


def _cdf(weights: list[float]) -> np.ndarray:
    cum = np.cumsum(weights)
    return cum / cum[-1]


def _pick_cdf(r: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """:func:`_pick` with the weights' cumulative shares worked out already."""
    return np.minimum(np.searchsorted(cdf, r.random(n), side="right"), cdf.size - 1)


def _filled(k: int, value) -> np.ndarray:
    out = np.empty(k, object)
    out.fill(value)
    return out


def head_locale(sim: Simulation) -> str:
    return sim.scenario.scenario.locale


def _kind_counts(shares: list[float], n: int) -> list[int]:
    """Accounts per kind by largest remainder, so shares hold exactly for any n."""
    raw = [s * n for s in shares]
    counts = [int(math.floor(x)) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts
