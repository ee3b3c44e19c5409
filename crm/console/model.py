"""The console without widgets: each action through the API and into the action log, a refused one
turned into its bilingual message (never a traceback), and what each tab shows as plain data.

Tests drive the console through this class without a browser; :mod:`.widgets` only lays it out.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crmlab.vocab import OPEN_STAGES, STAGES

from ..actions import LOG_NAME, OPERATIONS, Action, ActionLog, ReplayReport, apply_log, data_id
from ..errors import DomainError
from ..messages import Label, check_lang, render
from ..ops import CRM

CURRENCY = {"CNY": "¥", "USD": "$"}


@dataclass(frozen=True)
class ActionResult:
    """What an action did: ``ok``, the sentence to show the learner, and the API's return value."""
    ok: bool
    text: str
    result: object = None


class ConsoleModel:
    """The console without widgets: actions through the API and the log, and the data each tab shows."""

    def __init__(self, db: str | Path, user: str = "student", lang: str = "zh_CN", log: str | Path | None = None):
        self.db = Path(db)
        self.crm = CRM.open(self.db, user=user, lang=lang)
        self.log = ActionLog(self.db.with_name(LOG_NAME) if log is None else log)
        self.replay_report: ReplayReport = apply_log(self.crm, self.log)
        self.currency = CURRENCY.get(self.crm.meta.get("currency"), "")
        self._duplicates: pd.DataFrame | None = None

    def close(self) -> None:
        self.crm.close()

    def __enter__(self) -> "ConsoleModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- language ---------------------------------------------------------------------------------
    @property
    def lang(self) -> str:
        return self.crm.lang

    @lang.setter
    def lang(self, value: str) -> None:
        self.crm.lang = check_lang(value)

    def t(self, key: str, namespace: str = "ui") -> str:
        """A label of the console in the current language."""
        return Label(namespace, key).text(self.lang)

    def say(self, code: str, **params) -> str:
        return render(code, self.lang, params)

    def money(self, value) -> str:
        return "" if value is None or pd.isna(value) else f"{self.currency}{value:,.0f}"

    # -- actions ----------------------------------------------------------------------------------
    def act(self, op: str, *args, **kwargs) -> ActionResult:
        """Run the API operation ``op`` (its audit name, e.g. ``ticket.resolve``) and log it.

        A refused operation returns its DomainError message in the learner's language and is not
        logged (it changed nothing). Nothing is done when the log cannot be written: an action
        that grading cannot replay would be lost."""
        if op not in OPERATIONS:
            raise ValueError(f"unknown operation {op!r}")
        if not self.log.writable():
            return ActionResult(False, self.say("ui_log_readonly", path=str(self.log.path)))
        action = Action(op, args, kwargs, self.crm.now, self.crm.user, data_id(self.crm.meta))
        try:
            result = getattr(self.crm, OPERATIONS[op])(*args, **kwargs)
        except DomainError as err:
            return ActionResult(False, err.message(self.lang))
        self.log.append(action)
        if op == "account.merge":
            self._duplicates = None
        return ActionResult(True, self.say("ui_done", action=Label("op", op), record=action.record or ""), result)

    def advance(self, *, hours: float = 0, days: float = 0) -> str:
        """Let time pass (SLA clocks run on); not logged, since every action carries its own time."""
        return self.crm.advance(hours=hours, days=days)

    # -- customer 360° --------------------------------------------------------------------------
    def search(self, text: str) -> list[tuple[str, str]]:
        """(label, account id) of active accounts matching a name, phone or e-mail, one per account."""
        found = self.crm.search(text)
        out, seen = [], set()
        for r in found.itertuples():
            if r.account_id in seen:
                continue
            seen.add(r.account_id)
            out.append((f"{r.account_id}  {r.name}（{r.city}）", r.account_id))
        return out

    def customer(self, account: str) -> dict:
        return self.crm.customer_360(account)

    def duplicates(self, account: str) -> list[tuple[str, str]]:
        """(label, other account) for the suggested duplicates of ``account``, most certain first."""
        if self._duplicates is None:
            self._duplicates = self.crm.find_duplicate_accounts()
        df = self._duplicates
        out = []
        for r in df[(df["account_a"] == account) | (df["account_b"] == account)].itertuples():
            other, name, city = ((r.account_b, r.name_b, r.city_b) if r.account_a == account
                                 else (r.account_a, r.name_a, r.city_a))
            evidence = [f"{self.t('similarity')} {r.name_similarity:.2f}"]
            evidence += [self.t(k) for k in ("same_phone", "same_email") if getattr(r, k)]
            out.append((f"{other}  {name}（{city}）· {' · '.join(evidence)}", other))
        return out

    def kind_name(self, kind: str) -> str:
        row = self.crm._con.execute("SELECT name_zh, name_en FROM account_kinds WHERE kind = ?", (kind,)).fetchone()
        return kind if row is None else row[0 if self.lang == "zh_CN" else 1]

    def ticket_label(self, row) -> str:
        """How a ticket is listed for picking: id, SLA, account, reason."""
        return (f"{row['ticket_id']} · {self.t(row['sla_status'], 'sla')} · {row['account_name'][:16]} · "
                f"{self.t(row['reason'], 'reason')}")

    def reps(self) -> list[tuple[str, str]]:
        return [(f"{r} {n}", r) for r, n in self.crm._con.execute("SELECT rep_id, name FROM reps ORDER BY rep_id")]

    # -- ticket inbox ---------------------------------------------------------------------------
    def staff(self, managers_only: bool = False) -> list[tuple[str, str]]:
        sql = "SELECT agent_id, name, role FROM agents" + (" WHERE role = 'manager'" if managers_only else "")
        return [(f"{a} {n}（{Label('role', role).text(self.lang)}）", a)
                for a, n, role in self.crm._con.execute(sql + " ORDER BY agent_id")]

    def inbox(self, status: str = "open", sla: str = "all", priority: str = "all", assignee: str = "all",
              limit: int = 50) -> tuple[pd.DataFrame, int]:
        """Tickets for the inbox and how many match. Open ones most urgent first (the API's SLA
        order); resolved-but-not-closed and closed ones latest first."""
        df = self.crm.ticket_inbox(include_done=status != "open")
        if status == "resolved":
            df = df[(df["status"] == "resolved") & df["closed_at"].isna()].sort_values(
                ["resolved_at", "ticket_id"], ascending=False)
        elif status == "closed":
            df = df[df["closed_at"].notna()].sort_values(["closed_at", "ticket_id"], ascending=False)
        for col, value in (("sla_status", sla), ("priority", priority), ("assigned_to", assignee)):
            if value != "all":
                df = df[df[col] == value]
        return df.head(limit).reset_index(drop=True), len(df)

    def ticket(self, ticket: str) -> dict | None:
        df = self.crm.ticket_inbox(include_done=True)
        row = df[df["ticket_id"] == ticket]
        return None if row.empty else row.iloc[0].to_dict()

    # -- pipeline -----------------------------------------------------------------------------
    def board(self, limit: int = 6) -> dict[str, tuple[pd.DataFrame, int, float]]:
        """Per stage: the opportunities to show (open: largest first; won/lost: latest first), how
        many there are and their amount (won deals count the amount won)."""
        df = pd.read_sql_query(
            "SELECT o.opportunity_id, o.account_id, a.name AS account_name, o.rep_id, o.stage, o.created_at, "
            "o.closed_at, CASE WHEN o.stage = 'won' THEN o.won_amount ELSE o.amount END AS amount, o.probability "
            "FROM opportunities o JOIN accounts a USING (account_id)", self.crm._con)
        out = {}
        for stage in STAGES:
            part = df[df["stage"] == stage]
            order = (["amount", "opportunity_id"], [False, True]) if stage in OPEN_STAGES else \
                (["closed_at", "opportunity_id"], [False, False])
            part = part.sort_values(order[0], ascending=order[1])
            out[stage] = (part.head(limit).reset_index(drop=True), len(part), float(part["amount"].sum()))
        return out

    def open_opportunities(self) -> list[tuple[str, str]]:
        rows = self.crm._con.execute(
            "SELECT o.opportunity_id, a.name, o.stage, o.amount FROM opportunities o JOIN accounts a USING "
            f"(account_id) WHERE o.stage IN ({', '.join('?' * len(OPEN_STAGES))}) ORDER BY o.opportunity_id",
            OPEN_STAGES)
        return [(f"{o}  {n} · {Label('stage', s).text(self.lang)} · {self.money(amt)}", o) for o, n, s, amt in rows]

    def opportunity(self, opportunity: str) -> dict:
        row = dict(self.crm._con.execute("SELECT o.*, a.name AS account_name FROM opportunities o JOIN accounts a "
                                         "USING (account_id) WHERE opportunity_id = ?", (opportunity,)).fetchone())
        quote = self.crm._latest_quote(opportunity)
        row["quote"] = quote
        return row

    def funnel_counts(self) -> pd.Series:
        """How many opportunities ever reached each stage (stage history): the conversion funnel."""
        counts = dict(self.crm._con.execute(
            "SELECT stage, count(DISTINCT opportunity_id) FROM stage_history GROUP BY stage"))
        return pd.Series({s: counts.get(s, 0) for s in (*OPEN_STAGES, "won")})
