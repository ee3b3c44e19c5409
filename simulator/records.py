"""How a run keeps what it makes: its rows (:class:`Tables`), the per-account state (:class:`Accounts`), ids
(:class:`Ids`, :class:`Serials`), the orders as columns, and the garbage-collector pause for bulk work."""
from __future__ import annotations

import contextlib
import gc
import itertools
import operator
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from . import layouts as L


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


class SpecialOrder(NamedTuple):
    """An order that is not part of a purchase stream (a lead's first order, a won deal's, a campaign's)."""
    account: int                 # place in the accounts
    minute: float
    source: str                  # 'first', 'deal' or 'campaign'
    campaign: str | None
    opportunity: str | None
    discount: float
    scale: float                 # the order's size against a typical one
    member: int                  # its row in campaign_members, or -1


@dataclass
class Tables:
    """Rows as tuples or lists in their table's columns (simulator/layouts.py), times as float minutes (stamped
    when written)."""
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
    campaign_members: Columns = field(default_factory=lambda: Columns(len(L.CAMPAIGN_MEMBERS)))
    tickets: list = field(default_factory=list)
    calls: list = field(default_factory=list)
    complaints: list = field(default_factory=list)
    csat: list = field(default_factory=list)
    surveys: list = field(default_factory=list)
    survey_responses: list = field(default_factory=list)
    survey_answers: Columns = field(default_factory=lambda: Columns(len(L.SURVEY_ANSWERS)))
    special_orders: list[SpecialOrder] = field(default_factory=list)   # orders not part of a purchase stream
    # filled by finish()
    orders: Orders | None = None
    order_lines: OrderLines | None = None
    latent: tuple = ()    # the ground truth per account as columns (L.LATENT_ACCOUNTS)


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


def take(seq: list, idx: list[int]) -> list:
    """``[seq[k] for k in idx]``, in C (itemgetter): a few times faster for thousands of indexes."""
    if len(idx) < 2:
        return [seq[k] for k in idx]
    return list(operator.itemgetter(*idx)(seq))


def filled(k: int, value) -> np.ndarray:
    """An object array of ``k`` times the one ``value``."""
    out = np.empty(k, object)
    out.fill(value)
    return out
