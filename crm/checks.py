"""State checkpoints: does the database hold the target state a module asks for?

Over 400 lines, one file: the kinds of condition are one table (``KINDS``: fields, check, what it says) from
which the reference is generated; each kind is a few lines, split they would be read in many files.

A condition is data — a dict, or a ``[[conditions]]`` table in TOML — with a ``kind``, the
fields that kind reads, and optional ``points`` (default 1) and ``id``::

    [[conditions]]
    id = "escalated"
    kind = "ticket_status"
    ticket = "T010160"
    status = "resolved"
    assigned_role = "manager"
    points = 2

Each condition is split into parts (here: the status, the handler's role); the condition scores
``points × parts met / parts`` and explains every unmet part in both languages. The database is
opened read-only and not migrated: on an untouched database the operational columns do not exist
yet, and a condition that needs them simply fails.

:data:`KINDS` declares every kind once — its required and optional fields and what it checks —
and :func:`reference` prints that table (the documentation is generated from it).
"""
from __future__ import annotations

import re
import sqlite3
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from .messages import Label, render


@dataclass(frozen=True)
class Part:
    ok: bool
    code: str
    params: dict


@dataclass(frozen=True)
class ConditionResult:
    id: str
    kind: str
    points: float
    score: float
    parts: tuple[Part, ...]

    @property
    def passed(self) -> bool:
        return all(p.ok for p in self.parts)

    def explain(self, lang: str = "zh_CN") -> str:
        """What is still missing (or that it is done), in ``lang``."""
        missing = [render(p.code, lang, p.params) for p in self.parts if not p.ok]
        return " ".join(missing) if missing else render("chk_ok", lang, {})


@dataclass(frozen=True)
class Result:
    items: tuple[ConditionResult, ...]

    @property
    def score(self) -> float:
        return round(sum(i.score for i in self.items), 4)

    @property
    def max_score(self) -> float:
        return sum(i.points for i in self.items)

    @property
    def passed(self) -> bool:
        return all(i.passed for i in self.items)

    def __getitem__(self, key: str) -> ConditionResult:
        for item in self.items:
            if item.id == key:
                return item
        raise KeyError(key)

    def to_frame(self, lang: str = "zh_CN") -> pd.DataFrame:
        return pd.DataFrame([{"id": i.id, "kind": i.kind, "passed": i.passed, "score": i.score,
                              "points": i.points, "explanation": i.explain(lang)} for i in self.items])


class _Db:
    """Read-only access that tolerates a database the CRM API has not migrated yet."""

    def __init__(self, con: sqlite3.Connection):
        self.con = con
        self._cols: dict[str, set[str]] = {}

    def has(self, table: str, column: str | None = None) -> bool:
        if table not in self._cols:
            self._cols[table] = {r[1] for r in self.con.execute(f'PRAGMA table_info("{table}")')}
        return bool(self._cols[table]) and (column is None or column in self._cols[table])

    def row(self, table: str, key: str, value) -> dict | None:
        if not self.has(table):
            return None
        r = self.con.execute(f"SELECT * FROM {table} WHERE {key} = ?", (value,)).fetchone()
        return None if r is None else dict(r)

    def scalar(self, sql: str, args=()):
        return self.con.execute(sql, tuple(args)).fetchone()[0]


def _field(ok: bool, what: str, rid, attr: str, want, have) -> Part:
    return Part(ok, "chk_field", {"what": Label("record", what), "id": rid, "attr": Label("attr", attr),
                                  "want": want, "have": have})


def _missing(what: str, rid) -> list[Part]:
    return [Part(False, "not_found", {"what": Label("record", what), "id": rid})]


def _yesno(flag) -> Label:
    return Label("value", "yes" if flag else "no")


