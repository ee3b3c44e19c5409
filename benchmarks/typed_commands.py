"""Benchmark: how long the commands a person types take to answer, each started as a fresh process.

    python benchmarks/typed_commands.py [--runs 5] [--dir DIR] [--students 8]

A typed command should answer in about a second (docs/design.md, "Speed of typed commands"). Each command
runs ``--runs`` times in a graded course (made once with ``crmlab demo --students 8`` in DIR, or a
temporary folder); the table gives the median, the fastest and the slowest run, with the machine's load
from ``uptime`` before and after. For scale, the same table times a bare Python start and the import of
nbgrader's API (what every command paid before it read the gradebook with SQL) in the same run, and the
ratio of each command to that import. Times only, printed: nothing passes or fails on them (a shared
machine's times vary by tens of per cent).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CRMLAB = str(BIN / "crmlab")


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(argv: list[str], cwd: Path, runs: int) -> list[float]:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    env.pop("CRMLAB_COURSE", None)
    times = []
    for _ in range(runs):
        started = time.monotonic()
        r = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.monotonic() - started)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{r.stderr[-2000:]}")
    return times


def graded_course(folder: Path, students: int) -> Path:
    course = folder / "course"
    if not (course / "crmlab.toml").exists():
        print(f"making a graded course: crmlab demo {course} --students {students} …", flush=True)
        subprocess.run([CRMLAB, "demo", str(course), "--students", str(students)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return course


def class_list(course: Path) -> Path:
    """The course's own roster as an XLSX class list (importing it again updates every student)."""
    from openpyxl import Workbook

    from crmlab.grading.classroom.course import Course
    from crmlab.grading.classroom.roster import listing

    wb = Workbook()
    wb.active.append(["2024级市场营销1班 学生名单"])
    wb.active.append(["学号", "姓名", "邮箱"])
    for p in listing(Course.open(course)):
        wb.active.append([p["id"], p["name"], p["email"]])
    path = course.parent / "学生名单.xlsx"
    wb.save(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--students", type=int, default=8, help="class size of the graded course (crmlab demo)")
    ap.add_argument("--dir", help="folder to keep the graded course in (default: a temporary folder)")
    a = ap.parse_args()
    folder = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="crmlab-typed-"))
    folder.mkdir(parents=True, exist_ok=True)
    course = graded_course(folder, a.students)
    roster = class_list(course)
    python = sys.executable
    commands = [
        ("python -c pass (a bare start)", [python, "-c", "pass"]),
        ("import nbgrader.api (for scale)", [python, "-c", "import nbgrader.api"]),
        ("crmlab --help", [CRMLAB, "--help"]),
        ("crmlab roster import 学生名单.xlsx", [CRMLAB, "roster", "import", str(roster)]),
        ("crmlab roster list", [CRMLAB, "roster", "list"]),
        ("crmlab export", [CRMLAB, "export"]),
        ("crmlab export --format xlsx", [CRMLAB, "export", "--format", "xlsx", "--out", str(folder / "grades.xlsx")]),
        ("crmlab report m01", [CRMLAB, "report", "m01"]),
        ("crmlab feedback m01", [CRMLAB, "feedback", "m01"]),
        ("crmlab grades", [CRMLAB, "grades"]),
    ]
    print(f"before: {uptime()}")
    print(f"course: {course} ({a.students} students, m01 graded); {a.runs} runs each, in the course folder\n")
    rows = []
    for label, argv in commands:
        times = timed(argv, course, a.runs)
        rows.append((label, statistics.median(times), min(times), max(times)))
    from crmlab.grading.outputs.terminal import table
    scale = rows[1][1]
    print(table(["command", "median s", "fastest", "slowest", "÷ nbgrader import"],
                [[label, f"{m:.2f}", f"{lo:.2f}", f"{hi:.2f}", f"{m / scale:.2f}"] for label, m, lo, hi in rows],
                right={1, 2, 3, 4}))
    print(f"\nafter:  {uptime()}")


if __name__ == "__main__":
    main()
