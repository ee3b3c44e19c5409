"""Each student's own data: seeded by (course id, module id, student id), cached grader-side."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from simulator import simulate, student_seed

from .course import Course, CourseError

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_student_id(student: str) -> str:
    if not STUDENT_ID.match(student):
        raise CourseError(f"invalid student id {student!r}: use letters, digits, '_', '-', '.'")
    return student


def student_database(course: Course, module_id: str, student: str) -> Path:
    """The grader's copy of one student's database for one module (built on first use).
    Its ground truth goes to the grader-private store, never next to the student's copy."""
    module = course.module(module_id)
    cached = course.private / "data" / module_id / f"{check_student_id(student)}.db"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        simulate(module.scenario, student_seed(course.course_id, module_id, student, course.secret), tmp,
                 truth=course.private / "truth" / module_id / f"{student}.db",
                 customers=module.customers, locale=course.locale, reveal_seed=False, tables=module.tables)
        os.replace(tmp, cached)  # atomic: concurrent builders never see half a file
    return cached


def place_student_data(course: Course, module_id: str, student: str, folder: Path) -> Path:
    """The student's own database into a hand-out, their personal exchange area or the grader's working copy
    (and, in a module with group play, their ``group.json``: grading/groupplay.py)."""
    from .groupplay import place_group_file

    dest = folder / course.module(module_id).data_file
    dest.unlink(missing_ok=True)
    shutil.copyfile(student_database(course, module_id, student), dest)
    place_group_file(course, module_id, student, Path(folder))
    return dest