# -- the kinds -----------------------------------------------------------------------------
def _ticket_status(db: _Db, c: dict) -> list[Part]:
    t = db.row("tickets", "ticket_id", c["ticket"])
    if t is None:
        return _missing("tickets", c["ticket"])
    parts = []
    if "status" in c:
        have = "closed" if t.get("closed_at") else t["status"]
        parts.append(_field(have == c["status"], "tickets", c["ticket"], "status",
                            Label("ticket_status", c["status"]), Label("ticket_status", have)))
    who = t.get("assigned_to") or t["agent_id"]
    if "assigned_role" in c:
        role = db.row("agents", "agent_id", who)["role"] if who else None
        parts.append(_field(role == c["assigned_role"], "tickets", c["ticket"], "assigned_role",
                            Label("role", c["assigned_role"]), Label("role", role) if role else Label("value", "none")))
    if "assigned_to" in c:
        parts.append(_field(who == c["assigned_to"], "tickets", c["ticket"], "assigned_to", c["assigned_to"],
                            who or Label("value", "none")))
    if "escalated" in c:
        parts.append(_field(bool(t["escalated"]) == bool(c["escalated"]), "tickets", c["ticket"], "escalated",
                            _yesno(c["escalated"]), _yesno(t["escalated"])))
    if "answered" in c:
        have = t["first_response_at"] is not None
        parts.append(_field(have == bool(c["answered"]), "tickets", c["ticket"], "answered", _yesno(c["answered"]),
                            _yesno(have)))
    return parts


def _merged(db: _Db, c: dict, table: str, key: str) -> list[Part]:
    ids = c["accounts"] if table == "accounts" else c["contacts"]
    survivor, others = ids[0], ids[1:]
    if db.row(table, key, survivor) is None:
        return _missing(table, survivor)
    parts = []
    for other in others:
        row = db.row(table, key, other)
        if row is None:
            parts += _missing(table, other)
            continue
        have = row.get("merged_into")
        parts.append(_field(have == survivor, table, other, "merged_into", survivor, have or Label("value", "none")))
    for what in ("orders", "tickets", "contacts", "opportunities"):
        want = c.get(f"{what}_kept")
        if want is not None:
            have = db.scalar(f"SELECT count(*) FROM {what} WHERE {key} = ?", (survivor,))
            parts.append(Part(have == want, "chk_count", {"what": Label("record", table), "id": survivor,
                                                          "attr": Label("attr", what), "want": want, "have": have}))
    return parts


def _opportunity_stage(db: _Db, c: dict) -> list[Part]:
    o = db.row("opportunities", "opportunity_id", c["opportunity"])
    if o is None:
        return _missing("opportunities", c["opportunity"])
    oid = c["opportunity"]
    parts = []
    if "stage" in c:
        parts.append(_field(o["stage"] == c["stage"], "opportunities", oid, "stage", Label("stage", c["stage"]),
                            Label("stage", o["stage"])))
    if "lost_reason" in c:
        have = o["lost_reason"] or ""
        want = c["lost_reason"]
        ok = bool(have.strip()) if want is True else have == want
        parts.append(_field(ok, "opportunities", oid, "lost_reason", "…" if want is True else want,
                            have or Label("value", "none")))
    quote = db.con.execute("SELECT amount, discount FROM quotes WHERE opportunity_id = ? ORDER BY quoted_at DESC, "
                           "quote_id DESC LIMIT 1", (oid,)).fetchone()
    if "min_quote" in c:
        ok = quote is not None and quote[0] >= c["min_quote"]
        parts.append(Part(ok, "chk_min_quote", {"id": oid, "want": c["min_quote"],
                                                "have": quote[0] if quote else Label("value", "no_quote")}))
    if "max_discount" in c:
        if quote is None:
            parts.append(Part(False, "chk_min_quote", {"id": oid, "want": 0, "have": Label("value", "no_quote")}))
        else:
            parts.append(Part(quote[1] <= c["max_discount"] + 1e-9, "chk_max_discount",
                              {"id": oid, "want": c["max_discount"], "have": quote[1]}))
    return parts


