"""A long-lived grading worker: loads nbgrader once, then grades one submission per request.

Starting nbgrader costs ≈3 s; a worker pays it once per run instead of once per student.
Each request is graded by nbgrader's own autograde (real kernels, real gradebook); the worker
then reads what happened and turns it into an :class:`~grading.state.Outcome`.
"""
from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import re
import shutil
import time
import traceback
from pathlib import Path

from .course import Course
from .sandbox import DEFAULT_LIMITS, DiskWatch
from .state import Outcome
from .verify import executed_notebooks, verify

TIMEOUT_ERRORS = {"CellTimeoutError", "TimeoutError"}
LIMIT_ERRORS = {"MemoryError", "File too large", "Resource temporarily unavailable"}
OUTPUT_CUT = "output cut by the grader"   # nbgrader_setup.LimitedExecute's note


def main(conn, course_root: str) -> None:
    """Entry point of a worker process: a request is (module, student); None ends the worker."""
    course = Course.open(course_root)
    os.chdir(course.root)
    _log_to_file(course.private / "logs" / f"worker-{os.getpid()}.log")
    from .nbgrader_api import nbgrader_api

    api = nbgrader_api(course)
    conn.send(("ready", os.getpid()))
    while True:
        request = conn.recv()
        if request is None:
            return
        module, student = request
        started = time.monotonic()
        try:
            outcome = grade_one(api, course, module, student)
        except Exception:  # a bug of ours must not take the batch down either
            outcome = Outcome(module, student, "error", "grader failure: " + _last_line(traceback.format_exc()))
        outcome.seconds = round(time.monotonic() - started, 3)
        conn.send(("done", outcome))


def _log_to_file(path: Path) -> None:
    """Send this worker's stderr, and that of the kernels it starts, to a log file: the console
    belongs to the coordinator's progress bar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 2)
    os.close(fd)


def grade_one(api, course: Course, module: str, student: str) -> Outcome:
    submitted = course.path("submitted", student, module)
    expected = _expected_notebooks(course, module)
    present = {p.stem for p in submitted.glob("*.ipynb")}
    if not present & expected:
        found = ", ".join(sorted(p.name for p in submitted.iterdir())) or "nothing"
        return Outcome(module, student, "missing",
                       f"no {', '.join(sorted(n + '.ipynb' for n in expected))} in the submission (found: {found})")
    deleted, edited = _tampering(course, module, submitted, expected & present)
    lost = _lost_answer_cells(course, module, submitted, expected & present)
    if lost:   # nbgrader fails on these with a bare KeyError: say what happened instead
        return Outcome(module, student, "tampered",
                       f"answer cell(s) {', '.join(lost)} are missing or lost their nbgrader metadata (an empty or "
                       "rebuilt notebook?); it cannot be graded: resubmit from the released notebook")

    work = course.path("autograded", student, module)
    with DiskWatch(work, float(course.grading.get("disk_mb", 500))) as disk:
        result = api.autograde(module, student, force=True, create=True)
    shutil.rmtree(work / ".sandbox", ignore_errors=True)   # the kernel's HOME and TMPDIR
    if disk.hit:
        return Outcome(module, student, "limit", f"stopped: the notebook {disk.hit}")
    if not result.get("success"):
        return Outcome(module, student, *_failure(result, course.grading["cell_timeout"]))

    reasons, status = [], "graded"
    executed = executed_notebooks(work)   # read once: the scans below and the verification share it
    timed_out, limited = _cells_with_errors(executed, TIMEOUT_ERRORS), _cells_with_errors(executed, LIMIT_ERRORS)
    if timed_out:
        status = "timeout"
        reasons.append(f"cell(s) {', '.join(timed_out)} exceeded the {course.grading['cell_timeout']} s limit "
                       "and were interrupted")
    cut = _cells_where(executed, lambda out: OUTPUT_CUT in "".join(out.get("text", "")))
    if cut:
        status = "limit"
        reasons.append(f"cell(s) {', '.join(cut)} printed more than "
                       f"{course.grading.get('max_output_kb', 1024)} KiB; the rest was cut")
    if limited:
        status = "limit"
        reasons.append(f"cell(s) {', '.join(limited)} hit a resource limit of the sandbox (memory "
                       f"{course.grading.get('memory_mb', DEFAULT_LIMITS['memory_mb'])} MB, file size, processes)")
    if expected - present:
        reasons.append(f"notebook(s) {', '.join(sorted(expected - present))} missing: scored 0")
    if deleted:
        reasons.append(f"test cell(s) {', '.join(deleted)} were deleted by the student; restored and graded")
    if edited:
        reasons.append("read-only cell(s) changed by the student: " + "; ".join(edited)
                       + "; the originals were restored and graded")
    if (deleted or edited) and status == "graded":
        status = "tampered"
    late = _lateness(course.module(module).due, submitted)
    if late:
        reasons.append(late)
        if status == "graded":
            status = "late"
    verdicts = verify(course, module, student, executed, work)   # in this process, not the kernel's
    with course.gradebook() as gb:
        sub = gb.find_submission(module, student)
        score, max_score = float(sub.score), float(sub.max_score)
    return Outcome(module, student, status, "; ".join(reasons), score=score, max_score=max_score, checks=verdicts)


def _expected_notebooks(course: Course, module: str) -> set[str]:
    return {p.stem for p in course.path("release", module=module).glob("*.ipynb")}


def _lateness(due, submitted: Path) -> str | None:
    """How late a submission is, by nbgrader's own stamp (``timestamp.txt``, written when the student
    submits and kept by collect), or None if on time, without a due time or without a stamp."""
    stamp = submitted / "timestamp.txt"
    if due is None or not stamp.exists():
        return None
    from nbgrader.utils import parse_utc

    try:
        when = parse_utc(stamp.read_text(encoding="utf-8").strip())
    except (ValueError, OverflowError):
        return f"the submission's time stamp ({stamp.read_text(encoding='utf-8').strip()[:40]!r}) cannot be read"
    due_utc = due.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if when <= due_utc:
        return None
    hours = (when - due_utc).total_seconds() / 3600
    return (f"submitted {when:%Y-%m-%d %H:%M} UTC, {hours:.1f} h after the due time "
            f"({due_utc:%Y-%m-%d %H:%M} UTC)")


def _lost_answer_cells(course: Course, module: str, submitted: Path, names: set[str]) -> list[str]:
    """Answer cells of the released notebooks that the submitted ones no longer have."""
    lost = []
    for name in sorted(names):
        try:
            have = _answer_cell_ids(submitted / f"{name}.ipynb")
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # unreadable: nbgrader will say so
        lost += sorted(_answer_cell_ids(course.path("release", module=module) / f"{name}.ipynb") - have)
    return lost


def _answer_cell_ids(path: Path) -> set[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb.get("cells", [])
            if c.get("metadata", {}).get("nbgrader", {}).get("solution")}


def _protected_cells(path: Path) -> dict[str, tuple[str, str, bool]]:
    """grade id → (cell type, source, is a test cell) of every cell the student may not change:
    test cells and read-only cells."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = {}
    for c in nb.get("cells", []):
        meta = c.get("metadata", {}).get("nbgrader", {})
        test = bool(meta.get("grade")) and c["cell_type"] == "code"
        if meta.get("grade_id") and (test or meta.get("locked")):
            src = c.get("source", "")
            cells[meta["grade_id"]] = (c["cell_type"], "".join(src) if isinstance(src, list) else src, test)
    return cells


