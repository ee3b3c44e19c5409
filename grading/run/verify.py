"""Answers verified in the grader's process, not in the student's kernel.

A checkpoint cell of a module ends with ``hand_in("chk_…", value)`` (``crmlab_handin.py``,
shipped with every module): the value is shown in the cell's output as plain JSON data. nbgrader
executes the notebook as usual, in the sandbox, and scores the cell's visible checks (types,
shapes). Then, for every graded cell that has a check in the course's ``checks/<module>.py``,
this module reads the answer from that cell's output in the executed notebook, recomputes the
right answer from the student's own data (the grader's copy, never the one in the working copy)
and writes the score into nbgrader's gradebook. Student code can only hand in plain data: an
object whose ``__eq__`` lies, a monkeypatched comparison or a doctored database changes nothing.

A check is a function named like the cell's grade id::

    def chk_active(answer, ctx):        # answer: the plain data handed in
        ...                             # ctx.db: the student's database (read-only), ctx.meta, ctx.cache
        raise Wrong("…中文 / … English")   # or return None (right), a fraction of the points, or
                                        # Partial(fraction, "what is missing 中文 / English")

In an operational module (``data_writable = true`` in crmlab.toml) the student changes their CRM
while the notebook runs; ``ctx.work_db`` is then the database as the executed notebook left it
(a private copy, so nothing the kernel left behind can change it), and ``ctx.db`` stays the
grader's pristine copy, from which a check computes what the right targets were.

Each check's verdict (points, status, message) is kept in the grading state for feedback.
"""
from __future__ import annotations

import contextlib
import importlib.util
import math
import shutil
import sqlite3
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from crmlab.grading.classroom.course import SHIPPED_COURSE, Course
from crmlab.grading.classroom.data import cached_database, student_database
from crmlab.grading.classroom.state import Verdict

MIME = "application/vnd.crmlab.answer+json"


class Wrong(Exception):
    """The answer is not right; the message (both languages) says what is checked, never the answer."""


class BadAnswers(ValueError):
    """The handed-in answers of an executed notebook cannot be read (not the form hand_in writes)."""


@dataclass(frozen=True)
class Partial:
    """Returned by a check that gives part of the points, saying what is still missing."""
    fraction: float
    message: str


@dataclass
class Context:
    """What a check may use: the student's own data, seen from the grader's side."""
    course: Course
    module: str
    student: str
    db: sqlite3.Connection
    meta: dict
    answers: dict                                  # every answer handed in, by check
    cache: dict = field(default_factory=dict)      # work shared by the checks of one submission
    work_db: Path | None = None                    # the database as the executed notebook left it


def _checks_module(course: Course, module: str):
    """``checks/<module>.py`` of the course, else the shipped one, loaded (None if neither exists)."""
    path = course.root / "checks" / f"{module}.py"
    if not path.exists():
        path = SHIPPED_COURSE / "checks" / f"{module}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"crmlab_checks_{module}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def checks_of(course: Course, module: str) -> dict:
    """The check functions of ``module`` (``checks/<module>.py`` of the course, else the shipped one)."""
    return _check_functions(_checks_module(course, module))


def _check_functions(mod) -> dict:
    return {name: fn for name, fn in vars(mod).items() if name.startswith("chk_") and callable(fn)} if mod else {}


def grader_notes(course: Course, module: str, students: list[str]) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """For grading the written answers by the rubric: each student's own numbers, as the module's checks file
    states them (its ``notes(ctx)``: (Chinese label, English label, value) rows), from the grader's copy of
    the student's data. Students whose data was never built are left out (nothing is simulated for a
    report); a module without ``notes`` gives none."""
    mod = _checks_module(course, module)
    notes = getattr(mod, "notes", None) if mod else None
    if notes is None:
        return []
    out = []
    for student in students:
        path = cached_database(course, module, student)
        if not path.exists():
            continue
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            meta = dict(db.execute("SELECT key, value FROM meta"))
            out.append((student, [(str(zh), str(en), str(v)) for zh, en, v in notes(Context(course, module, student,
                                                                                             db, meta, {}))]))
    return out


def handed_in(notebook: dict) -> dict[str, dict]:
    """grade id → {"check": …, "value": …} for every answer shown in a graded cell's outputs (only
    the cell's own outputs count: an answer shown elsewhere is not that checkpoint's)."""
    found = {}
    for cell in notebook.get("cells", []) if isinstance(notebook, dict) else []:
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        if not isinstance(meta, dict) or cell.get("cell_type") != "code" or not meta.get("grade"):
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {}) if isinstance(out, dict) else {}
            data = data.get(MIME) if isinstance(data, dict) else None
            if isinstance(data, dict) and "value" in data and data.get("check") == meta.get("grade_id"):
                found[meta["grade_id"]] = data
    return found


def verify(course: Course, module: str, student: str, executed: dict[str, dict],
           work: Path | None = None) -> list[Verdict]:
    """Check every handed-in answer of one submission (``executed``: notebook name → executed
    notebook; ``work``: its working copy) and write the points into the gradebook. Cells without a
    check keep nbgrader's score."""
    mod = _checks_module(course, module)       # loaded once: its checks and its decisions(ctx)
    checks = _check_functions(mod)
    if not checks:
        return []
    answers = {gid: a["value"] for nb in executed.values() for gid, a in handed_in(nb).items()}
    verdicts = []
    with contextlib.closing(sqlite3.connect(f"file:{student_database(course, module, student)}?mode=ro",
                                            uri=True)) as db, tempfile.TemporaryDirectory() as tmp:
        work_db = settled_copy(work / course.module(module).data_file, Path(tmp)) if work else None
        ctx = Context(course, module, student, db, dict(db.execute("SELECT key, value FROM meta")), answers,
                      work_db=work_db)
        with course.gradebook() as gb:
            for name in executed:
                for grade in gb.find_submission_notebook(name, module, student).grades:
                    fn = checks.get(grade.name)
                    if fn is None or grade.cell.max_score == 0:
                        continue
                    v = _judge(fn, grade.name, grade.cell.max_score, answers, ctx)
                    grade.auto_score = v.points
                    verdicts.append(v)
            gb.db.commit()
        _keep_decisions(course, module, student, getattr(mod, "decisions", None), ctx)
    return verdicts


