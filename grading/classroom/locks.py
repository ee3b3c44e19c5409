"""The course's grading lock: one grading run or collect at a time per course, named when another one asks.

Held by ``crmlab autograde`` (grading/run/autograde.py) and ``crmlab collect`` (grading/classroom/exchange.py):
a collect while grading runs would change what is being graded.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager

from crmlab.grading.classroom.course import Course, CourseError


@contextmanager
def course_lock(course: Course, what: str):
    """Hold the course's grading lock for ``what``; a second grader gets a clear refusal naming the first.
    It also waits (briefly) for workers of an earlier run that was killed to be gone."""
    folder = course.private / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "grading", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 1000, 0).decode("utf-8", "replace").strip()
        os.close(fd)
        try:
            info = json.loads(holder)
            who = f"{info['what']} (pid {info['pid']} on {info['host']}, since {info['since']})"
        except (ValueError, KeyError):
            who = "another grading run"
        raise CourseError(f"{who} is working on this course; wait until it ends, or stop it, then run again") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"what": what, "pid": os.getpid(), "host": socket.gethostname(),
                                  "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode(), 0)
        workers = os.open(folder / "workers", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            for _ in range(300):   # workers of a run killed with -9 die with it; give them a moment
                try:
                    fcntl.flock(workers, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(workers, fcntl.LOCK_UN)
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise CourseError("grading workers of an earlier run of this course are still running; stop them "
                                  f"(see {course.private / 'logs'}) and run again")
        finally:
            os.close(workers)
        yield
    finally:
        os.close(fd)
