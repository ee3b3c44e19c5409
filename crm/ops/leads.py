"""Leads: create, qualify, disqualify, and convert a qualified lead into an account, a contact and an
opportunity (through the accounts' and opportunities' operations of the same session)."""
from __future__ import annotations

from ..errors import IllegalTransition
from ..messages import Label
from .core import Base, operation


class Leads(Base):
    """The lead funnel."""

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
