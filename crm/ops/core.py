"""The CRM session's spine: one audited transaction per operation, the clock, and reading and
writing records with their audit rows.

Every business area (``accounts.py``, ``tickets.py`` …) is a class on top of :class:`Base`; the
:class:`~crmlab.crm.ops.CRM` a learner opens is all of them together.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import sqlite3
from pathlib import Path
from typing import Self

import pandas as pd

from ..errors import ClockError, ConstraintViolation, InvalidValue, MergedAway, NotFound
from ..messages import Label, check_lang
from ..migrate import migrate
from .fields import Fields, _fmt, _parse


# table -> (primary key, id prefix, digits when the table is still empty)
ID_STYLE = {
    "accounts": ("account_id", "A", 4), "contacts": ("contact_id", "C", 5), "leads": ("lead_id", "L", 5),
    "opportunities": ("opportunity_id", "Q", 5), "quotes": ("quote_id", "R", 6),
    "activities": ("activity_id", "V", 6), "tickets": ("ticket_id", "T", 6), "complaints": ("complaint_id", "Y", 5),
    "followups": ("followup_id", "F", 5), "campaigns": ("campaign_id", "", 0), "reps": ("rep_id", "S", 2),
    "agents": ("agent_id", "", 0), "orders": ("order_id", "O", 6), "lead_sources": ("source_id", "", 0),
}


def operation(name: str):
    """Run the method as one audited transaction named ``name`` (e.g. ``ticket.close``)."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(self: "Base", *args, **kwargs):
            if self._op is not None:  # called from inside another operation: part of that one
                return fn(self, *args, **kwargs)
            con = self._con
            con.execute("BEGIN IMMEDIATE")
            self._op = (name, con.execute("SELECT coalesce(max(op_no), 0) + 1 FROM audit_log").fetchone()[0])
            try:
                result = fn(self, *args, **kwargs)
                self._record_call(name, args, kwargs)
            except sqlite3.IntegrityError as exc:
                con.execute("ROLLBACK")
                raise ConstraintViolation("constraint", self.lang, detail=str(exc)) from exc
            except BaseException:
                con.execute("ROLLBACK")
                raise
            else:
                con.execute("COMMIT")
            finally:
                self._op = None
            return result
        run.operation = name
        return run
    return wrap