def _lead_status(db: _Db, c: dict) -> list[Part]:
    lead = db.row("leads", "lead_id", c["lead"])
    if lead is None:
        return _missing("leads", c["lead"])
    have = "converted" if lead["account_id"] else lead["status"]  # as the API sees a lead the simulator converted
    parts = [_field(have == c["status"], "leads", c["lead"], "status", Label("lead_status", c["status"]),
                    Label("lead_status", have))]
    if c["status"] == "converted":
        n = db.scalar("SELECT count(*) FROM opportunities WHERE lead_id = ?", (c["lead"],))
        parts.append(Part(n >= 1, "chk_count", {"what": Label("record", "leads"), "id": c["lead"],
                                                "attr": Label("attr", "opportunities"), "want": "≥ 1", "have": n}))
    return parts


def _complaint(db: _Db, c: dict) -> list[Part]:
    row = db.row("complaints", "ticket_id", c["ticket"])
    if row is None:
        return [Part(False, "chk_none", {"what": Label("record", "complaints"), "detail": f"ticket_id={c['ticket']}"})]
    parts = [Part(True, "chk_ok", {})]  # registered at all earns its share
    for attr in ("cause", "severity", "recovery_action"):
        if attr in c:
            parts.append(_field(row[attr] == c[attr], "complaints", row["complaint_id"], attr, c[attr], row[attr]))
    if "closed" in c:
        have = row["closed_at"] is not None
        parts.append(_field(have == bool(c["closed"]), "complaints", row["complaint_id"], "closed",
                            _yesno(c["closed"]), _yesno(have)))
    return parts


def _campaign_members(db: _Db, c: dict) -> list[Part]:
    if db.row("campaigns", "campaign_id", c["campaign"]) is None:
        return _missing("campaigns", c["campaign"])
    parts = []
    for acc in c["accounts"]:
        m = db.con.execute("SELECT responded_at FROM campaign_members WHERE campaign_id = ? AND account_id = ?",
                           (c["campaign"], acc)).fetchone()
        parts.append(_field(m is not None, "accounts", acc, "member", _yesno(True), _yesno(m is not None)))
        if "responded" in c and m is not None:
            have = m[0] is not None
            parts.append(_field(have == bool(c["responded"]), "accounts", acc, "responded", _yesno(c["responded"]),
                                _yesno(have)))
    return parts


def _account_grade(db: _Db, c: dict) -> list[Part]:
    acc = db.row("accounts", "account_id", c["account"])
    if acc is None:
        return _missing("accounts", c["account"])
    parts = []
    for attr in ("grade", "segment"):
        if attr in c:
            have = acc.get(attr)
            parts.append(_field(have == c[attr], "accounts", c["account"], attr, c[attr], have or Label("value", "none")))
    return parts


_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def _matching(db: _Db, table: str, where: dict, extra: str = "", args=()) -> int:
    for col in where:
        if not _IDENT.match(col) or not db.has(table, col):
            return 0
    sql = f"SELECT count(*) FROM {table} WHERE 1" + "".join(f" AND {col} = ?" for col in where) + extra
    return db.scalar(sql, (*where.values(), *args))


def _followup(db: _Db, c: dict) -> list[Part]:
    if not db.has("followups"):
        n = 0
    else:
        where = {"account_id": c["account"], "status": c.get("status", "open")}
        for key, col in (("rep", "rep_id"), ("opportunity", "opportunity_id")):
            if key in c:
                where[col] = c[key]
        extra, args = ("", ())
        if "due_before" in c:
            extra, args = " AND due_at <= ?", (c["due_before"],)
        n = _matching(db, "followups", where, extra, args)
    detail = ", ".join(f"{k}={v}" for k, v in c.items() if k not in ("kind", "points", "id"))
    return [Part(n >= 1, "chk_none", {"what": Label("record", "followups"), "detail": detail})]


