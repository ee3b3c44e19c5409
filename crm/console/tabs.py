"""The console's three tabs, each a part of :class:`~.widgets.Console` (which builds the widgets they
name and shows what an action did): customer 360°, ticket inbox, pipeline."""
from __future__ import annotations

import pandas as pd

from crmlab.vocab import ACTIVITY_TYPES, GRADES, NEXT_STAGE, PRIORITIES, SLA_STATUSES

from ..messages import Label
from . import fragments
from .charts import funnel_png, ticket_age_png
from .palette import SLA_COLOURS, STAGE_COLOURS, STAGE_INK


class CustomerTab:
    """Customer 360°: search, profile, history, merge a duplicate, grade, segment, log an activity,
    schedule a follow-up."""

    def _tab_360(self):
        W, m = self._widgets, self.model
        search = self._text("search", self.state["search"], m.t("search_hint"), "260px")
        search.continuous_update = False
        search.observe(lambda ch: self._guard(self._search), names="value")
        results = self._named("results", W.Select(options=self.state["results"], rows=5,
                                                  layout=W.Layout(width="100%")))
        if self.state["account"] in [v for _, v in self.state["results"]]:
            results.value = self.state["account"]
        else:
            results.value = None
        results.observe(lambda ch: self._guard(lambda: self._pick_account(ch["new"])), names="value")
        reps = m.reps()
        actions = W.VBox([
            W.HTML(fragments.text("heading", m.t("duplicates"))),
            self._row(self._dropdown("merge_pick", [], width="330px"),
                      self._button("merge", "merge_into_this", self._merge, "warning")),
            W.HTML(fragments.text("heading", m.t("actions"))),
            self._row(self._dropdown("grade_pick", [(g, g) for g in GRADES], width="70px"),
                      self._button("set_grade", "set_grade", self._set_grade),
                      self._text("segment", "", m.t("set_segment"), "140px"),
                      self._button("set_segment", "set_segment", self._set_segment)),
            self._row(self._dropdown("activity_type", [(m.t(a, "activity"), a) for a in ACTIVITY_TYPES],
                                     width="80px"),
                      self._dropdown("activity_rep", reps, width="120px"),
                      self._text("activity_note", "", m.t("note"), "150px"),
                      self._button("log_activity", "log_activity", self._log_activity)),
            self._row(self._dropdown("followup_rep", reps, width="120px"),
                      self._text("followup_due", "", m.t("due") + " YYYY-MM-DD HH:MM", "150px"),
                      self._text("followup_subject", "", m.t("subject"), "150px"),
                      self._button("schedule", "schedule", self._schedule)),
        ], layout=W.Layout(width="56%"))
        top = W.HBox([W.VBox([self._html("profile")], layout=W.Layout(width="44%")), actions],
                     layout=W.Layout(align_items="flex-start"))
        details = self._named("details", W.Tab(children=[self._html(f"detail_{k}") for k in
                                                         ("contacts", "orders", "tickets", "complaints", "surveys",
                                                          "timeline")]))
        details.titles = [m.t(k) for k in ("contacts", "orders", "tickets", "complaints", "surveys", "timeline")]
        return W.VBox([self._row(search, self._button("search_go", "search", self._search, "primary")),
                       results, top, details], layout=W.Layout(padding="4px"))

    def _search(self) -> None:
        self.state["search"] = self.w["search"].value
        self.state["results"] = self.model.search(self.state["search"])
        self.w["results"].options = self.state["results"]
        self.w["results"].value = None
        if not self.state["results"]:
            self.w["profile"].value = fragments.text("empty", self.model.t("no_results"))
        elif len(self.state["results"]) == 1:
            self.w["results"].value = self.state["results"][0][1]

    def _pick_account(self, account) -> None:
        if account:
            self.state["account"] = account
            self._refresh_account()

    def _refresh_account(self) -> None:
        m, acc = self.model, self.state["account"]
        if acc is None:
            for k in ("contacts", "orders", "tickets", "complaints", "surveys", "timeline"):
                self.w[f"detail_{k}"].value = ""
            self.w["profile"].value = ""
            self.w["merge_pick"].options = []
            return
        view = m.customer(acc)
        self.state["account"] = acc = view["profile"]["account_id"]  # a merged-away account shows its survivor
        p = view["profile"]
        rows = [("account_id", p["account_id"]), ("name", p["name"]),
                ("kind", m.kind_name(p["kind"])), ("city", p["city"]), ("grade", p.get("grade") or "—"),
                ("segment", p.get("segment") or "—"), ("customer_since", p.get("customer_since") or "—"),
                ("revenue", m.money(p["revenue"])), ("orders", p["orders"]), ("last_order", p["last_order"] or "—"),
                ("open_tickets", p["open_tickets"]), ("merged_from", "、".join(p["merged_from"]) or "—")]
        self.w["profile"].value = fragments.profile(m.t("profile"), [(m.t(k, "col"), v) for k, v in rows])
        none = m.t("none")
        surveys = view["surveys"]
        if not surveys.empty:
            surveys = surveys.groupby(["response_id", "answered_at", "nps"], as_index=False)["score"].mean() \
                .rename(columns={"score": "mean_score"}).sort_values("answered_at", ascending=False)
        orders = view["orders"].sort_values("ordered_at", ascending=False).assign(
            amount=lambda d: d["amount"].map(m.money))
        parts = {
            "contacts": (view["contacts"], ["contact_id", "name", "title", "phone", "email"]),
            "orders": (orders, ["order_id", "ordered_at", "amount", "units"]),
            "tickets": (view["tickets"].sort_values("opened_at", ascending=False),
                        ["ticket_id", "opened_at", "channel", "reason", "priority", "status", "assigned_to"]),
            "complaints": (view["complaints"], ["complaint_id", "registered_at", "cause", "severity",
                                                "recovery_action", "closed_at"]),
            "surveys": (surveys, ["response_id", "answered_at", "nps", "mean_score"]),
            "timeline": (view["timeline"].iloc[::-1], ["at", "what", "record_id", "detail"]),
        }
        for k, (df, cols) in parts.items():
            self.w[f"detail_{k}"].value = fragments.text("scroll", fragments.table_html(df, cols, m.lang, empty=none))
        dups = m.duplicates(acc)
        self.w["merge_pick"].options = dups or [(m.t("no_duplicates"), "")]
        self.w["merge_pick"].value = dups[0][1] if dups else ""
        if p.get("grade") in GRADES:
            self.w["grade_pick"].value = p["grade"]
        if not self.w["followup_due"].value:
            self.w["followup_due"].value = (pd.Timestamp(m.crm.now) + pd.Timedelta(days=1)).strftime("%Y-%m-%d 10:00")

    def _merge(self) -> None:
        acc = self._chosen("account", "a_customer")
        other = self.w["merge_pick"].value
        if acc and not other:
            return self._show(False, self.model.say("ui_pick_first", what=Label("ui", "a_duplicate")))
        if acc:
            self._act("account.merge", acc, other, refresh=self._after_merge)

    def _after_merge(self) -> None:
        if self.state["search"]:
            self.state["results"] = self.model.search(self.state["search"])
            self.w["results"].options = self.state["results"]
        self._refresh_account()
        self._refresh_inbox()
        self._refresh_pipeline()

    def _set_grade(self) -> None:
        if acc := self._chosen("account", "a_customer"):
            self._act("account.grade", acc, self.w["grade_pick"].value, refresh=self._refresh_account)

    def _set_segment(self) -> None:
        if acc := self._chosen("account", "a_customer"):
            self._act("account.segment", acc, self.w["segment"].value, refresh=self._refresh_account)

    def _log_activity(self) -> None:
        if acc := self._chosen("account", "a_customer"):
            note = self.w["activity_note"].value.strip() or None
            kwargs = {"note": note} if note else {}
            self._act("activity.log", acc, self.w["activity_type"].value, self.w["activity_rep"].value,
                      refresh=self._refresh_account, **kwargs)

    def _schedule(self) -> None:
        if acc := self._chosen("account", "a_customer"):
            self._act("followup.schedule", acc, self.w["followup_rep"].value, self.w["followup_due"].value,
                      self.w["followup_subject"].value, refresh=self._refresh_account)


