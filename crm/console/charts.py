"""The console's charts: pure functions, data in, PNG out (matplotlib without pyplot, a CJK font first)."""
from __future__ import annotations

import io

import pandas as pd

from crmlab.vocab import OPEN_STAGES, SLA_STATUSES

from ..messages import Label
from .palette import SLA_COLOURS, STAGE_COLOURS

AGE_BINS = ((0, 1, "<1"), (1, 2, "1–2"), (2, 3, "2–3"), (3, 7, "3–7"), (7, 14, "7–14"), (14, float("inf"), "≥14"))


def _figure(width: float, height: float):
    """A matplotlib figure without pyplot (no global state in the kernel), with a CJK font first
    (crm/fonts.py: found even when matplotlib's font cache predates it; a warning when there is none)."""
    from matplotlib.figure import Figure

    from ..fonts import chart_rc
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
        for sla in [s for s in SLA_STATUSES if s != "done"]:   # an open ticket's
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
