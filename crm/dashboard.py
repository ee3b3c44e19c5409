"""The company dashboard: the student's own company so far, quarter by quarter, with the days of the term's company
modules marked — revenue, active customers, customers lost, service level and satisfaction (issue "one company
through the term"; docs/design.md "The company track").

Read from the CRM database alone (what the student sees), with the definitions the modules teach:

- **revenue**: the order lines' quantity × unit price paid, by the order's date;
- **active customers** at a quarter's end: accounts with an order in the 180 days up to it (m01's definition);
- **customers lost** in a quarter: active at the quarter before's end, not at this one's;
- **service level**: the share of callers to the agents (not the managers' escalations) answered within the
  service standard (``meta.sla_seconds``), over every call to the agents that arrived in the quarter (m06's);
- **satisfaction**: the mean CSAT score (1–5) answered in the quarter.

The last quarter ends at the data's snapshot date and is marked as partial.

>>> from crmlab.crm import company_dashboard      # doctest: +SKIP
>>> company_dashboard("crm.db")                   # doctest: +SKIP   (a table and four small charts)
"""
from __future__ import annotations

import base64
import contextlib
import io
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crmlab.html import render

from .migrate import has_table

ACTIVE_DAYS = 180
# each figure: (column, Chinese label, English label, how a value is shown) — declared once for the table and charts
KPIS = (
    ("revenue", "收入", "Revenue", "{:,.0f}"),
    ("active_customers", "活跃客户", "Active customers", "{:,.0f}"),
    ("lost_customers", "流失客户", "Customers lost", "{:,.0f}"),
    ("service_level", "服务水平", "Service level", "{:.0%}"),
    ("satisfaction", "满意度（1–5）", "Satisfaction (1–5)", "{:.2f}"),
)
WORDS = {   # the page's own words
    "title": ("我的公司 · 截至 {date}（第 {day} 天）", "My company · as of {date} (day {day})"),
    "quarter": ("季度", "Quarter"),
    "partial": ("（未满）", " (so far)"),
    "modules": ("竖线：学期里公司线模块的日子", "Lines: the days of the term's company modules"),
    "none": ("数据里还没有订单或来电。", "No orders or calls in the data yet."),
    "no_data": ("这份数据里没有这一项", "not in this database"),
}


def _word(key: str, lang: str, **values) -> str:
    zh, en = WORDS[key]
    return (zh if lang == "zh_CN" else en).format(**values)


def company_kpis(db: str | Path) -> pd.DataFrame:
    """The KPIs of the company in ``db`` per calendar quarter (index: the quarter's first day; ``end``: its last
    day counted, the snapshot date for the last one; ``partial``: whether the quarter is not over)."""
    with contextlib.closing(sqlite3.connect(f"file:{Path(db).resolve()}?mode=ro", uri=True)) as con:
        meta = dict(con.execute("SELECT key, value FROM meta"))
        snapshot = pd.Timestamp(meta["snapshot_date"])          # the data runs to the day before
        sla = float(meta.get("sla_seconds", 20))
        orders = pd.read_sql_query(
            "SELECT o.order_id, o.account_id, o.ordered_at, COALESCE(SUM(l.quantity * l.unit_price), 0) AS amount "
            "FROM orders o LEFT JOIN order_lines l ON l.order_id = o.order_id GROUP BY o.order_id", con,
            parse_dates=["ordered_at"]) if has_table(con, "orders") else pd.DataFrame(columns=["account_id", "ordered_at", "amount"])
        calls = pd.read_sql_query(
            "SELECT arrived_at, answered_at, abandoned FROM calls WHERE callback_of IS NULL OR callback_of <> 'escalation'",
            con, parse_dates=["arrived_at", "answered_at"]) if has_table(con, "calls") else pd.DataFrame(
            columns=["arrived_at", "answered_at", "abandoned"])
        csat = pd.read_sql_query("SELECT answered_at, score FROM csat", con, parse_dates=["answered_at"]) \
            if has_table(con, "csat") else pd.DataFrame(columns=["answered_at", "score"])
    for frame, cols in ((orders, ["ordered_at"]), (calls, ["arrived_at", "answered_at"]), (csat, ["answered_at"])):
        for col in cols:                                         # (a module's database may lack a table)
            frame[col] = pd.to_datetime(frame[col])
    stamps = [s for s in (orders["ordered_at"].min() if len(orders) else None,
                          calls["arrived_at"].min() if len(calls) else None) if s is not None and not pd.isna(s)]
    if not stamps:
        return pd.DataFrame(columns=["end", "partial"] + [k for k, *_ in KPIS])
    start = min(stamps).to_period("Q").start_time
    last = snapshot - pd.Timedelta(days=1)
    rows = []
    previous_active: set = set()
    for q in pd.period_range(start, last, freq="Q"):
        lo, hi = q.start_time, min(q.end_time.normalize(), last)
        end = hi + pd.Timedelta(days=1)                          # the first moment after the quarter
        in_q = lambda s: (s >= lo) & (s < end)                   # noqa: E731
        recent = orders[(orders["ordered_at"] >= end - pd.Timedelta(days=ACTIVE_DAYS)) & (orders["ordered_at"] < end)]
        active = set(recent["account_id"])
        c = calls[in_q(calls["arrived_at"])]
        answered_in_time = ((c["abandoned"] == 0) & ((c["answered_at"] - c["arrived_at"]).dt.total_seconds() <= sla)).sum()
        s = csat[in_q(csat["answered_at"])]
        rows.append({"quarter": lo, "end": hi, "partial": hi < q.end_time.normalize(),
                     "revenue": float(orders.loc[in_q(orders["ordered_at"]), "amount"].sum()),
                     "active_customers": len(active), "lost_customers": len(previous_active - active),
                     "service_level": answered_in_time / len(c) if len(c) else float("nan"),
                     "satisfaction": float(s["score"].mean()) if len(s) else float("nan")})
        previous_active = active
    return pd.DataFrame(rows).set_index("quarter")


