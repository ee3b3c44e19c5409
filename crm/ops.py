"""The operational CRM: business operations on a simulated CRM database.

``crm = CRM.open("crm.db", user="student01", lang="zh_CN")`` then e.g.
``crm.open_ticket(...)``, ``crm.move_stage(...)``, ``crm.merge_accounts(...)``.

Design (docs/design.md, "Operational CRM API"):

- **One operation, one transaction.** Every public method that changes data runs inside
  ``BEGIN IMMEDIATE … COMMIT``; it checks its business rules first and raises a
  :class:`~crmlab.crm.errors.DomainError` (message in the learner's language) before writing anything.
  Any exception rolls the whole operation back, so a refused operation leaves the database
  exactly as it was.
- **Audit log.** Every changed record gets a row in ``audit_log``: who, when (the CRM's clock),
  which operation, which record, its JSON before and after.
- **Reproducible.** Ids are the next free number in the database's own style (``T010163``);
  times come from the CRM's clock, which starts at the data's horizon (``meta.snapshot_date``)
  or the latest audited change, whichever is later, and moves only when told. No wall clock and
  no randomness: the same calls on the same database give the same database.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import re
import sqlite3
from pathlib import Path

import pandas as pd

from crmlab.vocab import (ACTIVITY_TYPES, CAMPAIGN_CHANNELS, CHANNELS, GRADES, NEXT_STAGE, OPEN_STAGES,  # noqa: F401
                          PRIORITIES, REASONS, RECOVERY_ACTIONS, SEVERITIES, STAGE_PROBABILITY, STAGES)

from . import dedupe
from .errors import (ClockError, Conflict, ConstraintViolation, DomainError, IllegalTransition, InvalidValue,
                     MergedAway, NotFound)
from .messages import Label, check_lang
from .migrate import migrate, referencing


# table -> (primary key, id prefix, digits when the table is still empty)
ID_STYLE = {
    "accounts": ("account_id", "A", 4), "contacts": ("contact_id", "C", 5), "leads": ("lead_id", "L", 5),
    "opportunities": ("opportunity_id", "Q", 5), "quotes": ("quote_id", "R", 6),
    "activities": ("activity_id", "V", 6), "tickets": ("ticket_id", "T", 6), "complaints": ("complaint_id", "Y", 5),
    "followups": ("followup_id", "F", 5), "campaigns": ("campaign_id", "", 0), "reps": ("rep_id", "S", 2),
    "agents": ("agent_id", "", 0), "orders": ("order_id", "O", 6), "lead_sources": ("source_id", "", 0),
}
EDITABLE = {"accounts": ("name", "kind", "city", "address"), "contacts": ("name", "title", "phone", "email")}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()\-]+$")
_CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9_]+$")
TIME = "%Y-%m-%d %H:%M:%S"


def operation(name: str):
    """Run the method as one audited transaction named ``name`` (e.g. ``ticket.close``)."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(self: "CRM", *args, **kwargs):
            if self._op is not None:  # called from inside another operation: part of that one
                return fn(self, *args, **kwargs)
            con = self._con
            con.execute("BEGIN IMMEDIATE")
            self._op = (name, con.execute("SELECT coalesce(max(op_no), 0) + 1 FROM audit_log").fetchone()[0])
            try:
                result = fn(self, *args, **kwargs)
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


