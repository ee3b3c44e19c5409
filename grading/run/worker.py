"""A long-lived grading worker: loads nbgrader once, then grades one submission per request.

Starting nbgrader costs ≈3 s; a worker pays it once per run instead of once per student.
Each request is graded by nbgrader's own autograde (real kernels, real gradebook), in these steps
(:func:`grade_one`):

1. **take** what may be taken from ``submitted/<student>/<module>/`` into the grader's staging copy
   (``.crmlab/staged/…``; grading/classroom/intake.py: regular files only, no link followed, bounded), and put the
   notebooks right for nbgrader (old format upgraded, duplicated or foreign nbgrader marks removed);
   nbgrader reads the staged copy, never the submitted folder, which is left exactly as it was;
2. **run** nbgrader's autograde with the kernel in its own working space (grading/run/sandbox/
   :class:`Workspace`), watched for the submission's time limit;
3. **read back** what the kernel left that the checks need (an operational module's database),
   copied out by rules the kernel cannot steer; the working space is then removed;
4. **verify** the handed-in answers in this process (grading/run/verify.py) and turn what happened into
   an :class:`~crmlab.grading.classroom.state.Outcome` with its status and reasons.

A fault of the student's (a broken file, a loop, a crash) ends as their own status; a fault of the grader
or the host (a kernel that could not start, a full disk, a bug of ours) as ``retry``, graded again by the
next run; a sandbox that stops working stops the whole run.
"""
from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import difflib
import fcntl
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import traceback
from pathlib import Path

from crmlab.grading.classroom import intake
from crmlab.grading.classroom.intake import reserved_names

from crmlab.grading.run import sandbox
from crmlab.grading.classroom.course import Course
from crmlab.grading.classroom.reasons import Reason, printable
from crmlab.grading.classroom.state import Outcome
from crmlab.grading.run.verify import BadAnswers, executed_notebooks, verify

TIMEOUT_ERRORS = {"CellTimeoutError", "TimeoutError"}
LIMIT_ERRORS = {"MemoryError", "File too large", "Resource temporarily unavailable", "No space left on device"}
OUTPUT_CUT = "output cut by the grader"   # nbgrader_setup.LimitedExecute's note
STAGED = ".crmlab/staged"                  # nbgrader's "submitted" step for the workers: the staging copies


class SandboxFailed(RuntimeError):
    """The sandbox stopped working: the run must stop, not go on without it."""


def main(conn, course_root: str, sandbox_mode: str = "required", parent: int | None = None) -> None:
    """Entry point of a worker process: a request is (module, student, time limit); None ends the worker."""
    _die_with(parent)
    course = Course.open(course_root)
    os.chdir(course.root)
    _log_to_file(course.private / "logs" / f"worker-{os.getpid()}.log")
    lock = _hold_worker_lock(course)
    from traitlets.config import Config

    from crmlab.grading.classroom.nbgrader_api import nbgrader_api

    overrides = Config()
    overrides.SandboxedKernelManager.mode = sandbox_mode
    api = nbgrader_api(course, overrides)
    api.coursedir.submitted_directory = STAGED
    conn.send(("ready", os.getpid()))
    try:
        while True:
            request = conn.recv()
            if request is None:
                return
            module, student, limit = request
            started = time.monotonic()
            try:
                outcome = grade_one(api, course, module, student, limit)
            except SandboxFailed as exc:
                conn.send(("fatal", str(exc)))
                return
            outcome.seconds = round(time.monotonic() - started, 3)
            conn.send(("done", outcome))
    finally:
        os.close(lock)


