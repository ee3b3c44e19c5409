"""The console's HTML: every fragment a widget shows, rendered from a template in ``crm/templates/``
(``console_*.html``, the style sheet ``console.css``) with autoescaping (:mod:`crmlab.html`).

A fragment is :class:`markupsafe.Markup`, so one can be placed inside another without being escaped
twice; anything else a template is given — a customer's name, a refusal quoting what was typed — is
escaped there.
"""
from __future__ import annotations

import pandas as pd
from markupsafe import Markup

from crmlab.html import render

from ..messages import Label

# table column -> label namespace for its values (codes shown in the reader's language)
VALUE_LABELS = {"reason": "reason", "status": "ticket_status", "priority": "priority", "channel": "channel",
                "sla_status": "sla", "stage": "stage", "type": "activity"}


def _html(template: str, **values) -> Markup:
    return Markup(render("crmlab.crm", template, **values))


def cell(col: str, value, lang: str) -> str:
    """How a table cell shows ``value`` of column ``col``: codes as labels, numbers without trailing zeros."""
    if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
        return ""
    if col in VALUE_LABELS and isinstance(value, str):
        value = Label(VALUE_LABELS[col], value).text(lang)
    elif isinstance(value, float):
        value = f"{value:,.2f}".rstrip("0").rstrip(".") if col != "hours_left" else f"{value:.1f}"
    return str(value)


def table_html(df: pd.DataFrame, columns: list[str], lang: str, row_style=None, empty: str = "") -> Markup:
    """A small HTML table with headers in ``lang``; ``row_style(row) -> css`` colours rows."""
    rows = [(row_style(r) if row_style else None, [cell(c, r.get(c), lang) for c in columns])
            for _, r in df.iterrows()]
    return _html("console_table.html", heads=[Label("col", c).text(lang) for c in columns], rows=rows, empty=empty)


def style() -> Markup:
    """The console's style sheet, as the ``<style>`` element at its top."""
    return _html("console_style.html")


def text(kind: str, value) -> Markup:
    """A short text as a ``heading``, a ``muted`` note, an ``empty`` result, or a ``scroll`` box around a
    fragment."""
    return _html("console_text.html", kind=kind, text=value)


def status(ok: bool, lines: list[str]) -> Markup:
    """What the last action did (green) or why it was refused (red), one line per message."""
    return _html("console_status.html", ok=ok, lines=lines)


def header(title: str, case: str) -> Markup:
    return _html("console_header.html", title=title, case=case)


def clock(user_label: str, user: str, clock_label: str, now: str) -> Markup:
    return _html("console_clock.html", user_label=user_label, user=user, clock_label=clock_label, now=now)


def profile(title: str, rows: list[tuple[str, object]]) -> Markup:
    """The customer's profile card: (label, value) rows."""
    return _html("console_profile.html", title=title, rows=rows)


def card(facts: list[tuple[str, object]], colours: tuple[str, str] | None = None) -> Markup:
    """A ticket's or an opportunity's card: (label, value) lines; ``colours`` (background, text) of its SLA."""
    return _html("console_card.html", facts=facts, colours=colours)


def board(columns: list[dict]) -> Markup:
    """The pipeline board: per stage ``title``, ``count``, ``total``, ``colour``, ``ink`` (its text colour),
    ``cards`` (``id``, ``amount``, ``account``, ``rep``) and ``more`` (how many are not shown, or empty)."""
    return _html("console_board.html", columns=columns)
