"""`crmlab`: the one command of the CRM course lab.

Every command and option is declared once, in :data:`COMMANDS`, in the order of a term's work, each with
its help in English and Chinese and its default; argparse is built from that table. A command imports
what it needs only when it runs, so ``crmlab --help`` and the commands that read results (roster,
export, report, feedback, grades) answer in about a second (benchmarks/typed_commands.py).

The course a command works on is ``--course DIR``, else the course folder you are in (or below), else
the environment variable ``CRMLAB_COURSE`` (grading/course.py, ``Course.locate``).
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


class UsageError(Exception):
    """A value on the command line that cannot be used (the message says which and why)."""


def _say(message: str) -> None:
    print(f"crmlab: {message}", file=sys.stderr)


def _course(a):
    from crmlab.grading.course import Course
    return Course.locate(a.course)


# -- the commands ----------------------------------------------------------------------------------
def _demo(a) -> int:
    from crmlab.grading.demo import default_dir, open_next, print_summary, run_demo
    t0 = time.monotonic()
    course, summary = run_demo(a.dir or default_dir(), students=a.students, workers=a.workers, module=a.module)
    opened = open_next(course, a.module)
    print_summary(course, summary, time.monotonic() - t0, module=a.module, opened=opened)
    return 0


def _course_init(a) -> int:
    from crmlab.grading.course import Course
    course = Course.init(a.dir, a.course_id, a.locale, db_url=a.db_url, exchange=a.exchange)
    print(f"course instance created: {course.root} (course id {course.course_id}; modules: "
          f"{', '.join(course.module_ids)})")
    return 0


def _roster_import(a) -> int:
    from crmlab.grading.roster import read_roster
    course = _course(a)
    roster = read_roster(a.file)   # every row checked before anything is added
    added, updated = course.add_students(roster.students)
    for warning in roster.warnings:
        _say(f"warning: {warning}")
    print(f"{len(roster.students)} students read from {Path(a.file).name} (header in row {roster.header_row}): "
          f"{len(added)} added, {len(updated)} updated; the roster of {course.course_id} now has "
          f"{len(course.students())} students")
    return 0


def _roster_list(a) -> int:
    from crmlab.grading.roster import listing
    from crmlab.grading.terminal import table
    course = _course(a)
    people = listing(course)
    if people:
        print(table(["学号 id", "姓名 name", "邮箱 email"], [[p["id"], p["name"], p["email"]] for p in people]))
    print(f"{len(people)} students on the roster of {course.course_id}")
    return 0


def _roster_remove(a) -> int:
    from crmlab.grading.roster import remove_student
    course = _course(a)
    for student in a.students:
        kept = remove_student(course, student, force=a.force)
        print(f"removed {student} from the roster of {course.course_id}"
              + (f"; their folders are kept in {kept}" if kept else ""))
    print(f"the roster now has {len(course.students())} students")
    return 0


def _assign(a) -> int:
    from crmlab.grading.assign import assign
    course = _course(a)
    students = assign(course, a.module, a.student or None, workers=a.workers)
    print(f"{a.module}: hand-outs with each student's own data in {course.path('outbox')} ({len(students)} students)")
    return 0


def _lab(a) -> int:
    import os

    from crmlab.grading.lab import lab_launch
    course = _course(a)
    launch = lab_launch(course, a.user, port=a.port, ip=a.ip, token=a.token)
    role = "instructor" if launch.who == "instructor" else f"student {launch.who}"
    print(f"JupyterLab for the {role} of {course.root}, working in {launch.cwd}\n"
          f"open: {launch.url}\n(stop with Ctrl-C)", flush=True)
    os.chdir(launch.cwd)   # the formgrader and the assignment list read nbgrader_config.py from here
    os.execve(launch.argv[0], launch.argv, launch.env)   # the server replaces this process: Ctrl-C stops it


def _collect(a) -> int:
    from crmlab.grading.exchange import collect
    course = _course(a)
    got = collect(course, a.module)
    print(f"{a.module}: collected into {course.path('submitted')} — new {len(got['new'])}, "
          f"updated {len(got['updated'])}, unchanged {len(got['unchanged'])}")
    if got["not_on_roster"]:
        _say(f"not on the roster (add them before grading): {', '.join(got['not_on_roster'])}")
    for line in got["refused"]:
        _say(f"not collected: {line}")
    return 0


def _autograde(a) -> int:
    from crmlab.grading.autograde import autograde
    from crmlab.grading.exchange import waiting
    from crmlab.grading.labels import status
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


def _feedback(a) -> int:
    from crmlab.grading.feedback import write_feedback
    course = _course(a)
    paths = write_feedback(course, a.module, a.student or None)
    print(f"{a.module}: feedback for {len(paths)} students in {course.path('feedback')}/<student>/{a.module}/index.html")
    return 0


def _release_feedback(a) -> int:
    from crmlab.grading.feedback import release_feedback
    course = _course(a)
    got = release_feedback(course, a.module, a.student or None)
    print(f"{a.module}: feedback released to {len(got.pop('released'))} students through the exchange "
          "(they click Fetch Feedback in the assignment list)")
    for why, students in got.items():
        _say(f"not released, {why} (their page: {course.path('feedback')}/<student>/{a.module}/index.html): "
             f"{', '.join(students)}")
    return 0


def _report(a) -> int:
    from crmlab.grading.report import write_report
    _writable(a.out, "--out")
    print(f"written {write_report(_course(a), a.module, a.out)}")
    return 0


def _groups(a) -> int:
    from crmlab.grading.groupplay import member_share, results, role_label
    from crmlab.grading.terminal import pad
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


def _export(a) -> int:
    from crmlab.grading.export import export
    if a.format == "xlsx" and not a.out:
        raise UsageError("an XLSX workbook needs a file: add --out grades.xlsx")
    _writable(a.out, "--out")
    data = export(_course(a), a.format)
    if a.out:
        if isinstance(data, bytes):
            Path(a.out).write_bytes(data)
        else:   # plain UTF-8, no byte-order mark: Canvas reads the first header as "Student" only then
            Path(a.out).write_text(data, encoding="utf-8")
        print(f"written {a.out}")
    else:
        sys.stdout.write(data if data.endswith("\n") else data + "\n")
    return 0


def _grades(a) -> int:
    from crmlab.grading.grades import Settings, course_grades, to_csv
    course = _course(a)
    settings = Settings.of(course)
    _writable(a.out, "--out")
    peer = a.peer or (course.root / "peer_scores.csv" if (course.root / "peer_scores.csv").exists() else None)
    groups = a.groups or (course.root / "groups.csv" if (course.root / "groups.csv").exists() else None)
    if a.peer and settings.peer_share == 0:
        _say(f"warning: --peer {a.peer} is not used: this course has no CRM show ([grades] peer_share = 0)")
    grades, by_group = course_grades(course, peer, groups)
    modules = list(grades[0].modules) if grades else []
    text = to_csv(grades, modules)
    if a.out:
        Path(a.out).write_text(text, encoding="utf-8")
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
    _say(f"course grades: {done} of {len(grades)} complete" + show)
    return 0


def _my_scores(a) -> int:
    from crmlab.grading.scores import find_scores, format_scores
    found = find_scores(a.dir)
    if not found:
        print("还没有取回反馈：在 Assignment List 里点 Fetch Feedback / no feedback fetched yet: click Fetch Feedback "
              f"in the assignment list (looked in {Path(a.dir).resolve()})")
        return 1
    print("\n\n".join(format_scores(d) for d in found))
    return 0


def _student_config(a) -> int:
    from crmlab.grading.lab import write_student_config
    folder = write_student_config(_course(a), Path(a.out))
    print(f"written {folder}: put it on every student server's JUPYTER_CONFIG_PATH "
          "(deploy/jupyterhub_config.py does), or copy its files into /etc/jupyter/")
    return 0


def _simulate(a) -> int:
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


def _writable(path: str | None, option: str) -> None:
    """A file to write must go into a folder that exists: crmlab creates no folders it was not asked for."""
    if not path:
        return
    target = Path(path).expanduser()
    if target.is_dir():
        raise UsageError(f"{option} {path}: that is a folder; give a file name in it")
    if not target.parent.is_dir():
        raise UsageError(f"{option} {path}: there is no folder {target.parent} (create it first, or choose another place)")


# -- values on the command line ------------------------------------------------------------------------
SEED_MAX = 2**63 - 1


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed: a whole number from 0 to {SEED_MAX} (2**63 - 1)")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number of at least 1 is needed")
    return value


def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: a number greater than 0 is needed")
    return value


def port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: a port is a number from 1 to 65535")
    return value


# -- the declaration: every command and option once, in the order of a term -----------------------------
@dataclass(frozen=True)
class Opt:
    flags: tuple[str, ...]
    en: str
    zh: str
    kw: dict = field(default_factory=dict)
    shown_default: tuple[str, str] | None = None   # (en, zh) of a default that is not a plain value


def opt(*flags: str, en: str, zh: str, default_text: tuple[str, str] | None = None, **kw) -> Opt:
    return Opt(flags, en, zh, kw, default_text)


@dataclass(frozen=True)
class Cmd:
    name: str                 # "roster import": a command of a group
    run: Callable[..., int]
    en: str
    zh: str
    opts: tuple[Opt, ...] = ()


def _modules_help() -> tuple[str, str]:
    """The shipped modules, for the help of a MODULE argument (a course may add its own)."""
    import tomllib

    from crmlab.grading.course import SHIPPED_COURSE
    catalogue = tomllib.loads((SHIPPED_COURSE / "crmlab.toml").read_text(encoding="utf-8")).get("modules", {})
    en = "the module: " + ", ".join(f"{k} {v['title_en']}" for k, v in sorted(catalogue.items()))
    zh = "模块：" + "，".join(f"{k} {v['title_zh']}" for k, v in sorted(catalogue.items()))
    return en, zh


COURSE = opt("--course", metavar="DIR",
             en="the course instance", zh="课程文件夹",
             default_text=("the course folder you are in, else $CRMLAB_COURSE", "当前所在的课程文件夹，否则环境变量 CRMLAB_COURSE"))
STUDENTS = opt("--student", action="append", metavar="ID", en="only this student (repeat for several)",
               zh="只处理这个学生（可重复）", default_text=("every student on the roster", "名单上的所有学生"))
LOCALE = dict(choices=["zh_CN", "en_US"])


def _module() -> Opt:
    en, zh = _modules_help()
    return opt("module", metavar="MODULE", en=en, zh=zh)


def commands() -> list[Cmd]:
    module = _module()
    return [
        Cmd("demo", _demo, "try it: a class of synthetic students, assigned and graded, with a summary",
            "试一试：一个模拟班级，布置、评分并打印汇总", (
                opt("dir", nargs="?", metavar="DIR", en="course instance to create or reuse",
                    zh="要创建或沿用的课程文件夹", default_text=("./crmlab-demo, or $CRMLAB_DEMO_DIR", "./crmlab-demo，或 CRMLAB_DEMO_DIR")),
                opt("--students", type=positive_int, default=30, en="students in the class", zh="班级人数"),
                opt("--module", default="m01", metavar="MODULE", en="the module to assign and grade (m01, m04, m06, m07)",
                    zh="要布置和评分的模块（m01、m04、m06、m07）"),
                opt("--workers", type=positive_int, default=2, en="parallel workers", zh="并行进程数"))),
        Cmd("course init", _course_init, "create a course instance with the shipped modules",
            "新建一个课程实例（带全部模块）", (
                opt("dir", metavar="DIR", en="the folder of the new course (created)", zh="新课程的文件夹（会被创建）"),
                opt("--course-id", metavar="ID", en="course id; it seeds every student's data: do not change it in term",
                    zh="课程编号，参与生成每个学生的数据，开课后不要改", default_text=("crm-course", "crm-course")),
                opt("--locale", **LOCALE, en="language of the simulated names and addresses",
                    zh="模拟数据里姓名和地址的语言", default_text=("zh_CN", "zh_CN")),
                opt("--db-url", metavar="URL", en="the gradebook on a database server (SQLAlchemy URL, e.g. "
                    "postgresql://user@host/db)", zh="成绩簿放在数据库服务器上（SQLAlchemy 地址）",
                    default_text=("DIR/gradebook.db", "DIR/gradebook.db")),
                opt("--exchange", metavar="DIR", en="nbgrader's exchange folder, outside the course, that every user can "
                    "write (a multi-user hub: e.g. /srv/nbgrader/exchange)",
                    zh="nbgrader 交换区，放在课程外、所有用户可写（多用户 JupyterHub 用）",
                    default_text=("DIR/exchange", "DIR/exchange")))),
        Cmd("roster import", _roster_import, "add or update students from an XLSX or CSV class list: columns "
            "学号/id (required), 姓名/name or 姓/last_name + 名/first_name, 邮箱/email",
            "从 Excel 或 CSV 名单导入学生：学号（必需）、姓名（或姓、名）、邮箱", (
                opt("file", metavar="FILE", en="students.xlsx or students.csv (UTF-8 or GBK)",
                    zh="学生名单 .xlsx 或 .csv（UTF-8 或 GBK）"), COURSE)),
        Cmd("roster list", _roster_list, "the students on the roster", "列出名单上的学生", (COURSE,)),
        Cmd("roster remove", _roster_remove, "take students off the roster (refused for one with work in the course "
            "unless --force)", "把学生移出名单（已有作业或成绩的学生需要 --force）", (
                opt("students", nargs="+", metavar="ID", en="student ids", zh="学号"), COURSE,
                opt("--force", action="store_true", en="also a student with work: their grades leave the gradebook, "
                    "their folders move to DIR/.crmlab/removed/", zh="已有作业的学生也移出：成绩从成绩簿删除，文件夹移到 "
                    "DIR/.crmlab/removed/"))),
        Cmd("assign", _assign, "release a module to the exchange, each student's own data with it",
            "布置模块：发布到交换区，并给每个学生自己的数据", (
                module, COURSE, STUDENTS,
                opt("--workers", type=positive_int, default=2, en="students' data simulated in parallel",
                    zh="并行生成学生数据的进程数"))),
        Cmd("lab", _lab, "JupyterLab for the course: the instructor's (formgrader), or a student's",
            "打开课程的 JupyterLab：教师的（含 formgrader）或某个学生的", (
                COURSE,
                opt("--user", metavar="ID", en="start as this student (home: DIR/home/<student>/)",
                    zh="以这个学生的身份启动（主目录 DIR/home/<学号>/）", default_text=("the instructor", "教师")),
                opt("--port", type=port, default=8888, en="port to listen on", zh="端口"),
                opt("--ip", default="127.0.0.1", en="address to listen on (0.0.0.0: the whole network)",
                    zh="监听地址（0.0.0.0：整个网络）"),
                opt("--token", en="access token in the URL", zh="地址里的访问令牌", default_text=("a random one", "随机生成")))),
        Cmd("collect", _collect, "bring the students' newest submissions of a module in from the exchange",
            "从交换区收取学生最新的提交", (module, COURSE)),
        Cmd("autograde", _autograde, "grade every collected submission of a module, in parallel and resumable",
            "自动评分：并行、可续跑", (
                module, COURSE, STUDENTS,
                opt("--workers", type=positive_int, en="parallel grading workers", zh="并行评分进程数",
                    default_text=("[grading] workers in crmlab.toml", "crmlab.toml 的 [grading] workers")),
                opt("--force", action="store_true", en="regrade submissions that were graded already", zh="重评已评过的提交"),
                opt("--submission-timeout", type=positive_number, metavar="SECONDS",
                    en="seconds per submission before it is stopped", zh="每份提交的评分时限（秒）",
                    default_text=("[grading] submission_timeout", "[grading] submission_timeout")),
                opt("--scheduler", metavar="ADDRESS", en="grade on this Dask cluster (e.g. tcp://host:8786)",
                    zh="在这个 Dask 集群上评分", default_text=("local workers", "本机进程")))),
        Cmd("feedback", _feedback, "one bilingual HTML page per student: status, points, what to look at, hints",
            "给每个学生写一页中英文反馈：状态、得分、要再看的地方和提示", (module, COURSE, STUDENTS)),
        Cmd("release-feedback", _release_feedback, "write the feedback pages, with each student's scores so far, and "
            "release them to the exchange (students: Fetch Feedback)",
            "写反馈页（附目前的成绩）并发布到交换区（学生点 Fetch Feedback 取回）", (module, COURSE, STUDENTS)),
        Cmd("report", _report, "class report of a module (HTML): statuses, points, pass rates, common mistakes, times",
            "模块的班级报告（HTML）：状态、得分分布、通过率、常见错误、用时", (
                module, COURSE,
                opt("--out", metavar="FILE", en="file to write", zh="输出文件",
                    default_text=("DIR/reports/<module>.html", "DIR/reports/<模块>.html")))),
        Cmd("groups", _groups, "the CRM show: each group's cast and how its group transcript replays and scores",
            "客户关系管理表演秀：各组分工、对话记录重演和得分", (
                module, COURSE,
                opt("--groups", metavar="CSV", en="groups file: student, group[, role]", zh="分组文件：student, group[, role]",
                    default_text=("DIR/groups.csv", "DIR/groups.csv")))),
        Cmd("export", _export, "grades with status, reason and each checkpoint's points",
            "导出成绩：状态、原因和每个检查点的得分", (
                COURSE,
                opt("--format", choices=["csv", "json", "xlsx", "canvas", "moodle"], default="csv",
                    en="csv/json: everything; xlsx: a workbook for Excel/WPS; canvas, moodle: the LMS's grade import",
                    zh="csv/json：全部数据；xlsx：Excel/WPS 工作簿；canvas、moodle：学习平台的成绩导入"),
                opt("--out", metavar="FILE", en="file to write (needed for xlsx)", zh="输出文件（xlsx 必须给）",
                    default_text=("standard output", "标准输出")))),
        Cmd("grades", _grades, "the course grade: the modules summed (or weighted) + the CRM show's peer score "
            "([grades] in crmlab.toml; peer_share = 0: no show)",
            "总评成绩：各模块成绩相加（或加权）+ 表演秀互评（crmlab.toml 的 [grades]；peer_share = 0 表示不办表演秀）", (
                COURSE,
                opt("--peer", metavar="CSV", en="peer scores: group, judge, score (0-10 whole points)",
                    zh="互评分数：group, judge, score（0–10 的整数）",
                    default_text=("DIR/peer_scores.csv if there is one", "DIR/peer_scores.csv（如果有）")),
                opt("--groups", metavar="CSV", en="groups file: student, group", zh="分组文件：student, group",
                    default_text=("DIR/groups.csv if there is one", "DIR/groups.csv（如果有）")),
                opt("--out", metavar="FILE", en="CSV file to write", zh="输出的 CSV 文件",
                    default_text=("standard output", "标准输出")))),
        Cmd("my-scores", _my_scores, "for a student: your own scores so far, from the feedback you fetched",
            "学生用：从取回的反馈里查看自己目前的成绩", (
                opt("dir", nargs="?", default=".", metavar="DIR", en="your folder, where the modules are",
                    zh="你的文件夹（模块所在的地方）", default_text=("here", "当前文件夹")),)),
        Cmd("student-config", _student_config, "the Jupyter configuration of every student's server on a hub: "
            "course, exchange, no formgrader", "JupyterHub 上学生服务器的 Jupyter 配置：课程、交换区、不带 formgrader", (
                COURSE, opt("--out", required=True, metavar="DIR", en="folder to write, e.g. /etc/crmlab/student",
                            zh="写到这个文件夹，例如 /etc/crmlab/student"))),
        Cmd("simulate", _simulate, "run a scenario on its own and write one CRM database",
            "单独运行一个场景，生成一个 CRM 数据库", (
                opt("--scenario", default="education_services", metavar="NAME",
                    en="built-in scenario name or a .toml path", zh="内置场景名或 .toml 文件"),
                opt("--seed", type=seed, required=True, en=f"the one seed of the run (0 to {SEED_MAX})",
                    zh="本次运行唯一的种子（0 到 2**63-1）"),
                opt("--out", required=True, metavar="FILE", en="SQLite file to write (its folder must exist)",
                    zh="要写入的 SQLite 文件（所在文件夹必须已存在）"),
                opt("--format", choices=["sqlite", "parquet"], default="sqlite",
                    en="sqlite: one database with keys and constraints; parquet: one file per table (big data)",
                    zh="sqlite：一个带主键和约束的数据库；parquet：每张表一个文件（大数据练习用）"),
                opt("--tables", metavar="T1,T2", en="tables to write, comma-separated (each with the tables its keys "
                    "point at)", zh="只写这些表（逗号分隔；连同其外键指向的表）", default_text=("all", "全部")),
                opt("--truth", metavar="FILE", en="also write the ground truth (graders only) to this file",
                    zh="另外把真实参数（只给评分者）写到这个文件", default_text=("none", "不写")),
                opt("--customers", type=positive_int, en="number of customer accounts", zh="客户数",
                    default_text=("the scenario's", "场景自带的")),
                opt("--years", type=positive_number, en="simulated years (or --days)", zh="模拟的年数（或用 --days）",
                    default_text=("the scenario's length", "场景自带的时长")),
                opt("--days", type=positive_int, en="simulated days, instead of --years", zh="模拟的天数，代替 --years",
                    default_text=("the scenario's length", "场景自带的时长")),
                opt("--locale", **LOCALE, en="language of names and addresses", zh="姓名和地址的语言",
                    default_text=("the scenario's", "场景自带的")))),
    ]


GROUPS = {"course": ("course instances", "课程实例"), "roster": ("the class list: import, list, remove students",
                                                                 "学生名单：导入、列出、移出")}
EXCLUSIVE = {"simulate": ("--years", "--days")}
TERM = ("A term, in order · 一个学期的顺序:\n"
        "  course init → roster import → assign → lab (students fetch and submit)\n"
        "  → collect → autograde → manual grading in the formgrader\n"
        "  → feedback, release-feedback → report → export → grades\n"
        "The course: --course DIR, else the course folder you are in, else $CRMLAB_COURSE.\n"
        "课程：--course DIR，否则是当前所在的课程文件夹，否则是环境变量 CRMLAB_COURSE。")


class HelpFormatter(argparse.HelpFormatter):
    """Help with a Chinese line under each English one: lines kept, each wrapped by display width."""

    def _split_lines(self, text, width):
        from crmlab.grading.terminal import wrap
        return [part for line in text.splitlines() for part in (wrap(line, width) or [""])]

    def _fill_text(self, text, width, indent):
        from crmlab.grading.terminal import wrap
        return "\n".join(indent + part for line in text.splitlines() for part in (wrap(line, width - len(indent)) or [""]))

    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "usage · 用法: " if prefix is None else prefix)


def _help(o: Opt) -> str:
    en, zh = o.en, o.zh
    default = o.kw.get("default")
    if o.shown_default:
        en, zh = f"{en} (default: {o.shown_default[0]})", f"{zh}（默认：{o.shown_default[1]}）"
    elif default not in (None, False) and not o.kw.get("required"):
        en, zh = f"{en} (default: {default})", f"{zh}（默认：{default}）"
    return f"{en}\n{zh}".replace("%", "%%")   # argparse formats help with %


def _add_help(p: argparse.ArgumentParser) -> None:
    p.add_argument("-h", "--help", action="help", help="show this help and exit\n显示这份帮助后退出")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crmlab", formatter_class=HelpFormatter, epilog=TERM, add_help=False,
                                description="CRM course lab: simulate a business, assign per-student nbgrader modules, "
                                            "grade whole classes.\n客户关系管理实训平台：模拟企业数据、按学生布置 nbgrader "
                                            "模块、批量评分。")
    _add_help(p)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands · 命令")
    groups: dict[str, argparse._SubParsersAction] = {}
    for cmd in commands():
        head, _, tail = cmd.name.partition(" ")
        if tail:
            if head not in groups:
                en, zh = GROUPS[head]
                g = sub.add_parser(head, help=f"{en}\n{zh}", description=f"{en}\n{zh}", formatter_class=HelpFormatter,
                                   add_help=False)
                _add_help(g)
                groups[head] = g.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions · 操作")
            where, name = groups[head], tail
        else:
            where, name = sub, head
        c = where.add_parser(name, help=f"{cmd.en}\n{cmd.zh}", description=f"{cmd.en}\n{cmd.zh}",
                             formatter_class=HelpFormatter, add_help=False)
        _add_help(c)
        exclusive = EXCLUSIVE.get(cmd.name, ())
        both = c.add_mutually_exclusive_group() if exclusive else None
        for o in cmd.opts:
            (both if o.flags[0] in exclusive else c).add_argument(*o.flags, help=_help(o), **o.kw)
        c.set_defaults(func=cmd.run)
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings meant for the person at the terminal (a missing Chinese font) as one plain line."""
    if getattr(category, "__module__", "").startswith(("crm.", "grading.")):
        _say(f"warning: {message}")
    else:
        _default_show(message, category, filename, lineno, file, line)


_default_show = warnings.showwarning


def _expected(exc: BaseException) -> bool:
    """An error that is the input's, not crmlab's: shown as a message, exit code 2, no traceback."""
    from crmlab.grading.course import CourseError
    known = (CourseError, UsageError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
    scenario = sys.modules.get("crmlab.simulator.scenario")   # only where a scenario was read (importing it costs 0.5 s)
    return isinstance(exc, known) or (scenario is not None and isinstance(exc, scenario.ScenarioError))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _say("interrupted; finished work is kept (a rerun resumes)")
        return 130
    except Exception as exc:
        if not _expected(exc):
            raise
        _say(f"error: {exc}")
        return 2
    finally:
        warnings.showwarning = _default_show


if __name__ == "__main__":
    sys.exit(main())
