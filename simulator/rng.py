"""The run's randomness: one seed, a named stream per concern, and the weighted picks every room draws with."""
from __future__ import annotations

import numpy as np

STREAMS = ("people", "accounts", "purchases", "lines", "service", "calls", "sales", "campaigns", "survey",
           "forecast")


def streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent RNG streams, one per concern, all derived from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


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
