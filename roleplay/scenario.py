"""Role-play scenarios are data: a bilingual TOML file → validated, frozen :class:`RolePlay`.

Same pipeline as ``simulator/scenario.py``: validate → freeze, and a bad file raises
:class:`ScenarioError` naming the bad field as a dotted path, e.g.
``nodes.greet.moves.apologise.next: unknown node 'x'``.
"""
from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crmlab import paths
from crmlab.roleplay.messages import ENDS, MOVES, ROLES
from crmlab.vocab import CHANNELS, LOCALES, REASONS, SEVERITIES, literal
from crmlab.simulator.scenario import ScenarioError, _FieldProblem

ROLEPLAY_DIR = paths.SCENARIOS / "roleplay"
TEMPER_FILE = ROLEPLAY_DIR / "shared" / "temper.toml"
MOOD_FIELDS = ("satisfaction", "trust", "anger")
HEARING = ("listen", "ask", "empathise")

MoveKind = Literal[tuple(MOVES)]
RoleName = Literal[tuple(ROLES)]
EndKind = Literal[tuple(ENDS)]
MoodField = Literal[MOOD_FIELDS]
# what a role-play writes into the CRM takes the CRM's own vocabulary
Locale = literal(LOCALES)
Reason = literal(REASONS)
Channel = literal(CHANNELS)
Severity = literal(SEVERITIES)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(_Frozen):
    """One sentence in both languages (learner text is always bilingual)."""
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh_CN" else self.en


class Mood(_Frozen):
    satisfaction: int = Field(ge=0, le=100)
    trust: int = Field(ge=0, le=100)
    anger: int = Field(ge=0, le=100)


class Effects(_Frozen):
    """Changes to the mood; ``spread`` adds a uniform whole number in [-spread, spread] to each
    non-zero change, drawn from the session's seeded generator."""
    satisfaction: int = 0
    trust: int = 0
    anger: int = 0
    spread: int = Field(default=0, ge=0, le=20)


class Branch(_Frozen):
    effects: Effects = Effects()
    next: str
    reply: Text | None = None    # the customer's answer to this move (else the next node's line)
    note: Text | None = None     # why this works or fails: shown in the debrief


class Move(Branch):
    requires: list[MoveKind] = []     # moves that must have been made earlier in the conversation
    otherwise: Branch | None = None   # what happens when they were not (absent: the move is not available yet)
    fair: float | None = Field(default=None, ge=0)  # offer_remedy: the least amount the customer finds fair
    low: Branch | None = None         # offer_remedy below ``fair``


class Node(_Frozen):
    say: list[Text] = Field(min_length=1)   # variants of the customer's line, one drawn per visit
    end: EndKind | None = None              # a terminal node: how the conversation ended
    moves: dict[MoveKind, Move] = {}


class Role(_Frozen):
    refund_limit: float = Field(default=0, ge=0)  # the largest remedy this role may approve (yuan)
    moves: list[MoveKind] | None = None          # moves within this role's authority (absent: all)

    def may(self, kind: str) -> bool:
        return self.moves is None or kind in self.moves


class Customer(_Frozen):
    locale: Locale = "zh_CN"   # Faker locale of the persona's name
    title: Text                                  # who they are, with {name}
    goal: Text
    mood: Mood
    patience: int = Field(gt=0, le=30)           # turns before they give up
    account_kind: str | None = None              # with a CRM database: draw the persona from accounts of this kind


class Reaction(_Frozen):
    """What a move does instead of its own effects when the customer is not ready for it."""
    effects: Effects
    reply: Text
    note: Text


class Temperament(_Frozen):
    """One kind of customer, drawn per persona (hidden: it shows only in how the mood moves).
    ``mood``: added to the start mood; ``scale``: factor on the effects of these move kinds (a customer
    who needs to vent calms down slowly); ``shift``: added to the temper's ``heard`` and ``enough`` (a
    customer who wants a remedy quickly takes one sooner and tires of being listened to sooner)."""
    id: str = Field(pattern=r"^[a-z_]+$")
    weight: float = Field(gt=0)
    label: Text
    note: Text                                   # the debrief's word on this customer
    mood: dict[MoodField, int] = {}
    scale: dict[MoveKind, float] = {}
    shift: dict[MoveKind | Literal["enough"], int] = {}


