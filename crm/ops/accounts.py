"""Accounts and their contact people: create and change them; a duplicate account is refused."""
from __future__ import annotations

from .. import dedupe
from ..errors import Conflict, InvalidValue
from ..messages import Label
from .core import Base, operation


EDITABLE = {"accounts": ("name", "kind", "city", "address"), "contacts": ("name", "title", "phone", "email")}


class Accounts(Base):
    """Accounts and contacts."""

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
