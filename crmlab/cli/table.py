"""The declaration of the `crmlab` command: every command and option once, in the order of a term's work,
each with its help in English and Chinese and its default (crmlab/cli/__init__.py builds argparse from it;
what each command does: crmlab/cli/handlers.py)."""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Callable

from . import handlers as h


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

    from crmlab.grading.classroom.course import SHIPPED_COURSE
    catalogue = tomllib.loads((SHIPPED_COURSE / "crmlab.toml").read_text(encoding="utf-8"))["modules"]
    en = "the module: " + ", ".join(f"{k} {v['title_en']}" for k, v in sorted(catalogue.items()))
    zh = "模块：" + "，".join(f"{k} {v['title_zh']}" for k, v in sorted(catalogue.items()))
    return en, zh


COURSE = opt("--course", metavar="DIR",
             en="the course instance", zh="课程文件夹",
             default_text=("the course folder you are in, else $CRMLAB_COURSE", "当前所在的课程文件夹，否则环境变量 CRMLAB_COURSE"))
STUDENTS = opt("--student", action="append", metavar="ID", en="only this student (repeat for several)",
               zh="只处理这个学生（可重复）", default_text=("every student on the roster", "名单上的所有学生"))
LOCALE = dict(choices=["zh_CN", "en_US"])
ENCODING = opt("--encoding", choices=list(h.ENCODING_NAMES),
               en="the CSV file's encoding: utf-8-sig opens in Excel on Chinese Windows (plain utf-8 shows garbled "
               "Chinese there); gbk for older systems", zh="CSV 文件的编码：utf-8-sig 在中文版 Windows 的 Excel 里直接打开"
               "（不带 BOM 的 utf-8 会显示乱码）；gbk 给老系统用",
               default_text=("utf-8-sig; canvas, moodle, json: utf-8", "utf-8-sig；canvas、moodle、json 为 utf-8"))


def _module() -> Opt:
    en, zh = _modules_help()
    return opt("module", metavar="MODULE", en=en, zh=zh)