def _die_with(parent: int | None) -> None:
    """End this worker (and so its kernel, which dies with its parent) when the coordinator dies, even by
    kill -9: an orphan worker would go on writing a submission the next run grades too."""
    if parent is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _hold_worker_lock(course: Course) -> int:
    """A shared lock held while this worker lives: a new run waits until no worker of an old one is left."""
    path = course.private / "locks" / "workers"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def _log_to_file(path: Path) -> None:
    """Send this worker's stderr, and that of the kernels it starts, to a log file: the console
    belongs to the coordinator's progress bar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 2)
    os.close(fd)


def grade_one(api, course: Course, module: str, student: str, timeout: float | None = None) -> Outcome:
    """Grade one submission. Never raises for anything a submission can do; :class:`SandboxFailed` if the
    sandbox stopped working."""
    try:
        return _grade(api, course, module, student, timeout)
    except SandboxFailed:
        raise
    except sandbox.SandboxUnavailable as exc:
        raise SandboxFailed(str(exc)) from None
    except OSError as exc:
        if sandbox.errno_full(exc):
            return Outcome(module, student, "retry", [Reason("host_disk_full", {"path": printable(exc.filename or "")})])
        return _grader_failure(module, student)
    except Exception:   # a bug of ours must not take the batch down, nor count against the student
        return _grader_failure(module, student)


def _grader_failure(module: str, student: str) -> Outcome:
    text = traceback.format_exc()
    if "SandboxUnavailable" in text:
        raise SandboxFailed(_last_line(text))
    return Outcome(module, student, "retry", [Reason("grader_failure", {"detail": printable(_last_line(text), 200)})])


def _grade(api, course: Course, module: str, student: str, timeout: float | None) -> Outcome:
    m = course.module(module)
    grading = course.grading
    staged = course.root / STAGED / student / module
    if staged.parent.exists():
        shutil.rmtree(staged.parent)
    got = intake.take(course.path("submitted"), (student, module), staged, intake.Limits.of(grading),
                      reserved=reserved_names(m.data_file))
    if got.problem:
        return Outcome(module, student, "error", [Reason("not_a_folder", {
            "name": f"{student}/{module}", "why": {"why": got.problem["why"]}})])
    notes: list[Reason] = collected_notes(course, module, student) + got.reasons()
    expected = _expected_notebooks(course, module)
    for name in sorted(expected):
        refused = got.refused(f"{name}.ipynb")
        if refused:
            return Outcome(module, student, "error", [Reason("notebook_refused", {
                "name": f"{name}.ipynb", "why": {"why": refused["why"], "params": refused.get("params", {})}})])
    present = {p.stem for p in staged.glob("*.ipynb")}
    if not present & expected:
        found = sorted(printable(x) for x in got.taken) or [{"word": "nothing"}]
        return Outcome(module, student, "missing", [Reason("missing_notebook", {
            "expected": sorted(f"{n}.ipynb" for n in expected), "found": found[:20]})] + notes)
    release = course.path("release", module=module)
    for name in sorted(expected & present):
        try:
            notes += intake.normalise_notebook(staged / f"{name}.ipynb", intake.read_json(release / f"{name}.ipynb"))
        except intake.BadNotebook:
            return Outcome(module, student, "error", [Reason("not_json")] + notes)
    deleted, edited = _tampering(release, staged, expected & present)
    lost = _lost_answer_cells(release, staged, expected & present)
    if lost:   # nbgrader fails on these with a bare KeyError: say what happened instead
        return Outcome(module, student, "tampered", [Reason("lost_answer_cells", {"cells": lost})] + notes)
    notes += _check_timestamp(staged)

    work = course.path("autograded", student, module)
    limits = grading.limits
    limit = float(timeout or grading.submission_timeout)
    with tempfile.TemporaryDirectory(prefix="crmlab-back-") as back:
        with sandbox.Workspace(work, limits, scratch_root=course.private / "scratch") as ws:
            stopped = threading.Event()

            def overrun():
                stopped.set()
                ws.kill()
            timer = threading.Timer(limit, overrun)
            timer.daemon = True
            timer.start()
            try:
                result = api.autograde(module, student, force=True, create=True)
            finally:
                timer.cancel()
            disk, memory = ws.disk_hit(), ws.memory_hit()
            if m.data_writable and work.is_dir():   # what the checks read: copied out, no link followed
                ws.read_back(m.data_file, Path(back, m.data_file))
                for suffix in ("-journal", "-wal"):
                    ws.read_back(m.data_file + suffix, Path(back, m.data_file + suffix))
        _clean_working_copy(work, m.data_file, Path(back) if m.data_writable else None)
        if stopped.is_set():
            return Outcome(module, student, "timeout", [Reason("submission_timeout", {"seconds": limit})] + notes)
        if not result.get("success"):
            return _failure(module, student, result, grading.cell_timeout, disk, memory, grading, notes)
        try:
            executed = executed_notebooks(work, expected)
        except intake.BadNotebook as exc:
            return Outcome(module, student, "error", [Reason("unreadable_result", {"detail": printable(exc, 120)})] + notes)
        status, reasons = "graded", list(notes)
        timed_out = _cells_with_errors(executed, TIMEOUT_ERRORS)
        limited = _cells_with_errors(executed, LIMIT_ERRORS)
        if timed_out:
            status = "timeout"
            reasons.append(Reason("cell_timeout", {"cells": timed_out, "seconds": grading.cell_timeout}))
        cut = _cells_where(executed, lambda out: OUTPUT_CUT in "".join(out.get("text", "")))
        if cut:
            status = "limit"
            reasons.append(Reason("output_cut", {"cells": cut, "kib": grading.max_output_kb}))
        if disk:
            status = "limit"
            reasons.append(Reason("disk_limit", json.loads(disk)))
        elif memory:
            status = "limit"
            reasons.append(Reason("memory_limit", {"limit_mb": limits["memory_mb"] + limits["disk_mb"]}))
        elif limited:
            status = "limit"
            reasons.append(Reason("resource_limit", {"cells": limited, "memory_mb": grading.memory_mb}))
        if expected - present:
            reasons.append(Reason("notebooks_missing", {"names": sorted(expected - present)}))
        if deleted:
            reasons.append(Reason("tests_deleted", {"cells": deleted}))
        if edited:
            reasons.append(Reason("cells_edited", {"cells": edited}))
        if status == "graded" and (deleted or edited or any(
                f["why"] in ("symlink", "special") for r in notes if r.code == "left_out" for f in r.params["files"])):
            status = "tampered"
        late = _lateness(m.due, staged, course.timezone)
        if late:
            reasons.append(late)
            if status == "graded" and late.code == "late":
                status = "late"
        try:
            verdicts = verify(course, module, student, executed, Path(back))   # in this process, not the kernel's
        except BadAnswers as exc:
            return Outcome(module, student, "error", reasons + [Reason("unreadable_result", {"detail": str(exc)})])
    with course.gradebook() as gb:
        sub = gb.find_submission(module, student)
        score, max_score = float(sub.score), float(sub.max_score)
    shutil.rmtree(staged.parent, ignore_errors=True)
    return Outcome(module, student, status, reasons, score=score, max_score=max_score, checks=verdicts)


def collected_notes(course: Course, module: str, student: str) -> list[Reason]:
    """What ``crmlab collect`` left out of this student's submission or noticed about it (grading/classroom/exchange.py)."""
    from crmlab.grading.classroom import reasons

    path = course.private / "collect" / module / f"{student}.json"
    try:
        return reasons.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []


def _clean_working_copy(work: Path, data_file: str, left: Path | None) -> None:
    """The working copy keeps the graded notebook (the formgrader shows it); the student's data, which the
    grader can rebuild at any time, goes (it is the largest file of a submission) — except, in an
    operational module, the database as the notebook left it (``left``: the grader's copy of it, read back
    by rules the kernel cannot steer), for the instructor to look at."""
    for name in reserved_names(data_file):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            (work / name).unlink()
    if left is not None and work.is_dir():
        for name in (data_file, data_file + "-journal", data_file + "-wal"):
            if (left / name).is_file():
                shutil.copyfile(left / name, work / name)


def _expected_notebooks(course: Course, module: str) -> set[str]:
    return {p.stem for p in course.path("release", module=module).glob("*.ipynb")}


def _check_timestamp(staged: Path) -> list[Reason]:
    """nbgrader stops a whole autograde on a time stamp it cannot parse: a bad one is removed and said."""
    from nbgrader.utils import parse_utc

    stamp = staged / "timestamp.txt"
    if not stamp.is_file():
        return []
    text = stamp.read_bytes()[:100].decode("utf-8", "replace").strip()
    try:
        parse_utc(text)
        return []
    except (ValueError, OverflowError):
        stamp.unlink()
        return [Reason("bad_timestamp", {"stamp": printable(text, 40)})]


def _lateness(due, staged: Path, zone) -> Reason | None:
    """How late a submission is, by nbgrader's own stamp (``timestamp.txt``, written when the student
    submits and kept by collect), or None if on time, without a due time or without a stamp. The times are
    said in the course's time zone."""
    stamp = staged / "timestamp.txt"
    if due is None or not stamp.exists():
        return None
    from nbgrader.utils import parse_utc

    from crmlab.grading.classroom.labels import when as shown

    when = parse_utc(stamp.read_text(encoding="utf-8").strip()).replace(tzinfo=dt.timezone.utc)
    if when <= due:
        return None
    hours = f"{(when - due).total_seconds() / 3600:.1f}"
    return Reason("late", {"when": shown(when.astimezone(zone)), "hours": hours, "due": shown(due.astimezone(zone))})


def _lost_answer_cells(release: Path, staged: Path, names: set[str]) -> list[str]:
    """Answer cells of the released notebooks that the submitted ones no longer have."""
    lost = []
    for name in sorted(names):
        have = _answer_cell_ids(intake.read_json(staged / f"{name}.ipynb"))
        lost += sorted(_answer_cell_ids(intake.read_json(release / f"{name}.ipynb")) - have)
    return lost


