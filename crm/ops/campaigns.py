"""Campaigns: create one, enrol accounts while it runs, record a member's response."""
from __future__ import annotations

import re

from crmlab.vocab import CAMPAIGN_CHANNELS

from ..errors import Conflict, IllegalTransition, InvalidValue
from ..messages import Label
from .core import Base, operation


_CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9_]+$")


class Campaigns(Base):
    """Marketing campaigns and their members."""

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
