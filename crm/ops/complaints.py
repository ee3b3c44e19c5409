"""Complaints: registered on a complaint ticket with cause, severity and recovery action; closed once
the ticket is resolved."""
from __future__ import annotations

from crmlab.vocab import RECOVERY_ACTIONS, SEVERITIES

from ..errors import Conflict, IllegalTransition, InvalidValue
from ..messages import Label
from .core import Base, operation


class Complaints(Base):
    """Complaints and their recovery."""

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
