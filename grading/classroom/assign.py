"""Assign a module: nbgrader's release version, released to the course's exchange with each student's
own data (grading/classroom/exchange.py), plus one hand-out folder per student (outbox/) for courses without a lab."""
from __future__ import annotations

import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from crmlab.grading.classroom.course import SHIPPED_COURSE, Course
from crmlab.grading.classroom.data import check_student_id, place_student_data
from crmlab.grading.classroom.nbgrader_api import check, nbgrader_api

HANDIN = SHIPPED_COURSE / "handin" / "crmlab_handin.py"


def install_handin(course: Course, module: str) -> None:
    """Put ``crmlab_handin.py`` into the module's source folder, so nbgrader releases it with the
    notebook and restores it before grading."""
    dest = course.root / "modules" / module / HANDIN.name
    if not dest.exists() or dest.read_bytes() != HANDIN.read_bytes():
        dest.write_bytes(HANDIN.read_bytes())


def generate(course: Course, module_id: str) -> Path:
    """nbgrader generate_assignment: modules/<m> → release/<m>, and the module into the gradebook."""
    course.module(module_id)
    install_handin(course, module_id)
    check(nbgrader_api(course).generate_assignment(module_id, force=True, create=True), "generate_assignment")
    return course.path("release", module=module_id)


def _handout(root: str, module_id: str, student: str) -> str:
    course = Course.open(root)
    release = course.path("release", module=module_id)
    dest = course.path("outbox", student, module_id)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(release, dest)
    place_student_data(course, module_id, student, dest)
    return student


def assign(course: Course, module_id: str, students: list[str] | None = None, workers: int = 2,
           progress: bool = True) -> list[str]:
    """Release ``module_id`` to the exchange and write ``outbox/<student>/<module>/`` for every student on the
    roster (or ``students``). The hand-outs build every student's data in parallel; the exchange release
    then copies it from the grader's cache."""
    generate(course, module_id)
    students = [check_student_id(s) for s in (students or course.students())]
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        jobs = pool.map(_handout, [str(course.root)] * len(students), [module_id] * len(students), students)
        list(tqdm(jobs, total=len(students), desc=f"assign {module_id}", unit="student", disable=not progress))
    from crmlab.grading.classroom.exchange import release   # imports nbgrader's exchange: only when assigning
    release(course, module_id, students)
    return students
