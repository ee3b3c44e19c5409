"""The CRM console: the operational CRM (:class:`crm.CRM`) as ipywidgets, for students who do not
program. In a notebook (or served by Voila)::

    from crmlab.crm.console import Console
    Console("crm.db", user="student01", lang="zh_CN")

Three tabs — customer 360° (search, profile, history, merge a duplicate, grade, segment, log an
activity, schedule a follow-up), ticket inbox (SLA colours, filters, assign / escalate / answer /
resolve / close) and pipeline (board by stage, move stage, quote, close won or lost) — with charts
where a picture reads faster than a table, and a language switch.

Two layers, so the console can be tested without a browser:

- :class:`ConsoleModel` does everything: it runs each action through the API, turns a refused
  action into its bilingual message (never a traceback), logs every successful action to the
  replayable action log (:mod:`crmlab.crm.actions`), and prepares what each tab shows as plain data.
- :class:`Console` only lays that out as widgets and calls the model from button handlers.

Opening the console replays the action log first (:func:`crmlab.crm.actions.apply_log`), so the same
notebook cell re-creates the student's work on the grader's fresh database.
"""
from __future__ import annotations

import html
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .actions import LOG_NAME, OPERATIONS, Action, ActionLog, ReplayReport, apply_log, data_id, replay
from .errors import DomainError
from .messages import Label, check_lang, render
from .ops import ACTIVITY_TYPES, GRADES, NEXT_STAGE, OPEN_STAGES, PRIORITIES, STAGES, CRM

__all__ = ["Console", "ConsoleModel", "Outcome", "replay", "funnel_png", "ticket_age_png"]

# background, text colour: red is late, amber is close, green is fine, grey is finished
SLA_COLOURS = {"overdue": ("#fde2e1", "#b71c1c"), "due_soon": ("#fff1cc", "#8a5300"),
               "ok": ("#e3f3e3", "#1b5e20"), "done": ("#eeeeee", "#555555")}
STAGE_COLOURS = {"qualified": "#90caf9", "proposal": "#64b5f6", "negotiation": "#1e88e5", "won": "#43a047",
                 "lost": "#9e9e9e"}
CURRENCY = {"CNY": "¥", "USD": "$"}
# table column -> label namespace for its values (codes shown in the reader's language)
VALUE_LABELS = {"reason": "reason", "status": "ticket_status", "priority": "priority", "channel": "channel",
                "sla_status": "sla", "stage": "stage", "type": "activity"}
AGE_BINS = ((0, 1, "<1"), (1, 2, "1–2"), (2, 3, "2–3"), (3, 7, "3–7"), (7, 14, "7–14"), (14, float("inf"), "≥14"))


@dataclass(frozen=True)
class Outcome:
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
    def act(self, op: str, *args, **kwargs) -> Outcome:
        """Run the API operation ``op`` (its audit name, e.g. ``ticket.resolve``) and log it.

        A refused operation returns its DomainError message in the learner's language and is not
        logged (it changed nothing). Nothing is done when the log cannot be written: an action
        that grading cannot replay would be lost."""
        if op not in OPERATIONS:
            raise ValueError(f"unknown operation {op!r}")
        if not self.log.writable():
            return Outcome(False, self.say("ui_log_readonly", path=str(self.log.path)))
        action = Action(op, args, kwargs, self.crm.now, self.crm.user, data_id(self.crm.meta))
        try:
            result = getattr(self.crm, OPERATIONS[op])(*args, **kwargs)
        except DomainError as err:
            return Outcome(False, err.message(self.lang))
        self.log.append(action)
        if op == "account.merge":
            self._duplicates = None
        return Outcome(True, self.say("ui_done", action=Label("op", op), record=action.record or ""), result)

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
            "(account_id) WHERE o.stage IN ('qualified', 'proposal', 'negotiation') ORDER BY o.opportunity_id")
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
        return pd.Series({s: counts.get(s, 0) for s in ("qualified", "proposal", "negotiation", "won")})


