"""The dialogue engine: a session walks a scenario's graph, one move per turn.

Small and deterministic: one seed gives the persona, the spread of each move's effects, the
customer's line variants and the customer's hidden temperament from separate streams
(``numpy.random.SeedSequence.spawn``), so a transcript — role, seed and the moves — is enough to replay
a session exactly. A refused move raises :class:`~crmlab.roleplay.messages.Refusal` before anything is drawn or
changed. *When* a move comes matters as much as which (the scenario's ``temper``): an apology or remedy
made before the customer's anger has come down far enough backfires, and more listening to a customer
who has calmed down tires them.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import sqlite3
from pathlib import Path

import numpy as np
from faker import Faker

from crmlab.roleplay.messages import ENDS, MOVES, ROLES, Refusal
from crmlab.roleplay.scenario import HEARING, MOOD_FIELDS, Effects, RolePlay, load_roleplay

TRANSCRIPT_VERSION = 1


def play_seed(data_id: str, scenario_id: str, group: str | None = None) -> int:
    """A student's own seed for a role-play, from their database's ``data_id`` (``meta`` table): the
    notebook and the grader compute the same one, and a classmate's transcript has another. A group
    (the CRM show) shares one seed per group."""
    key = f"crmlab roleplay {scenario_id} {'group ' + group if group is not None else data_id}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:6], "big")


@functools.lru_cache(maxsize=None)
def _faker(locale: str) -> Faker:
    return Faker(locale)  # building one costs ≈20 ms; the tests draw hundreds of personas


def _draw_persona(scenario: RolePlay, seed: int, db: str | Path | None) -> dict:
    """The customer: a Faker name in the scenario's locale, or — given the student's simulated CRM
    database — a real contact of an account of the scenario's kind, with its history."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[0])
    fake = _faker(scenario.customer.locale)
    fake.seed_instance(seed)  # reseeded on every use, so sharing the instance shares no state
    persona = {"name": fake.name(), "account": None, "contact": None,
               "history": {"orders": 0, "tickets": 0, "complaints": 0},
               "temperament": _draw_temperament(scenario, seed)}
    if db is None:
        return persona
    con = sqlite3.connect(f"file:{Path(db)}?mode=ro", uri=True)
    try:
        kind = scenario.customer.account_kind
        rows = con.execute(
            "SELECT c.contact_id, c.name, c.account_id FROM contacts c JOIN accounts a USING (account_id) "
            "WHERE (? IS NULL OR a.kind = ?) ORDER BY c.contact_id", (kind, kind)).fetchall()
        if rows:
            contact, name, account = rows[int(rng.integers(len(rows)))]
            count = lambda sql: con.execute(sql, (account,)).fetchone()[0]
            persona.update(name=name, account=account, contact=contact, history={
                "orders": count("SELECT count(*) FROM orders WHERE account_id = ?"),
                "tickets": count("SELECT count(*) FROM tickets WHERE account_id = ?"),
                "complaints": count("SELECT count(*) FROM complaints WHERE account_id = ?")})
    finally:
        con.close()
    return persona