class Temper(_Frozen):
    """How every customer reacts to *when* a move comes, not only to which move (shared by the scenarios,
    ``scenarios/roleplay/shared/temper.toml``; a scenario may carry its own ``[temper]``). Anger is read
    against where it started, in per cent, so the same rules fit a furious guest and an annoyed key account.

    ``heard``: a move of these kinds lands only once the customer's anger has come down at least this many
    per cent from the start; made earlier it backfires (``backfire``: its own effects, reply and note instead of the
    move's; the conversation still moves on, and the move does not count as made for the rubric's
    ``played`` lines). ``enough``: once anger is down this many per cent, more listening, asking or empathising
    ``tires`` the customer. ``temperaments``: the kinds of customer, one drawn per persona by weight."""
    heard: dict[MoveKind, int]
    backfire: dict[MoveKind, Reaction]
    enough: int = Field(ge=0, le=100)
    tires: Reaction
    temperaments: list[Temperament] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self):
        for kind in self.heard:
            if kind not in self.backfire:
                raise _FieldProblem(f"backfire.{kind}", f"the gated move '{kind}' needs a backfire reaction")
        ids = [t.id for t in self.temperaments]
        if len(set(ids)) != len(ids):
            raise _FieldProblem("temperaments", "temperament ids must be unique")
        return self

    def temperament(self, tid: str) -> Temperament:
        return next(t for t in self.temperaments if t.id == tid)


class Criterion(_Frozen):
    """One rubric line. Kinds: ``played`` (every move in ``moves``), ``avoided`` (none of them),
    ``before`` (``first`` was made, and before any ``then``), ``end`` (ended in one of ``ends``),
    ``mood`` (final ``field`` ≥ ``to`` full points, partial credit linearly from ``from_``),
    ``cost`` (remedy cost ≤ ``limit``, partial credit linearly up to twice the limit), ``timing`` (no move the
    customer was not ready for — an apology or remedy that backfired, listening on to a calm customer; each
    such move costs a third of the points)."""
    id: str = Field(min_length=1)
    kind: Literal["played", "avoided", "before", "end", "mood", "cost", "timing"]
    points: float = Field(gt=0)
    label: Text
    moves: list[MoveKind] = []
    first: MoveKind | None = None
    then: list[MoveKind] = []
    ends: list[EndKind] = []
    field: MoodField | None = None
    from_: float = Field(default=0, alias="from")
    to: float | None = None
    limit: float | None = Field(default=None, ge=0)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _complete(self):
        need = {"played": ["moves"], "avoided": ["moves"], "before": ["first", "then"], "end": ["ends"],
                "mood": ["field", "to"], "cost": ["limit"], "timing": []}[self.kind]
        for name in need:
            if getattr(self, name) in (None, []):
                raise _FieldProblem(name, f"a '{self.kind}' criterion needs '{name}'")
        return self


class Paths(_Frozen):
    """Two reference paths for the tests and the debrief: ``model`` (best practice) and
    ``dismissive``; steps are move kinds, ``offer_remedy:150`` with an amount."""
    role: RoleName
    model: list[str] = Field(min_length=1)
    dismissive: list[str] = Field(min_length=1)


class CrmLink(_Frozen):
    """What a finished role-play writes into the student's CRM (``crmlab.roleplay.crm``)."""
    reason: Reason = "complaint"
    channel: Channel = "phone"
    cause: str | None = None
    severity: Severity = "medium"


