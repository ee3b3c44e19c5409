"""Bulk autograding: N long-lived workers, a watchdog, a progress bar, resumable.

The coordinator hands one submission at a time to each idle worker. A worker stops a submission that
overruns the submission time limit itself (its kernel's whole working space is killed); a worker that
hangs past that, or crashes, is killed and replaced. Every finished submission is recorded at once, so an
interrupted run — even one killed with -9, whose workers die with it — resumes where it stopped.

One run per course at a time (a lock on ``.crmlab/locks/grading``, which the system releases when the
run ends however it ends); the sandbox is decided once, at the start (grading/run/sandbox/tools.py :func:`decide`).
"""
from __future__ import annotations

import errno
import fcntl
import json
import multiprocessing as mp
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter, deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import wait

import psutil
from tqdm import tqdm

from crmlab.grading.run import sandbox
from crmlab.grading.run import worker as worker_module
from crmlab.grading.classroom.course import Course, CourseError
from crmlab.grading.classroom.locks import course_lock
from crmlab.grading.classroom.data import STUDENT_ID
from crmlab.grading.classroom.intake import Limits, reserved_names, take
from crmlab.grading.classroom.reasons import Reason, printable
from crmlab.grading.classroom.state import FINAL, Outcome, StateDamaged, StateStore

GRACE = 30.0   # seconds past the submission limit before the coordinator kills a worker that did not stop it


@dataclass
class _Worker:
    process: mp.Process
    conn: object
    ready: bool = False
    job: tuple[str, str] | None = None
    started: float = 0.0


def clean_leftovers(course: Course) -> None:
    """What a run killed with -9 left: staging copies, working spaces (their tmpfs), cgroups."""
    scratch = course.private / "scratch"
    if scratch.is_dir():
        for d in scratch.iterdir():
            if os.path.ismount(d):
                subprocess.run(["umount", "-l", str(d)], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(course.root / worker_module.STAGED, ignore_errors=True)
    if os.geteuid() == 0 and sandbox.Cgroup.version() is not None:
        sandbox.remove_stale_cgroups()


@dataclass
class RunSummary:
    outcomes: list[Outcome] = field(default_factory=list)   # everything decided in this run
    skipped: list[str] = field(default_factory=list)        # finished earlier, unchanged
    absent: list[str] = field(default_factory=list)         # on the roster, no submission folder
    seconds: float = 0.0
    unsandboxed: str | None = None                          # why kernels ran without a sandbox

    def counts(self) -> Counter:
        return Counter(o.status for o in self.outcomes)


def _spawn(ctx, root: str, mode: str) -> _Worker:
    parent, child = ctx.Pipe()
    process = ctx.Process(target=worker_module.main, args=(child, root, mode, os.getpid()), daemon=True)
    process.start()
    child.close()
    return _Worker(process, parent)


def _kill(w: _Worker) -> None:
    """Stop a worker and every process it started (its kernel runs in a session of its own)."""
    try:
        proc = psutil.Process(w.process.pid)
        family = proc.children(recursive=True) + [proc]
    except psutil.NoSuchProcess:
        family = []
    for p in family:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=5)
    w.process.join(timeout=1)
    w.conn.close()


def plan(course: Course, module: str, students: list[str] | None, force: bool,
         state: StateStore) -> tuple[list[tuple[str, str]], list[Outcome], list[str]]:
    """Which submissions to grade, which are missing or cannot be graded at all, which are already
    finished (skipped). A submission folder is inspected without following a link (grading/classroom/intake.py)."""
    roster = set(course.students())
    submitted = set(course.submitted_students(module))
    wanted = sorted(set(students) if students else roster | submitted)
    jobs, missing, skipped = [], [], []
    limits = Limits.of(course.grading)
    for s in wanted:
        if not STUDENT_ID.match(s):
            continue   # a folder in submitted/ that is no student id: course.submitted_students leaves those out
        got = take(course.path("submitted"), (s, module), None, limits, reserved_names(
            course.module(module).data_file))
        if got.problem and got.problem["why"] == "missing":
            missing.append(Outcome(module, s, "missing", [Reason("no_submission")]))
            continue
        done = state.get(module, s)
        if not force and done and done.status in FINAL and done.digest == got.digest:
            skipped.append(s)
            continue
        jobs.append((s, got.digest))
    return jobs, missing, skipped