class InboxTab:
    """The ticket inbox: SLA colours, filters, assign / escalate / answer / resolve / close."""

    def _tab_inbox(self):
        W, m = self._widgets, self.model
        every = [(m.t("all"), "all")]

        def on(key):
            return lambda v: (self.state.update({key: v}), self._refresh_inbox())
        filters = self._row(
            W.HTML(m.t("status")),
            self._dropdown("f_status", [(m.t(s, "ticket_status"), s) for s in ("open", "resolved", "closed")],
                           self.state["status"], "110px", on("status")),
            W.HTML(m.t("sla")),
            self._dropdown("f_sla", every + [(m.t(s, "sla"), s) for s in SLA_STATUSES if s != "done"],
                           self.state["sla"], "100px", on("sla")),
            W.HTML(m.t("priority")),
            self._dropdown("f_priority", every + [(m.t(p, "priority"), p) for p in PRIORITIES],
                           self.state["priority"], "90px", on("priority")),
            W.HTML(m.t("assignee")),
            self._dropdown("f_assignee", every + m.staff(), self.state["assignee"], "150px", on("assignee")))
        select = self._named("ticket_select", W.Select(options=[], rows=6, layout=W.Layout(width="100%")))
        select.observe(lambda ch: self._guard(lambda: self._pick_ticket(ch["new"])), names="value")
        actions = W.VBox([
            self._html("ticket_card"),
            self._row(self._dropdown("assign_pick", m.staff(), width="170px"),
                      self._button("assign", "assign", lambda: self._ticket_op("ticket.assign", self.w["assign_pick"].value)),
                      self._button("escalate", "escalate", lambda: self._ticket_op("ticket.escalate"), "warning")),
            self._row(self._button("answer", "answer", lambda: self._ticket_op("ticket.answer")),
                      self._button("resolve", "resolve", lambda: self._ticket_op("ticket.resolve"), "success"),
                      self._button("close", "close", lambda: self._ticket_op("ticket.close"))),
        ], layout=W.Layout(width="100%"))
        chart = self._named("age_chart", W.Image(format="png", layout=W.Layout(width="45%", height="auto")))
        return W.VBox([filters, self._html("inbox_table"), self._html("inbox_count"),
                       W.HBox([W.VBox([select, actions], layout=W.Layout(width="55%")), chart],
                              layout=W.Layout(align_items="flex-start"))],
                      layout=W.Layout(padding="4px"))

    def _refresh_inbox(self) -> None:
        m, s = self.model, self.state
        df, total = m.inbox(s["status"], s["sla"], s["priority"], s["assignee"])

        def colour(r):
            bg, fg = SLA_COLOURS[r["sla_status"]]
            return f"background:{bg};color:{fg}"
        cols = ["ticket_id", "account_id", "reason", "priority", "assigned_to", "opened_at", "resolve_due",
                "hours_left", "sla_status"]
        table = fragments.table_html(df.assign(account_id=df["account_id"] + " " + df["account_name"].str.slice(0, 14)),
                                     cols, m.lang, colour, m.t("none"))
        self.w["inbox_table"].value = fragments.text("scroll", table)
        self.w["inbox_count"].value = fragments.text("muted", m.say("ui_shown", shown=len(df), total=total))
        options = [(m.ticket_label(r), r["ticket_id"]) for _, r in df.iterrows()]
        if s["ticket"] and s["ticket"] not in [v for _, v in options]:
            # keep the ticket at hand after it leaves the filter (resolved, then closed)
            options.insert(0, (m.ticket_label(m.ticket(s["ticket"])), s["ticket"]))
        self.w["ticket_select"].options = options
        self.w["ticket_select"].value = s["ticket"]
        self._refresh_ticket_card()
        open_df, _ = m.inbox("open", limit=10 ** 9)
        self.w["age_chart"].value = ticket_age_png(open_df, m.crm.now, m.lang)

    def _pick_ticket(self, ticket) -> None:
        if ticket:
            self.state["ticket"] = ticket
            self._refresh_ticket_card()

    def _refresh_ticket_card(self) -> None:
        m, t = self.model, self.state["ticket"]
        row = m.ticket(t) if t else None
        if row is None:
            self.w["ticket_card"].value = ""
            return
        status = "closed" if isinstance(row["closed_at"], str) else row["status"]
        facts = [(m.t("ticket"), f"{row['ticket_id']} · {row['account_id']} {row['account_name']}"),
                 (m.t("status"), f"{m.t(status, 'ticket_status')} · {m.t(row['sla_status'], 'sla')}"),
                 (m.t("reason"), f"{m.t(row['reason'], 'reason')} · {m.t(row['priority'], 'priority')}"
                                 + (" · " + m.t("escalate") if row["escalated"] else "")),
                 (m.t("assignee"), row["assigned_to"] if isinstance(row["assigned_to"], str) else "—"),  # NaN: nobody
                 (m.t("resolve_due", "col"), row["resolve_due"])]
        self.w["ticket_card"].value = fragments.card(facts, SLA_COLOURS[row["sla_status"]])

    def _ticket_op(self, op: str, *extra) -> None:
        if ticket := self._chosen("ticket", "a_ticket"):
            self._act(op, ticket, *extra, refresh=self._after_ticket)

    def _after_ticket(self) -> None:
        self._refresh_inbox()
        if self.state["account"]:
            self._refresh_account()


