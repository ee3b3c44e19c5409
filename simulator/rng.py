"""The run's randomness: one seed, a named stream per concern, and the weighted picks every room draws with."""
from __future__ import annotations

import numpy as np

STREAMS = ("people", "accounts", "purchases", "lines", "service", "calls", "sales", "campaigns", "survey",
           "forecast")


def streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent RNG streams, one per concern, all derived from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


def day_stream(seed: int, name: str, day: int) -> np.random.Generator:
    """Stream ``name``'s own generator for one simulated day (the day-th child of the stream's seed): what is
    drawn for that day is the same whenever it is drawn — at the end of the run, or for a snapshot of the
    company as of a later day — and whatever was drawn for other days."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAMS.index(name), int(day))))


def draw_weighted(r: np.random.Generator, weights: list[float], n: int) -> np.ndarray:
    """``n`` indices drawn with the given (unnormalised) weights."""
    return draw_from_cdf(r, cumulative_shares(weights), n)


def cumulative_shares(weights: list[float]) -> np.ndarray:
    """The weights' cumulative shares (the last is 1)."""
    cum = np.cumsum(weights)
    return cum / cum[-1]


def draw_from_cdf(r: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """:func:`draw_weighted` with the weights' cumulative shares worked out already."""
    return np.minimum(np.searchsorted(cdf, r.random(n), side="right"), cdf.size - 1)