def commands() -> list[Cmd]:
    module = _module()
    return [
        Cmd("demo", h.demo, "try it: a class of synthetic students, assigned and graded, with a summary",
            "试一试：一个模拟班级，布置、评分并打印汇总", (
                opt("dir", nargs="?", metavar="DIR", en="course instance to create or reuse",
                    zh="要创建或沿用的课程文件夹", default_text=("./crmlab-demo, or $CRMLAB_DEMO_DIR", "./crmlab-demo，或 CRMLAB_DEMO_DIR")),
                opt("--students", type=positive_int, default=30, en="students in the class", zh="班级人数"),
                opt("--module", default="m01", metavar="MODULE", en="the module to assign and grade (m01, m04, m06, m07)",
                    zh="要布置和评分的模块（m01、m04、m06、m07）"),
                opt("--workers", type=positive_int, default=2, en="parallel workers", zh="并行进程数"))),
        Cmd("course init", h.course_init, "create a course instance with the shipped modules",
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
        Cmd("roster import", h.roster_import, "add or update students from an XLSX, XLS or CSV class list: columns "
            "学号/id (required), 姓名/name or 姓/last_name + 名/first_name, 邮箱/email",
            "从 Excel 或 CSV 名单导入学生：学号（必需）、姓名（或姓、名）、邮箱", (
                opt("file", metavar="FILE", en="students.xlsx, the old students.xls, or students.csv (UTF-8 or GBK)",
                    zh="学生名单 .xlsx、旧版 .xls 或 .csv（UTF-8 或 GBK）"), COURSE)),
        Cmd("roster list", h.roster_list, "the students on the roster", "列出名单上的学生", (COURSE,)),
        Cmd("roster remove", h.roster_remove, "take students off the roster (refused for one with work in the course "
            "unless --force)", "把学生移出名单（已有作业或成绩的学生需要 --force）", (
                opt("students", nargs="+", metavar="ID", en="student ids", zh="学号"), COURSE,
                opt("--force", action="store_true", en="also a student with work: their grades leave the gradebook, "
                    "their folders move to DIR/.crmlab/removed/", zh="已有作业的学生也移出：成绩从成绩簿删除，文件夹移到 "
                    "DIR/.crmlab/removed/"))),
        Cmd("assign", h.assign, "release a module to the exchange, each student's own data with it",
            "布置模块：发布到交换区，并给每个学生自己的数据", (
                module, COURSE, STUDENTS,
                opt("--workers", type=positive_int, default=2, en="students' data simulated in parallel",
                    zh="并行生成学生数据的进程数"))),
        Cmd("lab", h.lab, "JupyterLab for the course: the instructor's (formgrader), or a student's",
            "打开课程的 JupyterLab：教师的（含 formgrader）或某个学生的", (
                COURSE,
                opt("--user", metavar="ID", en="start as this student (home: DIR/home/<student>/)",
                    zh="以这个学生的身份启动（主目录 DIR/home/<学号>/）", default_text=("the instructor", "教师")),
                opt("--port", type=port, default=8888, en="port to listen on", zh="端口"),
                opt("--ip", default="127.0.0.1", en="address to listen on (0.0.0.0: the whole network)",
                    zh="监听地址（0.0.0.0：整个网络）"),
                opt("--token", en="access token in the URL", zh="地址里的访问令牌", default_text=("a random one", "随机生成")))),
        Cmd("collect", h.collect, "bring the students' newest submissions of a module in from the exchange",
            "从交换区收取学生最新的提交", (module, COURSE)),
        Cmd("autograde", h.autograde, "grade every collected submission of a module, in parallel and resumable",
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
        Cmd("feedback", h.feedback, "one bilingual HTML page per student: status, points, what to look at, hints",
            "给每个学生写一页中英文反馈：状态、得分、要再看的地方和提示", (module, COURSE, STUDENTS)),
        Cmd("release-feedback", h.release_feedback, "write the feedback pages, with each student's scores so far, and "
            "release them to the exchange (students: Fetch Feedback)",
            "写反馈页（附目前的成绩）并发布到交换区（学生点 Fetch Feedback 取回）", (module, COURSE, STUDENTS)),
        Cmd("report", h.report, "class report of a module (HTML): statuses, points, pass rates, common mistakes, times",
            "模块的班级报告（HTML）：状态、得分分布、通过率、常见错误、用时", (
                module, COURSE,
                opt("--out", metavar="FILE", en="file to write", zh="输出文件",
                    default_text=("DIR/reports/<module>.html", "DIR/reports/<模块>.html")))),
        Cmd("groups", h.groups, "the CRM show: each group's cast and how its group transcript replays and scores",
            "客户关系管理表演秀：各组分工、对话记录重演和得分", (
                module, COURSE,
                opt("--groups", metavar="CSV", en="groups file: student, group[, role]", zh="分组文件：student, group[, role]",
                    default_text=("DIR/groups.csv", "DIR/groups.csv")))),
        Cmd("export", h.export, "grades with status, reason and each checkpoint's points",
            "导出成绩：状态、原因和每个检查点的得分", (
                COURSE,
                opt("--format", choices=["csv", "json", "xlsx", "canvas", "moodle", "fill"], default="csv",
                    en="csv/json: everything; xlsx: a workbook for Excel/WPS; canvas, moodle: the LMS's grade import; "
                    "fill: the school's own score sheet (--template, --column)",
                    zh="csv/json：全部数据；xlsx：Excel/WPS 工作簿；canvas、moodle：学习平台的成绩导入；"
                    "fill：填学校自己的成绩单（--template、--column）"),
                opt("--template", metavar="XLSX", en="fill: the school's score sheet (left unchanged; the filled copy "
                    "goes to --out)", zh="fill：学校的成绩单模板（原文件不改，填好的写到 --out）",
                    default_text=("none", "无")),
                opt("--column", metavar="HEADER", en="fill: the header of the column to fill, e.g. 平时成绩",
                    zh="fill：要填的那一列的表头，例如 平时成绩", default_text=("none", "无")),
                opt("--score", default="final", metavar="WHAT", en="fill: final (the course grade), coursework (the "
                    "modules' part) or a module id", zh="fill：final（总评）、coursework（平时成绩部分）或某个模块"),
                opt("--scale", type=float, default=100.0, metavar="POINTS",
                    en="fill: the school's full mark (100 % of the score)", zh="fill：学校的满分（100 % 对应的分数）"),
                opt("--decimals", type=int, default=0, metavar="N", en="fill: decimals kept (四舍五入)",
                    zh="fill：保留的小数位（四舍五入）"),
                opt("--out", metavar="FILE", en="file to write (needed for xlsx)", zh="输出文件（xlsx 必须给）",
                    default_text=("standard output", "标准输出")),
                ENCODING)),
        Cmd("grades", h.grades, "the course grade: each module's percentage the same (or points summed, or weighted) + the CRM show's peer score "
            "([grades] in crmlab.toml; peer_share = 0: no show)",
            "总评成绩：各模块百分制成绩同等计入（或得分相加、或加权）+ 表演秀互评（crmlab.toml 的 [grades]；peer_share = 0 表示不办表演秀）", (
                COURSE,
                opt("--peer", metavar="CSV", en="peer scores: group, judge, score (0-10 whole points)",
                    zh="互评分数：group, judge, score（0–10 的整数）",
                    default_text=("DIR/peer_scores.csv if there is one", "DIR/peer_scores.csv（如果有）")),
                opt("--groups", metavar="CSV", en="groups file: student, group", zh="分组文件：student, group",
                    default_text=("DIR/groups.csv if there is one", "DIR/groups.csv（如果有）")),
                opt("--out", metavar="FILE", en="CSV file to write", zh="输出的 CSV 文件",
                    default_text=("standard output", "标准输出")),
                ENCODING)),
        Cmd("my-scores", h.my_scores, "for a student: your own scores so far, from the feedback you fetched",
            "学生用：从取回的反馈里查看自己目前的成绩", (
                opt("dir", nargs="?", default=".", metavar="DIR", en="your folder, where the modules are",
                    zh="你的文件夹（模块所在的地方）", default_text=("here", "当前文件夹")),)),
        Cmd("student-config", h.student_config, "the Jupyter configuration of every student's server on a hub: "
            "course, exchange, no formgrader", "JupyterHub 上学生服务器的 Jupyter 配置：课程、交换区、不带 formgrader", (
                COURSE, opt("--out", required=True, metavar="DIR", en="folder to write, e.g. /etc/crmlab/student",
                            zh="写到这个文件夹，例如 /etc/crmlab/student"))),
        Cmd("simulate", h.simulate, "run a scenario on its own and write one CRM database",
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