def _keep_decisions(course: Course, module: str, student: str, decide, ctx: Context) -> None:
    """On the company track: what the student decided in this module, as the module's ``decisions(ctx)`` reads
    it from the graded hand-in, for the term's next company module (grading/classroom/company.py)."""
    if decide is not None and course.module(module).on_company_track:
        from crmlab.grading.classroom.company import keep_decisions
        keep_decisions(course, module, student, decide(ctx))


def _judge(fn, check: str, max_points: float, answers: dict, ctx: Context) -> Verdict:
    """The verdict on one answer. The cell's visible checks run before ``hand_in``: an answer that
    failed them was never handed in. nbgrader's own score of the cell is not used (it also gives 0
    for a harmless warning on stderr)."""
    if check not in answers:
        return Verdict(check, 0.0, max_points, "no_answer",
                       "没有提交答案（检查点单元格出错或没有运行）/ no answer was handed in (the checkpoint cell "
                       "failed or did not run)")
    message = ""
    try:
        fraction = fn(answers[check], ctx)
    except Wrong as exc:
        return Verdict(check, 0.0, max_points, "wrong", str(exc))
    except Exception:   # a malformed answer (wrong shape, wrong type) is a wrong answer, said plainly
        last = traceback.format_exc().strip().splitlines()[-1]
        return Verdict(check, 0.0, max_points, "wrong",
                       f"答案的形式不对，无法核对 / the answer has the wrong form and could not be checked ({last[:160]})")
    if isinstance(fraction, Partial):
        fraction, message = fraction.fraction, fraction.message
    fraction = 1.0 if fraction is None else float(fraction)
    fraction = max(0.0, min(1.0, fraction)) if math.isfinite(fraction) else 0.0
    return Verdict(check, round(max_points * fraction, 4), max_points,
                   "right" if fraction == 1 else "partly" if fraction > 0 else "wrong", message)


def settled_copy(path: Path, folder: Path) -> Path | None:
    """A private copy of the database a kernel left at ``path`` (with its journal or WAL), opened
    once for writing so that SQLite rolls back a transaction the kernel left unfinished; None if
    there is no regular file (a symlink is not followed: it could point anywhere)."""
    if path.is_symlink() or not path.is_file():
        return None
    dest = folder / path.name
    for suffix in ("", "-journal", "-wal"):
        src = path.with_name(path.name + suffix)
        if src.is_file() and not src.is_symlink():
            shutil.copyfile(src, dest.with_name(dest.name + suffix))
    try:
        with contextlib.closing(sqlite3.connect(dest)) as con:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError:   # not a database any more: the checks say what is missing
        pass
    return dest


def executed_notebooks(folder: Path, names: set[str] | None = None) -> dict[str, dict]:
    """The executed notebooks nbgrader wrote (``names``: only these), read as a student's JSON is read:
    NaN, infinities and overlong numbers are no numbers (grading/classroom/intake.py :func:`loads_strict`)."""
    from crmlab.grading.classroom.intake import read_json

    return {p.stem: read_json(p, limit_mb=200) for p in sorted(folder.glob("*.ipynb"))
            if names is None or p.stem in names}


# -- helpers for checks: the plain forms of pandas objects ------------------------------------
def mapping(answer) -> dict:
    """A handed-in Series or dict as {str(key): value}."""
    if isinstance(answer, dict) and set(answer) == {"index", "values"}:
        return {str(k): v for k, v in zip(answer["index"], answer["values"])}
    if isinstance(answer, dict):
        return {str(k): v for k, v in answer.items()}
    raise Wrong("应为 Series 或字典 / should be a Series or a dict")


def sequence(answer) -> list:
    """A handed-in list, Series (its values) or array as a list."""
    if isinstance(answer, dict) and set(answer) == {"index", "values"}:
        return list(answer["values"])
    if isinstance(answer, list):
        return answer
    raise Wrong("应为列表 / should be a list")


LARGEST = 1e15   # no quantity in a CRM module comes near it: a larger number is no answer


def number(answer, low: float = -LARGEST, high: float = LARGEST) -> float:
    """A handed-in number: finite, not a truth value, within [low, high]. Anything else is wrong."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise Wrong("应为一个数 / should be a number")
    try:
        x = float(answer)
    except OverflowError:
        raise Wrong("这个数大得离谱 / this number is absurdly large") from None
    if not math.isfinite(x) or not low <= x <= high:
        raise Wrong("这个数不在合理范围内 / this number is outside any sensible range")
    return x


def close(got, want: float, tol: float) -> bool:
    """Whether the handed-in ``got`` is a finite number within ``tol`` of ``want`` (a NaN is never close)."""
    try:
        x = number(got)
    except Wrong:
        return False
    return math.isfinite(want) and abs(x - want) <= tol


def within(got, low: float, high: float) -> bool:
    """Whether ``got`` is a finite number in [low, high]."""
    try:
        number(got, low, high)
        return True
    except Wrong:
        return False