@dataclass(frozen=True)
class Dashboard:
    """The dashboard of one database: its KPIs (``kpis``), shown as a table and four charts in a notebook."""
    kpis: pd.DataFrame
    meta: dict
    lang: str

    @property
    def module_days(self) -> list[tuple[str, int]]:
        """(module, day) of the term's company modules so far, this one last (the hand-out's ``meta``)."""
        with contextlib.suppress(KeyError, TypeError, ValueError):
            return [(m["module"], int(m["day"])) for m in json.loads(self.meta["term_modules"])]
        return []

    def png(self) -> bytes:
        """Five small charts on a time axis: each quarter's figure at its last day, each company module's day a line."""
        import matplotlib
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        from .fonts import chart_rc
        k, zh = self.kpis, self.lang == "zh_CN"
        with matplotlib.rc_context(chart_rc()):
            fig = Figure(figsize=(11, 5.4), dpi=100)
            axes = fig.subplots(2, 3).ravel()
            x = list(k["end"])
            labels = [f"{q.year}Q{q.quarter}" for q in k.index]
            start = pd.Timestamp(self.meta["start_date"])
            for ax, (col, name_zh, name_en, _) in zip(axes, KPIS):
                ax.set_title(name_zh if zh else name_en, fontsize=10)
                values = k[col].to_numpy(dtype=float)
                if pd.isna(values).all():
                    ax.text(0.5, 0.5, _word("no_data", self.lang), ha="center", va="center", transform=ax.transAxes,
                            fontsize=9, color="#718096")
                else:
                    ax.plot(x, values, marker="o", color="#2b6cb0")
                ax.set_xticks(x, labels, fontsize=7, rotation=45)
                ax.set_xlim(x[0] - pd.Timedelta(days=30), max(x[-1], start + pd.Timedelta(
                    days=max((d for _, d in self.module_days), default=0))) + pd.Timedelta(days=30))
                if col == "service_level":
                    ax.set_ylim(0, 1.05)
                    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
                elif col == "satisfaction":
                    ax.set_ylim(1, 5)
                else:
                    ax.set_ylim(bottom=0)
                    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
                    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
                top = ax.get_ylim()[1]
                for module, day in self.module_days:
                    at = start + pd.Timedelta(days=day)
                    ax.axvline(at, color="#c05621", lw=0.8, ls="--")
                    ax.text(at, top, module, fontsize=7, color="#c05621", ha="center", va="bottom")
                ax.tick_params(axis="y", labelsize=8)
                ax.grid(alpha=0.3)
            axes[-1].axis("off")
            axes[-1].text(0, 0.5, _word("modules", self.lang), fontsize=9, color="#c05621")
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", metadata={"Software": None})
        return buf.getvalue()

    def html(self) -> str:
        lang, k = self.lang, self.kpis
        title = _word("title", lang, date=self.meta.get("snapshot_date", ""), day=self.meta.get("term_day") or
                      self.meta.get("days", ""))
        if k.empty:
            return render("crmlab.crm", "dashboard.html", title=title, empty=_word("none", lang), head=[], rows=[],
                          chart=None)
        head = [_word("quarter", lang)] + [(zh if lang == "zh_CN" else en) for _, zh, en, _ in KPIS]
        rows = [[f"{q.year}Q{q.quarter}" + (_word("partial", lang) if r["partial"] else "")]
                + ["" if pd.isna(r[col]) else fmt.format(r[col]) for col, _, _, fmt in KPIS] for q, r in k.iterrows()]
        chart = base64.b64encode(self.png()).decode("ascii")
        return render("crmlab.crm", "dashboard.html", title=title, empty=None, head=head, rows=rows, chart=chart)

    def _repr_html_(self) -> str:
        return self.html()


def company_dashboard(db: str | Path = "crm.db", lang: str = "zh_CN") -> Dashboard:
    """Your company so far: shown in the notebook as a table and charts (``.kpis`` holds the figures)."""
    with contextlib.closing(sqlite3.connect(f"file:{Path(db).resolve()}?mode=ro", uri=True)) as con:
        meta = dict(con.execute("SELECT key, value FROM meta"))
    return Dashboard(company_kpis(db), meta, lang)


__all__ = ["company_dashboard", "company_kpis", "Dashboard", "KPIS"]
