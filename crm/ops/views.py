"""Read-only views: finding an account by name, phone or e-mail, and the customer 360° with one timeline."""
from __future__ import annotations

import re

import pandas as pd

from ..messages import Label
from .core import Base


class Views(Base):
    """What a learner looks up; nothing here changes the database."""

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