def _activity(db: _Db, c: dict) -> list[Part]:
    where = {"account_id": c["account"]}
    for key, col in (("type", "type"), ("opportunity", "opportunity_id"), ("rep", "rep_id")):
        if key in c:
            where[col] = c[key]
    extra, args = (" AND done_at >= ?", (c["since"],)) if "since" in c else ("", ())
    n = _matching(db, "activities", where, extra, args)
    want = c.get("min_count", 1)
    detail = ", ".join(f"{k}={v}" for k, v in c.items() if k not in ("kind", "points", "id"))
    return [Part(n >= want, "chk_rows", {"table": "activities", "detail": detail, "have": n, "want": f"≥ {want}"})]


def _rows(db: _Db, c: dict) -> list[Part]:
    table, where = c["table"], c.get("where", {})
    if not _IDENT.match(table) or not db.has(table):
        n = 0
    else:
        n = _matching(db, table, where)
    detail = ", ".join(f"{k}={v}" for k, v in where.items()) or "*"
    parts = []
    for key, ok, shown in (("count", lambda n, v: n == v, "= {}"), ("min", lambda n, v: n >= v, "≥ {}"),
                           ("max", lambda n, v: n <= v, "≤ {}")):
        if key in c:
            parts.append(Part(ok(n, c[key]), "chk_rows", {"table": table, "detail": detail, "have": n,
                                                          "want": shown.format(c[key])}))
    return parts


def _audited(db: _Db, c: dict) -> list[Part]:
    """The record may be the one changed or one it names (a quote's opportunity, a moved order's
    account): the operation concerned it either way."""
    n = 0
    if db.has("audit_log"):
        sql, args = "SELECT count(*) FROM audit_log WHERE operation = ?", [c["operation"]]
        if "record" in c:
            sql += (" AND (record_id = ? OR EXISTS (SELECT 1 FROM json_each(coalesce(after, before)) "
                    "WHERE value = ?))")
            args += [c["record"], c["record"]]
        if "user" in c:
            sql += " AND user = ?"
            args.append(c["user"])
        n = db.scalar(sql, args)
    return [Part(n >= 1, "chk_audit", {"record": c.get("record", "*"), "operation": c["operation"]})]


@dataclass(frozen=True)
class Kind:
    check: Callable[[_Db, dict], list[Part]]
    required: tuple[str, ...]
    optional: tuple[str, ...]
    help: str
    at_least_one: tuple[str, ...] = field(default=())


KINDS: dict[str, Kind] = {
    "ticket_status": Kind(_ticket_status, ("ticket",), ("status", "assigned_role", "assigned_to", "escalated", "answered"),
                          "a ticket's status (open/resolved/closed/abandoned), handler's role or id, escalation, answer",
                          ("status", "assigned_role", "assigned_to", "escalated", "answered")),
    "accounts_merged": Kind(lambda db, c: _merged(db, c, "accounts", "account_id"), ("accounts",),
                            ("orders_kept", "tickets_kept", "contacts_kept", "opportunities_kept"),
                            "accounts[1:] merged into accounts[0]; optional counts the survivor must hold"),
    "contacts_merged": Kind(lambda db, c: _merged(db, c, "contacts", "contact_id"), ("contacts",),
                            ("orders_kept", "tickets_kept"),
                            "contacts[1:] merged into contacts[0]; optional counts the survivor must hold"),
    "opportunity_stage": Kind(_opportunity_stage, ("opportunity",), ("stage", "min_quote", "max_discount", "lost_reason"),
                              "an opportunity's stage, its latest quote's amount and discount, the reason lost "
                              "(true = any reason)", ("stage", "min_quote", "max_discount", "lost_reason")),
    "lead_status": Kind(_lead_status, ("lead", "status"), (),
                        "a lead's status; 'converted' also needs an opportunity from it"),
    "complaint": Kind(_complaint, ("ticket",), ("cause", "severity", "recovery_action", "closed"),
                      "a complaint registered on a ticket, with its cause, severity, recovery action, closed or not"),
    "campaign_members": Kind(_campaign_members, ("campaign", "accounts"), ("responded",),
                             "accounts enrolled in a campaign (and whether they responded)"),
    "account_grade": Kind(_account_grade, ("account",), ("grade", "segment"),
                          "an account's value grade and segment", ("grade", "segment")),
    "followup": Kind(_followup, ("account",), ("status", "rep", "opportunity", "due_before"),
                     "a follow-up for an account (status default 'open', owner, linked deal, due by)"),
    "activity": Kind(_activity, ("account",), ("type", "opportunity", "rep", "since", "min_count"),
                     "activities logged for an account (default: at least one)"),
    "rows": Kind(_rows, ("table",), ("where", "count", "min", "max"),
                 "generic: rows of a table whose columns equal `where`, counted", ("count", "min", "max")),
    "audited": Kind(_audited, ("operation",), ("record", "user"),
                    "the operation was done through the API (audit log), e.g. 'ticket.escalate', on the record or "
                    "one it names"),
}
COMMON = ("kind", "points", "id")


