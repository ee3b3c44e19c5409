"""The action log: what a person did by clicking, kept as data that can be done again.

Why it exists: nbgrader grades a notebook by executing it again on a fresh copy of the student's
database. Code cells replay themselves; clicks in the console (:mod:`crmlab.crm.console`) do not. So the
console appends every change it makes to ``crm_actions.jsonl`` beside the database — one JSON
object per line::

    {"args": ["T007092"], "at": "2026-01-01 09:00:00", "data": "education_services/3/zh_CN/200/2026-01-01",
     "kwargs": {}, "op": "ticket.resolve", "user": "student01", "v": 1}

``op`` is the operation's name in the audit log, ``at`` the CRM clock when it ran, ``data`` which
simulated data it was done on. :func:`replay` sets the clock to ``at`` and calls the same API
method with the same arguments; the API is deterministic (next free ids, no wall clock), so the
replayed database equals the student's, ``iterdump`` for ``iterdump``.

Replay is idempotent, so it can run every time the console opens: a line counts as already done
when the audit log holds the same operation by the same user at the same CRM time on the same
record (the first argument), matched one to one — two identical lines need two audited
operations. On the student's own database nothing is replayed; on the grader's fresh copy,
everything. A log written on other data (a classmate's) is not replayed at all. Refused actions
change nothing and are not logged.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DomainError
from .messages import Label, render
from .ops import CRM

LOG_NAME = "crm_actions.jsonl"
LOG_VERSION = 1

# every audited operation of the API, by its audit name: the log can hold any of them (the CRM is made of
# one class per business area, so its methods are looked up through all of them, not in vars(CRM))
OPERATIONS: dict[str, str] = {getattr(CRM, name).operation: name for name in dir(CRM)
                              if hasattr(getattr(CRM, name), "operation")}


def data_id(meta: dict) -> str:
    """Which simulated data a database holds (scenario, data id — the seed's stand-in —, locale,
    size, horizon)."""
    keys = ("scenario", "data_id", "locale", "customers", "snapshot_date")
    return "/".join(str(meta.get(k, "?")) for k in keys)


@dataclass(frozen=True)
class Action:
    """One logged operation: API operation name, its arguments, who, at which CRM time, on which data."""
    op: str
    args: tuple
    kwargs: dict
    at: str
    user: str
    data: str

    def to_json(self) -> str:
        return json.dumps({"v": LOG_VERSION, "op": self.op, "args": list(self.args), "kwargs": self.kwargs,
                           "at": self.at, "user": self.user, "data": self.data}, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Action":
        d = json.loads(text)
        if not isinstance(d, dict) or d.get("v") != LOG_VERSION or d.get("op") not in OPERATIONS:
            raise ValueError(f"not a v{LOG_VERSION} action of a known operation")
        return cls(d["op"], tuple(d["args"]), dict(d["kwargs"]), d["at"], d["user"], d["data"])

    @property
    def record(self):
        """The record the action is about: the API takes it as the first argument."""
        return self.args[0] if self.args and isinstance(self.args[0], str) else None


class ActionLog:
    """The log file: appended one line per action, read back in order."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def writable(self) -> bool:
        """Checked before an action, so nothing is done that could not be logged (at grading the
        submitted files are read-only)."""
        if self.path.exists():
            return os.access(self.path, os.W_OK)
        return os.access(self.path.parent, os.W_OK)

    def append(self, action: Action) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(action.to_json() + "\n")
            f.flush()
            os.fsync(f.fileno())

    def read(self) -> tuple[list[tuple[int, Action]], list["Problem"]]:
        """(line number, action) for every readable line, and a problem for every unreadable one."""
        if not self.path.is_file():
            return [], []
        actions, problems = [], []
        for no, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                actions.append((no, Action.from_json(line)))
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(Problem(no, "ui_log_bad_line", {"line": no, "detail": str(exc)[:80]}))
        return actions, problems


@dataclass(frozen=True)
class Problem:
    """A log line that was not replayed, with its reason (rendered in either language)."""
    line: int
    code: str
    params: dict
    error: DomainError | None = None

    def message(self, lang: str) -> str:
        params = dict(self.params)
        if self.error is not None:
            params["reason"] = self.error.message(lang)
        return render(self.code, lang, params)


@dataclass
class ReplayReport:
    applied: list[int] = field(default_factory=list)    # log line numbers done now
    skipped: list[int] = field(default_factory=list)    # already in the database
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def messages(self, lang: str) -> list[str]:
        head = render("ui_replayed", lang, {"applied": len(self.applied), "skipped": len(self.skipped)})
        return [head] + [p.message(lang) for p in self.problems]


