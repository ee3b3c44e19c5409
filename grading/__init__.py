"""The course on nbgrader, and its grading: parallel, sandboxed, resumable, with honest outputs.

Three rooms, imported in this direction only (tests/crmlab/test_map.py holds it):

- ``classroom`` — the course and its records: settings (``crmlab.toml``), roster, each student's own data,
  releasing a module, the exchange (collect takes a submission in by ``intake``'s rules), the lab, the
  gradebook, the grading state with its reasons and the words for statuses (``labels``), the course lock;
- ``run`` — the grading run (imports ``classroom``): nbgrader's grading configuration, workers and their
  watchdog, the kernel sandbox, the answers verified outside the kernel, a student's policy run sandboxed, the
  Dask cluster;
- ``outputs`` — what comes out (imports both): the class's results read once, feedback pages, the class
  report, exports, the course grade, a student's own scores so far.

``demo`` runs the whole flow (all three rooms) for a sample class; ``crmlab.cli`` is the command.
"""
