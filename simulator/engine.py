"""The SimPy market run: scenario + seed → CRM database (+ ground-truth store).

Time is in minutes from the scenario's start date. Customer behaviour is written as plain
generator functions (``purchasing``, ``calling``); the call centre is a SimPy ``Resource`` with
one slot per agent. All randomness comes from named streams derived from the one seed.
"""
from __future__ import annotations

import datetime as dt
import math
import sqlite3
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import simpy
from faker import Faker

from .scenario import CustomerKind, Scenario

MIN_PER_DAY = 24 * 60
MIN_PER_YEAR = 365 * MIN_PER_DAY
SCHEMA = Path(__file__).with_name("schema.sql")
TRUTH_SCHEMA = Path(__file__).with_name("truth_schema.sql")
STREAMS = ("accounts", "orders", "calls", "service", "faker")
SIMULATOR_VERSION = "1"  # bump when the same scenario + seed would give other data


def streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent RNG streams, one per concern, all derived from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


# -- the records the run produces (column lists, not dicts per row: cheaper) ---------------
@dataclass
class Tables:
    accounts: list = field(default_factory=list)
    contacts: list = field(default_factory=list)
    orders: list = field(default_factory=list)
    order_lines: list = field(default_factory=list)
    agents: list = field(default_factory=list)
    calls: list = field(default_factory=list)
    latent: list = field(default_factory=list)


@dataclass
class Account:
    account_id: str
    kind: CustomerKind
    contact_ids: list[str]
    order_rate: float      # orders per year (latent)
    call_rate: float       # calls per year (latent)
    churn_at: float        # minute the account leaves; math.inf if it stays


class Clock:
    """Minutes since the start date ⇄ calendar time and the call centre's opening hours."""

    def __init__(self, scenario: Scenario):
        self.start = dt.datetime.combine(scenario.scenario.start_date, dt.time())
        cc = scenario.call_centre
        self.open_min, self.close_min = cc.open_hour * 60, cc.close_hour * 60
        self.weekdays = frozenset(cc.open_weekdays)
        self.start_weekday = self.start.weekday()

    def stamp(self, minute: float) -> str:
        return (self.start + dt.timedelta(seconds=round(minute * 60))).strftime("%Y-%m-%d %H:%M:%S")

    def is_open(self, minute: float) -> bool:
        day, tod = divmod(minute, MIN_PER_DAY)
        return (self.start_weekday + int(day)) % 7 in self.weekdays and self.open_min <= tod < self.close_min

    def next_opening(self, minute: float) -> float:
        day, tod = divmod(minute, MIN_PER_DAY)
        day = int(day) + (1 if tod >= self.open_min else 0)
        while (self.start_weekday + day) % 7 not in self.weekdays:
            day += 1
        return day * MIN_PER_DAY + self.open_min


class CallCentre:
    """Agents as a SimPy resource; the agent idle longest takes the next call (FIFO queue)."""

    def __init__(self, env: simpy.Environment, agent_ids: list[str]):
        self.env = env
        self.lines = simpy.Resource(env, capacity=len(agent_ids))
        self.idle = deque(agent_ids)

    def serve(self, handle_minutes: float):
        """Process: wait for an agent, talk; returns (agent_id, answered, ended)."""
        with self.lines.request() as req:
            yield req
            agent = self.idle.popleft()
            answered = self.env.now
            yield self.env.timeout(handle_minutes)
            self.idle.append(agent)
        return agent, answered, self.env.now


# -- behaviour ---------------------------------------------------------------------------------
def purchasing(env, acct: Account, horizon: float, rng, products, tables: Tables, ids):
    """Orders arrive as a Poisson process at the account's own rate until it churns."""
    kind = acct.kind
    mix_ids = list(kind.product_mix)
    weights = np.array([kind.product_mix[p] for p in mix_ids], dtype=float)
    weights /= weights.sum()
    end = min(horizon, acct.churn_at)
    if acct.order_rate <= 0:
        return
    mean_gap = MIN_PER_YEAR / acct.order_rate
    while True:
        gap = rng.exponential(mean_gap)
        if env.now + gap >= end:
            return
        yield env.timeout(gap)
        order_id = ids.next("O")
        contact = acct.contact_ids[rng.integers(len(acct.contact_ids))]
        tables.orders.append((order_id, acct.account_id, contact, env.now))
        n_lines = min(int(rng.integers(kind.lines_per_order.min, kind.lines_per_order.max + 1)), len(mix_ids))
        chosen = rng.choice(len(mix_ids), size=n_lines, replace=False, p=weights)
        for line_no, idx in enumerate(sorted(chosen), start=1):
            product = products[mix_ids[idx]]
            qty = int(kind.quantity.draw(rng))
            qty = max(qty, 1)
            tables.order_lines.append((order_id, line_no, product.id, qty, product.unit_price, product.unit_cost))


