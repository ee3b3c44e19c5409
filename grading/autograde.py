"""Bulk autograding: N long-lived workers, a watchdog, a progress bar, resumable.

The coordinator hands one submission at a time to each idle worker. A worker that overruns the
submission time limit is killed with its kernel and replaced; one that crashes is replaced too.
Every finished submission is recorded at once, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import multiprocessing as mp
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait

import psutil
from tqdm import tqdm

from . import sandbox
from . import worker as worker_module
from .course import Course, CourseError
from .state import STATUSES, Outcome, StateStore, submission_digest

FINAL = set(STATUSES)


@dataclass
class _Worker:
    process: mp.Process
    conn: object
    ready: bool = False
    job: tuple[str, str] | None = None
    started: float = 0.0


@dataclass
class RunSummary:
    outcomes: list[Outcome] = field(default_factory=list)   # everything decided in this run
    skipped: list[str] = field(default_factory=list)        # finished earlier, unchanged
    absent: list[str] = field(default_factory=list)         # on the roster, no submission folder
    seconds: float = 0.0
    unsandboxed: str | None = None                          # why kernels ran without a sandbox

    def counts(self) -> Counter:
        return Counter(o.status for o in self.outcomes)


def _spawn(ctx, root: str) -> _Worker:
    parent, child = ctx.Pipe()
    process = ctx.Process(target=worker_module.main, args=(child, root), daemon=True)
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
    """Which submissions to grade, which are missing, which are already finished (skipped)."""
    roster = set(course.students())
    submitted = set(course.submitted_students(module))
    wanted = sorted(set(students) if students else roster | submitted)
    jobs, missing, skipped = [], [], []
    for s in wanted:
        folder = course.path("submitted", s, module)
        if not folder.is_dir():
            missing.append(Outcome(module, s, "missing", "no submission"))
            continue
        digest = submission_digest(folder)
        done = state.get(module, s)
        if not force and done and done.status in FINAL and done.digest == digest:
            skipped.append(s)
            continue
        jobs.append((s, digest))
    return jobs, missing, skipped


def autograde(course: Course, module: str, workers: int | None = None, force: bool = False,
              students: list[str] | None = None, progress: bool = True,
              submission_timeout: float | None = None, scheduler: str | None = None) -> RunSummary:
    """Grade ``module``'s submissions: on ``workers`` local processes, or on the Dask cluster whose
    scheduler is at ``scheduler`` (grading/cluster.py). Resumable either way."""
    course.module(module)
    if not course.path("release", module=module).is_dir():
        raise CourseError(f"module {module} has not been assigned yet: run `crmlab assign {module}` first")
    workers = max(1, int(workers or course.grading.get("workers", 2)))
    mode = str(course.grading.get("sandbox", "auto"))
    if mode not in ("auto", "required", "off"):
        raise CourseError(f"[grading] sandbox = {mode!r} in crmlab.toml: use \"auto\", \"required\" or \"off\"")
    why = "sandbox = \"off\" in crmlab.toml" if mode == "off" else sandbox.available()
    if why and mode == "required":
        raise CourseError(f"[grading] sandbox = \"required\", but {why}; nothing was graded")
    limit = float(submission_timeout or course.grading["submission_timeout"])
    started = time.monotonic()
    state = StateStore(course.private / "state.db")
    summary = RunSummary(unsandboxed=why)
    try:
        jobs, missing, summary.skipped = plan(course, module, students, force, state)
        for o in missing:
            state.put(o)
            summary.outcomes.append(o)
            summary.absent.append(o.student)
        if jobs and scheduler:
            _run_cluster(scheduler, course, module, jobs, state, summary, progress)
        elif jobs:
            _run(course, module, jobs, min(workers, len(jobs)), limit, state, summary, progress)
    finally:
        state.close()
    summary.seconds = time.monotonic() - started
    return summary


def _run_cluster(address, course, module, jobs, state, summary, progress) -> None:
    from .cluster import run_on_cluster

    digests = dict(jobs)
    with tqdm(total=len(jobs), desc=f"autograde {module} (cluster)", unit="sub", disable=not progress) as bar:
        def record(outcome: Outcome) -> None:
            outcome.digest = digests[outcome.student]
            state.put(outcome)
            summary.outcomes.append(outcome)
            bar.update(1)

        run_on_cluster(address, course, module, jobs, record)


def _run(course, module, jobs, n_workers, limit, state, summary, progress) -> None:
    ctx = mp.get_context("spawn")  # a clean interpreter: nothing of the caller's state leaks in
    queue = deque(jobs)
    digests = dict(jobs)
    pool = [_spawn(ctx, str(course.root)) for _ in range(n_workers)]
    bar = tqdm(total=len(jobs), desc=f"autograde {module}", unit="sub", disable=not progress)

    def record(outcome: Outcome) -> None:
        outcome.digest = digests[outcome.student]
        state.put(outcome)
        summary.outcomes.append(outcome)
        bar.update(1)
        bar.set_postfix(dict(Counter(o.status for o in summary.outcomes if o.student in digests)), refresh=False)

    def dispatch(w: _Worker) -> None:
        if queue and w.ready and w.job is None:
            student, _ = queue.popleft()
            w.job, w.started = (module, student), time.monotonic()
            w.conn.send(w.job)

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
                        record(Outcome(module, w.job[1], "error",
                                       f"the grading worker died while running this submission (exit code {code})"))
                    pool[pool.index(w)] = _replace(ctx, course, w)
                    continue
                if kind == "ready":
                    w.ready = True
                else:
                    w.job = None
                    record(payload)
            now = time.monotonic()
            for i, w in enumerate(pool):
                if w.job and now - w.started > limit:
                    record(Outcome(module, w.job[1], "timeout",
                                   f"grading took longer than {limit:g} s and was stopped (a loop that ignores "
                                   "interrupts, or a very slow notebook)", seconds=round(now - w.started, 3)))
                    pool[i] = _replace(ctx, course, w)
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


def _replace(ctx, course: Course, w: _Worker) -> _Worker:
    _kill(w)
    return _spawn(ctx, str(course.root))