def _draw_temperament(scenario: RolePlay, seed: int) -> str:
    """The customer's hidden temperament, by weight, from a stream of its own (the other three streams,
    and so the persona's name and account, are what they were before temperaments existed)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(4)[3])
    kinds = scenario.temper.temperaments
    weights = np.array([t.weight for t in kinds])
    return kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))].id


def _start_mood(scenario: RolePlay, persona: dict) -> dict:
    # a customer who has complained before starts angrier and trusts less (at most three count)
    mood = scenario.customer.mood.model_dump()
    past = min(persona["history"]["complaints"], 3)
    mood["anger"] = mood["anger"] + 5 * past
    mood["trust"] = mood["trust"] - 5 * past
    for field, delta in scenario.temper.temperament(persona["temperament"]).mood.items():
        mood[field] += delta
    return {k: max(0, min(100, v)) for k, v in mood.items()}


class Session:
    """One role-play: ``options()`` → ``play(move, **args)`` → … until ``end`` is set.

    Played alone (``role``) or by a group (``cast``: member → role, the CRM show): then every turn is
    played ``by`` a member, within the authority of that member's role, and the transcript says who
    played it."""

    def __init__(self, scenario: RolePlay | str, role: str | None, seed: int, *, lang: str = "zh_CN",
                 db: str | Path | None = None, persona: dict | None = None, cast: dict[str, str] | None = None):
        self.scenario = load_roleplay(scenario) if isinstance(scenario, str) else scenario
        if cast is not None:
            if not cast or role is not None:
                raise ValueError("a group session takes a non-empty cast instead of one role")
            cast = {str(member): r for member, r in cast.items()}
        for r in (cast or {None: role}).values():
            if r not in self.scenario.roles:
                raise Refusal("role_not_allowed", role=(ROLES, r), allowed=[(ROLES, x) for x in self.scenario.roles])
        self.role, self.cast, self.seed, self.lang = role, cast, int(seed), lang
        self.authority = self.scenario.roles[role] if role else None
        self.persona = copy.deepcopy(persona) if persona is not None else _draw_persona(self.scenario, self.seed, db)
        self.temperament = self.scenario.temper.temperament(self.persona["temperament"])
        streams = np.random.SeedSequence(self.seed).spawn(3)
        self._effects_rng, self._lines_rng = np.random.default_rng(streams[1]), np.random.default_rng(streams[2])
        self.node = self.scenario.start
        self.mood = _start_mood(self.scenario, self.persona)
        self.turn, self.cost, self.end = 0, 0.0, None
        self.moves: list[str] = []
        self.landed: list[str] = []   # the moves that were not made too early (a backfired one does not count)
        self.mistimed: list[str] = []   # the moves the customer was not ready for (backfired or tiring)
        self.start_mood = dict(self.mood)
        self.opening = self._line(self.scenario.nodes[self.node])
        self.turns: list[dict] = []

    # -- what the student may do -------------------------------------------------------------
    def _role_of(self, by: str | None) -> str:
        """The role a turn is played in: the session's role, or in a group the member's."""
        if self.cast is None:
            return self.role
        if by not in self.cast:
            raise Refusal("not_in_cast", member=str(by), cast=", ".join(self.cast))
        return self.cast[by]

    def options(self, by: str | None = None) -> list[dict]:
        """Moves allowed here for this role (in a group: member ``by``'s role):
        ``{"move", "zh", "en", "amount": needs one, "limit"}``."""
        if self.end:
            return []
        authority = self.scenario.roles[self._role_of(by)]
        out = []
        for kind, move in self.scenario.nodes[self.node].moves.items():
            if authority.may(kind) and (move.otherwise is not None or self._met(move.requires)):
                out.append({"move": kind, "zh": MOVES[kind][0], "en": MOVES[kind][1],
                            "amount": kind == "offer_remedy",
                            "limit": authority.refund_limit if kind == "offer_remedy" else None})
        return out

    def _met(self, requires) -> bool:
        return all(r in self.moves for r in requires)

    def _check(self, kind: str, args: dict, by: str | None = None):
        """Raise a Refusal for a move that cannot be made now; returns the branch taken."""
        if self.end:
            raise Refusal("finished", end=(ENDS, self.end))
        role = self._role_of(by)
        authority = self.scenario.roles[role]
        if kind not in MOVES or not authority.may(kind):
            raise Refusal("move_not_for_role", move=(MOVES, kind), role=(ROLES, role))
        node = self.scenario.nodes[self.node]
        move = node.moves.get(kind)
        if move is None:
            raise Refusal("move_not_here", move=(MOVES, kind), allowed=[(MOVES, o["move"]) for o in self.options(by)])
        if kind == "offer_remedy":
            if set(args) != {"amount"}:
                raise Refusal("needs_amount", move=(MOVES, kind))
            amount = args["amount"]
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not amount >= 0:
                raise Refusal("bad_amount", amount=amount)
            if amount > authority.refund_limit:
                raise Refusal("over_limit", role=(ROLES, role), limit=f"{authority.refund_limit:g}",
                              amount=f"{amount:g}")
        elif args:
            raise Refusal("unexpected_args", move=(MOVES, kind), args=", ".join(sorted(args)))
        if not self._met(move.requires):
            if move.otherwise is None:
                missing = next(r for r in move.requires if r not in self.moves)
                raise Refusal("needs_first", move=(MOVES, kind), first=(MOVES, missing))
            return move.otherwise, False
        if kind == "offer_remedy" and move.fair is not None and args["amount"] < move.fair and move.low is not None:
            return move.low, False
        return move, kind == "offer_remedy"

    # -- one turn ------------------------------------------------------------------------------
    def play(self, move: str, by: str | None = None, **args) -> dict:
        """Make a move (in a group: played ``by`` a member); returns the turn: the customer's reply
        (zh, en), the new node, mood and end."""
        branch, pays = self._check(move, args, by)
        reaction, how = self._reaction(move)
        if reaction is None:
            self._apply(branch.effects, self.temperament.scale.get(move, 1.0))
        else:
            self._apply(reaction.effects)
        if pays:
            self.cost += float(args["amount"])
        self.moves.append(move)
        if how != "backfire":
            self.landed.append(move)
        if how is not None:
            self.mistimed.append(move)
        self.turn += 1
        moved = branch.next != self.node
        self.node = branch.next
        node = self.scenario.nodes[self.node]
        said = reaction.reply if reaction is not None else branch.reply
        note = reaction.note if reaction is not None else branch.note
        lines = [said.model_dump()] if said else []
        if moved or not lines or node.end:
            lines.append(self._line(node))
        self.end = node.end
        if self.end is None and self.turn >= self.scenario.customer.patience:
            self.node = self.scenario.on_patience
            node = self.scenario.nodes[self.node]
            lines.append(self._line(node))
            self.end = node.end
        record = {"turn": self.turn, "move": move, "args": dict(args), "reply": lines, "node": self.node,
                  "mood": dict(self.mood), "cost": self.cost, "end": self.end,
                  "note": note.model_dump() if note else None, "reaction": how}
        if self.cast is not None:
            record.update(by=by, role=self.cast[by])
        self.turns.append(record)
        return copy.deepcopy(record)

    def _reaction(self, kind: str):
        """How the customer takes this move *now*: (None, None) as the graph says; a backfire when it
        comes before their anger has come down far enough from the start for it (``heard``); tired when
        it is more hearing, after some has landed, for a customer whose anger is down ``enough``. The
        temperament shifts both."""
        temper, shift = self.scenario.temper, self.temperament.shift
        # how far anger has come down, in per cent of where it started: the same rule fits a furious guest
        # and an annoyed key account
        down = 100 * (self.start_mood["anger"] - self.mood["anger"]) / max(self.start_mood["anger"], 1)
        if kind in temper.heard and down < temper.heard[kind] + shift.get(kind, 0):
            return temper.backfire[kind], "backfire"
        heard = any(m in HEARING for m in self.landed)
        if kind in HEARING and heard and down >= temper.enough + shift.get("enough", 0):
            return temper.tires, "tires"
        return None, None

    def _apply(self, eff: Effects, scale: float = 1.0):
        for field in MOOD_FIELDS:
            delta = round(getattr(eff, field) * scale)
            if delta and eff.spread:
                noisy = delta + int(self._effects_rng.integers(-eff.spread, eff.spread + 1))
                delta = max(0, noisy) if delta > 0 else min(0, noisy)  # noise never turns an effect around
            self.mood[field] = max(0, min(100, self.mood[field] + delta))

    def _line(self, node) -> dict:
        i = int(self._lines_rng.integers(len(node.say))) if len(node.say) > 1 else 0
        return {k: v.replace("{name}", self.persona["name"]) for k, v in node.say[i].model_dump().items()}

    # -- the record ----------------------------------------------------------------------------
    @property
    def state(self) -> dict:
        return {"node": self.node, "mood": dict(self.mood), "turn": self.turn, "cost": self.cost,
                "end": self.end, "moves": list(self.moves), "landed": list(self.landed),
                "mistimed": list(self.mistimed)}

    @property
    def transcript(self) -> dict:
        """Everything needed to replay and grade this session, as plain JSON data."""
        out = {"v": TRANSCRIPT_VERSION, "scenario": self.scenario.id, "role": self.role, "seed": self.seed,
               "persona": copy.deepcopy(self.persona), "opening": self.opening,
               "turns": copy.deepcopy(self.turns), "final": self.state}
        if self.cast is not None:
            out["cast"] = dict(self.cast)
        return out


def replay(scenario: RolePlay | str, transcript: dict, *, role: str | None = None, seed: int | None = None,
           db: str | Path | None = None, cast: dict[str, str] | None = None) -> Session:
    """Play a transcript's moves again on a fresh session; raises if any recorded state differs.

    A grader passes what it knows — the assigned ``role``, the student's ``seed``, the student's
    ``db`` (the persona is then drawn again, not taken from the file) — so an edited transcript that is
    consistent with itself still cannot pick a luckier seed or a calmer customer. For a group, ``cast``
    pins who plays which role: each turn is replayed by the member the file names, within that member's
    authority."""
    scenario = load_roleplay(scenario) if isinstance(scenario, str) else scenario
    if transcript["scenario"] != scenario.id:
        raise Refusal("replay_other", other=transcript["scenario"], scenario=scenario.id)
    for field, expected in (("role", role), ("seed", seed), ("cast", cast)):
        if expected is not None and transcript.get(field) != expected:
            raise Refusal("replay_mismatch", turn=0, field=field)
    persona = None if db is not None else transcript["persona"]
    session = Session(scenario, transcript["role"], transcript["seed"], persona=persona, db=db,
                      cast=transcript.get("cast"))
    if session.persona != transcript["persona"]:
        raise Refusal("replay_mismatch", turn=0, field="persona")
    for t in transcript["turns"]:
        got = session.play(t["move"], t.get("by") if session.cast is not None else None, **t["args"])
        for field in ("node", "mood", "cost", "end"):
            if got[field] != t[field]:
                raise Refusal("replay_mismatch", turn=t["turn"], field=field)
    return session