def calling(env, acct: Account, horizon: float, rng, clock: Clock, centre: CallCentre, scenario: Scenario,
            tables: Tables, ids):
    """Contacts call the service line; a call wanted while it is closed is made after it opens."""
    if acct.call_rate <= 0:
        return
    cc = scenario.call_centre
    reasons = list(cc.reasons)
    p = np.array([cc.reasons[r] for r in reasons], dtype=float)
    p /= p.sum()
    end = min(horizon, acct.churn_at)
    mean_gap = MIN_PER_YEAR / acct.call_rate
    while True:
        at = env.now + rng.exponential(mean_gap)
        if not clock.is_open(at):
            at = clock.next_opening(at) + rng.uniform(0, 90)
        if at >= end:
            return
        yield env.timeout(at - env.now)
        call_id = ids.next("K")
        contact = acct.contact_ids[rng.integers(len(acct.contact_ids))]
        reason = reasons[rng.choice(len(reasons), p=p)]
        handle = float(cc.handle_minutes.draw(rng))
        env.process(_one_call(env, centre, handle, (call_id, acct.account_id, contact, reason, env.now), tables))


def _one_call(env, centre: CallCentre, handle: float, row: tuple, tables: Tables):
    agent, answered, ended = yield env.process(centre.serve(handle))
    tables.calls.append(row[:3] + (agent, row[3], row[4], answered, ended))


class _Ids:
    """Sequential, zero-padded ids per prefix: deterministic and readable (A0001, O00042)."""

    def __init__(self):
        self.counts: dict[str, int] = {}

    def next(self, prefix: str, width: int = 5) -> str:
        n = self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return f"{prefix}{n:0{width}d}"


# -- people and places (Faker, seeded per instance, never globally) ----------------------------
def _faker(locale: str, rng: np.random.Generator) -> Faker:
    fake = Faker(locale)
    fake.seed_instance(int(rng.integers(2**63)))
    return fake


def _city(fake: Faker, locale: str) -> str:
    return fake.city_name() if locale == "zh_CN" else fake.city()


def _address(fake: Faker, locale: str, city: str) -> str:
    if locale == "zh_CN":
        return f"{city}市{fake.district()}区{fake.street_address()}"
    return f"{fake.street_address()}, {city}, {fake.state_abbr()} {fake.postcode()}"


def _email(fake: Faker, contact_no: int) -> str:
    return f"{fake.user_name()}{contact_no}@{fake.free_email_domain()}"


