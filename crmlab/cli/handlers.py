"""What each `crmlab` command does (the table of commands and options is crmlab/cli/table.py).

Each handler takes the parsed arguments and returns the exit code; it imports what it needs only when it
runs, so ``crmlab --help`` and the commands that read results answer in about a second
(benchmarks/typed_commands.py). A value that cannot be used raises :class:`UsageError` (exit code 2).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path


class UsageError(Exception):
    """A value on the command line that cannot be used (the message says which and why)."""


def _say(message: str) -> None:
    print(f"crmlab: {message}", file=sys.stderr)


def _course(a):
    from crmlab.grading.classroom.course import Course
    return Course.locate(a.course)


# -- the commands ----------------------------------------------------------------------------------
def demo(a) -> int:
    from crmlab.grading.demo import default_dir, open_next, print_summary, run_demo
    t0 = time.monotonic()
    course, summary = run_demo(a.dir or default_dir(), students=a.students, workers=a.workers, module=a.module)
    opened = open_next(course, a.module)
    print_summary(course, summary, time.monotonic() - t0, module=a.module, opened=opened)
    return 0


def course_init(a) -> int:
    from crmlab.grading.classroom.course import Course
    course = Course.init(a.dir, a.course_id, a.locale, db_url=a.db_url, exchange=a.exchange)
    print(f"course instance created: {course.root} (course id {course.course_id}; modules: "
          f"{', '.join(course.module_ids)})")
    return 0


def roster_import(a) -> int:
    from crmlab.grading.classroom.roster import read_roster
    course = _course(a)
    roster = read_roster(a.file)   # every row checked before anything is added
    added, updated = course.add_students(roster.students)
    for warning in roster.warnings:
        _say(f"warning: {warning}")
    print(f"{len(roster.students)} students read from {Path(a.file).name} (header in row {roster.header_row}): "
          f"{len(added)} added, {len(updated)} updated; the roster of {course.course_id} now has "
          f"{len(course.students())} students")
    return 0


def roster_list(a) -> int:
    from crmlab.grading.classroom.roster import listing
    from crmlab.grading.outputs.terminal import table
    course = _course(a)
    people = listing(course)
    if people:
        print(table(["学号 id", "姓名 name", "邮箱 email"], [[p["id"], p["name"], p["email"]] for p in people]))
    print(f"{len(people)} students on the roster of {course.course_id}")
    return 0


def roster_remove(a) -> int:
    from crmlab.grading.classroom.roster import remove_student
    course = _course(a)
    for student in a.students:
        kept = remove_student(course, student, force=a.force)
        print(f"removed {student} from the roster of {course.course_id}"
              + (f"; their folders are kept in {kept}" if kept else ""))
    print(f"the roster now has {len(course.students())} students")
    return 0


def assign(a) -> int:
    from crmlab.grading.classroom.assign import assign
    course = _course(a)
    students = assign(course, a.module, a.student or None, workers=a.workers)
    print(f"{a.module}: hand-outs with each student's own data in {course.path('outbox')} ({len(students)} students)")
    return 0


def lab(a) -> int:
    import os

    from crmlab.grading.classroom.lab import lab_launch
    course = _course(a)
    launch = lab_launch(course, a.user, port=a.port, ip=a.ip, token=a.token)
    role = "instructor" if launch.who == "instructor" else f"student {launch.who}"
    print(f"JupyterLab for the {role} of {course.root}, working in {launch.cwd}\n"
          f"open: {launch.url}\n(stop with Ctrl-C)", flush=True)
    os.chdir(launch.cwd)   # the formgrader and the assignment list read nbgrader_config.py from here
    os.execve(launch.argv[0], launch.argv, launch.env)   # the server replaces this process: Ctrl-C stops it


def collect(a) -> int:
    from crmlab.grading.classroom.exchange import collect
    course = _course(a)
    got = collect(course, a.module)
    print(f"{a.module}: collected into {course.path('submitted')} — new {len(got['new'])}, "
          f"updated {len(got['updated'])}, unchanged {len(got['unchanged'])}")
    if got["not_on_roster"]:
        _say(f"not on the roster (add them before grading): {', '.join(got['not_on_roster'])}")
    for line in got["refused"]:
        _say(f"not collected: {line}")
    return 0


def autograde(a) -> int:
    from crmlab.grading.run.autograde import autograde
    from crmlab.grading.classroom.exchange import waiting
    from crmlab.grading.classroom.labels import status
    course = _course(a)
    s = autograde(course, a.module, workers=a.workers, force=a.force, students=a.student or None,
                  submission_timeout=a.submission_timeout, scheduler=a.scheduler)
    if s.unsandboxed:
        _say(f"warning: student code ran WITHOUT a sandbox ({s.unsandboxed}): it could read the course "
             "directory, the gradebook and this user's files")
    waits = set(waiting(course, a.module))
    counts = s.counts()
    print(f"{a.module}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
          + f"; skipped (already graded) {len(s.skipped)}; {s.seconds:.1f} s")
    for o in s.outcomes:
        if o.status != "graded" or o.reason:
            note = "  (a submission waits in the exchange: crmlab collect)" if o.student in waits else ""
            print(f"  {o.student}: {status(o.status).en} — {o.reason}{note}")
    if waits:
        _say(f"{len(waits)} submission(s) of {a.module} wait in the exchange, not collected yet "
             f"({', '.join(sorted(waits))}): `crmlab collect {a.module}` brings them in; then run autograde again")
    return 0


def feedback(a) -> int:
    from crmlab.grading.outputs.feedback import write_feedback
    course = _course(a)
    paths = write_feedback(course, a.module, a.student or None)
    print(f"{a.module}: feedback for {len(paths)} students in {course.path('feedback')}/<student>/{a.module}/index.html")
    return 0


def release_feedback(a) -> int:
    from crmlab.grading.outputs.feedback import release_feedback
    course = _course(a)
    got = release_feedback(course, a.module, a.student or None)
    print(f"{a.module}: feedback released to {len(got.pop('released'))} students through the exchange "
          "(they click Fetch Feedback in the assignment list)")
    for why, students in got.items():
        _say(f"not released, {why} (their page: {course.path('feedback')}/<student>/{a.module}/index.html): "
             f"{', '.join(students)}")
    return 0


def report(a) -> int:
    from crmlab.grading.outputs.report import write_report
    _writable(a.out, "--out")
    print(f"written {write_report(_course(a), a.module, a.out)}")
    return 0


def groups(a) -> int:
    from crmlab.grading.classroom.groupplay import member_share, results, role_label
    from crmlab.grading.outputs.terminal import pad
    course = _course(a)
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
            print(f"  {pad(member, 12)} {pad(role_label(role), 36)} turns {r.turns.get(member, 0):>2}   share {share}")
        for member, why in r.problems:
            print(f"  ! {member}'s transcript does not count: {why}")
    if not found:
        print("(the groups file lists no groups)")
    return 0


def export(a) -> int:
    from crmlab.grading.outputs.export import export
    fill_only = [o for o, v in (("--template", a.template), ("--column", a.column)) if v]
    if a.format == "fill":
        return _fill(a)
    if fill_only:
        raise UsageError(f"{' and '.join(fill_only)}: only for --format fill (the school's own score sheet)")
    if a.format == "xlsx" and not a.out:
        raise UsageError("an XLSX workbook needs a file: add --out grades.xlsx")
    if a.encoding and (a.format == "xlsx" or not a.out):
        raise UsageError(f"--encoding {a.encoding} is for a text file written with --out (not an XLSX workbook, "
                         "not the terminal)")
    _writable(a.out, "--out")
    data = export(_course(a), a.format)
    if a.out:
        if isinstance(data, bytes):
            Path(a.out).write_bytes(data)
        else:
            _write_text(a.out, data, a.encoding or CSV_ENCODING[a.format])
        print(f"written {a.out}")
    else:
        sys.stdout.write(data if data.endswith("\n") else data + "\n")
    return 0


def _fill(a) -> int:
    from crmlab.grading.outputs.fill import fill, school_scores
    missing = [o for o, v in (("--template", a.template), ("--column", a.column), ("--out", a.out)) if not v]
    if missing:
        raise UsageError(f"--format fill needs {', '.join(missing)}: e.g. --template 成绩单.xlsx --column 平时成绩 "
                         "--out 成绩单-已填.xlsx")
    if a.encoding:
        raise UsageError(f"--encoding {a.encoding} is for a CSV file, not the school's workbook")
    if not 0 < a.scale <= 1000 or not 0 <= a.decimals <= 4:
        raise UsageError(f"--scale {a.scale:g} --decimals {a.decimals}: a full mark from 0 to 1000 and 0-4 decimals")
    _writable(a.out, "--out")
    scores, why = school_scores(_course(a), a.score, a.scale)
    done = fill(a.template, a.column, scores, a.out, why_blank=why, decimals=a.decimals)
    print(f"written {a.out}: {done.filled} scores ({a.score}, of {a.scale:g}) into column {done.column} of sheet "
          f"{done.sheet!r}")
    if done.no_score:
        _say(f"{len(done.no_score)} left blank, no score yet: " +
             "; ".join(f"{s} ({w})" for s, w in done.no_score.items()))
    if done.not_on_roster:
        _say(f"{len(done.not_on_roster)} 学号 of the sheet not on the course's roster (left as they were): "
             + ", ".join(done.not_on_roster))
    if done.not_in_sheet:
        _say(f"{len(done.not_in_sheet)} students of the roster not in the sheet: " + ", ".join(done.not_in_sheet))
    return 0


def grades(a) -> int:
    from crmlab.grading.outputs.grades import course_grades, default_inputs, to_csv
    course = _course(a)
    settings = course.settings.grades
    _writable(a.out, "--out")
    peer, groups = default_inputs(course, a.peer, a.groups)
    if a.peer and settings.peer_share == 0:
        _say(f"warning: --peer {a.peer} is not used: this course has no CRM show ([grades] peer_share = 0)")
    if a.encoding and not a.out:
        raise UsageError(f"--encoding {a.encoding} is for the file written with --out, not the terminal")
    grades, by_group = course_grades(course, peer, groups)
    modules = list(grades[0].modules) if grades else []
    text = to_csv(grades, modules)
    if a.out:
        _write_text(a.out, text, a.encoding or CSV_ENCODING["grades"])
        print(f"written {a.out}")
    else:
        sys.stdout.write(text)
    done = sum(g.final is not None for g in grades)
    if settings.peer_share == 0:
        show = "; modules only (no CRM show: [grades] peer_share = 0)"
    elif by_group:
        show = "; CRM show (peer scores): " + ", ".join(f"{k} {v:g}" for k, v in sorted(by_group.items()))
    else:
        show = ("; no peer scores of the CRM show yet, so no final grade: give --peer peer.csv (or put "
                "peer_scores.csv in the course), or set [grades] peer_share = 0 in crmlab.toml for a course without the show")
    rule = ("modules weighted by [grades] weights" if settings.weights else
            "the modules' points summed" if settings.combine == "points" else "each module's percentage the same")
    _say(f"course grades: {done} of {len(grades)} complete ({rule})" + show)
    return 0


def my_scores(a) -> int:
    from crmlab.grading.outputs.scores import find_scores, format_scores
    found = find_scores(a.dir)
    if not found:
        print("还没有取回反馈：在 Assignment List 里点 Fetch Feedback / no feedback fetched yet: click Fetch Feedback "
              f"in the assignment list (looked in {Path(a.dir).resolve()})")
        return 1
    print("\n\n".join(format_scores(d) for d in found))
    return 0


def student_config(a) -> int:
    from crmlab.grading.classroom.lab import write_student_config
    folder = write_student_config(_course(a), Path(a.out))
    print(f"written {folder}: put it on every student server's JUPYTER_CONFIG_PATH "
          "(deploy/jupyterhub_config.py does), or copy its files into /etc/jupyter/")
    return 0


def simulate(a) -> int:
    import sqlite3

    from tqdm import tqdm

    from crmlab.simulator import simulate
    from crmlab.simulator.store import with_parents
    if a.format == "parquet":
        if Path(a.out).expanduser().is_file():
            raise UsageError(f"--out {a.out}: with --format parquet, a folder (one file per table), not a file")
        if not Path(a.out).expanduser().parent.is_dir():
            raise UsageError(f"--out {a.out}: there is no folder {Path(a.out).expanduser().parent} (create it first, "
                             "or choose another place)")
    else:
        _writable(a.out, "--out")
    _writable(a.truth, "--truth")
    days = round(a.years * 365) if a.years is not None else a.days
    if days is not None and days < 1:
        raise UsageError(f"--years {a.years:g} is less than a day")
    tables = [t.strip() for t in a.tables.split(",") if t.strip()] if a.tables else None
    try:
        with_parents(tables)
    except ValueError as exc:
        raise UsageError(f"--tables: {exc}") from None
    with tqdm(total=100, desc=f"simulating {a.scenario}", unit="%", bar_format="{l_bar}{bar}| {elapsed}") as bar:
        def progress(share: float) -> None:
            bar.update(round(share * 95) - bar.n)
        result = simulate(a.scenario, a.seed, a.out, truth=a.truth, customers=a.customers, days=days,
                          locale=a.locale, progress=progress, tables=tables, format=a.format)
        bar.update(100 - bar.n)
    if result.format == "parquet":
        import pyarrow.parquet as pq
        counts = {t: pq.ParquetFile(result.db_path / f"{t}.parquet").metadata.num_rows for t in result.tables
                  if t != "meta"}
    else:
        with sqlite3.connect(result.db_path) as con:
            counts = {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in result.tables if t != "meta"}
    print(f"{result.db_path}: " + ", ".join(f"{k} {n}" for k, n in counts.items()))
    if result.truth_path:
        print(f"ground truth (graders only): {result.truth_path}")
    return 0


# what a CSV is written in when --encoding is not given: Excel on Chinese Windows reads UTF-8 only with a byte-order
# mark (without one it shows 乱码) — but Canvas reads the first header of a file with one as something else than
# "Student", so the LMS imports stay plain UTF-8
CSV_ENCODING = {"csv": "utf-8-sig", "canvas": "utf-8", "moodle": "utf-8", "json": "utf-8", "grades": "utf-8-sig"}
ENCODING_NAMES = {"utf-8-sig": "UTF-8 with a byte-order mark", "utf-8": "UTF-8", "gbk": "GBK"}


def _write_text(path: str, text: str, encoding: str) -> None:
    """``text`` into the file ``path`` in ``encoding``; a character the encoding cannot hold (GBK lacks some rare
    characters of names) is refused naming its line, and nothing is written."""
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        raise UsageError(f"--encoding {encoding}: line {line} holds {text[exc.start:exc.end]!r}, which "
                         f"{ENCODING_NAMES.get(encoding, encoding)} cannot write; use --encoding utf-8-sig "
                         "(Excel and WPS read it)") from None
    Path(path).write_bytes(data)


def _writable(path: str | None, option: str) -> None:
    """A file to write must go into a folder that exists: crmlab creates no folders it was not asked for."""
    if not path:
        return
    target = Path(path).expanduser()
    if target.is_dir():
        raise UsageError(f"{option} {path}: that is a folder; give a file name in it")
    if not target.parent.is_dir():
        raise UsageError(f"{option} {path}: there is no folder {target.parent} (create it first, or choose another place)")
