"""`crmlab`: the one command of the CRM course lab."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _simulate(a) -> int:
    import sqlite3

    from tqdm import tqdm

    from simulator import simulate
    from simulator.store import with_parents
    days = round(a.years * 365) if a.years else a.days
    tables = [t.strip() for t in a.tables.split(",") if t.strip()] if a.tables else None
    try:
        with_parents(tables)
    except ValueError as exc:
        print(f"crmlab: error: --tables: {exc}", file=sys.stderr)
        return 2
    with tqdm(total=100, desc=f"simulating {a.scenario}", unit="%", bar_format="{l_bar}{bar}| {elapsed}") as bar:
        def progress(share: float) -> None:
            bar.update(round(share * 95) - bar.n)
        result = simulate(a.scenario, a.seed, a.out, truth=a.truth, customers=a.customers, days=days,
                          locale=a.locale, progress=progress, tables=tables, format=a.format)
        bar.update(100 - bar.n)
    if result.format == "parquet":
        import pyarrow.parquet as pq
        counts = {t: pq.ParquetFile(result.db_path / f"{t}.parquet").metadata.num_rows for t in result.tables if t != "meta"}
    else:
        with sqlite3.connect(result.db_path) as con:
            counts = {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in result.tables if t != "meta"}
    print(f"{result.db_path}: " + ", ".join(f"{k} {n}" for k, n in counts.items()))
    if result.truth_path:
        print(f"ground truth (graders only): {result.truth_path}")
    return 0


def _course_init(a) -> int:
    from .course import Course
    course = Course.init(a.dir, a.course_id, a.locale, db_url=a.db_url, exchange=a.exchange)
    print(f"course instance created: {course.root} (course id {course.course_id}; modules: "
          f"{', '.join(course.module_ids)})")
    return 0


def _roster_import(a) -> int:
    from .course import Course
    from .roster import read_roster
    course = Course.open(a.course)
    people = read_roster(a.file)   # all rows checked before anything is added
    course.add_students(people)
    print(f"{len(people)} students on the roster of {course.course_id}")
    return 0


def _assign(a) -> int:
    from .assign import assign
    from .course import Course
    course = Course.open(a.course)
    students = assign(course, a.module, a.student or None, workers=a.workers)
    print(f"{a.module}: hand-outs with each student's own data in {course.path('outbox')} ({len(students)} students)")
    return 0


def _autograde(a) -> int:
    from .autograde import autograde
    from .course import Course
    course = Course.open(a.course)
    s = autograde(course, a.module, workers=a.workers, force=a.force, students=a.student or None,
                  submission_timeout=a.submission_timeout, scheduler=a.scheduler)
    if s.unsandboxed:
        print(f"warning: student code ran WITHOUT a sandbox ({s.unsandboxed}): it could read the course "
              "directory, the gradebook and this user's files", file=sys.stderr)
    counts = s.counts()
    print(f"{a.module}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
          + f"; skipped (already graded) {len(s.skipped)}; {s.seconds:.1f} s")
    for o in s.outcomes:
        if o.status != "graded" or o.reason:
            print(f"  {o.student}: {o.status} — {o.reason}")
    return 0


def _export(a) -> int:
    from .course import Course
    from .export import export
    if a.format == "xlsx" and not a.out:
        raise FileNotFoundError("an XLSX workbook needs a file: add --out grades.xlsx")
    data = export(Course.open(a.course), a.format)
    if a.out:
        if isinstance(data, bytes):
            Path(a.out).write_bytes(data)
        else:   # plain UTF-8, no byte-order mark: Canvas reads the first header as "Student" only then
            Path(a.out).write_text(data, encoding="utf-8")
        print(f"written {a.out}")
    else:
        sys.stdout.write(data if data.endswith("\n") else data + "\n")
    return 0


def _feedback(a) -> int:
    from .course import Course
    from .feedback import write_feedback
    course = Course.open(a.course)
    paths = write_feedback(course, a.module, a.student or None)
    print(f"{a.module}: feedback for {len(paths)} students in {course.path('feedback')}/<student>/{a.module}/index.html")
    return 0


def _release_feedback(a) -> int:
    from .course import Course
    from .feedback import release_feedback
    course = Course.open(a.course)
    got = release_feedback(course, a.module, a.student or None)
    print(f"{a.module}: feedback released to {len(got.pop('released'))} students through the exchange "
          "(they click Fetch Feedback in the assignment list)")
    for why, students in got.items():
        print(f"  not released, {why} (their page: {course.path('feedback')}/<student>/{a.module}/index.html): "
              f"{', '.join(students)}", file=sys.stderr)
    return 0


def _my_scores(a) -> int:
    from .scores import find_scores, format_scores
    found = find_scores(a.dir)
    if not found:
        print("还没有取回反馈：在 Assignment List 里点 Fetch Feedback / no feedback fetched yet: click Fetch Feedback "
              f"in the assignment list (looked in {Path(a.dir).resolve()})")
        return 1
    print("\n\n".join(format_scores(d) for d in found))
    return 0


def _report(a) -> int:
    from .course import Course
    from .report import write_report
    print(f"written {write_report(Course.open(a.course), a.module, a.out)}")
    return 0


def _grades(a) -> int:
    from .course import Course
    from .grades import course_grades, to_csv
    course = Course.open(a.course)
    peer = a.peer or (course.root / "peer_scores.csv" if (course.root / "peer_scores.csv").exists() else None)
    groups = a.groups or (course.root / "groups.csv" if (course.root / "groups.csv").exists() else None)
    grades, by_group = course_grades(course, peer, groups)
    modules = list(grades[0].modules) if grades else []
    text = to_csv(grades, modules)
    if a.out:
        Path(a.out).write_text(text, encoding="utf-8")
        print(f"written {a.out}")
    else:
        sys.stdout.write(text)
    done = sum(g.final is not None for g in grades)
    print(f"course grades: {done} of {len(grades)} complete"
          + (f"; CRM show (peer scores): " + ", ".join(f"{k} {v:g}" for k, v in sorted(by_group.items()))
             if by_group else "; no peer scores of the CRM show"), file=sys.stderr)
    return 0


def _groups(a) -> int:
    from .course import Course
    from .groupplay import member_share, results, role_label
    course = Course.open(a.course)
    play, found = results(course, a.module, a.groups)
    print(f"{a.module}: CRM show — scene {play.scene}, roles {', '.join(play.roles)}, groups from {play.groups_file}; "
          f"a member who played no turn loses {play.silent_share:.0%}")
    for r in found:
        if r.handed_in_by is None:
            head = "no group transcript that replays"
        else:
            head = (f"transcript handed in by {r.handed_in_by}: {r.total:g}/100, "
                    f"{r.end or 'not finished'}, {sum(r.turns.values())} turns")
        print(f"\n{r.group}  {head}")
        for member, role in r.cast.items():
            if r.handed_in_by is None:
                share = "0"
            else:
                share = f"{member_share(play, r, member):.0%}" + ("  (played no turn)" if member in r.silent else "")
            print(f"  {member:<12} {role_label(role):<36} turns {r.turns.get(member, 0):>2}   share {share}")
        for member, why in r.problems:
            print(f"  ! {member}'s transcript does not count: {why}")
    if not found:
        print("(the groups file lists no groups)")
    return 0


def _collect(a) -> int:
    from .course import Course
    from .exchange import collect
    course = Course.open(a.course)
    got = collect(course, a.module)
    print(f"{a.module}: collected into {course.path('submitted')} — new {len(got['new'])}, "
          f"updated {len(got['updated'])}, unchanged {len(got['unchanged'])}")
    if got["not_on_roster"]:
        print(f"  not on the roster (add them before grading): {', '.join(got['not_on_roster'])}", file=sys.stderr)
    return 0


def _lab(a) -> int:
    import os

    from .course import Course
    from .lab import lab_launch
    launch = lab_launch(Course.open(a.course), a.user, port=a.port, ip=a.ip, token=a.token)
    role = "instructor" if launch.who == "instructor" else f"student {launch.who}"
    print(f"JupyterLab for the {role} of {a.course}, working in {launch.cwd}\n"
          f"open: {launch.url}\n(stop with Ctrl-C)", flush=True)
    os.chdir(launch.cwd)   # the formgrader and the assignment list read nbgrader_config.py from here
    os.execve(launch.argv[0], launch.argv, launch.env)   # the server replaces this process: Ctrl-C stops it


def _student_config(a) -> int:
    from .course import Course
    from .lab import write_student_config
    folder = write_student_config(Course.open(a.course), Path(a.out))
    print(f"written {folder}: put it on every student server's JUPYTER_CONFIG_PATH "
          "(deploy/jupyterhub_config.py does), or copy its files into /etc/jupyter/")
    return 0


def _demo(a) -> int:
    from .demo import default_dir, print_summary, run_demo
    t0 = time.monotonic()
    course, summary = run_demo(a.dir or default_dir(), students=a.students, workers=a.workers, module=a.module)
    print_summary(course, summary, time.monotonic() - t0, module=a.module)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crmlab", description="CRM course lab: simulate a business, assign "
                                "per-student nbgrader modules, grade whole classes.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="run a scenario and write a CRM database")
    s.add_argument("--scenario", default="education_services", help="built-in scenario name or a .toml path")
    s.add_argument("--seed", type=int, required=True, help="the one seed of the run")
    s.add_argument("--out", required=True, help="SQLite file to write (with --format parquet: a folder)")
    s.add_argument("--format", choices=["sqlite", "parquet"], default="sqlite",
                   help="sqlite (default): one database with keys and constraints; parquet: one file per table, for big data")
    s.add_argument("--tables", help="comma-separated tables to write (default: all); each comes with the tables "
                                    "its keys point at")
    s.add_argument("--truth", help="also write the ground-truth store (graders only) to this file")
    s.add_argument("--customers", type=int, help="number of customer accounts (default: the scenario's)")
    length = s.add_mutually_exclusive_group()
    length.add_argument("--years", type=float, help="simulated years (default: the scenario's length)")
    length.add_argument("--days", type=int, help="simulated days, instead of --years")
    s.add_argument("--locale", choices=["zh_CN", "en_US"], help="language of names and addresses")
    s.set_defaults(func=_simulate)

    c = sub.add_parser("course", help="course instances").add_subparsers(dest="action", required=True)
    ci = c.add_parser("init", help="create a course instance with the shipped modules")
    ci.add_argument("dir")
    ci.add_argument("--course-id", help="course id (seeds every student's data)")
    ci.add_argument("--locale", choices=["zh_CN", "en_US"])
    ci.add_argument("--db-url", help="the gradebook on a database server (SQLAlchemy URL, e.g. "
                                     "postgresql://user@host/db); default: DIR/gradebook.db")
    ci.add_argument("--exchange", help="nbgrader's exchange folder, outside the course, that every user can write "
                                       "(a multi-user hub: e.g. /srv/nbgrader/exchange); default: DIR/exchange")
    ci.set_defaults(func=_course_init)

    r = sub.add_parser("roster", help="the class list").add_subparsers(dest="action", required=True)
    ri = r.add_parser("import", help="add students from an XLSX or CSV class list: columns 学号/id (required), "
                                     "姓名/name or 姓/last_name + 名/first_name, 邮箱/email")
    ri.add_argument("file", help="students.xlsx or students.csv (UTF-8 or GBK)")
    ri.add_argument("--course", required=True)
    ri.set_defaults(func=_roster_import)

    a = sub.add_parser("assign", help="release a module with each student's own data")
    a.add_argument("module")
    a.add_argument("--course", required=True)
    a.add_argument("--student", action="append", help="only these students (repeatable)")
    a.add_argument("--workers", type=int, default=2)
    a.set_defaults(func=_assign)

    g = sub.add_parser("autograde", help="grade every submission of a module in parallel")
    g.add_argument("module")
    g.add_argument("--course", required=True)
    g.add_argument("--workers", type=int, help="parallel grading workers (default: crmlab.toml)")
    g.add_argument("--force", action="store_true", help="regrade submissions that were graded already")
    g.add_argument("--student", action="append", help="only these students (repeatable)")
    g.add_argument("--submission-timeout", type=float, help="seconds per submission before it is stopped")
    g.add_argument("--scheduler", help="grade on this Dask cluster (scheduler address, e.g. tcp://host:8786) "
                                       "instead of local workers")
    g.set_defaults(func=_autograde)

    e = sub.add_parser("export", help="grades with status, reason and per-checkpoint scores")
    e.add_argument("--course", required=True)
    e.add_argument("--format", choices=["csv", "json", "xlsx", "canvas", "moodle"], default="csv",
                   help="csv/json: everything; xlsx: a workbook for Excel/WPS; canvas, moodle: the LMS's grade import")
    e.add_argument("--out", help="file to write (default: standard output)")
    e.set_defaults(func=_export)

    f = sub.add_parser("feedback", help="one bilingual HTML page per student: status, points, what to look at, hints")
    f.add_argument("module")
    f.add_argument("--course", required=True)
    f.add_argument("--student", action="append", help="only these students (repeatable)")
    f.set_defaults(func=_feedback)

    rf = sub.add_parser("release-feedback", help="write each student's feedback page and release it to the exchange "
                                                 "(students: Fetch Feedback), with their scores so far")
    rf.add_argument("module")
    rf.add_argument("--course", required=True)
    rf.add_argument("--student", action="append", help="only these students (repeatable)")
    rf.set_defaults(func=_release_feedback)

    ms = sub.add_parser("my-scores", help="for a student: your own scores so far, from the feedback you fetched")
    ms.add_argument("dir", nargs="?", default=".", help="your folder, where the modules are (default: here)")
    ms.set_defaults(func=_my_scores)

    rp = sub.add_parser("report", help="class report of a module (HTML): statuses, scores, pass rates, mistakes, times")
    rp.add_argument("module")
    rp.add_argument("--course", required=True)
    rp.add_argument("--out", help="file to write (default: DIR/reports/<module>.html)")
    rp.set_defaults(func=_report)

    gr = sub.add_parser("grades", help="course grade: modules summed (or weighted) + the CRM show's peer score")
    gr.add_argument("--course", required=True)
    gr.add_argument("--peer", help="CSV: group, judge, score (0-10 whole points; default DIR/peer_scores.csv)")
    gr.add_argument("--groups", help="CSV: student, group (default DIR/groups.csv)")
    gr.add_argument("--out", help="CSV file to write (default: standard output)")
    gr.set_defaults(func=_grades)

    gp = sub.add_parser("groups", help="the CRM show: each group's cast and how its group transcript replays and scores")
    gp.add_argument("module")
    gp.add_argument("--course", required=True)
    gp.add_argument("--groups", help="CSV: student, group[, role] (default DIR/groups.csv)")
    gp.set_defaults(func=_groups)

    co = sub.add_parser("collect", help="collect students' submissions of a module from the exchange")
    co.add_argument("module")
    co.add_argument("--course", required=True)
    co.set_defaults(func=_collect)

    lab = sub.add_parser("lab", help="JupyterLab for the course: the instructor's (formgrader), or a student's")
    lab.add_argument("--course", required=True)
    lab.add_argument("--user", help="start as this student (home: DIR/home/<student>/); default: the instructor")
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--ip", default="127.0.0.1", help="address to listen on (0.0.0.0: the whole network)")
    lab.add_argument("--token", help="access token in the URL (default: a random one)")
    lab.set_defaults(func=_lab)

    sc = sub.add_parser("student-config", help="the Jupyter configuration of every student's server on a hub: "
                                               "course, exchange, no formgrader (docs/guide-instructor.md)")
    sc.add_argument("--course", required=True)
    sc.add_argument("--out", required=True, help="folder to write, e.g. /etc/crmlab/student")
    sc.set_defaults(func=_student_config)

    d = sub.add_parser("demo", help="the main job: a class of synthetic students, assigned and graded")
    d.add_argument("dir", nargs="?", help="course instance to create or reuse (default: ./crmlab-demo)")
    d.add_argument("--students", type=int, default=30)
    d.add_argument("--module", default="m01", help="the module to assign and grade (m01, m04, m06, m07; default m01)")
    d.add_argument("--workers", type=int, default=2)
    d.set_defaults(func=_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from simulator import ScenarioError
    from .course import CourseError
    try:
        return args.func(args)
    except (ScenarioError, CourseError, FileNotFoundError) as exc:
        print(f"crmlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crmlab: interrupted; finished work is kept (a rerun resumes)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