def _audited(crm: CRM) -> Counter:
    """(operation, time, user, record) for every audited operation, for each record it touched —
    the record changed, or one its row names (a quote's opportunity, a merged account's survivor)."""
    ops: dict[int, tuple[tuple, set]] = {}
    for op_no, operation, at, user, record, before, after in crm._con.execute(
            "SELECT op_no, operation, at, user, record_id, before, after FROM audit_log ORDER BY seq"):
        _, touched = ops.setdefault(op_no, ((operation, at, user), {None}))
        touched.add(record)
        for text in (before, after):
            if text:
                touched.update(v for v in json.loads(text).values() if isinstance(v, str))
    keys: Counter = Counter()
    for head, touched in ops.values():
        for record in touched:
            keys[(*head, record)] += 1
    return keys


def apply_log(crm: CRM, log: ActionLog) -> ReplayReport:
    """Apply the log's actions that the database does not hold yet, in order, each at its own
    CRM time and as its own user. A refused line is reported and the rest goes on (later lines
    may not depend on it: partial work still counts)."""
    report = ReplayReport()
    actions, report.problems = log.read()
    here = data_id(crm.meta)
    foreign = sorted({a.data for _, a in actions if a.data != here})
    if foreign:
        report.problems.append(Problem(0, "ui_log_other_data", {"path": log.path.name, "logged": ", ".join(foreign),
                                                                 "have": here}))
        return report
    done = _audited(crm)
    user = crm.user
    try:
        for no, action in actions:
            key = (action.op, action.at, action.user, action.record)
            if done[key] > 0:
                done[key] -= 1
                report.skipped.append(no)
                continue
            try:
                if action.at != crm.now:
                    crm.set_clock(action.at)
                crm.user = action.user
                getattr(crm, OPERATIONS[action.op])(*action.args, **action.kwargs)
                report.applied.append(no)
            except DomainError as err:
                report.problems.append(Problem(no, "ui_replay_failed", {
                    "line": no, "action": Label("op", action.op), "record": action.record or ""}, err))
            except TypeError as exc:  # arguments the method does not take: a hand-edited line
                report.problems.append(Problem(no, "ui_log_bad_line", {"line": no, "detail": str(exc)[:80]}))
    finally:
        crm.user = user
    return report


def replay(db: str | Path, log: str | Path | None = None, *, lang: str = "zh_CN") -> ReplayReport:
    """Re-apply an action log (default: ``crm_actions.jsonl`` beside ``db``) to the database.

    For grading: run on the fresh database the grader placed, then check the state
    (:func:`crm.check_state`). Running it twice changes nothing the second time."""
    db = Path(db)
    log = db.with_name(LOG_NAME) if log is None else Path(log)
    with CRM.open(db, user="replay", lang=lang) as crm:
        return apply_log(crm, ActionLog(log))


def redo(db: str | Path, calls: list[dict], *, user: str, lang: str = "zh_CN") -> list[dict]:
    """Do operations recorded in another database of the same company (rows of its ``operations`` table:
    ``operation``, ``at``, ``args``, ``kwargs``) again on ``db`` — the company's data as of a later day, in the
    term's next module (grading/classroom/company.py) — in order, each at its own CRM time, as ``user``
    (never the user a row names: the rows come from a student's database). The calls happened before this
    data's day, so the clock may go back to the first of them. Returns, per call, whether it was done
    (``done``) and if not why (``reason``, in ``lang``): a call may be refused here though it was done there,
    when the company has moved on (a lead the student qualified that the company has since lost)."""
    out = []
    with CRM.open(db, user=user, lang=lang) as crm:
        first = min((c["at"] for c in calls if isinstance(c.get("at"), str)), default=None)
        if first is not None:
            crm.horizon = min(crm.horizon, first)
        for c in calls:
            name, args, kwargs = OPERATIONS.get(c.get("operation")), c.get("args"), c.get("kwargs")
            done = {"operation": c.get("operation"), "at": c.get("at"), "done": False}
            if name is None or not isinstance(args, list) or not isinstance(kwargs, dict):
                out.append({**done, "reason": render("ui_redo_unreadable", lang, {})})
                continue
            try:
                crm.set_clock(c["at"])
                getattr(crm, name)(*args, **kwargs)
                done["done"] = True
            except DomainError as err:
                done["reason"] = err.message(lang)
            except TypeError as exc:     # arguments the method does not take: a row written by hand
                done["reason"] = render("ui_redo_unreadable", lang, {}) + f" ({str(exc)[:80]})"
            out.append(done)
    return out
