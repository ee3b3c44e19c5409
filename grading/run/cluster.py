"""Grading on a Dask cluster: the same work as the local workers, one task per submission.

``crmlab autograde … --scheduler tcp://host:8786`` hands each submission to the cluster instead
of to local worker processes. Every Dask worker must see the course directory at the same path
(a shared file system) and have this package installed; nbgrader is loaded once per Dask worker
process and kept. With many graders on one gradebook, use a database server for it
(``[grading] db_url``, e.g. PostgreSQL): SQLite serialises every write.

A submission that runs past ``submission_timeout`` is stopped where it runs, as on the local workers:
the grading step itself kills its kernel's working space when the time is up (grading/run/worker.py), so
nothing has to stop a Dask task from outside. A sandbox that stops working on a cluster worker ends the
run, as it does locally.
"""
from __future__ import annotations

import contextlib
import os
import time
import traceback

from crmlab.grading.classroom.course import Course
from crmlab.grading.classroom.reasons import Reason, printable
from crmlab.grading.classroom.state import Outcome

_APIS: dict[str, object] = {}   # course root → nbgrader API, per Dask worker process


def _api(course: Course, mode: str):
    from traitlets.config import Config

    from crmlab.grading.classroom.nbgrader_api import nbgrader_api
    from crmlab.grading.run.worker import STAGED

    key = f"{course.root}\0{mode}"
    if key not in _APIS:
        overrides = Config()
        overrides.SandboxedKernelManager.mode = mode
        api = nbgrader_api(course, overrides)
        api.coursedir.submitted_directory = STAGED
        _APIS[key] = api
    return _APIS[key]


def grade_task(root: str, module: str, student: str, mode: str = "required", limit: float | None = None) -> Outcome:
    """One submission, graded where this task runs (a Dask worker process)."""
    from crmlab.grading.run.worker import SandboxFailed, grade_one

    started = time.monotonic()
    course = Course.open(root)
    with contextlib.chdir(course.root):
        try:
            outcome = grade_one(_api(course, mode), course, module, student, limit)
        except SandboxFailed as exc:
            outcome = Outcome(module, student, "retry", [Reason("sandbox_failed", {"detail": printable(exc, 200)})])
        except Exception:   # a bug of ours must not take the batch down
            outcome = Outcome(module, student, "retry", [Reason("grader_failure", {
                "detail": printable(traceback.format_exc().strip().splitlines()[-1], 200)})])
    outcome.seconds = round(time.monotonic() - started, 3)
    return outcome


def run_on_cluster(address: str, course: Course, module: str, jobs: list[tuple[str, str]], record,
                   mode: str = "required", limit: float | None = None) -> None:
    """Submit every job to the Dask scheduler at ``address``; ``record`` each outcome as it comes. A
    sandbox that failed on a cluster worker stops the run once what was under way is recorded."""
    from distributed import Client, as_completed

    from crmlab.grading.classroom.course import CourseError

    failed = None
    with Client(address, timeout=30) as client:
        futures = {client.submit(grade_task, str(course.root), module, student, mode, limit, pure=False,
                                 key=f"crmlab-{module}-{student}-{digest[:12]}-{os.getpid()}"): student
                   for student, digest in jobs}
        for future in as_completed(futures):
            student = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:   # the task or its worker died: not the student's doing
                outcome = Outcome(module, student, "retry", [Reason("worker_died", {"code": printable(exc, 120)})])
            if outcome.reasons and outcome.reasons[0].code == "sandbox_failed" and failed is None:
                failed = outcome.reasons[0].params["detail"]
                for f in futures:
                    f.cancel()
            record(outcome)
    if failed:
        raise CourseError(f"the sandbox stopped working on the cluster ({failed}); grading stopped: what was graded "
                          "is kept, run again once it is fixed")
