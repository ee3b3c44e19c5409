"""Benchmark: assigning each module to a generated class — every student's own data simulated, handed out
and released — with the course's two workers.

    python benchmarks/assign_class.py [--students 200] [--modules m01,m04,m06,m07] [--workers 2] [--quick]

For each module, the steps of ``crmlab assign`` timed apart: nbgrader's release version (generate), the
hand-outs (each student's data simulated and placed in outbox/, in parallel), the exchange release (each
student's data into their personal area). Then the bytes the students' data take: as files (cache,
outbox, exchange) and on disk (each inode once: the two hand-outs share one). Target: ≤ 60 s per module
for 200 students on 2 cores. Printed with the machine's load, not asserted.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=200)
    p.add_argument("--modules", default="m01,m04,m06,m07")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="6 students, m01 and m06 (CI)")
    a = p.parse_args()
    if a.quick:
        a.students, a.modules = 6, "m01,m06"
    from crmlab.grading.classroom.assign import _handout, generate
    from crmlab.grading.classroom.course import Course
    from crmlab.grading.classroom.exchange import release

    print(f"\nassign to a class of {a.students} students, {a.workers} workers; load before: {_uptime()}\n")
    print("| module | a hand-out in a worker | generate | hand-outs | release "
          "| **total** | per student | data as files | on disk | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        course = Course.init(Path(tmp) / "course", course_id="bench-class")
        students = [f"s{k:03d}" for k in range(1, a.students + 1)]
        course.add_students([{"id": s, "first_name": "名", "last_name": "姓", "email": f"{s}@example.edu"}
                             for s in students])
        root = str(course.root)
        for module in a.modules.split(","):
            t0 = time.perf_counter()
            generate(course, module)
            t1 = time.perf_counter()
            with ProcessPoolExecutor(max_workers=a.workers) as pool:   # what assign() does
                list(pool.map(_handout, [root] * len(students), [module] * len(students), students))
            t2 = time.perf_counter()
            release(course, module, students)
            t3 = time.perf_counter()
            files, inodes = [], {}
            data_file = course.module(module).data_file
            for s in students:
                for path in (course.private / "data" / module / f"{s}.db", course.path("outbox", s, module) / data_file,
                             course.root / "exchange" / "bench-class" / "personal" / s / module / data_file):
                    st = path.stat()
                    files.append(st.st_size)
                    inodes[(st.st_dev, st.st_ino)] = st.st_blocks * 512
            per = (t2 - t1) * a.workers / len(students)    # one hand-out's time in a worker: mostly simulating
            print(f"| {module} | {per:.2f} | {t1 - t0:.1f} s | {t2 - t1:.1f} s | {t3 - t2:.1f} s | **{t3 - t0:.1f} s** "
                  f"| {(t3 - t0) / len(students):.2f} s | {sum(files) / 2**20:,.0f} MiB | "
                  f"{sum(inodes.values()) / 2**20:,.0f} MiB | {os.getloadavg()[0]:.2f} |", flush=True)
    print(f"\nload after: {_uptime()}")


if __name__ == "__main__":
    main()
