"""nbgrader's gradebook read, and its roster written, with plain SQL.

Importing nbgrader costs ≈3 s (its package pulls in nbformat, whose JSON-schema format checker
compiles grammars at import), far more than the rest of a typed command. The commands that only
read results or change the class list — ``roster``, ``export``, ``report``, ``feedback``, ``grades`` —
query nbgrader's tables directly instead, through this one module. The tables are those of
nbgrader 0.9.6 (pinned in pyproject.toml); scores are computed as its ``Grade.score`` is: the
manual score where the instructor gave one, else the automatic one, plus any extra credit.
Grading and releasing still go through nbgrader itself.

A SQLite gradebook (``DIR/gradebook.db``) is read with :mod:`sqlite3`; a database server's
(``[grading] db_url``) through SQLAlchemy, which nbgrader installs anyway. Queries take named
parameters (``:id``), which both understand.
"""
from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass


class Gradebook:
    """One connection to the course's gradebook: :meth:`rows` to read, :meth:`execute` to write."""

    def __init__(self, course, write: bool = False):
        self.course, self.write = course, write
        self._con = self._engine = None
        course.check_gradebook()   # a damaged file: one line naming it, not a traceback from a query
        if course.sqlite_gradebook:
            path = course.gradebook_path
            if write:
                self._con = sqlite3.connect(path, timeout=60)
            else:
                self._con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        else:
            from sqlalchemy import create_engine
            self._engine = create_engine(course.db_url)
            self._con = self._engine.connect()

    def rows(self, sql: str, **params) -> list[tuple]:
        if self._engine is None:
            return self._con.execute(sql, params).fetchall()
        from sqlalchemy import text
        return [tuple(r) for r in self._con.execute(text(sql), params)]

    def execute(self, sql: str, **params) -> None:
        if self._engine is None:
            self._con.execute(sql, params)
        else:
            from sqlalchemy import text
            self._con.execute(text(sql), params)

    def commit(self) -> None:
        self._con.commit()

    def close(self) -> None:
        self._con.close()
        if self._engine is not None:
            self._engine.dispose()


@contextlib.contextmanager
def opened(course, write: bool = False):
    """The course's gradebook, open for the ``with`` block (committed at its end when writing)."""
    gb = Gradebook(course, write)
    try:
        yield gb
        if write:
            gb.commit()
    finally:
        gb.close()


@dataclass(frozen=True)
class StudentRow:
    id: str
    first_name: str
    last_name: str
    email: str


def students(gb: Gradebook) -> list[StudentRow]:
    return [StudentRow(i, f or "", last or "", e or "")
            for i, f, last, e in gb.rows("SELECT id, first_name, last_name, email FROM student")]


def save_students(gb: Gradebook, people: list[dict]) -> tuple[list[str], list[str]]:
    """Add or update roster entries (dicts with id, first_name, last_name, email), as nbgrader's
    ``update_or_create_student`` does; the ids (added, updated)."""
    known = {r[0] for r in gb.rows("SELECT id FROM student")}
    added, updated = [], []
    for p in people:
        values = {k: p.get(k) for k in ("id", "first_name", "last_name", "email")}
        if p["id"] in known:   # only the fields given change, as in nbgrader
            given = [k for k in ("first_name", "last_name", "email") if k in p]
            if given:
                gb.execute(f"UPDATE student SET {', '.join(f'{k} = :{k}' for k in given)} WHERE id = :id", **values)
            updated.append(p["id"])
        else:
            gb.execute("INSERT INTO student (id, first_name, last_name, email) "
                       "VALUES (:id, :first_name, :last_name, :email)", **values)
            known.add(p["id"])
            added.append(p["id"])
    return added, updated


@dataclass(frozen=True)
class CellRow:
    module: str
    name: str
    max_score: float
    manual: bool          # a markdown answer, graded by the instructor


@dataclass(frozen=True)
class GradeRow:
    module: str
    student: str
    cell: str
    score: float           # nbgrader's Grade.score (0 where neither the grader nor the instructor gave one)
    manual_score: float | None
    needs_manual_grade: bool


def modules(gb: Gradebook) -> list[str]:
    """The assignments in the gradebook (modules assigned so far), by name."""
    return sorted(r[0] for r in gb.rows("SELECT name FROM assignment"))


def cells(gb: Gradebook) -> list[CellRow]:
    """Every grade cell of every assignment (nbgrader's ``Notebook.grade_cells``)."""
    return [CellRow(m, name, float(top), kind == "markdown") for m, name, top, kind in gb.rows(
        "SELECT a.name, b.name, g.max_score, g.cell_type FROM assignment a "
        "JOIN notebook n ON n.assignment_id = a.id JOIN base_cell b ON b.notebook_id = n.id "
        "JOIN grade_cells g ON g.id = b.id")]


def max_scores(gb: Gradebook) -> dict[str, float]:
    """assignment → its maximum (grade cells and task cells: nbgrader's ``Assignment.max_score``)."""
    out: dict[str, float] = {}
    for table in ("grade_cells", "task_cells"):
        for m, top in gb.rows(f"SELECT a.name, SUM(c.max_score) FROM assignment a "
                              f"JOIN notebook n ON n.assignment_id = a.id JOIN base_cell b ON b.notebook_id = n.id "
                              f"JOIN {table} c ON c.id = b.id GROUP BY a.name"):
            out[m] = out.get(m, 0.0) + float(top or 0)
    return out


def grades(gb: Gradebook) -> list[GradeRow]:
    """Every grade of every submission."""
    out = []
    for m, student, cell, auto, manual, extra, pending in gb.rows(
            "SELECT a.name, sa.student_id, b.name, g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade "
            "FROM grade g JOIN submitted_notebook sn ON g.notebook_id = sn.id "
            "JOIN submitted_assignment sa ON sn.assignment_id = sa.id JOIN assignment a ON sa.assignment_id = a.id "
            "JOIN base_cell b ON g.cell_id = b.id"):
        given = manual if manual is not None else auto
        score = 0.0 if given is None else float(given) + float(extra or 0)
        out.append(GradeRow(m, student, cell, score, None if manual is None else float(manual), bool(pending)))
    return out


def submissions(gb: Gradebook) -> set[tuple[str, str]]:
    """(assignment, student) of every submission in the gradebook."""
    return {(m, s) for m, s in gb.rows("SELECT a.name, sa.student_id FROM submitted_assignment sa "
                                       "JOIN assignment a ON sa.assignment_id = a.id")}


def comments(gb: Gradebook) -> dict[tuple[str, str, str], str]:
    """(assignment, student, cell) → the instructor's comment, where one was written."""
    return {(m, s, cell): text for m, s, cell, text in gb.rows(
        "SELECT a.name, sa.student_id, b.name, c.manual_comment FROM comment c "
        "JOIN submitted_notebook sn ON c.notebook_id = sn.id JOIN submitted_assignment sa ON sn.assignment_id = sa.id "
        "JOIN assignment a ON sa.assignment_id = a.id JOIN base_cell b ON c.cell_id = b.id "
        "WHERE c.manual_comment IS NOT NULL") if text}