# == charts: pure functions, data in, PNG out ==================================================
def _figure(width: float, height: float):
    """A matplotlib figure without pyplot (no global state in the kernel), with a CJK font first
    (crm/fonts.py: found even when matplotlib's font cache predates it; a warning when there is none)."""
    from matplotlib.figure import Figure

    from .fonts import chart_rc
    return Figure(figsize=(width, height), dpi=100), chart_rc()


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def funnel_png(reached: pd.Series, pipeline: pd.DataFrame, lang: str, currency: str = "") -> bytes:
    """Left: how many opportunities reached each stage, as a centred funnel with the share kept
    from the stage before. Right: the open pipeline's amount per stage, and its probability-weighted part."""
    import matplotlib
    fig, rc = _figure(10.5, 3.0)
    with matplotlib.rc_context(rc):
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
        stages = list(reached.index)
        y = list(range(len(stages)))[::-1]
        widths = reached.to_numpy(dtype=float)
        left.barh(y, widths, left=-widths / 2, color=[STAGE_COLOURS[s] for s in stages], height=0.8)
        for i, s in enumerate(stages):
            share = f"  ({reached.iloc[i] / reached.iloc[i - 1]:.0%})" if i and reached.iloc[i - 1] else ""
            left.text(0, y[i], f"{Label('stage', s).text(lang)} {int(reached.iloc[i])}{share}", ha="center",
                      va="center", fontsize=9)
        left.set_yticks([])
        left.set_xticks([])
        for side in ("top", "right", "left", "bottom"):
            left.spines[side].set_visible(False)
        left.set_title(Label("ui", "funnel_reached").text(lang), fontsize=10)
        open_df = pipeline.loc[list(OPEN_STAGES)]
        labels = [Label("stage", s).text(lang) for s in OPEN_STAGES]
        right.bar(labels, open_df["amount"], color="#e0e0e0", label=Label("ui", "amount").text(lang))
        right.bar(labels, open_df["weighted"], color=[STAGE_COLOURS[s] for s in OPEN_STAGES], width=0.5)
        for i, v in enumerate(open_df["amount"]):
            right.text(i, v, f"{currency}{v:,.0f}", ha="center", va="bottom", fontsize=8)
        right.set_title(Label("ui", "open_amount").text(lang), fontsize=10)
        right.tick_params(labelsize=8)
        right.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:,.0f}k"))
        right.spines[["top", "right"]].set_visible(False)
        right.margins(y=0.18)
        fig.tight_layout()
        return _png(fig)


def ticket_age_png(inbox: pd.DataFrame, now: str, lang: str) -> bytes:
    """Open tickets by how long they have been open, stacked by SLA status (same colours as the inbox)."""
    import matplotlib
    fig, rc = _figure(4.6, 2.8)
    with matplotlib.rc_context(rc):
        ax = fig.subplots()
        age = (pd.Timestamp(now) - pd.to_datetime(inbox["opened_at"])).dt.total_seconds() / 86400
        bottom = [0] * len(AGE_BINS)
        for sla in ("overdue", "due_soon", "ok"):
            heights = [int(((age >= lo) & (age < hi) & (inbox["sla_status"] == sla)).sum()) for lo, hi, _ in AGE_BINS]
            ax.bar([b[2] for b in AGE_BINS], heights, bottom=bottom, color=SLA_COLOURS[sla][1],
                   label=Label("sla", sla).text(lang))
            bottom = [b + h for b, h in zip(bottom, heights)]
        ax.set_xlabel(Label("ui", "age_days").text(lang), fontsize=9)
        ax.set_ylabel(Label("ui", "count").text(lang), fontsize=9)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_title(Label("ui", "tickets_by_age").text(lang), fontsize=10)
        ax.legend(fontsize=8, frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=8)
        fig.tight_layout()
        return _png(fig)


# == widgets ====================================================================================
def _cell(col: str, value, lang: str) -> str:
    if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
        return ""
    if col in VALUE_LABELS and isinstance(value, str):
        value = Label(VALUE_LABELS[col], value).text(lang)
    elif isinstance(value, float):
        value = f"{value:,.2f}".rstrip("0").rstrip(".") if col != "hours_left" else f"{value:.1f}"
    return html.escape(str(value))


def table_html(df: pd.DataFrame, columns: list[str], lang: str, row_style=None, empty: str = "") -> str:
    """A small HTML table with headers in ``lang``; ``row_style(row) -> css`` colours rows."""
    if df.empty:
        return f"<div class='crm-empty'>{html.escape(empty)}</div>"
    head = "".join(f"<th>{html.escape(Label('col', c).text(lang))}</th>" for c in columns)
    rows = []
    for _, r in df.iterrows():
        style = f" style='{row_style(r)}'" if row_style else ""
        rows.append(f"<tr{style}>" + "".join(f"<td>{_cell(c, r.get(c), lang)}</td>" for c in columns) + "</tr>")
    return f"<table class='crm-table'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