def _tampering(course: Course, module: str, submitted: Path, names: set[str]) -> tuple[list[str], list[str]]:
    """Test cells deleted, and read-only or test cells whose content was changed (each with what
    changed), compared with the released notebook. nbgrader restores them silently; this records it."""
    deleted, edited = [], []
    for name in sorted(names):
        try:
            have = _protected_cells(submitted / f"{name}.ipynb")
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # unreadable: nbgrader will say so
        want = _protected_cells(course.path("release", module=module) / f"{name}.ipynb")
        for gid, (kind, source, test) in sorted(want.items()):
            if gid not in have:
                if test:
                    deleted.append(gid)
                continue
            mine = have[gid][1]
            if mine.strip() != source.strip():
                diff = list(difflib.ndiff(source.strip().splitlines(), mine.strip().splitlines()))
                what = [f"{n} line{'s' if n != 1 else ''} {verb}" for n, verb in (
                    (sum(d.startswith("- ") for d in diff), "removed"), (sum(d.startswith("+ ") for d in diff), "added"))
                    if n]
                edited.append(f"{gid} ({', '.join(what)})")
    return deleted, edited


def _cells_where(executed: dict[str, dict], test) -> list[str]:
    """Grade ids (or positions) of the executed notebooks' cells with an output for which ``test`` holds."""
    return [cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"#{i + 1}"
            for nb in executed.values() for i, cell in enumerate(nb.get("cells", []))
            if any(test(out) for out in cell.get("outputs", []))]


def _cells_with_errors(executed: dict[str, dict], names: set[str]) -> list[str]:
    """Cells that ended in one of the errors ``names`` (or whose error message says so: a full disk or
    a refused fork shows as OSError with an errno text)."""
    return _cells_where(executed, lambda out: out.get("output_type") == "error" and (
        out.get("ename") in names or any(n in (out.get("evalue") or "") for n in names)))


def _failure(result: dict, cell_timeout) -> tuple[str, str]:
    """(status, reason) of a submission nbgrader could not grade, from nbgrader's own log."""
    text = (result.get("error") or "") + "\n" + (result.get("log") or "")
    if "CellTimeoutError" in text:
        return "timeout", (f"a cell ran past the {cell_timeout} s limit and ignored the interrupt; "
                           "nbgrader gave up on the whole notebook")
    if re.search(r"NotJSONError|JSONDecodeError|Unreadable Notebook|not appear to be JSON", text, re.I):
        return "error", "the notebook file is not valid JSON (truncated or corrupted); nothing could be graded"
    if "DeadKernelError" in text:
        return "error", "the kernel died while running the notebook (it crashed or was killed)"
    return "error", _last_line(text)


def _last_line(text: str) -> str:
    """The last 'SomeError: message' line of a log, else its last line."""
    errors = re.findall(r"^\s*((?:[\w.]+)(?:Error|Exception|Interrupt): .+)$", text, re.M)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return (errors[-1].strip() if errors else lines[-1] if lines else "unknown failure")[:300]
