"""Activities (calls, visits, e-mails that happened) and follow-ups (reminders for a rep, due later)."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from crmlab.vocab import ACTIVITY_TYPES

from ..errors import IllegalTransition, InvalidValue
from ..messages import Label
from .core import Base, operation
from .fields import _fmt, _parse


class Activities(Base):
    """Activities and follow-ups."""

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
