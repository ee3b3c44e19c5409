"""Scenarios are data: a TOML file → validated, frozen :class:`Scenario`.

One pipeline (fill defaults → validate → freeze); the caller's input is never mutated. A bad
file raises :class:`ScenarioError` whose message names the offending field as a dotted path,
e.g. ``customer_kinds.2.product_mix.P99``.

Over 400 lines, one file: the schema is one tree of models read top-down (distributions, the business's
parts, the scenario that holds them) and checked as one (``_validate``); in pieces, a field's path and its
model would sit in different files.
"""
from __future__ import annotations

import datetime as dt
import math
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crmlab import paths
from crmlab.vocab import (ACTIVITY_TYPES, CAMPAIGN_CHANNELS, CHANNELS, LOCALES, OPEN_STAGES, REASONS,
                          RECOVERY_ACTIONS, SEVERITIES, STAGE_PROBABILITY, literal)

# what a scenario may name, from the one vocabulary (crmlab/vocab.py)
Locale = literal(LOCALES)
Channel = literal(CHANNELS)
OpenStage = literal(OPEN_STAGES)
ActivityType = literal(ACTIVITY_TYPES)
CampaignChannel = literal(CAMPAIGN_CHANNELS)
Reason = literal(REASONS)
Severity = literal(SEVERITIES)
RecoveryKind = literal(RECOVERY_ACTIONS)

SCENARIO_DIR = paths.SCENARIOS


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


class Beta(_Frozen):
    """Beta(a, b): heterogeneity of a probability across customers (BG/NBD dropout, propensity)."""
    dist: Literal["beta"] = "beta"
    a: float = Field(gt=0)
    b: float = Field(gt=0)

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)

    def draw(self, rng: np.random.Generator, size=None):
        return rng.beta(self.a, self.b, size)


class Product(_Frozen):
    id: str = Field(min_length=1)
    name_zh: str
    name_en: str
    category: str = "general"
    unit_price: float = Field(gt=0)
    unit_cost: float = Field(ge=0)

    @model_validator(mode="after")
    def _margin(self):
        if self.unit_cost > self.unit_price:
            raise ValueError("unit_cost must not exceed unit_price")
        return self


class CustomerKind(_Frozen):
    """A kind (segment) of customer: who they are, how they buy, how often they need service."""
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    share: float = Field(gt=0, le=1, description="fraction of the starting accounts of this kind")
    business: bool = Field(True, description="an organisation with contacts (B2B) or a person (B2C)")
    contacts: IntRange = IntRange(min=1, max=1)
    orders_per_year: Distribution = Field(description="each account's own purchase rate (BG/NBD λ, per year)")
    dropout: Beta | None = Field(None, description="chance of leaving after each purchase (BG/NBD p)")
    lines_per_order: IntRange = IntRange(min=1, max=1)
    quantity: Distribution
    product_mix: dict[str, float] = Field(min_length=1)
    service_per_year: Distribution = Field(description="service contacts per account per year")
    channels: dict[Channel, float] = {"phone": 1.0}
    churn_per_year: float = Field(ge=0, lt=1, description="chance of leaving within a year at neutral satisfaction")
    priority: int = Field(1, ge=0, le=9, description="call-centre priority, 0 = answered first")
    campaign_response: Beta = Beta(a=2, b=8)
    name_templates: dict[Locale, list[str]] = {}
    contact_titles: dict[Locale, list[str]] = {}


