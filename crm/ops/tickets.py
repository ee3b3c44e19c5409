"""Service tickets and their SLA: open, assign, escalate, answer, resolve, close; the inbox with due
times and an SLA status (:func:`sla_frame`, shared with the checker)."""
from __future__ import annotations

import pandas as pd

from crmlab.vocab import CHANNELS, PRIORITIES, REASONS, SLA_STATUSES

from ..errors import IllegalTransition, InvalidValue
from ..messages import Label
from .core import Base, operation
from .fields import TIME


class Tickets(Base):
    """Service tickets."""

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
    rank = out["sla_status"].map({status: i for i, status in enumerate(SLA_STATUSES)})   # most urgent first
    return out.assign(_r=rank).sort_values(["_r", "resolve_due", "ticket_id"]).drop(columns="_r").reset_index(drop=True)
