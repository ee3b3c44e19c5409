"""The operational CRM: business operations on a simulated CRM database.

``crm = CRM.open("crm.db", user="student01", lang="zh_CN")`` then e.g.
``crm.open_ticket(...)``, ``crm.move_stage(...)``, ``crm.merge_accounts(...)``.

Design (docs/design.md, "Operational CRM API"):

- **One operation, one transaction.** Every public method that changes data runs inside
  ``BEGIN IMMEDIATE … COMMIT``; it checks its business rules first and raises a
  :class:`~crmlab.crm.errors.DomainError` (message in the learner's language) before writing anything.
  Any exception rolls the whole operation back, so a refused operation leaves the database
  exactly as it was.
- **Audit log.** Every changed record gets a row in ``audit_log``: who, when (the CRM's clock),
  which operation, which record, its JSON before and after.
- **Reproducible.** Ids are the next free number in the database's own style (``T010163``);
  times come from the CRM's clock, which starts at the data's horizon (``meta.snapshot_date``)
  or the latest audited change, whichever is later, and moves only when told. No wall clock and
  no randomness: the same calls on the same database give the same database.

How the package is split (one room per business area, each a class over the session's spine; the
:class:`CRM` a learner opens is all of them together, so ``crm.open_ticket(...)`` and
``crm.merge_accounts(...)`` are methods of one object, and an area may call another's operation
through ``self`` — a lead's conversion creates an account, a contact and an opportunity):

==================  ===========================================================================
``core.py``         :class:`~.core.Base`: the session (open, close), the clock, the audited
                    transaction (:func:`~.core.operation`), records and their audit rows
``fields.py``       checks of a typed value (time, text, choice, amount, e-mail, phone)
``accounts.py``     accounts and contacts
``merges.py``       duplicates found (:mod:`crmlab.crm.dedupe`) and merged
``grades.py``       value grades (the 2×2 grid, :func:`~.grades.value_grid`) and segments
``leads.py``        leads: qualify, disqualify, convert
``opportunities.py`` opportunities through the stages, quotes, the pipeline by stage
``activities.py``   activities and follow-ups
``tickets.py``      service tickets, their SLA and the inbox (:func:`~.tickets.sla_frame`)
``complaints.py``   complaints and their recovery
``campaigns.py``    campaigns and their members
``views.py``        search and the customer 360° (read only)
==================  ===========================================================================

The allowed values (stages, channels, priorities …) come from :mod:`crmlab.vocab`.
"""
from __future__ import annotations

from .accounts import EDITABLE, Accounts
from .activities import Activities
from .campaigns import Campaigns
from .complaints import Complaints
from .core import ID_STYLE, Base, operation
from .fields import TIME
from .grades import Grades, value_grid
from .leads import Leads
from .merges import Merges
from .opportunities import Opportunities
from .tickets import Tickets, sla_frame, ticket_status
from .views import Views

__all__ = ["CRM", "operation", "ID_STYLE", "EDITABLE", "TIME", "ticket_status", "sla_frame", "value_grid"]


class CRM(Accounts, Merges, Grades, Leads, Opportunities, Activities, Tickets, Complaints, Campaigns, Views, Base):
    """An operational CRM session on one database, as one user, in one language."""
