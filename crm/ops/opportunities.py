"""Opportunities and quotes: the pipeline's stages in order (``crmlab.vocab``), a quote within the
rep's discount limit, won and lost; and the pipeline by stage."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from crmlab.vocab import CLOSED_STAGES, DEAL_TYPES, NEXT_STAGE, OPEN_STAGES, STAGE_PROBABILITY, STAGES

from ..errors import IllegalTransition, InvalidValue
from ..messages import Label
from .core import Base, operation
from .fields import _fmt, _parse


class Opportunities(Base):
    """Opportunities through the stages, and their quotes."""

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
        self._choice(deal_type, DEAL_TYPES, "deal_type")
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

    def _enter_stage(self, opportunity: str, stage: str) -> None:
        self._con.execute("INSERT INTO stage_history VALUES (?, ?, ?)", (opportunity, stage, self._now))
        self._audit("stage_history", f"{opportunity}|{stage}", None,
                    {"opportunity_id": opportunity, "stage": stage, "entered_at": self._now})

    def _open_opportunity(self, opportunity: str) -> dict:
        row = self._get("opportunities", opportunity)
        if row["stage"] in CLOSED_STAGES:
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
