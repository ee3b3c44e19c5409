"""Operational CRM on a simulated CRM database: accounts, contacts, leads, opportunities,
activities and follow-ups, service tickets with SLA, complaints, campaigns, value grades — every
operation one audited transaction, refused with a bilingual message when it breaks a rule.

>>> from crm import CRM                                              # doctest: +SKIP
>>> crm = CRM.open("crm.db", user="student01", lang="en_US")          # doctest: +SKIP
>>> t = crm.open_ticket("A0012", "C00031", "complaint", priority="high")   # doctest: +SKIP
>>> crm.close_ticket(t)                                               # doctest: +SKIP
IllegalTransition: Ticket T010163 is 'open' and cannot be closed (rule: a ticket must be resolved …)

State checkpoints: ``check_state("crm.db", [{"kind": "ticket_status", "ticket": t, "status": "closed"}])``.
"""
from .checks import KINDS, Result, check_state, load_conditions
from .errors import (ClockError, Conflict, ConstraintViolation, DomainError, IllegalTransition, InvalidValue,
                     MergedAway, NotFound)
from .migrate import migrate
from .ops import CRM

__all__ = ["CRM", "check_state", "load_conditions", "Result", "KINDS", "migrate", "DomainError", "NotFound",
           "InvalidValue", "IllegalTransition", "Conflict", "MergedAway", "ClockError", "ConstraintViolation"]
