"""Grading on a Dask cluster: the same work as the local workers, one task per submission.

``crmlab autograde … --scheduler tcp://host:8786`` hands each submission to the cluster instead
of to local worker processes. Every Dask worker must see the course directory at the same path
(a shared file system) and have this package installed; nbgrader is loaded once per Dask worker
process and kept. With many graders on one gradebook, use a database server for it
(``[grading] db_url``, e.g. PostgreSQL): SQLite serialises every write.

What the local coordinator adds and a cluster does not: killing a worker whose submission runs
past ``submission_timeout`` (a Dask task cannot be stopped from outside). The sandbox still bounds
each kernel (per-cell timeout, CPU time, memory, processes, disk).
"""
from __future__ import annotations

import contextlib
import os
import time
import traceback

from .course import Course
from .state import Outcome

_APIS: dict[str, object] = {}   # course root → nbgrader API, per Dask worker process


def grade_task(root: str, module: str, student: str) -> Outcome:
    """One submission, graded where this task runs (a Dask worker process)."""
    from .nbgrader_api import nbgrader_api
    from .worker import _last_line, grade_one

    started = time.monotonic()
    course = Course.open(root)
    with contextlib.chdir(course.root):
        try:
            api = _APIS.get(root) or _APIS.setdefault(root, nbgrader_api(course))
            outcome = grade_one(api, course, module, student)
        except Exception:   # a bug of ours must not take the batch down
            outcome = Outcome(module, student, "error", "grader failure: " + _last_line(traceback.format_exc()))
    outcome.seconds = round(time.monotonic() - started, 3)
    return outcome


def run_on_cluster(address: str, course: Course, module: str, jobs: list[tuple[str, str]], record) -> None:
    """Submit every job to the Dask scheduler at ``address``; ``record`` each outcome as it comes."""
    from distributed import Client, as_completed

    with Client(address, timeout=30) as client:
        futures = {client.submit(grade_task, str(course.root), module, student, pure=False,
                                 key=f"crmlab-{module}-{student}-{digest[:12]}-{os.getpid()}"): student
                   for student, digest in jobs}
        for future in as_completed(futures):
            student = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:   # the task or its worker died
                outcome = Outcome(module, student, "error", f"the grading task failed on the cluster: {exc}"[:300])
            record(outcome)