class LeadSource(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    leads_per_month: float = Field(ge=0)
    cost_per_lead: float = Field(ge=0)
    qualify_rate: float = Field(ge=0, le=1, description="share of leads that qualify")
    convert_rate: float = Field(ge=0, le=1, description="share of qualified leads that become customers "
                                                          "(when there is no sales team; else the pipeline decides)")
    kind_mix: dict[str, float] = Field(min_length=1)


class Acquisition(_Frozen):
    sources: list[LeadSource] = []
    referrals_per_promoter_year: float = Field(0.0, ge=0, description="referral leads a promoter brings per year")
    referral_qualify_rate: float = Field(0.6, ge=0, le=1)
    days_to_qualify: Distribution = Exponential(dist="exponential", mean=5)


class Sales(_Frozen):
    """Reps work opportunities through qualified → proposal → negotiation → won/lost."""
    reps: int = Field(ge=1, le=500)
    deals_per_rep: int = Field(8, ge=1, description="opportunities a rep can work at once")
    stage_days: dict[OpenStage, Distribution]
    advance: dict[OpenStage, float]
    deal_orders: float = Field(3.0, gt=0, description="a deal is worth this many typical orders of the kind")
    quote_discount: Distribution = LogNormal(dist="lognormal", mean=0.06, sd=0.04)
    commission_rate: float = Field(0.03, ge=0, le=0.5)
    upsell_per_year: float = Field(0.5, ge=0, description="upsell opportunities per business account per year")
    activities_per_week: dict[ActivityType, float] = {"call": 1.0, "visit": 0.3, "email": 1.5}
    lost_reasons: dict[str, float] = {"price": 0.4, "competitor": 0.3, "no_budget": 0.2, "timing": 0.1}
    stage_probability: dict[OpenStage, float] = Field(
        dict(STAGE_PROBABILITY),
        description="the CRM's default win probability per stage, which reps start their forecast from")
    rep_optimism_sd: float = Field(0.1, ge=0, le=0.5, description="spread of the reps' personal forecast bias")

    @model_validator(mode="after")
    def _stages(self):
        for part in ("stage_days", "advance", "stage_probability"):
            missing = [s for s in OPEN_STAGES if s not in getattr(self, part)]
            if missing:
                raise _FieldProblem(f"sales.{part}.{missing[0]}", "every open stage needs a value")
        for s, p in self.advance.items():
            if not 0 < p <= 1:
                raise _FieldProblem(f"sales.advance.{s}", "a probability in (0, 1]")
        for s, p in self.stage_probability.items():
            if not 0 <= p <= 1:
                raise _FieldProblem(f"sales.stage_probability.{s}", "a probability in [0, 1]")
        return self


class Campaign(_Frozen):
    id: str = Field(pattern=r"^[A-Za-z0-9_]+$")
    name_zh: str
    name_en: str
    channel: CampaignChannel
    start_day: int = Field(ge=0, description="day of the run it starts (a shorter run leaves it out)")
    days: int = Field(30, ge=1, description="response window")
    target: list[str] | Literal["all", "lapsed"] = "all"
    lapsed_days: int = Field(180, ge=1, description="for target = 'lapsed': no order for this many days")
    offer_zh: str
    offer_en: str
    discount: float = Field(0.1, ge=0, lt=1)
    cost_per_contact: float = Field(ge=0)
    response_lift: float = Field(1.0, gt=0, description="multiplies each customer's own response propensity")
    reactivation: float = Field(0.5, ge=0, le=1, description="chance a lapsed responder becomes active again")


class Team(_Frozen):
    """A skill group (an ACD split): specialist agents with their own queue, who take every call for
    the reasons they are skilled in; the general agents (``service.agents``) take the rest."""
    skill: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name_zh: str
    name_en: str
    agents: int = Field(ge=1, le=200)
    reasons: list[Reason] = Field(min_length=1)
    handle_factor: float = Field(1.0, gt=0, le=10, description="handle time relative to service.handle_minutes")


class Service(_Frozen):
    agents: int = Field(ge=1, le=500, description="general agents in the pool (the staffing plan applies to them)")
    teams: list[Team] = Field([], description="specialist skill groups, each with its own queue")
    staffing: list[int] | None = Field(None, description="agents on duty per hour of day (24 values)")
    managers: int = Field(1, ge=1, le=100, description="managers who take escalated contacts")
    open_hour: float = Field(ge=0, lt=24)
    close_hour: float = Field(gt=0, le=24)
    open_weekdays: list[int] = Field(min_length=1)
    hourly_profile: list[float] | None = Field(None, description="relative call volume per hour of day (24 values)")
    deferred_share: float = Field(0.3, ge=0, le=1, description="share of calls wanted while closed that come "
                                                                 "in the first hour after opening")
    handle_minutes: Distribution
    patience_minutes: Distribution | None = Field(None, description="how long a caller waits before hanging up")
    callback: float = Field(0.5, ge=0, le=1, description="chance an abandoned caller tries again")
    callback_minutes: Distribution = Exponential(dist="exponential", mean=60)
    first_contact_resolution: float = Field(0.75, ge=0, le=1)
    escalation: float = Field(0.08, ge=0, le=1, description="chance an unresolved contact goes to a manager")
    ticket_hours: Distribution = LogNormal(dist="lognormal", mean=8, sd=8)
    sla_seconds: float = Field(20, gt=0)
    sla_target: float = Field(0.8, gt=0, le=1)
    reasons: dict[Reason, float] = Field(min_length=1)

    @model_validator(mode="after")
    def _hours(self):
        if self.close_hour <= self.open_hour:
            raise ValueError("close_hour must be after open_hour")
        if any(not 0 <= d <= 6 for d in self.open_weekdays):
            raise ValueError("open_weekdays are 0 (Monday) … 6 (Sunday)")
        if self.hourly_profile is not None and (len(self.hourly_profile) != 24 or min(self.hourly_profile) < 0):
            raise _FieldProblem("service.hourly_profile", "needs 24 non-negative values, one per hour of the day")
        if self.staffing is not None:
            if len(self.staffing) != 24:
                raise _FieldProblem("service.staffing", "needs 24 values, one per hour of the day")
            for h, n in enumerate(self.staffing):
                if not 0 <= n <= self.agents:
                    raise _FieldProblem(f"service.staffing.{h}", f"between 0 and agents ({self.agents})")
        routed: dict[str, str] = {}
        for k, team in enumerate(self.teams):
            if team.skill in ("general", "escalation") or team.skill in [t.skill for t in self.teams[:k]]:
                raise _FieldProblem(f"service.teams.{k}.skill", f"'{team.skill}' is reserved or used twice")
            for reason in team.reasons:
                if reason not in self.reasons:
                    raise _FieldProblem(f"service.teams.{k}.reasons", f"'{reason}' is not among service.reasons")
                if reason in routed:
                    raise _FieldProblem(f"service.teams.{k}.reasons", f"'{reason}' already goes to '{routed[reason]}'")
                routed[reason] = team.skill
        if not set(self.reasons) - set(routed):
            raise _FieldProblem("service.teams", "leave at least one reason to the general agents")
        return self


class RecoveryAction(_Frozen):
    cost: float = Field(ge=0, description="cost in the scenario's currency")
    effect: float = Field(description="change of the customer's satisfaction (1–5 scale)")


class Complaints(_Frozen):
    causes: dict[str, float] = Field(min_length=1)
    severity: dict[Severity, float]
    recovery: dict[RecoveryKind, RecoveryAction]
    policy: dict[Severity, RecoveryKind]
    penalty: dict[Severity, float] = {"low": 0.5, "medium": 1.0, "high": 2.0}

    @model_validator(mode="after")
    def _complete(self):
        for part in ("severity", "policy"):
            for s in SEVERITIES:
                if s not in getattr(self, part):
                    raise _FieldProblem(f"complaints.{part}.{s}", "every severity needs a value")
        for s, action in self.policy.items():
            if action not in self.recovery:
                raise _FieldProblem(f"complaints.policy.{s}", f"'{action}' is not in complaints.recovery")
        return self


class SurveyItem(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    text_zh: str
    text_en: str
    weight: float = Field(1.0, gt=0, description="how strongly the item follows overall satisfaction")


class Satisfaction(_Frozen):
    """CSAT after contacts; an annual survey; churn hazard driven by satisfaction."""
    start: float = Field(3.8, ge=1, le=5)
    memory: float = Field(0.35, gt=0, le=1, description="weight of the latest experience")
    base_csat: float = Field(4.2, ge=1, le=5)
    wait_penalty_per_minute: float = Field(0.06, ge=0)
    unresolved_penalty: float = Field(0.9, ge=0)
    escalation_penalty: float = Field(0.3, ge=0)
    abandon_penalty: float = Field(0.8, ge=0)
    noise_sd: float = Field(0.6, ge=0)
    csat_response_rate: float = Field(0.4, ge=0, le=1)
    churn_sensitivity: float = Field(0.9, ge=0, description="hazard × exp(k·(3.5 − satisfaction))")
    survey_month: int = Field(12, ge=1, le=12)
    survey_response_rate: float = Field(0.35, ge=0, le=1)
    survey_items: list[SurveyItem] = Field(min_length=1)


class Money(_Frozen):
    code: str = Field(pattern=r"^[A-Z]{3}$")
    per_base: float = Field(gt=0, description="units of this currency per unit of the scenario's currency")


class Header(_Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title_zh: str
    title_en: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    start_date: dt.date
    days: int = Field(gt=0, le=3660)
    customers: int = Field(gt=0, le=1_000_000)
    duplicate_share: float = Field(0.0, ge=0, le=0.5, description=(
        "share of the starting organisations entered twice in the CRM (another department's record: same "
        "name and city, its own contact and orders); otherwise every organisation's name is its own"))
    locale: Locale = "zh_CN"
    profit_threshold: float = Field(1000, gt=0)
    currencies: dict[Locale, Money] = Field(default_factory=lambda: {
        "zh_CN": Money(code="CNY", per_base=1.0), "en_US": Money(code="USD", per_base=0.14)})


class Scenario(_Frozen):
    scenario: Header
    seasonality: dict[Literal["month", "weekday"], list[float]] = {}
    products: list[Product] = Field(min_length=1)
    customer_kinds: list[CustomerKind] = Field(min_length=1)
    acquisition: Acquisition = Acquisition()
    sales: Sales | None = None
    campaigns: list[Campaign] = []
    service: Service
    complaints: Complaints
    satisfaction: Satisfaction

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
            if kind.business:
                for loc in LOCALES:
                    if not kind.name_templates.get(loc):
                        raise _FieldProblem(f"customer_kinds.{i}.name_templates.{loc}",
                                            "a business kind needs at least one name template")
        total = sum(k.share for k in self.customer_kinds)
        if abs(total - 1) > 1e-6:
            raise _FieldProblem("customer_kinds.share", f"shares must add up to 1 (they add up to {total:g})")
        for i, src in enumerate(self.acquisition.sources):
            for kid in src.kind_mix:
                if kid not in kinds:
                    raise _FieldProblem(f"acquisition.sources.{i}.kind_mix.{kid}", f"unknown customer kind '{kid}'")
        for i, c in enumerate(self.campaigns):
            if isinstance(c.target, list):
                for kid in c.target:
                    if kid not in kinds:
                        raise _FieldProblem(f"campaigns.{i}.target", f"unknown customer kind '{kid}'")
        for part, n in (("month", 12), ("weekday", 7)):
            values = self.seasonality.get(part)
            if values is not None and (len(values) != n or min(values) < 0 or max(values) <= 0):
                raise _FieldProblem(f"seasonality.{part}", f"needs {n} non-negative multipliers, not all 0")
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
    return part in {"gamma", "poisson", "exponential", "lognormal", "beta"}


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