class CRM:
    """An operational CRM session on one database, as one user, in one language."""

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
    def open(cls, path: str | Path, user: str = "student", lang: str = "zh_CN", now: str | None = None) -> "CRM":
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

    def __enter__(self) -> "CRM":
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

    # -- small helpers ----------------------------------------------------------------------
    def _err(self, cls, code: str, **params) -> DomainError:
        return cls(code, self.lang, **params)

    def _time(self, value, field: str) -> str:
        if isinstance(value, dt.datetime):
            return _fmt(value)
        if isinstance(value, dt.date):
            return f"{value.isoformat()} 00:00:00"
        text = str(value).strip()
        for pattern in (TIME, "%Y-%m-%d %H:%M", "%Y-%m-%d"):
            try:
                return _fmt(dt.datetime.strptime(text, pattern))
            except ValueError:
                pass
        raise self._err(InvalidValue, "bad_time", value=value)

    def _text(self, value, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self._err(InvalidValue, "required", field=Label("field", field))
        return value.strip()

    def _choice(self, value, allowed, field: str, namespace: str | None = None) -> str:
        if value not in allowed:
            shown = [Label(namespace, a) if namespace else a for a in allowed]
            raise self._err(InvalidValue, "unknown_value", field=Label("field", field), value=value, allowed=shown)
        return value

    def _positive(self, value, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value \
                or value == float("inf"):
            raise self._err(InvalidValue, "not_positive", field=Label("field", field), value=value)
        return float(value)

    def _email(self, value) -> str:
        if not isinstance(value, str) or not _EMAIL.match(value.strip()):
            raise self._err(InvalidValue, "bad_email", value=value)
        return value.strip()

    def _phone(self, value) -> str:
        digits = re.sub(r"\D", "", value) if isinstance(value, str) else ""
        if not isinstance(value, str) or not _PHONE.match(value.strip()) or not 7 <= len(digits) <= 15:
            raise self._err(InvalidValue, "bad_phone", value=value)
        return value.strip()

    def _setting(self, key: str) -> float:
        return self._con.execute("SELECT value FROM ops_settings WHERE key = ?", (key,)).fetchone()[0]

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

    # == accounts and contacts ================================================================
    @operation("account.create")
    def create_account(self, name: str, kind: str, city: str, address: str = "", *, source: str | None = None,
                       allow_duplicate: bool = False) -> str:
        """A new account (a prospect until its first won deal or order). Refused when an active
        account in the same city has the same normalised name, unless ``allow_duplicate``: the
        brief's company suffered from exactly such duplicates."""
        name, city = self._text(name, "name"), self._text(city, "city")
        self._choice(kind, self._codes("account_kinds", "kind"), "kind")
        if source is not None:
            self._get("lead_sources", source)
        if not allow_duplicate:
            self._refuse_duplicate(name, city)
        return self._insert("accounts", {
            "account_id": self._next_id("accounts"), "name": name, "kind": kind, "city": city,
            "address": address.strip() if isinstance(address, str) else "", "created_on": self._today(),
            "source_id": source, "lead_id": None, "customer_since": None})

    def _refuse_duplicate(self, name: str, city: str) -> None:
        key, c = dedupe.normalise_name(name, city), dedupe.normalise_city(city)
        for row in self._con.execute("SELECT account_id, name, city FROM accounts WHERE merged_into IS NULL "
                                     "ORDER BY account_id"):
            if dedupe.normalise_city(row["city"]) == c and dedupe.normalise_name(row["name"], row["city"]) == key:
                raise self._err(Conflict, "duplicate_account", name=name, city=city, existing=row["account_id"],
                                existing_name=row["name"])

    def _codes(self, table: str, column: str) -> list[str]:
        return [r[0] for r in self._con.execute(f"SELECT {column} FROM {table} ORDER BY {column}")]

    @operation("account.update")
    def update_account(self, account: str, **fields) -> dict:
        """Change name, kind, city or address of an active account."""
        self._get("accounts", account)
        changes = self._editable("accounts", fields)
        for f in ("name", "city"):
            if f in changes:
                changes[f] = self._text(changes[f], f)
        if "kind" in changes:
            self._choice(changes["kind"], self._codes("account_kinds", "kind"), "kind")
        if "address" in changes and not isinstance(changes["address"], str):
            raise self._err(InvalidValue, "required", field=Label("field", "address"))
        return self._update("accounts", account, changes)

    def _editable(self, table: str, fields: dict) -> dict:
        if not fields:
            raise self._err(InvalidValue, "unknown_field", what=Label("record", table), field="",
                            allowed=list(EDITABLE[table]))
        for f in fields:
            if f not in EDITABLE[table]:
                raise self._err(InvalidValue, "unknown_field", what=Label("record", table), field=f,
                                allowed=list(EDITABLE[table]))
        return dict(fields)

    @operation("contact.create")
    def create_contact(self, account: str, name: str, title: str, phone: str, email: str) -> str:
        """A new contact person at an active account."""
        self._get("accounts", account)
        row = {"contact_id": self._next_id("contacts"), "account_id": account, "name": self._text(name, "name"),
               "title": title.strip() if isinstance(title, str) else "", "phone": self._phone(phone),
               "email": self._email(email)}
        return self._insert("contacts", row)

    @operation("contact.update")
    def update_contact(self, contact: str, **fields) -> dict:
        """Change name, title, phone or e-mail of an active contact."""
        self._get("contacts", contact)
        changes = self._editable("contacts", fields)
        if "name" in changes:
            changes["name"] = self._text(changes["name"], "name")
        if "title" in changes:
            changes["title"] = changes["title"].strip() if isinstance(changes["title"], str) else ""
        if "phone" in changes:
            changes["phone"] = self._phone(changes["phone"])
        if "email" in changes:
            changes["email"] = self._email(changes["email"])
        return self._update("contacts", contact, changes)

    def find_duplicate_accounts(self, threshold: float | None = None) -> pd.DataFrame:
        """Pairs of active accounts that are probably one organisation (see :mod:`crmlab.crm.dedupe`),
        most certain first: same contact phone or e-mail, then name similarity within a city."""
        threshold = self._setting("duplicate_threshold") if threshold is None else threshold
        accounts = {r["account_id"]: (r["name"], r["city"]) for r in self._con.execute(
            "SELECT account_id, name, city FROM accounts WHERE merged_into IS NULL ORDER BY account_id")}
        sims = dedupe.name_similarity_table(accounts)
        shared: dict[tuple[str, str], set[str]] = {}
        by_value: dict[tuple[str, str], set[str]] = {}
        for r in self._con.execute("SELECT c.account_id, c.phone, c.email FROM contacts c JOIN accounts a "
                                   "USING (account_id) WHERE a.merged_into IS NULL AND c.merged_into IS NULL"):
            for kind, value in (("phone", dedupe.normalise_phone(r["phone"])),
                                ("email", dedupe.normalise_email(r["email"]))):
                if value:
                    by_value.setdefault((kind, value), set()).add(r["account_id"])
        for (kind, _), ids in by_value.items():
            for a in ids:
                for b in ids:
                    if a < b:
                        shared.setdefault((a, b), set()).add(kind)
        pairs = {p for p, s in sims.items() if s >= threshold} | set(shared)
        rows = []
        for a, b in sorted(pairs):
            ev = shared.get((a, b), set())
            rows.append({"account_a": a, "account_b": b, "name_a": accounts[a][0], "name_b": accounts[b][0],
                         "city_a": accounts[a][1], "city_b": accounts[b][1],
                         "name_similarity": sims.get((a, b), 0.0), "same_phone": "phone" in ev,
                         "same_email": "email" in ev})
        cols = ["account_a", "account_b", "name_a", "name_b", "city_a", "city_b", "name_similarity", "same_phone",
                "same_email"]
        df = pd.DataFrame(rows, columns=cols)
        if df.empty:
            return df
        df["evidence"] = df["same_phone"].astype(int) + df["same_email"].astype(int)
        df = df.sort_values(["evidence", "name_similarity", "account_a", "account_b"],
                            ascending=[False, False, True, True])
        return df.drop(columns="evidence").reset_index(drop=True)

    def find_duplicate_contacts(self, account: str | None = None) -> pd.DataFrame:
        """Pairs of active contacts of one account with the same name, phone or e-mail."""
        sql = "SELECT contact_id, account_id, name, phone, email FROM contacts WHERE merged_into IS NULL"
        args: tuple = ()
        if account is not None:
            sql, args = sql + " AND account_id = ?", (account,)
        groups: dict[str, list[dict]] = {}
        for r in self._con.execute(sql + " ORDER BY contact_id", args):
            groups.setdefault(r["account_id"], []).append(dict(r))
        rows = []
        for acc, people in sorted(groups.items()):
            for i, a in enumerate(people):
                for b in people[i + 1:]:
                    same = {"same_name": a["name"].strip().lower() == b["name"].strip().lower(),
                            "same_phone": dedupe.normalise_phone(a["phone"]) == dedupe.normalise_phone(b["phone"]),
                            "same_email": dedupe.normalise_email(a["email"]) == dedupe.normalise_email(b["email"])}
                    if any(same.values()):
                        rows.append({"account_id": acc, "contact_a": a["contact_id"], "contact_b": b["contact_id"],
                                     "name_a": a["name"], "name_b": b["name"], **same})
        return pd.DataFrame(rows, columns=["account_id", "contact_a", "contact_b", "name_a", "name_b", "same_name",
                                           "same_phone", "same_email"])

    @operation("account.merge")
    def merge_accounts(self, survivor: str, merged: str) -> dict[str, int]:
        """Move everything of ``merged`` (contacts, orders, tickets, calls, opportunities, leads,
        activities, complaints, CSAT, survey answers, campaign memberships, follow-ups …) to
        ``survivor`` and mark ``merged`` as merged into it. Nothing is deleted except a campaign
        membership both accounts had, which is combined into the survivor's (earliest contact,
        earliest response) — its old row is in the audit log. Returns rows moved per table."""
        keep = self._get("accounts", survivor)
        gone = self._get("accounts", merged)
        if survivor == merged:
            raise self._err(InvalidValue, "merge_self", what=Label("record", "accounts"), id=merged)
        moved = self._move_references("accounts", merged, survivor)
        fill = {}
        for col, pick in (("created_on", min), ("customer_since", min)):
            values = [v for v in (keep[col], gone[col]) if v is not None]
            if values and pick(values) != keep[col]:
                fill[col] = pick(values)
        for col in ("source_id", "lead_id", "grade", "segment"):
            if keep[col] is None and gone[col] is not None:
                fill[col] = gone[col]
        if fill:
            self._update("accounts", survivor, fill)
        self._update("accounts", merged, {"merged_into": survivor, "merged_at": self._now})
        return moved

    @operation("contact.merge")
    def merge_contacts(self, survivor: str, merged: str) -> dict[str, int]:
        """Move the orders, tickets, calls, survey answers and follow-ups of contact ``merged`` to
        ``survivor`` (both at the same account) and mark ``merged`` as merged into it."""
        keep = self._get("contacts", survivor)
        gone = self._get("contacts", merged)
        if survivor == merged:
            raise self._err(InvalidValue, "merge_self", what=Label("record", "contacts"), id=merged)
        if keep["account_id"] != gone["account_id"]:
            raise self._err(IllegalTransition, "merge_contacts_accounts", a=survivor, b=merged,
                            acc_a=keep["account_id"], acc_b=gone["account_id"])
        moved = self._move_references("contacts", merged, survivor)
        self._update("contacts", merged, {"merged_into": survivor, "merged_at": self._now})
        return moved

    def _move_references(self, target: str, old: str, new: str) -> dict[str, int]:
        """Repoint every foreign key to ``target`` from ``old`` to ``new``, including earlier merges
        into ``old``; one audit row per table lists the keys of the rows moved."""
        moved = {}
        for table, col in referencing(self._con, target):
            pk = [r[1] for r in sorted(self._con.execute(f"PRAGMA table_info({table})"), key=lambda r: r[5]) if r[5]]
            if table == "campaign_members" and col == "account_id":
                self._combine_memberships(old, new)
            keys = ["|".join(str(v) for v in r) for r in self._con.execute(
                f"SELECT {', '.join(pk)} FROM {table} WHERE {col} = ? ORDER BY {', '.join(pk)}", (old,))]
            if not keys:
                continue
            self._con.execute(f"UPDATE {table} SET {col} = ? WHERE {col} = ?", (new, old))
            self._audit(table, old, {col: old, "rows": keys}, {col: new, "rows": keys})
            moved[table] = len(keys)
        # records merged into `old` earlier now point at `new`: merges never chain
        key = ID_STYLE[target][0]
        earlier = [r[0] for r in self._con.execute(
            f"SELECT {key} FROM {target} WHERE merged_into = ? ORDER BY {key}", (old,))]
        for rid in earlier:
            self._update(target, rid, {"merged_into": new})
        return moved

    def _combine_memberships(self, old: str, new: str) -> None:
        both = self._con.execute(
            "SELECT o.campaign_id FROM campaign_members o JOIN campaign_members n USING (campaign_id) "
            "WHERE o.account_id = ? AND n.account_id = ? ORDER BY o.campaign_id", (old, new)).fetchall()
        for (campaign,) in both:
            get = lambda acc: dict(self._con.execute(
                "SELECT * FROM campaign_members WHERE campaign_id = ? AND account_id = ?", (campaign, acc)).fetchone())
            a, b = get(new), get(old)
            responses = sorted((m["responded_at"], m["order_id"] or "") for m in (a, b) if m["responded_at"])
            combined = {"contacted_at": min(a["contacted_at"], b["contacted_at"]),
                        "responded_at": responses[0][0] if responses else None,
                        "order_id": (responses[0][1] or None) if responses else None}
            if combined["order_id"] is None:
                combined["order_id"] = a["order_id"] or b["order_id"]
            self._con.execute("DELETE FROM campaign_members WHERE campaign_id = ? AND account_id = ?", (campaign, old))
            self._con.execute("UPDATE campaign_members SET contacted_at = ?, responded_at = ?, order_id = ? "
                              "WHERE campaign_id = ? AND account_id = ?", (*combined.values(), campaign, new))
            self._audit("campaign_members", f"{campaign}|{old}", b, None)
            self._audit("campaign_members", f"{campaign}|{new}", a, get(new))

    @operation("account.grade")
    def set_grade(self, account: str, grade: str) -> dict:
        """Set an account's value grade by hand (AA, AB, BA, BB)."""
        self._get("accounts", account)
        return self._update("accounts", account, {"grade": self._choice(grade, GRADES, "grade")})

    @operation("account.segment")
    def set_segment(self, account: str, segment: str) -> dict:
        """Put an account in a named segment (free text, e.g. 'key account', '重点客户')."""
        self._get("accounts", account)
        return self._update("accounts", account, {"segment": self._text(segment, "segment")})

    @operation("account.grade_all")
    def grade_accounts(self) -> pd.DataFrame:
        """Grade every active account with orders on the brief's 2×2 value grid: volume class A if
        it belongs to the largest accounts that together make 80 % of revenue, profit class A if its
        average profit per unit sold exceeds ``meta.profit_threshold``. Accounts without orders are
        left ungraded. Returns the grid."""
        grid = value_grid(self._con, float(self.meta.get("profit_threshold", 0)))
        for row in grid.itertuples():
            if self._row("accounts", row.account_id)["grade"] != row.grade:
                self._update("accounts", row.account_id, {"grade": row.grade})
        return grid

    # == leads ================================================================================
    @operation("lead.create")
    def create_lead(self, source: str, kind: str, company: str, contact_name: str, phone: str) -> str:
        """A new open lead; its cost is the source's cost per lead."""
        src = self._get("lead_sources", source)
        self._choice(kind, self._codes("account_kinds", "kind"), "kind")
        return self._insert("leads", {
            "lead_id": self._next_id("leads"), "source_id": source, "kind": kind,
            "company": self._text(company, "company"), "contact_name": self._text(contact_name, "contact_name"),
            "phone": self._phone(phone), "created_at": self._now, "status": "open", "qualified_at": None,
            "account_id": None, "cost": src["cost_per_lead"]})

    def _lead_in(self, lead: str, allowed: tuple[str, ...], action: str, rule: str) -> dict:
        row = self._get("leads", lead)
        # the simulator leaves a lead that became a customer 'qualified' with its account set:
        # for the learner it is converted
        status = "converted" if row["account_id"] is not None else row["status"]
        if status not in allowed:
            raise self._err(IllegalTransition, "lead_status", id=lead, status=Label("lead_status", status),
                            action=Label("action", action), rule=Label("rule", rule))
        return row

    @operation("lead.qualify")
    def qualify_lead(self, lead: str) -> dict:
        self._lead_in(lead, ("open",), "qualify", "lead_qualify")
        return self._update("leads", lead, {"status": "qualified", "qualified_at": self._now})

    @operation("lead.disqualify")
    def disqualify_lead(self, lead: str, reason: str) -> dict:
        self._lead_in(lead, ("open", "qualified"), "disqualify", "lead_disqualify")
        return self._update("leads", lead, {"status": "disqualified",
                                            "disqualified_reason": self._text(reason, "reason")})

    @operation("lead.convert")
    def convert_lead(self, lead: str, *, rep: str, amount: float, email: str, city: str | None = None,
                     title: str = "", address: str = "", account: str | None = None,
                     expected_close=None, allow_duplicate: bool = False) -> dict[str, str]:
        """Turn a qualified lead into an account (or attach it to an existing ``account``), a
        contact and an opportunity in stage 'qualified'. Returns the three new ids."""
        row = self._lead_in(lead, ("qualified",), "convert", "lead_convert")
        if account is None:
            account = self.create_account(row["company"], row["kind"], self._text(city, "city"), address,
                                          source=row["source_id"], allow_duplicate=allow_duplicate)
            self._update("accounts", account, {"lead_id": lead})
        else:
            self._get("accounts", account)
        contact = self.create_contact(account, row["contact_name"], title, row["phone"], email)
        opportunity = self._new_opportunity(account, rep, amount, None, expected_close, lead)
        self._update("leads", lead, {"status": "converted", "account_id": account})
        return {"account": account, "contact": contact, "opportunity": opportunity}

    # == opportunities ========================================================================
    @operation("opportunity.create")
    def create_opportunity(self, account: str, rep: str, amount: float, *, deal_type: str | None = None,
                           expected_close=None) -> str:
        """A new opportunity in stage 'qualified' (new business for a prospect, upsell for a customer)."""
        return self._new_opportunity(account, rep, amount, deal_type, expected_close, None)

    def _new_opportunity(self, account: str, rep: str, amount, deal_type, expected_close, lead) -> str:
        acc = self._get("accounts", account)
        self._get("reps", rep)
        amount = self._positive(amount, "amount")
        if deal_type is None:
            deal_type = "upsell" if acc["customer_since"] and lead is None else "new"
        self._choice(deal_type, ("new", "upsell"), "deal_type")
        if expected_close is None:
            close = _fmt(_parse(self._now) + dt.timedelta(days=self._setting("default_close_days")))
        else:
            close = self._future(expected_close, "due_at")
        oid = self._insert("opportunities", {
            "opportunity_id": self._next_id("opportunities"), "account_id": account, "lead_id": lead,
            "rep_id": rep, "deal_type": deal_type, "amount": round(amount, 2), "created_at": self._now,
            "stage": "qualified", "closed_at": None, "lost_reason": None, "won_amount": None,
            "probability": STAGE_PROBABILITY["qualified"], "expected_close": close})
        self._enter_stage(oid, "qualified")
        return oid

    def _future(self, value, field: str) -> str:
        when = self._time(value, field)
        if when < self._now:
            raise self._err(InvalidValue, "in_past", field=Label("field", field), value=when, now=self._now)
        return when

    def _enter_stage(self, opportunity: str, stage: str) -> None:
        self._con.execute("INSERT INTO stage_history VALUES (?, ?, ?)", (opportunity, stage, self._now))
        self._audit("stage_history", f"{opportunity}|{stage}", None,
                    {"opportunity_id": opportunity, "stage": stage, "entered_at": self._now})

    def _open_opportunity(self, opportunity: str) -> dict:
        row = self._get("opportunities", opportunity)
        if row["stage"] in ("won", "lost"):
            raise self._err(IllegalTransition, "opportunity_closed", id=opportunity, stage=Label("stage", row["stage"]),
                            closed_at=row["closed_at"])
        return row

    @operation("opportunity.stage")
    def move_stage(self, opportunity: str, stage: str, *, probability: float | None = None,
                   expected_close=None, reason: str | None = None, amount: float | None = None) -> dict:
        """Move an open opportunity one stage on (qualified → proposal → negotiation → won), or to
        'lost' from any open stage (with a ``reason``). Entering negotiation needs a quote; 'won'
        takes ``amount`` or the latest quote's amount."""
        row = self._open_opportunity(opportunity)
        self._choice(stage, STAGES, "stage", "stage")
        current = row["stage"]
        if stage == "lost":
            if not isinstance(reason, str) or not reason.strip():
                raise self._err(InvalidValue, "lost_reason", id=opportunity)
            reason = reason.strip()
            changes = {"stage": "lost", "closed_at": self._now, "lost_reason": reason, "probability": 0.0,
                       "expected_close": self._now}
        elif NEXT_STAGE.get(current) != stage:
            raise self._err(IllegalTransition, "stage_jump", id=opportunity, current=Label("stage", current),
                            target=Label("stage", stage), path=" → ".join(
                                Label("stage", s).text(self.lang) for s in (*OPEN_STAGES, "won")))
        elif stage == "won":
            latest = self._latest_quote(opportunity)
            won = round(self._positive(amount if amount is not None else (latest or {}).get("amount"), "amount"), 2)
            changes = {"stage": "won", "closed_at": self._now, "won_amount": won, "probability": 1.0,
                       "expected_close": self._now}
        else:
            if stage == "negotiation" and self._latest_quote(opportunity) is None:
                raise self._err(IllegalTransition, "negotiation_needs_quote", id=opportunity)
            p = STAGE_PROBABILITY[stage] if probability is None else probability
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise self._err(InvalidValue, "unknown_value", field=Label("field", "probability"), value=p,
                                allowed=["0 … 1"])
            changes = {"stage": stage, "probability": float(p)}
            if expected_close is not None:
                changes["expected_close"] = self._future(expected_close, "due_at")
        after = self._update("opportunities", opportunity, changes)
        self._enter_stage(opportunity, stage)
        if stage == "won":
            acc = self._row("accounts", row["account_id"])
            if acc["customer_since"] is None:
                self._update("accounts", row["account_id"], {"customer_since": self._today()})
        return after

    def close_won(self, opportunity: str, amount: float | None = None) -> dict:
        """Win an opportunity in negotiation (see :meth:`move_stage`)."""
        return self.move_stage(opportunity, "won", amount=amount)

    def close_lost(self, opportunity: str, reason: str) -> dict:
        """Lose an open opportunity; the reason is required."""
        return self.move_stage(opportunity, "lost", reason=reason)

    def _latest_quote(self, opportunity: str) -> dict | None:
        row = self._con.execute("SELECT * FROM quotes WHERE opportunity_id = ? ORDER BY quoted_at DESC, "
                                "quote_id DESC LIMIT 1", (opportunity,)).fetchone()
        return None if row is None else dict(row)

    @operation("opportunity.quote")
    def add_quote(self, opportunity: str, list_amount: float, discount: float = 0.0) -> str:
        """Quote an opportunity in 'proposal' or 'negotiation'; the discount may not exceed the
        ``max_discount`` setting (a larger one is a manager's decision, outside the rep's role)."""
        row = self._open_opportunity(opportunity)
        if row["stage"] not in ("proposal", "negotiation"):
            raise self._err(IllegalTransition, "quote_stage", id=opportunity, stage=Label("stage", row["stage"]))
        list_amount = round(self._positive(list_amount, "list_amount"), 2)
        limit = self._setting("max_discount")
        if isinstance(discount, bool) or not isinstance(discount, (int, float)) or not 0 <= discount < 1:
            raise self._err(InvalidValue, "unknown_value", field=Label("field", "discount"), value=discount,
                            allowed=[f"0 … {limit:g}"])
        if discount > limit:
            raise self._err(InvalidValue, "discount_limit", id=opportunity, discount=discount, limit=limit)
        amount = round(list_amount * (1 - discount), 2)
        if amount <= 0:
            raise self._err(InvalidValue, "not_positive", field=Label("field", "amount"), value=amount)
        valid = (_parse(self._now) + dt.timedelta(days=self._setting("quote_valid_days"))).date().isoformat()
        return self._insert("quotes", {"quote_id": self._next_id("quotes"), "opportunity_id": opportunity,
                                       "quoted_at": self._now, "list_amount": list_amount,
                                       "discount": float(discount), "amount": amount, "valid_until": valid})

    # == activities and follow-ups ============================================================
    @operation("activity.log")
    def log_activity(self, account: str, type: str, rep: str, *, opportunity: str | None = None,
                     note: str | None = None, done_at=None) -> str:
        """Log a call, visit or e-mail that has happened (not later than now)."""
        self._get("accounts", account)
        self._choice(type, ACTIVITY_TYPES, "type")
        self._get("reps", rep)
        self._belongs("opportunities", opportunity, account, "opportunity_other_account", "opportunity")
        when = self._now if done_at is None else self._time(done_at, "done_at")
        if when > self._now:
            raise self._err(InvalidValue, "in_future", field=Label("field", "done_at"), value=when, now=self._now)
        return self._insert("activities", {"activity_id": self._next_id("activities"), "rep_id": rep,
                                           "account_id": account, "opportunity_id": opportunity, "type": type,
                                           "done_at": when, "note": note})

    @operation("followup.schedule")
    def schedule_followup(self, account: str, rep: str, due, subject: str, *, contact: str | None = None,
                          opportunity: str | None = None) -> str:
        """A follow-up (reminder) for a rep, due at ``due`` (not in the past)."""
        self._get("accounts", account)
        self._get("reps", rep)
        self._belongs("contacts", contact, account, "contact_other_account", "contact")
        self._belongs("opportunities", opportunity, account, "opportunity_other_account", "opportunity")
        return self._insert("followups", {
            "followup_id": self._next_id("followups"), "account_id": account, "contact_id": contact,
            "opportunity_id": opportunity, "rep_id": rep, "subject": self._text(subject, "subject"),
            "created_at": self._now, "due_at": self._future(due, "due_at"), "status": "open", "done_at": None,
            "activity_id": None})

    def _open_followup(self, followup: str, action: str) -> dict:
        row = self._get("followups", followup)
        if row["status"] != "open":
            raise self._err(IllegalTransition, "followup_status", id=followup,
                            status=Label("followup_status", row["status"]), action=Label("action", action))
        return row

    @operation("followup.complete")
    def complete_followup(self, followup: str, *, activity_type: str | None = None, note: str | None = None) -> dict:
        """Mark a follow-up done; with ``activity_type`` the call/visit/e-mail is logged and linked."""
        row = self._open_followup(followup, "complete")
        activity = None
        if activity_type is not None:
            activity = self.log_activity(row["account_id"], activity_type, row["rep_id"],
                                         opportunity=row["opportunity_id"], note=note)
        return self._update("followups", followup, {"status": "done", "done_at": self._now, "activity_id": activity})

    @operation("followup.cancel")
    def cancel_followup(self, followup: str) -> dict:
        self._open_followup(followup, "cancel")
        return self._update("followups", followup, {"status": "cancelled", "done_at": self._now})

    def followups(self, *, overdue: bool = False, within_hours: float | None = None) -> pd.DataFrame:
        """Open follow-ups by due time: all, only ``overdue`` ones (due before now), or the
        reminders due ``within_hours`` from now."""
        sql = ("SELECT f.followup_id, f.account_id, a.name AS account_name, f.rep_id, f.subject, f.due_at, "
               "f.contact_id, f.opportunity_id FROM followups f JOIN accounts a USING (account_id) "
               "WHERE f.status = 'open'")
        args: list = []
        if overdue:
            sql += " AND f.due_at < ?"
            args.append(self._now)
        if within_hours is not None:
            sql += " AND f.due_at >= ? AND f.due_at <= ?"
            args += [self._now, _fmt(_parse(self._now) + dt.timedelta(hours=within_hours))]
        return pd.read_sql_query(sql + " ORDER BY f.due_at, f.followup_id", self._con, params=args)

    # == service tickets ======================================================================
    @operation("ticket.open")
    def open_ticket(self, account: str, contact: str, reason: str, *, channel: str = "phone",
                    priority: str = "normal") -> str:
        """A new open ticket; its SLA clock starts now (``sla_policy`` by priority)."""
        self._get("accounts", account)
        self._belongs("contacts", contact, account, "contact_other_account", "contact")
        self._choice(reason, REASONS, "reason", "reason")
        self._choice(channel, CHANNELS, "channel")
        self._choice(priority, PRIORITIES, "priority")
        return self._insert("tickets", {
            "ticket_id": self._next_id("tickets"), "account_id": account, "contact_id": contact, "channel": channel,
            "reason": reason, "opened_at": self._now, "first_response_at": None, "resolved_at": None,
            "status": "open", "escalated": 0, "agent_id": None, "first_contact_resolution": 0,
            "priority": priority, "assigned_to": None, "closed_at": None})

    def _ticket(self, ticket: str, action: str, allowed: tuple[str, ...] = ("open",), rule: str = "ticket_open") -> dict:
        row = self._get("tickets", ticket)
        status = ticket_status(row)
        if status not in allowed:
            raise self._err(IllegalTransition, "ticket_state", id=ticket, status=Label("ticket_status", status),
                            action=Label("action", action), rule=Label("rule", rule))
        return row

    @operation("ticket.assign")
    def assign_ticket(self, ticket: str, agent: str) -> dict:
        """Give an open ticket to an agent or manager; an escalated ticket only to a manager."""
        row = self._ticket(ticket, "assign")
        staff = self._get("agents", agent)
        if row["escalated"] and staff["role"] != "manager":
            raise self._err(IllegalTransition, "escalated_needs_manager", id=ticket, agent=agent)
        return self._update("tickets", ticket, {"assigned_to": agent, "agent_id": row["agent_id"] or agent})

    @operation("ticket.escalate")
    def escalate_ticket(self, ticket: str, manager: str | None = None) -> dict:
        """Hand an open ticket to a manager (the first one by id unless named); once only."""
        row = self._ticket(ticket, "escalate")
        if row["escalated"]:
            raise self._err(IllegalTransition, "ticket_state", id=ticket, status=Label("ticket_status", "open"),
                            action=Label("action", "escalate"), rule=Label("rule", "ticket_escalated"))
        if manager is None:
            first = self._con.execute("SELECT agent_id FROM agents WHERE role = 'manager' ORDER BY agent_id").fetchone()
            if first is None:
                raise self._err(IllegalTransition, "no_manager")
            manager = first[0]
        elif self._get("agents", manager)["role"] != "manager":
            raise self._err(InvalidValue, "not_manager", agent=manager)
        return self._update("tickets", ticket, {"escalated": 1, "assigned_to": manager,
                                                "agent_id": row["agent_id"] or manager})

    def _assignee(self, row: dict, ticket: str, action: str) -> str:
        who = row["assigned_to"] or row["agent_id"]  # snapshot tickets: the first agent still has them
        if who is None:
            raise self._err(IllegalTransition, "ticket_unassigned", id=ticket, action=Label("action", action))
        return who

    @operation("ticket.answer")
    def answer_ticket(self, ticket: str) -> dict:
        """The assignee answers the customer; the first answer stops the response clock."""
        row = self._ticket(ticket, "answer")
        self._assignee(row, ticket, "answer")
        return self._update("tickets", ticket, {"first_response_at": row["first_response_at"] or self._now})

    @operation("ticket.resolve")
    def resolve_ticket(self, ticket: str) -> dict:
        """Resolve an open, assigned ticket. Resolving with no earlier answer counts as the first
        response, and — if not escalated — as resolution at first contact."""
        row = self._ticket(ticket, "resolve")
        self._assignee(row, ticket, "resolve")
        first = row["first_response_at"] is None and not row["escalated"]
        return self._update("tickets", ticket, {
            "status": "resolved", "resolved_at": self._now, "first_response_at": row["first_response_at"] or self._now,
            "first_contact_resolution": 1 if first else row["first_contact_resolution"]})

    @operation("ticket.close")
    def close_ticket(self, ticket: str) -> dict:
        """Close a resolved (or abandoned) ticket; an open one must be resolved first."""
        self._ticket(ticket, "close", allowed=("resolved", "abandoned"), rule="ticket_close")
        return self._update("tickets", ticket, {"closed_at": self._now})

    def ticket_inbox(self, *, agent: str | None = None, include_done: bool = False) -> pd.DataFrame:
        """Open tickets with their SLA: due times for the first response and the resolution
        (``sla_policy``) and a status — ``overdue`` (a due time passed), ``due_soon`` (less than
        ``due_soon_share`` of a window left) or ``ok``. Most urgent first."""
        sql = ("SELECT t.ticket_id, t.account_id, a.name AS account_name, t.contact_id, t.channel, t.reason, "
               "t.priority, t.opened_at, coalesce(t.assigned_to, t.agent_id) AS assigned_to, t.escalated, "
               "t.first_response_at, t.resolved_at, t.closed_at, t.status, p.respond_hours, p.resolve_hours "
               "FROM tickets t JOIN accounts a USING (account_id) JOIN sla_policy p USING (priority)")
        where, args = [], []
        if not include_done:
            where.append("t.status = 'open'")
        if agent is not None:
            where.append("coalesce(t.assigned_to, t.agent_id) = ?")
            args.append(agent)
        if where:
            sql += " WHERE " + " AND ".join(where)
        df = pd.read_sql_query(sql + " ORDER BY t.ticket_id", self._con, params=args)
        return sla_frame(df, self._now, self._setting("due_soon_share"))

    # == complaints ===========================================================================
    @operation("complaint.register")
    def register_complaint(self, ticket: str, cause: str, severity: str, recovery_action: str,
                           recovery_cost: float | None = None) -> str:
        """Register a complaint on a complaint ticket, with cause (among the causes this database
        knows), severity and recovery action. The cost defaults to what the action usually costs
        in this company's records."""
        row = self._get("tickets", ticket)
        if row["reason"] != "complaint":
            raise self._err(IllegalTransition, "complaint_reason", ticket=ticket, reason=Label("reason", row["reason"]))
        existing = self._con.execute("SELECT complaint_id FROM complaints WHERE ticket_id = ?", (ticket,)).fetchone()
        if existing:
            raise self._err(Conflict, "complaint_exists", ticket=ticket, complaint=existing[0])
        self._get("accounts", row["account_id"])
        self._choice(cause, self._codes("complaint_causes", "cause"), "cause")
        self._choice(severity, SEVERITIES, "severity")
        self._choice(recovery_action, RECOVERY_ACTIONS, "recovery_action")
        if recovery_cost is None:
            usual = self._con.execute(
                "SELECT recovery_cost FROM complaints WHERE recovery_action = ? GROUP BY recovery_cost "
                "ORDER BY count(*) DESC, recovery_cost LIMIT 1", (recovery_action,)).fetchone()
            recovery_cost = usual[0] if usual else 0.0
        elif isinstance(recovery_cost, bool) or not isinstance(recovery_cost, (int, float)) or not recovery_cost >= 0 \
                or recovery_cost == float("inf"):
            raise self._err(InvalidValue, "unknown_value", field=Label("field", "recovery_cost"), value=recovery_cost,
                            allowed=["≥ 0"])
        return self._insert("complaints", {
            "complaint_id": self._next_id("complaints"), "ticket_id": ticket, "account_id": row["account_id"],
            "cause": cause, "severity": severity, "recovery_action": recovery_action,
            "recovery_cost": round(float(recovery_cost), 2), "registered_at": self._now, "closed_at": None})

    @operation("complaint.close")
    def close_complaint(self, complaint: str) -> dict:
        """Close a complaint once its ticket is resolved."""
        row = self._get("complaints", complaint)
        if row["closed_at"] is not None:
            raise self._err(IllegalTransition, "complaint_closed", id=complaint, closed_at=row["closed_at"])
        if self._row("tickets", row["ticket_id"])["status"] != "resolved":
            raise self._err(IllegalTransition, "complaint_ticket_open", id=complaint, ticket=row["ticket_id"])
        return self._update("complaints", complaint, {"closed_at": self._now})

    # == campaigns ============================================================================
    @operation("campaign.create")
    def create_campaign(self, campaign_id: str, name_zh: str, name_en: str, channel: str, starts_on, ends_on, *,
                        offer_zh: str = "", offer_en: str = "", discount: float = 0.0,
                        cost_per_contact: float = 0.0) -> str:
        """A new campaign; the id is chosen by the marketer (letters, digits, _)."""
        if not isinstance(campaign_id, str) or not _CAMPAIGN_ID.match(campaign_id):
            raise self._err(InvalidValue, "unknown_value", field=Label("field", "campaign_id"), value=campaign_id,
                            allowed=["A–Z a–z 0–9 _"])
        if self._row("campaigns", campaign_id):
            raise self._err(Conflict, "campaign_exists", id=campaign_id)
        self._choice(channel, CAMPAIGN_CHANNELS, "channel")
        start, end = self._time(starts_on, "due_at")[:10], self._time(ends_on, "due_at")[:10]
        if end < start:
            raise self._err(InvalidValue, "campaign_dates", id=campaign_id, starts_on=start, ends_on=end)
        if isinstance(discount, bool) or not isinstance(discount, (int, float)) or not 0 <= discount < 1:
            raise self._err(InvalidValue, "unknown_value", field=Label("field", "discount"), value=discount,
                            allowed=["0 … 0.99"])
        if isinstance(cost_per_contact, bool) or not isinstance(cost_per_contact, (int, float)) \
                or not 0 <= cost_per_contact < float("inf"):
            raise self._err(InvalidValue, "unknown_value", field=Label("field", "cost_per_contact"),
                            value=cost_per_contact, allowed=["≥ 0"])
        self._con.execute("INSERT INTO campaigns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
            campaign_id, self._text(name_zh, "name"), self._text(name_en, "name"), channel, start, end,
            offer_zh or "", offer_en or "", float(discount), float(cost_per_contact)))
        self._audit("campaigns", campaign_id, None, self._row("campaigns", campaign_id))
        return campaign_id

    def _running(self, campaign: str, action: str) -> dict:
        row = self._get("campaigns", campaign)
        if self._today() > row["ends_on"]:
            raise self._err(IllegalTransition, "campaign_over", id=campaign, ends_on=row["ends_on"],
                            action=Label("action", action))
        return row

    @operation("campaign.enrol")
    def enrol(self, campaign: str, accounts: list[str] | str) -> int:
        """Add active accounts to a campaign that has not ended; no account twice."""
        self._running(campaign, "enrol")
        accounts = [accounts] if isinstance(accounts, str) else list(accounts)
        seen = set()
        for acc in accounts:
            self._get("accounts", acc)
            member = self._con.execute("SELECT 1 FROM campaign_members WHERE campaign_id = ? AND account_id = ?",
                                       (campaign, acc)).fetchone()
            if member or acc in seen:
                raise self._err(Conflict, "already_enrolled", account=acc, campaign=campaign)
            seen.add(acc)
        for acc in accounts:
            row = {"campaign_id": campaign, "account_id": acc, "contacted_at": self._now, "responded_at": None,
                   "order_id": None}
            self._con.execute("INSERT INTO campaign_members VALUES (?, ?, ?, ?, ?)", tuple(row.values()))
            self._audit("campaign_members", f"{campaign}|{acc}", None, row)
        return len(accounts)

    @operation("campaign.respond")
    def record_response(self, campaign: str, account: str, order: str | None = None) -> dict:
        """Record that a member responded (optionally with the order it placed), while the
        campaign runs; once per member."""
        self._running(campaign, "respond")
        self._get("accounts", account)
        member = self._con.execute("SELECT * FROM campaign_members WHERE campaign_id = ? AND account_id = ?",
                                   (campaign, account)).fetchone()
        if member is None:
            raise self._err(IllegalTransition, "not_enrolled", account=account, campaign=campaign)
        if member["responded_at"] is not None:
            raise self._err(Conflict, "already_responded", account=account, campaign=campaign,
                            responded_at=member["responded_at"])
        self._belongs("orders", order, account, "order_other_account", "order")
        before = dict(member)
        self._con.execute("UPDATE campaign_members SET responded_at = ?, order_id = ? WHERE campaign_id = ? AND "
                          "account_id = ?", (self._now, order, campaign, account))
        after = dict(before, responded_at=self._now, order_id=order)
        self._audit("campaign_members", f"{campaign}|{account}", before, after)
        return after

    # == read-only views ======================================================================
    def _frame(self, sql: str, args=()) -> pd.DataFrame:
        return pd.read_sql_query(sql, self._con, params=list(args))

    def pipeline(self) -> pd.DataFrame:
        """Opportunities by stage: how many, their amount, and (open stages) the amount weighted by
        the win probability; won deals count their won amount."""
        df = self._frame(
            "SELECT stage, count(*) AS opportunities, "
            "round(sum(CASE WHEN stage = 'won' THEN won_amount ELSE amount END), 2) AS amount, "
            "round(sum(CASE WHEN stage = 'won' THEN won_amount ELSE amount * probability END), 2) AS weighted "
            "FROM opportunities GROUP BY stage")
        df = df.set_index("stage").reindex(list(STAGES)).fillna(0)
        df["opportunities"] = df["opportunities"].astype(int)
        df["label"] = [Label("stage", s).text(self.lang) for s in df.index]
        return df

    def search(self, text: str, *, include_merged: bool = False) -> pd.DataFrame:
        """Accounts whose name, or whose contact's name, phone or e-mail, contains ``text``
        (phones compared by digits only)."""
        text = (text or "").strip()
        if not text:
            return pd.DataFrame(columns=["account_id", "name", "city", "kind", "matched_on", "contact_id", "merged_into"])
        like = f"%{text.lower()}%"
        digits = re.sub(r"\D", "", text)
        phone_like = f"%{digits}%" if len(digits) >= 4 else None
        merged = "" if include_merged else " AND a.merged_into IS NULL"
        sql = (f"SELECT a.account_id, a.name, a.city, a.kind, 'name' AS matched_on, NULL AS contact_id, a.merged_into "
               f"FROM accounts a WHERE lower(a.name) LIKE ?{merged} "
               f"UNION ALL SELECT a.account_id, a.name, a.city, a.kind, m.what, c.contact_id, a.merged_into "
               f"FROM contacts c JOIN accounts a USING (account_id) JOIN ("
               f"  SELECT contact_id, 'contact' AS what FROM contacts WHERE lower(name) LIKE ? "
               f"  UNION ALL SELECT contact_id, 'email' FROM contacts WHERE lower(email) LIKE ? "
               f"  UNION ALL SELECT contact_id, 'phone' FROM contacts WHERE ? IS NOT NULL AND "
               f"  replace(replace(replace(replace(replace(phone, ' ', ''), '-', ''), '(', ''), ')', ''), '+', '') "
               f"  LIKE ?) m USING (contact_id) WHERE 1{merged} ORDER BY 1, 6, 5")
        return self._frame(sql, (like, like, like, phone_like, phone_like))

    def customer_360(self, account: str) -> dict:
        """Everything about one customer: profile, contacts, orders, opportunities, activities,
        follow-ups, tickets, complaints, CSAT, survey answers, campaigns, and one timeline of all of
        them. A merged-away account is shown as its survivor (``profile['merged_from']``)."""
        row = self._get("accounts", account, active=False)
        while row["merged_into"]:
            row = self._get("accounts", row["merged_into"], active=False)
        acc = row["account_id"]
        q = lambda sql: self._frame(sql, (acc,))
        out = {
            "contacts": q("SELECT * FROM contacts WHERE account_id = ? AND merged_into IS NULL ORDER BY contact_id"),
            "orders": q("SELECT o.order_id, o.ordered_at, o.contact_id, o.source, o.campaign_id, o.opportunity_id, "
                        "round(sum(l.quantity * l.unit_price), 2) AS amount, "
                        "round(sum(l.quantity * (l.unit_price - l.unit_cost)), 2) AS profit, sum(l.quantity) AS units "
                        "FROM orders o LEFT JOIN order_lines l USING (order_id) WHERE o.account_id = ? "
                        "GROUP BY o.order_id ORDER BY o.ordered_at, o.order_id"),
            "opportunities": q("SELECT * FROM opportunities WHERE account_id = ? ORDER BY created_at, opportunity_id"),
            "activities": q("SELECT * FROM activities WHERE account_id = ? ORDER BY done_at, activity_id"),
            "followups": q("SELECT * FROM followups WHERE account_id = ? ORDER BY due_at, followup_id"),
            "tickets": q("SELECT * FROM tickets WHERE account_id = ? ORDER BY opened_at, ticket_id"),
            "complaints": q("SELECT * FROM complaints WHERE account_id = ? ORDER BY registered_at, complaint_id"),
            "csat": q("SELECT * FROM csat WHERE account_id = ? ORDER BY answered_at, ticket_id"),
            "surveys": q("SELECT r.response_id, r.survey_id, r.contact_id, r.answered_at, r.nps, a.item_id, a.score "
                         "FROM survey_responses r LEFT JOIN survey_answers a USING (response_id) "
                         "WHERE r.account_id = ? ORDER BY r.answered_at, r.response_id, a.item_id"),
            "campaigns": q("SELECT * FROM campaign_members WHERE account_id = ? ORDER BY contacted_at, campaign_id"),
        }
        orders = out["orders"]
        profile = dict(row)
        profile.update({
            "merged_from": [r[0] for r in self._con.execute(
                "SELECT account_id FROM accounts WHERE merged_into = ? ORDER BY account_id", (acc,))],
            "orders": len(orders), "revenue": round(float(orders["amount"].fillna(0).sum()), 2),
            "last_order": orders["ordered_at"].max() if len(orders) else None,
            "open_tickets": int((out["tickets"]["status"] == "open").sum()),
        })
        out["profile"] = profile
        out["timeline"] = self._timeline(out)
        return out

    def _timeline(self, parts: dict) -> pd.DataFrame:
        lab = lambda ns, code: Label(ns, code).text(self.lang)
        events = []
        for r in parts["orders"].itertuples():
            events.append((r.ordered_at, "orders", r.order_id, f"{r.amount:.2f}" if pd.notna(r.amount) else ""))
        for r in parts["opportunities"].itertuples():
            events.append((r.created_at, "opportunities", r.opportunity_id, f"{r.amount:.2f}"))
            if pd.notna(r.closed_at):
                events.append((r.closed_at, "opportunities", r.opportunity_id, lab("stage", r.stage)))
        for r in parts["activities"].itertuples():
            events.append((r.done_at, "activities", r.activity_id, r.type))
        for r in parts["followups"].itertuples():
            events.append((r.due_at, "followups", r.followup_id, r.subject))
        for r in parts["tickets"].itertuples():
            events.append((r.opened_at, "tickets", r.ticket_id, lab("reason", r.reason)))
            if pd.notna(r.resolved_at):
                events.append((r.resolved_at, "tickets", r.ticket_id, lab("ticket_status", "resolved")))
        for r in parts["complaints"].itertuples():
            events.append((r.registered_at, "complaints", r.complaint_id, f"{r.cause} / {r.severity} / "
                                                                          f"{r.recovery_action}"))
        for r in parts["csat"].itertuples():
            events.append((r.answered_at, "csat", r.ticket_id, f"CSAT {r.score}"))
        for r in parts["surveys"].drop_duplicates("response_id").itertuples():
            events.append((r.answered_at, "surveys", r.response_id, f"NPS {r.nps}"))
        for r in parts["campaigns"].itertuples():
            events.append((r.contacted_at, "campaigns", r.campaign_id, ""))
        df = pd.DataFrame(events, columns=["at", "kind", "record_id", "detail"])
        df = df.sort_values(["at", "kind", "record_id"], kind="stable").reset_index(drop=True)
        names = {"csat": ("满意度回访", "CSAT"), "surveys": ("年度调查", "Survey")}
        df["what"] = [names[k][0 if self.lang == "zh_CN" else 1] if k in names else lab("record", k) for k in df["kind"]]
        return df


# == pure helpers (shared with the checker) =================================================
def ticket_status(row) -> str:
    """open / resolved / closed / abandoned, as the learner sees a ticket."""
    return "closed" if row["closed_at"] else row["status"]


def sla_frame(df: pd.DataFrame, now: str, due_soon_share: float) -> pd.DataFrame:
    """Add due times and an SLA status to tickets with opened_at, respond/resolve_hours."""
    opened = pd.to_datetime(df["opened_at"])
    respond_due = opened + pd.to_timedelta(df["respond_hours"], unit="h")
    resolve_due = opened + pd.to_timedelta(df["resolve_hours"], unit="h")
    t = pd.Timestamp(now)
    answered = df["first_response_at"].notna()
    done = df["status"] != "open"
    left_resolve = (resolve_due - t) / pd.to_timedelta(df["resolve_hours"], unit="h")
    left_respond = (respond_due - t) / pd.to_timedelta(df["respond_hours"], unit="h")
    overdue = ~done & ((t > resolve_due) | (~answered & (t > respond_due)))
    soon = ~done & ~overdue & ((left_resolve < due_soon_share) | (~answered & (left_respond < due_soon_share)))
    out = df.drop(columns=["respond_hours", "resolve_hours"]).copy()
    out["respond_due"] = respond_due.dt.strftime(TIME)
    out["resolve_due"] = resolve_due.dt.strftime(TIME)
    out["hours_left"] = ((resolve_due - t).dt.total_seconds() / 3600).round(1)
    out["sla_status"] = "ok"
    out.loc[soon, "sla_status"] = "due_soon"
    out.loc[overdue, "sla_status"] = "overdue"
    out.loc[done, "sla_status"] = "done"
    rank = out["sla_status"].map({"overdue": 0, "due_soon": 1, "ok": 2, "done": 3})
    return out.assign(_r=rank).sort_values(["_r", "resolve_due", "ticket_id"]).drop(columns="_r").reset_index(drop=True)


def value_grid(con: sqlite3.Connection, profit_threshold: float) -> pd.DataFrame:
    """The brief's 2×2 grid for active accounts with orders: volume A for the largest accounts
    that together make 80 % of revenue (the one crossing 80 % included), profit A when the average
    profit per unit sold exceeds the threshold."""
    df = pd.read_sql_query(
        "SELECT o.account_id, sum(l.quantity * l.unit_price) AS revenue, "
        "sum(l.quantity * (l.unit_price - l.unit_cost)) AS profit, sum(l.quantity) AS units "
        "FROM orders o JOIN order_lines l USING (order_id) JOIN accounts a USING (account_id) "
        "WHERE a.merged_into IS NULL GROUP BY o.account_id", con)
    df = df.sort_values(["revenue", "account_id"], ascending=[False, True]).reset_index(drop=True)
    before = df["revenue"].cumsum().shift(fill_value=0)
    volume_a = before < 0.8 * df["revenue"].sum()
    df["profit_per_unit"] = (df["profit"] / df["units"]).round(2)
    profit_a = df["profit_per_unit"] > profit_threshold
    df["grade"] = [("A" if v else "B") + ("A" if p else "B") for v, p in zip(volume_a, profit_a)]
    df["revenue"] = df["revenue"].round(2)
    return df[["account_id", "revenue", "profit_per_unit", "grade"]].sort_values("account_id").reset_index(drop=True)


def _parse(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, TIME)


def _fmt(when: dt.datetime) -> str:
    return when.replace(microsecond=0).strftime(TIME)


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
