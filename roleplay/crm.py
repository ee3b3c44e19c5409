"""Connect a finished role-play to the CRM process: write what happened through the operational API.

Only through ``crmlab.crm.ops.CRM`` (one operation, one transaction, audited), so the result is what a
student could have done by hand and the course's state checkpoints (``crm/checks.py``) can grade it.
Nothing is written unless the student recorded the case in the conversation (the ``record`` move):
not recording it is part of what the rubric scores.
"""
from __future__ import annotations

import datetime as dt

from crmlab.roleplay.messages import Refusal
from crmlab.vocab import SEVERITIES


def write_to_crm(session, crm, *, agent: str, cause: str | None = None, severity: str | None = None,
                 rep: str | None = None, followup_days: int = 2) -> dict:
    """Open a ticket for the persona's account, assign it to ``agent``, escalate it if the conversation
    was escalated, register the complaint with the ``cause`` and ``severity`` the person recording it
    judged (a complaint scene needs both: classifying it is part of recording it; the CRM refuses a cause
    code it does not know) and the remedy cost, schedule the promised follow-up (for ``rep``) and resolve
    the ticket if the customer was satisfied. Returns the ids written."""
    if not session.end:
        raise Refusal("not_finished")
    account, contact = session.persona["account"], session.persona["contact"]
    if account is None:
        raise Refusal("no_account")
    if "record" not in session.moves:
        return {}
    link, sc = session.scenario.crm, session.scenario
    if link.reason == "complaint" and link.cause and (cause is None or severity is None):
        raise Refusal("classify_first", severities=", ".join(SEVERITIES))
    out = {"ticket": crm.open_ticket(account, contact, link.reason, channel=link.channel,
                                     priority="high" if (severity or link.severity) == "high" else "normal")}
    crm.assign_ticket(out["ticket"], agent)
    if session.end == "escalated":
        crm.escalate_ticket(out["ticket"])
    if link.reason == "complaint" and link.cause:
        action = "compensation" if session.cost > 0 else "apology"
        out["complaint"] = crm.register_complaint(out["ticket"], cause, severity, action, session.cost)
    if rep is not None and "promise_followup" in session.moves:
        due = dt.datetime.fromisoformat(crm.now) + dt.timedelta(days=followup_days)
        out["followup"] = crm.schedule_followup(account, rep, due.strftime("%Y-%m-%d %H:%M:%S"),
                                                f"{sc.title.zh} / {sc.title.en}")
    if session.end == "resolved":
        crm.resolve_ticket(out["ticket"])
    return out