def autograde(course: Course, module: str, workers: int | None = None, force: bool = False,
              students: list[str] | None = None, progress: bool = True,
              submission_timeout: float | None = None, scheduler: str | None = None) -> RunSummary:
    """Grade ``module``'s submissions: on ``workers`` local processes, or on the Dask cluster whose
    scheduler is at ``scheduler`` (grading/run/cluster.py). Resumable either way."""
    course.module(module)
    if not course.path("release", module=module).is_dir():
        raise CourseError(f"module {module} has not been assigned yet: run `crmlab assign {module}` first")
    workers = max(1, int(workers or course.grading.workers))
    mode = course.grading.sandbox   # "auto", "required" or "off": checked when crmlab.toml is read
    limit = float(submission_timeout or course.grading.submission_timeout)
    started = time.monotonic()
    with course_lock(course, f"crmlab autograde {module}"):
        try:
            worker_mode, why = sandbox.decide(mode)
        except sandbox.SandboxUnavailable as exc:
            raise CourseError(str(exc)) from None
        if why and mode != "off" and progress:   # decided once, said at once
            print(f"crmlab: WARNING: student code runs WITHOUT a sandbox in this run ({why}): it can read the "
                  "course directory, the gradebook and this user's files", file=sys.stderr, flush=True)
        clean_leftovers(course)
        try:
            state = StateStore(course.private / "state.db")
        except StateDamaged as exc:
            raise CourseError(str(exc)) from None
        summary = RunSummary(unsandboxed=why)
        try:
            jobs, missing, summary.skipped = plan(course, module, students, force, state)
            for o in missing:
                _put(state, o)
                summary.outcomes.append(o)
                summary.absent.append(o.student)
            if jobs and scheduler:
                _run_cluster(scheduler, course, module, jobs, state, summary, progress, worker_mode, limit)
            elif jobs:
                _run(course, module, jobs, min(workers, len(jobs)), limit, state, summary, progress, worker_mode)
        finally:
            state.close()
            clean_leftovers(course)
    summary.seconds = time.monotonic() - started
    return summary


def _put(state: StateStore, outcome: Outcome) -> None:
    """Record one outcome; a full disk stops the run with a message that says so (what was recorded stays)."""
    try:
        state.put(outcome)
    except sqlite3.OperationalError as exc:
        if "full" in str(exc) or "disk" in str(exc):
            raise CourseError(f"the disk holding {state.path} is full: free some space and run again (the "
                              "submissions graded so far are kept; the rest are graded then)") from None
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise CourseError(f"the disk holding {state.path} is full: free some space and run again") from None
        raise


def _run_cluster(address, course, module, jobs, state, summary, progress, mode, limit) -> None:
    from crmlab.grading.run.cluster import run_on_cluster

    digests = dict(jobs)
    with tqdm(total=len(jobs), desc=f"autograde {module} (cluster)", unit="sub", disable=not progress) as bar:
        def record(outcome: Outcome) -> None:
            outcome.digest = digests[outcome.student]
            _put(state, outcome)
            summary.outcomes.append(outcome)
            bar.update(1)

        run_on_cluster(address, course, module, jobs, record, mode, limit)


def _run(course, module, jobs, n_workers, limit, state, summary, progress, mode) -> None:
    ctx = mp.get_context("spawn")  # a clean interpreter: nothing of the caller's state leaks in
    queue = deque(jobs)
    digests = dict(jobs)
    pool = [_spawn(ctx, str(course.root), mode) for _ in range(n_workers)]
    bar = tqdm(total=len(jobs), desc=f"autograde {module}", unit="sub", disable=not progress)

    def record(outcome: Outcome) -> None:
        outcome.digest = digests[outcome.student]
        _put(state, outcome)
        summary.outcomes.append(outcome)
        bar.update(1)
        bar.set_postfix(dict(Counter(o.status for o in summary.outcomes if o.student in digests)), refresh=False)

    def dispatch(w: _Worker) -> None:
        if queue and w.ready and w.job is None:
            student, _ = queue.popleft()
            w.job, w.started = (module, student), time.monotonic()
            w.conn.send((module, student, limit))

    failed_starts = 0
    try:
        while queue or any(w.job for w in pool):
            for w in pool:
                dispatch(w)
            for conn in wait([w.conn for w in pool], timeout=0.5):
                w = next(w for w in pool if w.conn is conn)
                try:
                    kind, payload = conn.recv()
                except (EOFError, OSError):  # the worker died
                    w.process.join(timeout=5)
                    code = w.process.exitcode
                    if not w.ready:
                        failed_starts += 1
                        if failed_starts > 2 * n_workers:
                            raise CourseError(f"grading workers keep failing to start (exit code {code}); "
                                              f"see the logs in {course.private / 'logs'}") from None
                    if w.job:
                        record(Outcome(module, w.job[1], "retry", [Reason("worker_died", {"code": code})]))
                    pool[pool.index(w)] = _replace(ctx, course, w, mode)
                    continue
                if kind == "ready":
                    w.ready = True
                elif kind == "fatal":   # the sandbox stopped working: no kernel may run without it
                    for other in pool:
                        if other.job:
                            record(Outcome(module, other.job[1], "retry",
                                           [Reason("sandbox_failed", {"detail": printable(payload, 200)})]))
                            other.job = None
                    raise CourseError(f"the sandbox stopped working during the run ({payload}); grading stopped. "
                                      "Fix it (docs/design.md, \"Sandbox\") and run again: what was graded is kept")
                else:
                    w.job = None
                    record(payload)
            now = time.monotonic()
            for i, w in enumerate(pool):
                if w.job and now - w.started > limit + GRACE:   # the worker did not stop it itself
                    record(Outcome(module, w.job[1], "timeout", [Reason("submission_timeout", {"seconds": limit})],
                                   seconds=round(now - w.started, 3)))
                    pool[i] = _replace(ctx, course, w, mode)
    finally:
        bar.close()
        for w in pool:
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
        for w in pool:
            w.process.join(timeout=10)
            if w.process.is_alive():
                _kill(w)


def _replace(ctx, course: Course, w: _Worker, mode: str) -> _Worker:
    _kill(w)
    return _spawn(ctx, str(course.root), mode)