STYLE = """<style>
.crm-console { font-size: 13px; }
.crm-console .crm-table { border-collapse: collapse; width: 100%; font-size: 12px; }
.crm-console .crm-table th { background: #f0f2f5; text-align: left; padding: 3px 6px; position: sticky; top: 0; }
.crm-console .crm-table td { padding: 2px 6px; border-top: 1px solid #e5e5e5; white-space: nowrap; }
.crm-console .crm-facts td { padding: 1px 8px 1px 0; line-height: 1.3; }
.crm-console .crm-scroll { max-height: 300px; overflow: auto; border: 1px solid #e0e0e0; }
.crm-console .crm-card { border: 1px solid #ddd; border-radius: 6px; padding: 6px 10px; background: #fafafa; }
.crm-console .crm-ok { background: #e3f3e3; color: #1b5e20; padding: 6px 10px; border-radius: 4px; }
.crm-console .crm-refused { background: #fde2e1; color: #b71c1c; padding: 6px 10px; border-radius: 4px; }
.crm-console .crm-col { border-radius: 6px; background: #f5f7fa; padding: 4px; min-height: 120px; }
.crm-console .crm-col h4 { margin: 0 0 4px 0; padding: 4px 6px; border-radius: 4px; color: #fff; font-size: 12px; }
.crm-console .crm-opp { background: #fff; border: 1px solid #e0e0e0; border-radius: 4px; margin: 3px 0;
  padding: 3px 5px; font-size: 11px; line-height: 1.35; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.crm-console .crm-muted { color: #777; font-size: 11px; }
.crm-console .crm-empty { color: #777; padding: 6px; }
</style>"""