def _answer_cell_ids(nb: dict) -> set[str]:
    return {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb.get("cells", [])
            if c.get("metadata", {}).get("nbgrader", {}).get("solution")}


def _protected_cells(nb: dict) -> dict[str, tuple[str, str, bool]]:
    """grade id → (cell type, source, is a test cell) of every cell the student may not change:
    test cells and read-only cells."""
    cells = {}
    for c in nb.get("cells", []):
        meta = c.get("metadata", {}).get("nbgrader", {})
        test = bool(meta.get("grade")) and c.get("cell_type") == "code"
        if meta.get("grade_id") and (test or meta.get("locked")):
            src = c.get("source", "")
            cells[meta["grade_id"]] = (c.get("cell_type"), "".join(map(str, src)) if isinstance(src, list) else str(src),
                                       test)
    return cells


def _tampering(release: Path, staged: Path, names: set[str]) -> tuple[list[str], list[dict]]:
    """Test cells deleted, and read-only or test cells whose content was changed (each with how many lines),
    compared with the released notebook. nbgrader restores them silently; this records it."""
    deleted, edited = [], []
    for name in sorted(names):
        have = _protected_cells(intake.read_json(staged / f"{name}.ipynb"))
        want = _protected_cells(intake.read_json(release / f"{name}.ipynb"))
        for gid, (kind, source, test) in sorted(want.items()):
            if gid not in have:
                if test:
                    deleted.append(gid)
                continue
            mine = have[gid][1]
            if mine.strip() != source.strip():
                diff = list(difflib.ndiff(source.strip().splitlines(), mine.strip().splitlines()))
                edited.append({"cell": gid, "removed": sum(d.startswith("- ") for d in diff),
                               "added": sum(d.startswith("+ ") for d in diff)})
    return deleted, edited


def _cells_where(executed: dict[str, dict], test) -> list[str]:
    """Grade ids (or positions) of the executed notebooks' cells with an output for which ``test`` holds."""
    return [printable(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"#{i + 1}", 40)
            for nb in executed.values() for i, cell in enumerate(nb.get("cells", []))
            if any(test(out) for out in cell.get("outputs", []) if isinstance(out, dict))]


def _cells_with_errors(executed: dict[str, dict], names: set[str]) -> list[str]:
    """Cells that ended in one of the errors ``names`` (or whose error message says so: a full disk or
    a refused fork shows as OSError with an errno text)."""
    return _cells_where(executed, lambda out: out.get("output_type") == "error" and (
        out.get("ename") in names or any(n in str(out.get("evalue") or "") for n in names)))


def _failure(module, student, result: dict, cell_timeout, disk, memory, grading, notes) -> Outcome:
    """The outcome of a submission nbgrader could not grade, from nbgrader's own log."""
    text = (result.get("error") or "") + "\n" + (result.get("log") or "")
    if "SandboxUnavailable" in text:
        raise SandboxFailed(_last_line(text))
    if disk:
        return Outcome(module, student, "limit", [Reason("disk_limit", json.loads(disk))] + notes)
    if memory:
        return Outcome(module, student, "limit", [Reason("memory_limit", {
            "limit_mb": grading.memory_mb + grading.disk_mb})] + notes)
    if re.search(r"Kernel died before replying to kernel_info|Kernel didn't respond|Failed to start the kernel|"
                 r"kernel_info", text):
        # nothing of the student's has run yet: the kernel starts in "/" with Python isolated
        return Outcome(module, student, "retry", [Reason("kernel_start_failed", {"detail": printable(_last_line(text), 160)})])
    if re.search(r"No space left on device|database or disk is full", text):
        return Outcome(module, student, "retry", [Reason("host_disk_full", {"path": ""})])
    if "CellTimeoutError" in text:
        return Outcome(module, student, "timeout", [Reason("notebook_timeout", {"seconds": cell_timeout})] + notes)
    if re.search(r"NotJSONError|JSONDecodeError|Unreadable Notebook|not appear to be JSON", text, re.I):
        return Outcome(module, student, "error", [Reason("not_json")] + notes)
    if "DeadKernelError" in text:
        return Outcome(module, student, "error", [Reason("kernel_died")] + notes)
    return Outcome(module, student, "error", [Reason("nbgrader_failed", {"detail": printable(_last_line(text), 200)})]
                   + notes)


def _last_line(text: str) -> str:
    """The last 'SomeError: message' line of a log, else its last line."""
    errors = re.findall(r"^\s*((?:[\w.]+)(?:Error|Exception|Interrupt|Unavailable): .+)$", text, re.M)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return (errors[-1].strip() if errors else lines[-1] if lines else "unknown failure")[:300]
