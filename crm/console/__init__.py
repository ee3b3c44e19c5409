"""The CRM console: the operational CRM (:class:`crmlab.crm.CRM`) as ipywidgets, for students who do not
program. In a notebook (or served by Voila)::

    from crmlab.crm.console import Console
    Console("crm.db", user="student01", lang="zh_CN")

Three tabs — customer 360° (search, profile, history, merge a duplicate, grade, segment, log an
activity, schedule a follow-up), ticket inbox (SLA colours, filters, assign / escalate / answer /
resolve / close) and pipeline (board by stage, move stage, quote, close won or lost) — with charts
where a picture reads faster than a table, and a language switch.

Two layers, so the console can be tested without a browser:

- :class:`ConsoleModel` (``model.py``) does everything: it runs each action through the API, turns a
  refused action into its bilingual message (never a traceback), logs every successful action to the
  replayable action log (:mod:`crmlab.crm.actions`), and prepares what each tab shows as plain data.
- :class:`Console` (``widgets.py``, its tabs in ``tabs.py``) only lays that out as widgets and calls
  the model from button handlers.

The charts are pure functions, data in, PNG out (``charts.py``); every piece of HTML comes from a
template in ``crm/templates/`` with autoescaping (``fragments.py``); the colours they share are in
``palette.py``.

Opening the console replays the action log first (:func:`crmlab.crm.actions.apply_log`), so the same
notebook cell re-creates the student's work on the grader's fresh database.
"""
from __future__ import annotations

from ..actions import replay
from .charts import funnel_png, ticket_age_png
from .model import ActionResult, ConsoleModel
from .widgets import Console

__all__ = ["Console", "ConsoleModel", "ActionResult", "replay", "funnel_png", "ticket_age_png"]