class Console:
    """The console as widgets over a :class:`ConsoleModel`. Displays itself in Jupyter and Voila.

    Widgets that tests and the browser test use are in ``self.w`` by name, and carry the CSS
    class ``crm-<name>``. Switching the language rebuilds the widgets from the label table; what
    is selected (customer, ticket, opportunity, filters) lives in ``self.state`` and survives it."""

    def __init__(self, db: str | Path, user: str = "student", lang: str = "zh_CN", log: str | Path | None = None):
        import ipywidgets as widgets
        self._widgets = widgets
        self.model = ConsoleModel(db, user=user, lang=lang, log=log)
        self.state = {"tab": 0, "search": "", "results": [], "account": None, "ticket": None, "opportunity": None,
                      "status": "open", "sla": "all", "priority": "all", "assignee": "all"}
        self.w: dict = {}
        self.widget = widgets.VBox(layout=widgets.Layout(width="100%", max_width="1150px"))
        self.widget.add_class("crm-console")
        self._build()
        report = self.model.replay_report
        if report.applied or report.problems:
            self._show(Outcome(report.ok, "<br>".join(html.escape(m) for m in report.messages(self.model.lang))),
                       escaped=True)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        self.widget.close()
        self.model.close()

    # -- small builders ---------------------------------------------------------------------------
    def _named(self, name: str, widget):
        widget.add_class(f"crm-{name}")
        self.w[name] = widget
        return widget

    def _button(self, name: str, label: str, handler, style: str = ""):
        b = self._named(name, self._widgets.Button(description=self.model.t(label), button_style=style,
                                                   layout=self._widgets.Layout(width="auto")))
        b.on_click(lambda _: self._guard(handler))
        return b

    def _dropdown(self, name: str, options, value=None, width: str = "auto", on_change=None):
        values = [v for _, v in options]
        d = self._named(name, self._widgets.Dropdown(options=options, value=value if value in values else (
            values[0] if values else None), layout=self._widgets.Layout(width=width)))
        if on_change:
            d.observe(lambda ch: self._guard(lambda: on_change(ch["new"])), names="value")
        return d

    def _text(self, name: str, value: str = "", placeholder: str = "", width: str = "160px"):
        return self._named(name, self._widgets.Text(value=value, placeholder=placeholder,
                                                    layout=self._widgets.Layout(width=width)))

    def _html(self, name: str, value: str = ""):
        return self._named(name, self._widgets.HTML(value))

    def _row(self, *children):
        return self._widgets.HBox(list(children), layout=self._widgets.Layout(align_items="center", flex_flow="row wrap"))

    def _guard(self, fn) -> None:
        """Run a handler; anything unexpected becomes a message, never a silent failure."""
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - shown to the learner instead of a traceback in a log
            self._show(Outcome(False, self.model.say("ui_unexpected", detail=f"{type(exc).__name__}: {exc}")))

    def _show(self, outcome: Outcome, escaped: bool = False) -> None:
        text = outcome.text if escaped else html.escape(outcome.text)
        self.w["status"].value = f"<div class='{'crm-ok' if outcome.ok else 'crm-refused'}'>{text}</div>"

    def _act(self, op: str, *args, refresh, **kwargs) -> Outcome:
        outcome = self.model.act(op, *args, **kwargs)
        self._show(outcome)
        if outcome.ok:
            refresh()
        return outcome

    def _chosen(self, key: str, what: str) -> str | None:
        if not self.state[key]:
            self._show(Outcome(False, self.model.say("ui_pick_first", what=Label("ui", what))))
            return None
        return self.state[key]

    # -- layout -----------------------------------------------------------------------------------
    def _build(self) -> None:
        W, m = self._widgets, self.model
        self.w = {}
        title = m.crm.meta.get("title_zh" if m.lang == "zh_CN" else "title_en", "")
        lang = self._named("lang", W.ToggleButtons(options=[("中文", "zh_CN"), ("English", "en_US")], value=m.lang,
                                                   style={"button_width": "78px"},
                                                   layout=W.Layout(width="auto", flex="0 0 auto")))
        lang.observe(lambda ch: self._guard(lambda: self._switch(ch["new"])), names="value")
        header = self._row(
            W.HTML(f"<b style='font-size:15px'>{html.escape(m.t('title'))}</b> "
                   f"<span class='crm-muted'>{html.escape(title)}</span>", layout=W.Layout(margin="0 auto 0 0")),
            self._html("clock"),
            self._button("plus_hour", "plus_hour", lambda: self._advance(hours=1)),
            self._button("plus_day", "plus_day", lambda: self._advance(days=1)),
            lang)
        for item in header.children:  # wrap onto a second line rather than squeeze a button
            item.layout.flex = "0 0 auto"
        status = self._html("status")
        tabs = self._named("tabs", W.Tab(children=[self._tab_360(), self._tab_inbox(), self._tab_pipeline()]))
        tabs.titles = [m.t("tab_360"), m.t("tab_inbox"), m.t("tab_pipeline")]
        tabs.selected_index = self.state["tab"]
        tabs.observe(lambda ch: self.state.update(tab=ch["new"]), names="selected_index")
        self.widget.children = [W.HTML(STYLE), header, status, tabs]
        self._refresh_clock()
        self._refresh_account()
        self._refresh_inbox()
        self._refresh_pipeline()

    def _switch(self, lang: str) -> None:
        self.model.lang = lang
        self._build()

    def _advance(self, **step) -> None:
        self.model.advance(**step)
        self._refresh_clock()
        self._refresh_inbox()

    def _refresh_clock(self) -> None:
        m = self.model
        self.w["clock"].value = (f"{html.escape(m.t('user'))}: <b>{html.escape(m.crm.user)}</b> · "
                                 f"{html.escape(m.t('clock'))}: <b>{m.crm.now}</b>")

    # -- customer 360° ----------------------------------------------------------------------------
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
            W.HTML(f"<b>{html.escape(m.t('duplicates'))}</b>"),
            self._row(self._dropdown("merge_pick", [], width="330px"),
                      self._button("merge", "merge_into_this", self._merge, "warning")),
            W.HTML(f"<b>{html.escape(m.t('actions'))}</b>"),
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
            self.w["profile"].value = f"<div class='crm-empty'>{html.escape(self.model.t('no_results'))}</div>"
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
        card = "".join(f"<tr><td class='crm-muted'>{html.escape(m.t(k, 'col'))}</td><td><b>{html.escape(str(v))}</b>"
                       f"</td></tr>" for k, v in rows)
        self.w["profile"].value = (f"<div class='crm-card'><b>{html.escape(m.t('profile'))}</b>"
                                   f"<table class='crm-facts'>{card}</table></div>")
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
            self.w[f"detail_{k}"].value = f"<div class='crm-scroll'>{table_html(df, cols, m.lang, empty=none)}</div>"
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
            return self._show(Outcome(False, self.model.say("ui_pick_first", what=Label("ui", "a_duplicate"))))
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

    # -- ticket inbox -----------------------------------------------------------------------------
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
            self._dropdown("f_sla", every + [(m.t(s, "sla"), s) for s in ("overdue", "due_soon", "ok")],
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
        table = table_html(df.assign(account_id=df["account_id"] + " " + df["account_name"].str.slice(0, 14)), cols,
                           m.lang, colour, m.t("none"))
        self.w["inbox_table"].value = f"<div class='crm-scroll'>{table}</div>"
        self.w["inbox_count"].value = f"<span class='crm-muted'>{html.escape(m.say('ui_shown', shown=len(df), total=total))}</span>"
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
        bg, fg = SLA_COLOURS[row["sla_status"]]
        facts = [(m.t("ticket"), f"{row['ticket_id']} · {row['account_id']} {row['account_name']}"),
                 (m.t("status"), f"{m.t(status, 'ticket_status')} · {m.t(row['sla_status'], 'sla')}"),
                 (m.t("reason"), f"{m.t(row['reason'], 'reason')} · {m.t(row['priority'], 'priority')}"
                                 + (" · " + m.t("escalate") if row["escalated"] else "")),
                 (m.t("assignee"), row["assigned_to"] if isinstance(row["assigned_to"], str) else "—"),  # NaN: nobody
                 (m.t("resolve_due", "col"), row["resolve_due"])]
        body = "".join(f"<div><span class='crm-muted'>{html.escape(k)}</span> {html.escape(str(v))}</div>"
                       for k, v in facts)
        self.w["ticket_card"].value = (f"<div class='crm-card' style='background:{bg};color:{fg};"
                                       f"border-color:{fg}'>{body}</div>")

    def _ticket_op(self, op: str, *extra) -> None:
        if ticket := self._chosen("ticket", "a_ticket"):
            self._act(op, ticket, *extra, refresh=self._after_ticket)

    def _after_ticket(self) -> None:
        self._refresh_inbox()
        if self.state["account"]:
            self._refresh_account()

    # -- pipeline ---------------------------------------------------------------------------------
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
        card = W.VBox([self._row(W.HTML(f"<b>{html.escape(m.t('opportunity'))}</b>"), pick), self._html("opp_card")],
                      layout=W.Layout(width="48%"))
        chart = self._named("funnel_chart", W.Image(format="png", layout=W.Layout(width="100%", height="auto")))
        return W.VBox([self._html("board"), W.HBox([card, actions], layout=W.Layout(align_items="flex-start")), chart],
                      layout=W.Layout(padding="4px"))

    def _refresh_pipeline(self) -> None:
        m = self.model
        columns = []
        for stage, (df, n, total) in m.board().items():
            cards = "".join(f"<div class='crm-opp' title='{html.escape(r.account_name)}'><b>{r.opportunity_id}</b> "
                            f"{m.money(r.amount)}<br>{html.escape(r.account_name)} · {r.rep_id}</div>"
                            for r in df.itertuples())
            more = f"<div class='crm-muted'>{html.escape(m.say('ui_shown', shown=len(df), total=n))}</div>" \
                if n > len(df) else ""
            ink = "#0d2a4a" if stage in ("qualified", "proposal") else "#fff"  # dark text on the light blues
            columns.append(f"<div class='crm-col' style='flex:1;min-width:0'>"
                           f"<h4 style='background:{STAGE_COLOURS[stage]};color:{ink}'>"
                           f"{html.escape(m.t(stage, 'stage'))} · {n} · {m.money(total)}</h4>{cards}{more}</div>")
        self.w["board"].value = f"<div style='display:flex;gap:6px'>{''.join(columns)}</div>"
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
        self.w["opp_card"].value = "<div class='crm-card'>" + "".join(
            f"<div><span class='crm-muted'>{html.escape(k)}</span> {html.escape(str(v))}</div>" for k, v in facts) \
            + "</div>"
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
            self._show(Outcome(False, self.model.say("ui_no_number", field=Label("ui", label), value=text)))
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