class Base(Fields):
    """An operational CRM session on one database, as one user, in one language: the clock and the
    records; the business operations are in the area classes."""

    def __init__(self, con: sqlite3.Connection, user: str, lang: str):
        if not isinstance(user, str) or not user.strip():
            raise InvalidValue("required", check_lang(lang), field=Label("field", "user"))
        self._con, self.user, self.lang = con, user.strip(), check_lang(lang)
        self._op: tuple[str, int] | None = None
        meta = dict(con.execute("SELECT key, value FROM meta"))
        self.meta = meta
        self.horizon = f"{meta['snapshot_date']} 00:00:00"
        self._now = max(self.horizon, self._last_change())

    @classmethod
    def open(cls, path: str | Path, user: str = "student", lang: str = "zh_CN", now: str | None = None) -> Self:
        """Open (and if needed migrate) the CRM database at ``path``."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(path)
        # transactions are explicit, one per operation; any thread may use the session (one at a
        # time): ipywidgets callbacks, e.g. the console's buttons, run on another thread than the cell
        con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA foreign_keys = ON")
        migrate(con)
        crm = cls(con, user, lang)
        if now is not None:
            crm.set_clock(now)
        return crm

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- clock ----------------------------------------------------------------------------
    @property
    def now(self) -> str:
        """The CRM's current time, 'YYYY-MM-DD HH:MM:SS'."""
        return self._now

    def _last_change(self) -> str:
        row = self._con.execute("SELECT max(at) FROM audit_log").fetchone()
        return row[0] or self.horizon

    def set_clock(self, when) -> str:
        """Set the CRM's time; never earlier than the data's horizon or the latest change."""
        when = self._time(when, "done_at")
        floor = max(self.horizon, self._last_change())
        if when < floor:
            raise ClockError("clock_backwards", self.lang, value=when, last=floor)
        self._now = when
        return when

    def advance(self, *, days: float = 0, hours: float = 0, minutes: float = 0) -> str:
        """Move the clock forward."""
        step = dt.timedelta(days=days, hours=hours, minutes=minutes)
        if step < dt.timedelta(0):
            raise ClockError("clock_backwards", self.lang, value=_fmt(_parse(self._now) + step), last=self._now)
        self._now = _fmt(_parse(self._now) + step)
        return self._now

    # -- records and their audit rows -------------------------------------------------------
    def _setting(self, key: str) -> float:
        return self._con.execute("SELECT value FROM ops_settings WHERE key = ?", (key,)).fetchone()[0]

    def _codes(self, table: str, column: str) -> list[str]:
        return [r[0] for r in self._con.execute(f"SELECT {column} FROM {table} ORDER BY {column}")]

    def _row(self, table: str, rid) -> dict | None:
        key = ID_STYLE[table][0]
        row = self._con.execute(f"SELECT * FROM {table} WHERE {key} = ?", (rid,)).fetchone()
        return None if row is None else dict(row)

    def _get(self, table: str, rid, *, active: bool = True) -> dict:
        """The record, or NotFound; a merged-away account or contact is refused unless ``active=False``."""
        row = self._row(table, rid) if isinstance(rid, str) else None
        if row is None:
            raise self._err(NotFound, "not_found", what=Label("record", table), id=rid)
        if active and row.get("merged_into"):
            raise self._err(MergedAway, "merged_away", what=Label("record", table), id=rid, into=row["merged_into"])
        return row

    def _next_id(self, table: str) -> str:
        key, prefix, width = ID_STYLE[table]
        n, longest = self._con.execute(
            f"SELECT max(CAST(substr({key}, {len(prefix) + 1}) AS INTEGER)), max(length({key})) FROM {table} "
            f"WHERE {key} GLOB ?", (prefix + "[0-9]*",)).fetchone()
        width = max(width, (longest or 0) - len(prefix))
        return f"{prefix}{(n or 0) + 1:0{width}d}"

    def _record_call(self, name: str, args: tuple, kwargs: dict) -> None:
        """The operation as called (``operations``), so that it can be done again on the company's later data; one
        that changed nothing (no audit row) is not kept: every change of the database leaves an audit row."""
        if self._con.execute("SELECT 1 FROM audit_log WHERE op_no = ? LIMIT 1", (self._op[1],)).fetchone() is None:
            return
        try:
            a, k = json.dumps(list(args), ensure_ascii=False), json.dumps(kwargs, ensure_ascii=False, sort_keys=True)
        except (TypeError, ValueError):      # an argument that is no plain data: the call is kept, not its arguments
            a = k = None
        self._con.execute("INSERT INTO operations (op_no, operation, at, user, args, kwargs) VALUES (?, ?, ?, ?, ?, ?)",
                          (self._op[1], name, self._now, self.user, a, k))

    def _audit(self, table: str, rid: str, before, after) -> None:
        name, op_no = self._op
        self._con.execute(
            "INSERT INTO audit_log (op_no, at, user, operation, record_table, record_id, before, after) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (op_no, self._now, self.user, name, table, rid, _json(before), _json(after)))

    def _insert(self, table: str, row: dict) -> str:
        cols = ", ".join(row)
        self._con.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
        rid = row[ID_STYLE[table][0]]
        self._audit(table, rid, None, self._row(table, rid))
        return rid

    def _update(self, table: str, rid: str, changes: dict) -> dict:
        key = ID_STYLE[table][0]
        before = self._row(table, rid)
        sets = ", ".join(f"{c} = ?" for c in changes)
        self._con.execute(f"UPDATE {table} SET {sets} WHERE {key} = ?", (*changes.values(), rid))
        after = self._row(table, rid)
        self._audit(table, rid, before, after)
        return after

    def _belongs(self, table: str, rid, account: str, code: str, param: str) -> dict | None:
        if rid is None:
            return None
        row = self._get(table, rid)
        if row["account_id"] != account:
            raise self._err(InvalidValue, code, **{param: rid, "actual": row["account_id"], "expected": account})
        return row

    def _today(self) -> str:
        return self._now[:10]

    def _frame(self, sql: str, args=()) -> pd.DataFrame:
        return pd.read_sql_query(sql, self._con, params=list(args))


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
