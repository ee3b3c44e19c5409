"""crmlab: the CRM course lab.

The import names are ``crmlab.*``; the folders keep the project's layout (docs/design.md "Map"):

- ``crmlab.simulator`` (``simulator/``): a scenario (``scenarios/``) simulated into a CRM database and its
  ground truth;
- ``crmlab.crm`` (``crm/``): the operational CRM on that database (API and console);
- ``crmlab.roleplay`` (``roleplay/``): the three service roles against simulated customers;
- ``crmlab.grading`` (``grading/``): the course, its modules' release, collection and grading, and what
  comes out of it (feedback, reports, exports, the course grade);
- ``crmlab.cli``: the ``crmlab`` command.

A student's notebook imports ``crmlab.simulator``, ``crmlab.crm`` and ``crmlab.roleplay``; a kernel in the
grader's sandbox sees only those folders (``crmlab.grading`` is not there to import).
"""
