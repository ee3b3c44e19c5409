"""Purchases drawn with numpy, customer by customer but without a Python loop per purchase.

Nothing contends for a resource when a customer buys, so SimPy is not needed here: the purchase
stream of every customer is drawn in one vectorised step (≈20× cheaper than a SimPy process per
customer, see ``docs/design.md``). The model is BG/NBD (Fader, Hardie & Lee 2005) with seasonality:

- while alive, a customer buys as a Poisson process with their own rate λ (gamma across customers),
  modulated by month-of-year and day-of-week multipliers whose yearly mean is 1;
- after each purchase they drop out with their own probability p (beta across customers): the
  number of purchases before dropping out is geometric, and the customer dies at that purchase.

Satisfaction-driven churn (from service experience) is applied later by the engine, which knows
it only as the simulation runs.
"""
from __future__ import annotations

import calendar
import datetime as dt

import numpy as np

MIN_PER_DAY = 24 * 60
MIN_PER_YEAR = 365 * MIN_PER_DAY


class Season:
    """Intensity multiplier m(t) per simulated minute; yearly mean 1, so rates stay "per year"."""

    def __init__(self, start: dt.date, days: int, month=None, weekday=None):
        day = np.arange(days + 2)
        dates = np.datetime64(start) + day
        months = (dates.astype("datetime64[M]").astype(int) % 12)
        weekdays = (dates.astype("datetime64[D]").astype(int) + 3) % 7  # 1970-01-01 was a Thursday
        m = np.ones(len(day))
        if month is not None:
            mm = np.asarray(month, float)
            lengths = np.array([calendar.monthrange(2025, k + 1)[1] for k in range(12)])
            m *= (mm / (mm @ lengths / lengths.sum()))[months]
        if weekday is not None:
            w = np.asarray(weekday, float)
            m *= (w / w.mean())[weekdays]
        self.by_day = m
        self.peak = float(m.max())
        self.flat = month is None and weekday is None

    def __call__(self, minutes: np.ndarray) -> np.ndarray:
        return self.by_day[(minutes // MIN_PER_DAY).astype(np.int64)]


def purchase_times(rng: np.random.Generator, rate_per_year: np.ndarray, dropout: np.ndarray,
                   start: np.ndarray, end: np.ndarray, season: Season | None = None):
    """BG/NBD purchase times for customers ``i`` alive from ``start[i]`` until ``end[i]`` (minutes).

    Returns ``(owner, times, died_at)``: flat arrays of purchase owner index and minute (sorted by
    owner, then time), and per customer the minute of the purchase after which they dropped out
    (``inf`` if still alive at ``end``).
    """
    rate = np.asarray(rate_per_year, float) / MIN_PER_YEAR
    span = np.maximum(np.asarray(end, float) - np.asarray(start, float), 0)
    peak = 1.0 if season is None else season.peak
    n = rng.poisson(rate * span * peak)                       # candidate events (thinning below)
    owner = np.repeat(np.arange(len(rate)), n)
    t = np.asarray(start, float)[owner] + rng.random(owner.size) * span[owner]
    if season is not None and not season.flat:
        keep = rng.random(t.size) * peak < season(t)
        owner, t = owner[keep], t[keep]
    order = np.lexsort((t, owner))
    owner, t = owner[order], t[order]
    # BG/NBD dropout: a customer makes at most G ~ Geometric(p) purchases, then is gone
    p = np.asarray(dropout, float)
    cap = np.where(p > 0, rng.geometric(np.clip(p, 1e-12, 1)), np.iinfo(np.int64).max)
    first = np.searchsorted(owner, np.arange(len(rate)))
    rank = np.arange(owner.size) - first[owner] + 1          # 1 for each customer's first purchase
    keep = rank <= cap[owner]
    died = np.full(len(rate), np.inf)
    last = keep & (rank == cap[owner])
    died[owner[last]] = t[last]
    return owner[keep], t[keep], died


def order_lines(rng: np.random.Generator, n_orders: int, mix: dict[str, float], lines, quantity,
                chunk: int = 100_000):
    """Lines for ``n_orders`` orders of one customer kind: distinct products per order drawn by the
    kind's product mix (Gumbel top-k: weighted sampling without replacement, vectorised).

    Returns ``(order, line_no, product, quantity)``: per line the order's index, its number within the
    order (1, 2 …), the product as its position in ``mix`` (lines in that order) and the quantity. The
    Gumbel keys are drawn ``chunk`` orders at a time (the same values as one draw: a generator fills an
    array value by value), so a million orders need no array of orders × products at once."""
    products = list(mix)
    w = np.array([mix[p] for p in products], float)
    k = rng.integers(lines.min, min(lines.max, int((w > 0).sum())) + 1, size=n_orders)
    with np.errstate(divide="ignore"):
        log_w = np.log(w)[None, :]
    col = np.arange(len(products))[None, :]
    picked = []
    for lo in range(0, n_orders, chunk):
        want = k[lo: lo + chunk, None]
        keys = log_w + rng.gumbel(size=(want.size, len(products)))
        take = col < want
        top = np.where(take, np.argsort(-keys, axis=1), len(products))
        top.sort(axis=1)                                      # an order's lines in the mix's order
        picked.append(top[take].astype(np.int16 if len(products) < 2**15 else np.int64))
    order_idx = np.repeat(np.arange(n_orders), k)
    first = np.cumsum(k) - k
    nums = np.arange(order_idx.size) - first[order_idx] + 1
    qty = np.maximum(np.asarray(quantity.draw(rng, order_idx.size)).astype(np.int64), 1)
    product = np.concatenate(picked) if picked else np.zeros(0, np.int16)
    return order_idx, nums, product, qty
