"""Benchmark: grade the same 40 submissions with plain sequential `nbgrader autograde` and with
`crmlab autograde --workers 2`; print both wall-clock times and the ratio.

    python benchmarks/autograde_parallel.py [--students 40] [--workers 2] [--dir DIR]

Both runs use the same course instance, configuration and cached per-student data, so the only
difference is how the work is scheduled. Then it times the part no grader can avoid — starting a
(sandboxed) kernel and executing the notebook, measured on ``--sample`` of the graded notebooks
with nbclient alone — and reports crmlab's overhead per submission above it: worker-seconds per
submission (wall time × workers ÷ submissions) minus that.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from crmlab.grading.classroom.assign import assign
from crmlab.grading.classroom.course import Course
from crmlab.grading.demo import roster, write_submission

KINDS = ["correct", "correct", "partly_wrong", "blank"]  # no loops: this measures throughput


def build(root: Path, students: int) -> Course:
    course = Course.init(root, "bench-course")
    people = roster(students, seed=1)
    course.add_students(people)
    ids = [p["id"] for p in people]
    assign(course, "m01", ids, progress=False)
    rng = np.random.default_rng(1)
    for i, s in enumerate(ids):
        write_submission(course, "m01", s, KINDS[i % len(KINDS)], rng)
    return course


def timed(cmd: list[str], cwd: Path) -> float:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    started = time.monotonic()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def kernel_and_execution(course: Course, sample: int) -> float:
    """Mean seconds to start a sandboxed kernel and execute a graded notebook in its working copy,
    with nbclient alone (no nbgrader, no crmlab): the floor of any grader's time per submission."""
    import nbformat
    from nbclient import NotebookClient

    from crmlab.grading.run.sandbox import SandboxedKernelManager

    folders = sorted(course.path("autograded").glob("*/m01"))[:sample]
    started = time.monotonic()
    for folder in folders:
        nb = nbformat.read(folder / "m01.ipynb", as_version=4)
        NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(folder)}}, timeout=60,
                       allow_errors=True, kernel_manager_class=SandboxedKernelManager,
                       shutdown_kernel="immediate").execute()
    return (time.monotonic() - started) / max(len(folders), 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=40)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--dir", type=Path, help="where to build the course (default: a temporary directory)")
    p.add_argument("--sample", type=int, default=20, help="notebooks executed alone to time kernel + execution")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = (a.dir or Path(tmp)) / "bench-course"
        course = build(root, a.students)
        bindir = Path(sys.executable).parent
        sequential = timed([str(bindir / "nbgrader"), "autograde", "m01", "--force"], course.root)
        parallel = timed([str(bindir / "crmlab"), "autograde", "m01", "--course", str(course.root),
                          "--workers", str(a.workers), "--force"], course.root)
        kernel = kernel_and_execution(course, a.sample)
    worker_seconds = parallel * a.workers / a.students
    print(f"submissions:                          {a.students}")
    print(f"nbgrader autograde (sequential):      {sequential:7.1f} s  ({sequential / a.students:.2f} s/submission)")
    print(f"crmlab autograde --workers {a.workers}:         {parallel:7.1f} s  "
          f"({parallel / a.students:.2f} s/submission)")
    print(f"speed-up:                             {sequential / parallel:7.2f}x  (cores: {os.cpu_count()})")
    print(f"kernel start + execution alone:       {kernel:7.2f} s/submission  (nbclient, {a.sample} notebooks)")
    print(f"crmlab worker-seconds per submission: {worker_seconds:7.2f} s  → overhead {worker_seconds - kernel:+.2f} s")


if __name__ == "__main__":
    main()