# -- the run -----------------------------------------------------------------------------------
def _kind_counts(scenario: Scenario, n: int) -> list[int]:
    """Accounts per kind by largest remainder, so shares hold exactly for any n."""
    raw = [k.share * n for k in scenario.customer_kinds]
    counts = [int(math.floor(x)) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def run(scenario: Scenario, seed: int) -> tuple[Tables, Clock]:
    rng = streams(seed)
    head = scenario.scenario
    locale = head.locale
    fake = _faker(locale, rng["faker"])
    clock = Clock(scenario)
    horizon = head.days * MIN_PER_DAY
    products = {p.id: p for p in scenario.products}
    tables, ids = Tables(), _Ids()

    env = simpy.Environment()
    agent_ids = [ids.next("G", 2) for _ in range(scenario.call_centre.agents)]
    tables.agents = [(a, fake.name()) for a in agent_ids]
    centre = CallCentre(env, agent_ids)

    r = rng["accounts"]
    kinds = [k for k, c in zip(scenario.customer_kinds, _kind_counts(scenario, head.customers)) for _ in range(c)]
    kinds = [kinds[i] for i in r.permutation(len(kinds))]
    for kind in kinds:
        account_id = ids.next("A", 4)
        city = _city(fake, locale)
        templates = kind.name_templates[locale]
        name = templates[int(r.integers(len(templates)))].format(city=city)
        created = head.start_date - dt.timedelta(days=int(r.integers(30, 6 * 365)))
        tables.accounts.append((account_id, name, kind.id, city, _address(fake, locale, city), created.isoformat()))
        contact_ids = []
        titles = kind.contact_titles.get(locale) or ["-"]
        for _ in range(int(r.integers(kind.contacts.min, kind.contacts.max + 1))):
            cid = ids.next("C")
            contact_ids.append(cid)
            tables.contacts.append((cid, account_id, fake.name(), titles[int(r.integers(len(titles)))],
                                    fake.phone_number(), _email(fake, len(tables.contacts) + 1)))
        order_rate = float(kind.orders_per_year.draw(r))
        call_rate = float(kind.calls_per_year.draw(r))
        hazard = -math.log(1 - kind.churn_per_year) if kind.churn_per_year > 0 else 0.0
        churn_at = r.exponential(MIN_PER_YEAR / hazard) if hazard else math.inf
        acct = Account(account_id, kind, contact_ids, order_rate, call_rate, churn_at)
        tier = _tier(order_rate / kind.orders_per_year.mean)
        tables.latent.append((account_id, tier, order_rate, call_rate,
                              clock.stamp(churn_at) if churn_at < horizon else None, float(r.beta(2, 5))))
        env.process(purchasing(env, acct, horizon, rng["orders"], products, tables, ids))
        env.process(calling(env, acct, horizon, rng["calls"], clock, centre, scenario, tables, ids))
    env.run()  # every process ends by itself at the horizon or at churn
    return tables, clock


def _tier(relative_rate: float) -> str:
    return "high" if relative_rate >= 1.3 else "low" if relative_rate < 0.7 else "mid"


# -- output ------------------------------------------------------------------------------------
def write_database(path: Path, scenario: Scenario, seed: int, tables: Tables, clock: Clock) -> None:
    head = scenario.scenario
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA foreign_keys = ON")
        con.executescript(SCHEMA.read_text(encoding="utf-8"))
        snapshot = head.start_date + dt.timedelta(days=head.days)
        meta = {
            "scenario": head.id, "seed": str(seed), "locale": head.locale, "currency": head.currency,
            "start_date": head.start_date.isoformat(), "snapshot_date": snapshot.isoformat(),
            "profit_threshold": f"{head.profit_threshold:g}", "simulator_version": SIMULATOR_VERSION,
        }
        with con:
            con.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
            con.executemany("INSERT INTO account_kinds VALUES (?, ?, ?)",
                            [(k.id, k.name_zh, k.name_en) for k in scenario.customer_kinds])
            con.executemany("INSERT INTO products VALUES (?, ?, ?, ?, ?)",
                            [(p.id, p.name_zh, p.name_en, p.unit_price, p.unit_cost) for p in scenario.products])
            con.executemany("INSERT INTO agents VALUES (?, ?)", tables.agents)
            con.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?)", tables.accounts)
            con.executemany("INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?)", tables.contacts)
            con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)",
                            [(o, a, c, clock.stamp(t)) for o, a, c, t in tables.orders])
            con.executemany("INSERT INTO order_lines VALUES (?, ?, ?, ?, ?, ?)", tables.order_lines)
            con.executemany("INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            [(k, a, c, g, r, clock.stamp(t0), clock.stamp(t1), clock.stamp(t2))
                             for k, a, c, g, r, t0, t1, t2 in sorted(tables.calls)])
        con.execute("VACUUM")
    finally:
        con.close()


def write_truth(path: Path, scenario: Scenario, seed: int, tables: Tables) -> None:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        con.executescript(TRUTH_SCHEMA.read_text(encoding="utf-8"))
        with con:
            con.executemany("INSERT INTO meta VALUES (?, ?)",
                            [("scenario", scenario.scenario.id), ("seed", str(seed))])
            con.executemany("INSERT INTO latent_accounts VALUES (?, ?, ?, ?, ?, ?)", tables.latent)
    finally:
        con.close()
