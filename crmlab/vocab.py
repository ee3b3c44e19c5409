"""The CRM's vocabulary: every enumerated value, declared once.

The scenario schema (``simulator/scenario.py``: what a case may name), the simulator, the operational
CRM API (``crm/ops/``: what an operation accepts) and the database's CHECK constraints
(``simulator/schema.sql``, ``simulator/truth_schema.sql``, ``crm/schema_ops.sql``; ``tests/crmlab/test_vocab.py`` reads every ``IN (…)`` list there
and compares it with this file) all take their values from here. The order is meaningful where it is
a flow (stages) or a scale (severities, priorities); the simulator's row layouts index into these tuples,
so a value is added at the end, with a new simulator version.

How each value is shown to a learner (中文 / English) lives with the CRM's messages
(``crm/messages.py``, the ``Label`` tables), checked against these tuples by the tests.
"""
from __future__ import annotations

from typing import Literal

LOCALES = ("zh_CN", "en_US")

# -- sales: leads, opportunities, activities ---------------------------------------------------------
LEAD_STATUSES = ("open", "qualified", "disqualified", "converted")
OPEN_STAGES = ("qualified", "proposal", "negotiation")       # between a qualified lead and won/lost, in order
CLOSED_STAGES = ("won", "lost")
STAGES = OPEN_STAGES + CLOSED_STAGES                         # every stage an opportunity can be in
NEXT_STAGE = {"qualified": "proposal", "proposal": "negotiation", "negotiation": "won"}
# the CRM's default win probability per open stage: the scenario's default for its reps' forecasts and
# the operational CRM's when an opportunity is created or moved without one
STAGE_PROBABILITY = {"qualified": 0.2, "proposal": 0.5, "negotiation": 0.75}
DEAL_TYPES = ("new", "upsell")
ACTIVITY_TYPES = ("call", "visit", "email")

# -- customers and orders ----------------------------------------------------------------------------
ORDER_SOURCES = ("repeat", "first", "deal", "campaign")
GRADES = ("AA", "AB", "BA", "BB")                            # value grades (value × potential)

# -- service: contacts, tickets, complaints ----------------------------------------------------------
CHANNELS = ("phone", "email", "chat", "messaging", "visit")  # how a customer gets in touch
REASONS = ("inquiry", "order", "complaint", "technical", "billing")
SEVERITIES = ("low", "medium", "high")
RECOVERY_ACTIONS = ("apology", "refund", "compensation", "replacement")
SERVICE_ROLES = ("agent", "manager")
TICKET_STATUSES = ("open", "resolved", "abandoned")          # as the simulator leaves them
PRIORITIES = ("urgent", "high", "normal", "low")
FOLLOWUP_STATUSES = ("open", "done", "cancelled")
# a ticket's SLA as the CRM shows it (computed, not stored), most urgent first: a due time passed, little of a
# window left, in time, finished
SLA_STATUSES = ("overdue", "due_soon", "ok", "done")

# -- the ground truth (the grader's copy only) -------------------------------------------------------
VALUE_TIERS = ("high", "mid", "low")                         # a customer's true value: purchase rate vs its kind's mean
CHURN_CAUSES = ("dissatisfaction", "dropout")                # why a customer was lost within the run

# -- marketing -----------------------------------------------------------------------------------------
CAMPAIGN_CHANNELS = ("email", "sms", "mail", "phone", "wechat")


def literal(values: tuple[str, ...]):
    """``Literal[...]`` of a vocabulary, for a pydantic field (the scenario schema)."""
    return Literal.__getitem__(values)