class RolePlay(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    industry: str                         # the simulator scenario it belongs to (scenarios/<industry>.toml)
    title: Text
    situation: Text                       # what the student is told before the first turn
    roles: dict[RoleName, Role] = Field(min_length=1)
    customer: Customer
    start: str
    on_patience: str                      # terminal node reached when patience runs out
    nodes: dict[str, Node] = Field(min_length=2)
    rubric: list[Criterion] = Field(min_length=1)
    paths: Paths
    crm: CrmLink = CrmLink()
    temper_: Temper | None = Field(default=None, alias="temper")   # default: the shared temper.toml

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @property
    def temper(self) -> Temper:
        return self.temper_ or shared_temper()

    @model_validator(mode="after")
    def _graph(self):
        for field in ("start", "on_patience"):
            if getattr(self, field) not in self.nodes:
                raise _FieldProblem(field, f"unknown node '{getattr(self, field)}'")
        if self.nodes[self.on_patience].end is None:
            raise _FieldProblem("on_patience", f"node '{self.on_patience}' is not terminal (no 'end')")
        if self.nodes[self.start].end is not None:
            raise _FieldProblem("start", "the start node must not be terminal")
        for nid, node in self.nodes.items():
            if node.end is None and not node.moves:
                raise _FieldProblem(f"nodes.{nid}.moves", "a node without 'end' needs at least one move")
            if node.end is not None and node.moves:
                raise _FieldProblem(f"nodes.{nid}.moves", "a terminal node (with 'end') has no moves")
            for kind, move in node.moves.items():
                where = f"nodes.{nid}.moves.{kind}"
                for sub, branch in (("", move), (".otherwise", move.otherwise), (".low", move.low)):
                    if branch is not None and branch.next not in self.nodes:
                        raise _FieldProblem(f"{where}{sub}.next", f"unknown node '{branch.next}'")
                if (move.fair is not None or move.low is not None) and kind != "offer_remedy":
                    raise _FieldProblem(f"{where}.fair", "only offer_remedy takes an amount")
                if move.low is not None and move.fair is None:
                    raise _FieldProblem(f"{where}.fair", "'low' needs 'fair' (the least fair amount)")
        ids = [c.id for c in self.rubric]
        if len(set(ids)) != len(ids):
            raise _FieldProblem("rubric", "criterion ids must be unique")
        if self.paths.role not in self.roles:
            raise _FieldProblem("paths.role", f"role '{self.paths.role}' is not among the scenario's roles")
        for name in ("model", "dismissive"):
            for i, step in enumerate(getattr(self.paths, name)):
                kind, _, amount = step.partition(":")
                if kind not in MOVES:
                    raise _FieldProblem(f"paths.{name}.{i}", f"unknown move '{kind}'")
                if amount and not _is_number(amount):
                    raise _FieldProblem(f"paths.{name}.{i}", f"amount '{amount}' is not a number")
        return self


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_step(step: str) -> tuple[str, dict]:
    """``"offer_remedy:150"`` → ``("offer_remedy", {"amount": 150.0})``."""
    kind, _, amount = step.partition(":")
    return kind, ({"amount": float(amount)} if amount else {})


def validate(data: dict, source: str = "(data)") -> RolePlay:
    try:
        return RolePlay.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        cause = (err.get("ctx") or {}).get("error")
        loc = [str(p) for p in err["loc"] if p != "[key]"]  # a bad dict key is named by the key itself
        if isinstance(cause, _FieldProblem):
            # a rule of a nested model names its own field; put it under that model's location
            field = ".".join(loc + [cause.field]) if loc else cause.field
            raise ScenarioError(source, field, cause.problem) from None
        raise ScenarioError(source, ".".join(loc) or "(root)", err["msg"]) from None


@functools.lru_cache(maxsize=1)
def shared_temper() -> Temper:
    """The customers' temper shared by the built-in scenarios (validated like a scenario file)."""
    try:
        data = tomllib.loads(TEMPER_FILE.read_text(encoding="utf-8"))
        return Temper.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        cause = (err.get("ctx") or {}).get("error")
        loc = [str(p) for p in err["loc"] if p != "[key]"]
        field = ".".join(loc + [cause.field]) if isinstance(cause, _FieldProblem) else ".".join(loc)
        raise ScenarioError(str(TEMPER_FILE), field or "(root)",
                            cause.problem if isinstance(cause, _FieldProblem) else err["msg"]) from None


def builtin_roleplays() -> list[str]:
    return sorted(p.stem for p in ROLEPLAY_DIR.glob("*.toml"))


def load_roleplay(name_or_path: str | Path) -> RolePlay:
    """Load a built-in role-play by name, or any role-play file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = ROLEPLAY_DIR / f"{name_or_path}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(str(path), "(file)",
                            f"file not found (built-in role-plays: {', '.join(builtin_roleplays())})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), "(syntax)", str(exc)) from None
    return validate(data, str(path))
