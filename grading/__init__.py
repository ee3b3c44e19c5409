"""The course on nbgrader, and its grading: parallel, sandboxed, resumable, with honest outputs.

Three rooms, imported in this direction only (a room imports the ones before it, never after):

- ``classroom`` — the course instance and its class: settings (``crmlab.toml``), roster, each student's own
  data, releasing a module, the exchange, the lab, the gradebook, nbgrader's configuration;
- ``run`` — the grading run: workers and their watchdog, the kernel sandbox, what is taken from a student,
  the answers verified outside the kernel, the state of every submission and the reasons for it;
- ``outputs`` — what comes out: the class's results read once, feedback pages, the class report, exports,
  the course grade, a student's own scores so far.

``demo`` runs the whole flow (all three rooms) for a sample class.
"""