def validate(conditions: list[dict]) -> list[dict]:
    """Check the conditions' shape before any database is read; errors name the condition."""
    out = []
    for i, c in enumerate(conditions):
        where = f"conditions[{i}]" + (f" ({c.get('id')})" if isinstance(c, dict) and c.get("id") else "")
        if not isinstance(c, dict) or c.get("kind") not in KINDS:
            kind = c.get("kind") if isinstance(c, dict) else c
            raise ValueError(f"{where}: unknown kind {kind!r}; known: {', '.join(KINDS)}")
        spec = KINDS[c["kind"]]
        missing = [f for f in spec.required if f not in c]
        if missing:
            raise ValueError(f"{where}: kind '{c['kind']}' needs {', '.join(missing)}")
        unknown = [f for f in c if f not in spec.required + spec.optional + COMMON]
        if unknown:
            raise ValueError(f"{where}: kind '{c['kind']}' has no field {', '.join(unknown)}; "
                             f"it takes {', '.join(spec.required + spec.optional)}")
        if spec.at_least_one and not any(f in c for f in spec.at_least_one):
            raise ValueError(f"{where}: kind '{c['kind']}' needs at least one of {', '.join(spec.at_least_one)}")
        points = c.get("points", 1)
        if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
            raise ValueError(f"{where}: points must be a number ≥ 0")
        out.append(dict(c, id=str(c.get("id", i + 1)), points=points))
    return out


def load_conditions(source: str | Path, key: str = "conditions") -> list[dict]:
    """Conditions from TOML text or a .toml file (an array of tables named ``key``)."""
    text = Path(source).read_text(encoding="utf-8") if isinstance(source, Path) or (
        isinstance(source, str) and source.endswith(".toml") and "\n" not in source) else source
    return validate(tomllib.loads(text).get(key, []))


def check_state(path: str | Path, conditions: list[dict]) -> Result:
    """Evaluate every condition on the database at ``path`` (opened read-only)."""
    conditions = validate(conditions)
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(path)
    con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        db = _Db(con)
        items = []
        for c in conditions:
            parts = tuple(KINDS[c["kind"]].check(db, c))
            met = sum(p.ok for p in parts)
            score = round(c["points"] * met / len(parts), 4) if parts else 0.0
            items.append(ConditionResult(c["id"], c["kind"], c["points"], score, parts))
        return Result(tuple(items))
    finally:
        con.close()


def reference() -> str:
    """The kinds as a Markdown table (for docs and module authors)."""
    lines = ["| kind | required | optional | checks |", "|---|---|---|---|"]
    for name, k in KINDS.items():
        lines.append(f"| `{name}` | {', '.join(k.required)} | {', '.join(k.optional) or '—'} | {k.help} |")
    return "\n".join(lines)

