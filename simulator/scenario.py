"""Scenarios are data: a TOML file → validated, frozen :class:`Scenario`.

One pipeline (fill defaults → validate → freeze); the caller's input is never mutated. A bad
file raises :class:`ScenarioError` whose message names the offending field as a dotted path,
e.g. ``customer_kinds.2.product_mix.P99``.
"""
from __future__ import annotations

import datetime as dt
import math
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
LOCALES = ("zh_CN", "en_US")


class ScenarioError(ValueError):
    """An invalid scenario; ``field`` is the dotted path of the first bad field."""

    def __init__(self, source: str, field: str, problem: str):
        self.source, self.field, self.problem = source, field, problem
        super().__init__(f"{source}: invalid field '{field}': {problem}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- distributions are data, resolved through a registry -----------------------------------
class Gamma(_Frozen):
    """Gamma with the given mean and shape (heterogeneity across customers)."""
    dist: Literal["gamma"]
    mean: float = Field(gt=0)
    shape: float = Field(gt=0)

    def draw(self, rng: np.random.Generator, size=None):
        return rng.gamma(self.shape, self.mean / self.shape, size)


class Poisson(_Frozen):
    """Poisson count, floored at ``min``."""
    dist: Literal["poisson"]
    mean: float = Field(gt=0)
    min: int = Field(default=0, ge=0)

    def draw(self, rng: np.random.Generator, size=None):
        return np.maximum(rng.poisson(self.mean, size), self.min)


class Exponential(_Frozen):
    dist: Literal["exponential"]
    mean: float = Field(gt=0)

    def draw(self, rng: np.random.Generator, size=None):
        return rng.exponential(self.mean, size)


class LogNormal(_Frozen):
    """Log-normal given by its own mean and standard deviation (not those of the log)."""
    dist: Literal["lognormal"]
    mean: float = Field(gt=0)
    sd: float = Field(gt=0)

    def draw(self, rng: np.random.Generator, size=None):
        sigma2 = math.log(1 + (self.sd / self.mean) ** 2)
        return rng.lognormal(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2), size)


Distribution = Annotated[Union[Gamma, Poisson, Exponential, LogNormal], Field(discriminator="dist")]


class IntRange(_Frozen):
    min: int = Field(ge=0)
    max: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self):
        if self.max < self.min:
            raise ValueError("max must be >= min")
        return self


# -- the business ---------------------------------------------------------------------------
class Product(_Frozen):
    id: str = Field(min_length=1)
    name_zh: str
    name_en: str
    unit_price: float = Field(gt=0)
    unit_cost: float = Field(ge=0)

    @model_validator(mode="after")
    def _margin(self):
        if self.unit_cost > self.unit_price:
            raise ValueError("unit_cost must not exceed unit_price")
        return self


class CustomerKind(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    share: float = Field(gt=0, le=1, description="fraction of accounts of this kind")
    contacts: IntRange
    orders_per_year: Distribution
    lines_per_order: IntRange
    quantity: Distribution
    product_mix: dict[str, float] = Field(min_length=1)
    calls_per_year: Distribution
    churn_per_year: float = Field(ge=0, lt=1, description="probability of leaving within a year")
    name_templates: dict[Literal["zh_CN", "en_US"], list[str]]
    contact_titles: dict[Literal["zh_CN", "en_US"], list[str]]


class CallCentre(_Frozen):
    agents: int = Field(ge=1, le=500)
    open_hour: float = Field(ge=0, lt=24)
    close_hour: float = Field(gt=0, le=24)
    open_weekdays: list[int] = Field(min_length=1)
    handle_minutes: Distribution
    reasons: dict[Literal["inquiry", "order", "complaint", "technical"], float] = Field(min_length=1)

    @model_validator(mode="after")
    def _hours(self):
        if self.close_hour <= self.open_hour:
            raise ValueError("close_hour must be after open_hour")
        if any(not 0 <= d <= 6 for d in self.open_weekdays):
            raise ValueError("open_weekdays are 0 (Monday) … 6 (Sunday)")
        return self


class Header(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title_zh: str
    title_en: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    start_date: dt.date
    days: int = Field(gt=0, le=3660)
    customers: int = Field(gt=0, le=1_000_000)
    locale: Literal["zh_CN", "en_US"] = "zh_CN"
    profit_threshold: float = Field(gt=0)


class Scenario(_Frozen):
    scenario: Header
    products: list[Product] = Field(min_length=1)
    customer_kinds: list[CustomerKind] = Field(min_length=1)
    call_centre: CallCentre

    @model_validator(mode="after")
    def _cross_references(self):
        known = {p.id for p in self.products}
        if len(known) != len(self.products):
            raise _FieldProblem("products", "product ids must be unique")
        kinds = [k.id for k in self.customer_kinds]
        if len(set(kinds)) != len(kinds):
            raise _FieldProblem("customer_kinds", "customer kind ids must be unique")
        for i, kind in enumerate(self.customer_kinds):
            for pid, weight in kind.product_mix.items():
                where = f"customer_kinds.{i}.product_mix.{pid}"
                if pid not in known:
                    raise _FieldProblem(where, f"unknown product '{pid}' (known: {', '.join(sorted(known))})")
                if weight < 0:
                    raise _FieldProblem(where, "weights must be >= 0")
            for loc in LOCALES:
                if not kind.name_templates.get(loc):
                    raise _FieldProblem(f"customer_kinds.{i}.name_templates.{loc}", "needs at least one template")
        total = sum(k.share for k in self.customer_kinds)
        if abs(total - 1) > 1e-6:
            raise _FieldProblem("customer_kinds.share", f"shares must add up to 1 (they add up to {total:g})")
        return self

    def with_overrides(self, **header: Any) -> "Scenario":
        """A new scenario with header fields replaced (``customers``, ``days``, ``locale``)."""
        data = self.model_dump()
        data["scenario"].update({k: v for k, v in header.items() if v is not None})
        return _validate(data, f"{self.scenario.id} (overrides)")


class _FieldProblem(ValueError):
    def __init__(self, field: str, problem: str):
        self.field, self.problem = field, problem
        super().__init__(problem)


def _validate(data: dict, source: str) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, _FieldProblem):
            raise ScenarioError(source, cause.field, cause.problem) from None
        loc = [str(p) for p in err["loc"] if not _is_union_tag(p)]
        raise ScenarioError(source, ".".join(loc) or "(root)", err["msg"]) from None


def _is_union_tag(part) -> bool:
    # pydantic puts the discriminator value ("gamma") into the location of union members
    return part in {"gamma", "poisson", "exponential", "lognormal"}


def builtin_scenarios() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name, or any scenario file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise ScenarioError(str(name_or_path), "scenario",
                                f"no built-in scenario of that name (built-in: {', '.join(builtin_scenarios())})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(str(path), "(file)", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), "(syntax)", str(exc)) from None
    return _validate(data, str(path))
