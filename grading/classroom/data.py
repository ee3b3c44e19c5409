"""Each student's own data, cached grader-side: a case module's seeded by (course id, module id, student id), a
company-track module's the student's company as of the module's day (grading/classroom/company.py)."""
from __future__ import annotations

import fcntl
import filecmp
import os
import re
import shutil
from pathlib import Path

from crmlab.grading.classroom.course import Course, CourseError

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_student_id(student: str) -> str:
    if not STUDENT_ID.match(student):
        raise CourseError(f"invalid student id {student!r}: use letters, digits, '_', '-', '.'")
    return student


def cached_database(course: Course, module_id: str, student: str) -> Path:
    """Where the grader keeps one student's database for one module (it may not be built yet)."""
    return course.private / "data" / module_id / f"{check_student_id(student)}.db"


def student_database(course: Course, module_id: str, student: str) -> Path:
    """The grader's copy of one student's database for one module (built on first use, then read-only:
    what a kernel, a student or the instructor does to a copy never reaches it). Its ground truth goes to
    the grader-private store, never next to the student's copy."""
    module = course.module(module_id)
    cached = cached_database(course, module_id, student)
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        truth = course.private / "truth" / module_id / f"{student}.db"
        if module.on_company_track:          # the student's own company as of the module's day
            from crmlab.grading.classroom.company import build
            build(course, module_id, student, tmp, truth)
        else:
            from crmlab.simulator import simulate, student_seed   # pandas, SimPy, Faker: only when data is made
            simulate(module.scenario, student_seed(course.course_id, module_id, student, course.secret), tmp,
                     truth=truth, customers=module.customers, locale=course.locale, reveal_seed=False,
                     tables=module.tables)
        os.chmod(tmp, 0o444)
        os.replace(tmp, cached)  # atomic: concurrent builders never see half a file
    return cached


def place_student_data(course: Course, module_id: str, student: str, folder: Path, *,
                       share_with: Path | None = None) -> Path:
    """The student's own database into a hand-out, their personal exchange area or the grader's working copy
    (and, in a module with group play, their ``group.json``: grading/classroom/groupplay.py).

    A copy is never the grader's cache itself (the same inode): kernels write their working copy, and a
    student can be given their exchange folder. It is a copy-on-write clone where the file system makes them
    (XFS, btrfs: no blocks until written), else a copy. ``share_with``: another hand-out copy of the same data,
    which only the instructor can reach (the outbox); if it holds exactly the cache's bytes on the same file
    system, the new copy is a hard link to it — one inode for the two hand-outs, still apart from the cache."""
    from crmlab.grading.classroom.groupplay import place_group_file

    cached = student_database(course, module_id, student)
    dest = folder / course.module(module_id).data_file
    dest.unlink(missing_ok=True)
    if not (share_with is not None and _same_file_system(share_with, dest.parent) and
            filecmp.cmp(share_with, cached, shallow=False) and _link(share_with, dest)):
        clone(cached, dest)
    place_group_file(course, module_id, student, Path(folder))
    return dest


def clone(src: Path, dest: Path) -> None:
    """``dest``, a file of its own with ``src``'s bytes (writable): a reflink (FICLONE) where the file system
    can share blocks copy-on-write, else a copy."""
    with open(src, "rb") as a, open(dest, "wb") as b:
        try:
            fcntl.ioctl(b.fileno(), FICLONE, a.fileno())
            return
        except OSError:
            pass
    shutil.copyfile(src, dest)


FICLONE = 0x40049409   # linux/fs.h: _IOW(0x94, 9, int)


def _same_file_system(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_dev == b.stat().st_dev
    except FileNotFoundError:
        return False


def _link(src: Path, dest: Path) -> bool:
    try:
        os.link(src, dest)
        return True
    except OSError:
        return False