class PipelineTab:
    """The pipeline: the board by stage, move stage, quote, close won or lost."""

    def _tab_pipeline(self):
        W, m = self._widgets, self.model
        pick = self._dropdown("opp_select", m.open_opportunities(), self.state["opportunity"], "380px",
                              lambda v: (self.state.update(opportunity=v), self._refresh_opportunity()))
        self.state["opportunity"] = pick.value
        amount = lambda name, hint: self._text(name, "", hint, "110px")  # noqa: E731
        actions = W.VBox([
            self._row(self._button("next_stage", "next_stage", self._next_stage, "primary")),
            self._row(amount("quote_amount", m.t("list_amount")), amount("quote_discount", m.t("discount") + " 0–0.25"),
                      self._button("add_quote", "add_quote", self._add_quote)),
            self._row(amount("won_amount", m.t("amount")), self._button("close_won", "close_won", self._close_won,
                                                                       "success"),
                      self._text("lost_reason", "", m.t("lost_reason"), "150px"),
                      self._button("close_lost", "close_lost", self._close_lost, "danger")),
        ], layout=W.Layout(width="52%"))
        card = W.VBox([self._row(W.HTML(fragments.text("heading", m.t("opportunity"))), pick), self._html("opp_card")],
                      layout=W.Layout(width="48%"))
        chart = self._named("funnel_chart", W.Image(format="png", layout=W.Layout(width="100%", height="auto")))
        return W.VBox([self._html("board"), W.HBox([card, actions], layout=W.Layout(align_items="flex-start")), chart],
                      layout=W.Layout(padding="4px"))

    def _refresh_pipeline(self) -> None:
        m = self.model
        columns = []
        for stage, (df, n, total) in m.board().items():
            cards = [{"id": r.opportunity_id, "amount": m.money(r.amount), "account": r.account_name, "rep": r.rep_id}
                     for r in df.itertuples()]
            columns.append({"title": m.t(stage, "stage"), "count": n, "total": m.money(total), "cards": cards,
                            "colour": STAGE_COLOURS[stage], "ink": STAGE_INK[stage],
                            "more": m.say("ui_shown", shown=len(df), total=n) if n > len(df) else ""})
        self.w["board"].value = fragments.board(columns)
        options = m.open_opportunities()
        self.w["opp_select"].options = options
        values = [v for _, v in options]
        self.w["opp_select"].value = self.state["opportunity"] if self.state["opportunity"] in values else (
            values[0] if values else None)
        self.state["opportunity"] = self.w["opp_select"].value
        self._refresh_opportunity()
        self.w["funnel_chart"].value = funnel_png(m.funnel_counts(), m.crm.pipeline(), m.lang, m.currency)

    def _refresh_opportunity(self) -> None:
        m, o = self.model, self.state["opportunity"]
        if not o:
            self.w["opp_card"].value = ""
            return
        row = m.opportunity(o)
        q = row["quote"]
        quote = f"{m.money(q['amount'])} ({q['discount']:.0%}, {q['quoted_at'][:10]})" if q else m.t("none")
        facts = [(m.t("opportunity"), f"{o} · {row['account_id']} {row['account_name']}"),
                 (m.t("stage", "field"), m.t(row["stage"], "stage")),
                 (m.t("amount"), f"{m.money(row['amount'])} · {row['rep_id']} · {row['expected_close'][:10]}"),
                 (m.t("add_quote"), quote)]
        self.w["opp_card"].value = fragments.card(facts)
        nxt = NEXT_STAGE.get(row["stage"])
        self.w["next_stage"].description = f"{m.t('next_stage')}" + (
            f" → {m.t(nxt, 'stage')}" if nxt else "")

    def _number(self, name: str, label: str, optional: bool = False):
        text = self.w[name].value.strip()
        if optional and not text:
            return None, True
        try:
            return float(text), True
        except ValueError:
            self._show(False, self.model.say("ui_no_number", field=Label("ui", label), value=text))
            return None, False

    def _next_stage(self) -> None:
        if o := self._chosen("opportunity", "an_opportunity"):
            stage = self.model.opportunity(o)["stage"]
            self._act("opportunity.stage", o, NEXT_STAGE.get(stage, stage), refresh=self._refresh_pipeline)

    def _add_quote(self) -> None:
        if o := self._chosen("opportunity", "an_opportunity"):
            amount, ok = self._number("quote_amount", "list_amount")
            discount, ok2 = self._number("quote_discount", "discount", optional=True)
            if ok and ok2:
                self._act("opportunity.quote", o, amount, discount or 0.0, refresh=self._refresh_pipeline)

    def _close_won(self) -> None:
        if o := self._chosen("opportunity", "an_opportunity"):
            amount, ok = self._number("won_amount", "amount", optional=True)
            if ok:
                kwargs = {} if amount is None else {"amount": amount}
                self._act("opportunity.stage", o, "won", refresh=self._refresh_pipeline, **kwargs)

    def _close_lost(self) -> None:
        if o := self._chosen("opportunity", "an_opportunity"):
            self._act("opportunity.stage", o, "lost", reason=self.w["lost_reason"].value,
                      refresh=self._refresh_pipeline)
