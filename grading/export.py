"""Export: one row per student and module, with a status and reason, the total and each checkpoint.

Status comes from the grading state (graded, error, timeout, missing); scores come from nbgrader's
gradebook. A submission that could not be graded has no score (blank), never a silent 0.
"""
from __future__ import annotations

import csv
import io
import json

from .course import Course
from .state import StateStore

BASE_COLUMNS = ["student_id", "module", "status", "reason", "total", "max_total", "needs_manual_grade"]


def rows(course: Course) -> tuple[list[dict], list[str]]:
    """(rows, checkpoint column names) for every roster student × every assigned module."""
    state = StateStore(course.private / "state.db")
    try:
        results = {(o.module, o.student): o for o in state.all()}
    finally:
        state.close()
    out, checkpoints = [], []
    with course.gradebook() as gb:
        modules = sorted(a.name for a in gb.assignments)
        students = sorted({s.id for s in gb.students} | {s for _, s in results})
        cells = {}
        for m in modules:
            a = gb.find_assignment(m)
            cells[m] = [g.name for nb in a.notebooks for g in nb.grade_cells]
            checkpoints += [f"{m}:{c}" for c in cells[m]]
        for m in modules:
            for s in students:
                o = results.get((m, s))
                if o is None:
                    has_folder = course.path("submitted", s, m).is_dir()
                    status, reason = ("pending", "submitted, not graded yet") if has_folder else ("missing",
                                                                                                  "no submission")
                else:
                    status, reason = o.status, o.reason
                row = {"student_id": s, "module": m, "status": status, "reason": reason, "total": None,
                       "max_total": None, "needs_manual_grade": None}
                # scores only where nbgrader finished this very submission (the worker read them back);
                # a run stopped by the watchdog may have left older grades in the gradebook
                if o is not None and o.score is not None:
                    sub = gb.find_submission(m, s)
                    row["total"], row["max_total"] = float(sub.score), float(sub.max_score)
                    row["needs_manual_grade"] = bool(sub.needs_manual_grade)
                    for nb in sub.notebooks:
                        for g in nb.grades:
                            pending = g.needs_manual_grade or g.score is None  # not 0: nobody graded it yet
                            row[f"{m}:{g.name}"] = None if pending else float(g.score)
                out.append(row)
    return out, checkpoints


def export(course: Course, fmt: str = "csv") -> str:
    data, checkpoints = rows(course)
    if fmt == "json":
        return json.dumps([{k: r.get(k) for k in BASE_COLUMNS}
                           | {"checkpoints": {c.split(":", 1)[1]: r.get(c) for c in checkpoints
                                              if c.startswith(r["module"] + ":")}}
                           for r in data], ensure_ascii=False, indent=1)
    if fmt != "csv":
        raise ValueError(f"unknown format {fmt!r} (csv or json)")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=BASE_COLUMNS + checkpoints, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in data:
        writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return buf.getvalue()
