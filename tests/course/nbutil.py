"""Running a module's source notebook in-process, as a kernel started in a hand-out folder would:
the module tests use it to get the model answers on one student's data."""
from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from pathlib import Path

SOLUTION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.M)


def cells(notebook: Path) -> dict:
    """grade id → cell of a source notebook."""
    return {c["metadata"]["nbgrader"]["grade_id"]: c for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"]}


def run_cells(notebook: Path, folder: Path, grade_ids, ns: dict | None = None) -> dict:
    """Run the cells ``grade_ids`` of ``notebook`` (solution markers removed) in ``folder``, with the
    folder's own modules importable (crmlab_handin); returns the namespace."""
    source, ns = cells(notebook), {} if ns is None else ns
    sys.path.insert(0, str(folder))
    try:
        with contextlib.chdir(folder), contextlib.redirect_stdout(io.StringIO()):
            for gid in grade_ids:
                exec(SOLUTION.sub("", source[gid]["source"]), ns)  # our own notebook's code
    finally:
        sys.path.remove(str(folder))
    return ns


def checkpoint_scores(course, module: str, student: str) -> dict[str, float]:
    """grade id → the score the gradebook holds for a student's submission of ``module``."""
    with course.gradebook() as gb:
        sub = gb.find_submission(module, student)
        return {g.name: g.score for nb in sub.notebooks for g in nb.grades}


def set_submitted_code(course, module: str, student: str, grade_id: str, code: str) -> None:
    """Replace the source of the cell ``grade_id`` in ``student``'s submitted notebook of ``module``."""
    path = course.path("submitted", student, module) / f"{module}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    for c in nb["cells"]:
        if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            c["source"] = code
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")


def graded_by_student(course, module: str) -> dict:
    """Autograde every submission of ``module`` (two workers) → student → outcome."""
    from crmlab.grading.run.autograde import autograde

    summary = autograde(course, module, workers=2, progress=False)
    return {o.student: o for o in summary.outcomes}
