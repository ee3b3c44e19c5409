"""Operational CRM on a simulated CRM database: accounts, contacts, leads, opportunities,
activities and follow-ups, service tickets with SLA, complaints, campaigns, value grades — every
operation one audited transaction, refused with a bilingual message when it breaks a rule.

>>> from crmlab.crm import CRM                                            # doctest: +SKIP
>>> crm = CRM.open("crm.db", user="student01", lang="en_US")          # doctest: +SKIP
>>> t = crm.open_ticket("A0012", "C00031", "complaint", priority="high")   # doctest: +SKIP
>>> crm.close_ticket(t)                                               # doctest: +SKIP
IllegalTransition: Ticket T010163 is 'open' and cannot be closed (rule: a ticket must be resolved …)

State checkpoints: ``check_state("crm.db", [{"kind": "ticket_status", "ticket": t, "status": "closed"}])``.
"""
from .errors import (ClockError, Conflict, ConstraintViolation, DomainError, IllegalTransition, InvalidValue,
                     MergedAway, NotFound)
from .migrate import migrate   # light (sqlite3), and a submodule of the same name: bound here, never lazily

# the API and the checks need pandas: imported when first asked for, so that what only needs a part of
# the package (the charts' font, the action log's name) starts fast, as the simulator's package does
_LAZY = {"CRM": "ops", "Console": "console", "check_state": "checks", "load_conditions": "checks", "Result": "checks", "KINDS": "checks",
         "company_dashboard": "dashboard", "company_kpis": "dashboard"}

__all__ = ["CRM", "Console", "check_state", "load_conditions", "Result", "KINDS", "company_dashboard", "company_kpis", "migrate", "DomainError", "NotFound",
           "InvalidValue", "IllegalTransition", "Conflict", "MergedAway", "ClockError", "ConstraintViolation"]


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'crmlab.crm' has no attribute {name!r}")
