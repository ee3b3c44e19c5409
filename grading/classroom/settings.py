"""A course's settings (its ``crmlab.toml``), declared once: every setting with its type, default and a
one-line help in English and Chinese.

Every reader takes its values from :class:`CourseSettings` (``Course.settings``); nothing else holds a
default. Reading the file checks all of it at once and refuses, in one line naming the file and the key, a
key that is not declared here (a typo would otherwise be a setting silently not set), a missing one, and a
value of the wrong type or range. docs/settings.md is generated from these declarations
(:func:`reference`; ``python -m crmlab.grading.classroom.settings --write``) and
tests/grading/classroom/test_settings.py fails when it is stale.

What needs another file stays with its reader: a module's ``tables`` against the database's tables
(``Course.module``: importing the simulator's dictionary costs ≈0.4 s), ``[grades] weights`` against the
modules assigned (grading/outputs/grades.py), ``group_roles`` against the scene (grading/classroom/groupplay.py).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from crmlab import paths
from crmlab.grading.classroom.course import CourseError

DOC = paths.DOCS / "settings.md"


class SettingsError(CourseError):
    """A crmlab.toml that cannot be used; the message names the file and the key."""


def setting(default: Any = ..., en: str = "", zh: str = "", **constraints) -> Any:
    """A declared setting: its default (``...``: required), its help in English and Chinese."""
    return Field(default, description=en, json_schema_extra={"zh": zh}, **constraints)


def _share(value):
    """A share from 0 to 1 (a number, not true/false)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"= {value!r} should be a share from 0 to 1 (0.4 is 40 %)")
    return float(value)


def _due(value):
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = dt.datetime.fromisoformat(value)
    if value is not None and not (isinstance(value, dt.datetime) and value.tzinfo is not None):
        raise ValueError("must be a date and time with its time zone, e.g. due = 2026-12-20T23:59:00+08:00")
    return value


def _tables(value):
    if value is not None and not (isinstance(value, list) and value and all(isinstance(t, str) for t in value)):
        raise ValueError('must be a list of table names, e.g. tables = ["calls", "agents"] (leave it out for every table)')
    return tuple(value) if value is not None else None


def _timezone(value):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"= {value!r} is not a time zone (an IANA name such as \"Asia/Shanghai\" or "
                         "\"Asia/Urumqi\")") from None
    return value


def _weights(value):
    if value is not None and (not isinstance(value, dict) or not value or any(
            isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in value.values())):
        raise ValueError("should map modules to numbers ≥ 0, e.g. { m01 = 1, m06 = 2 }")
    return {k: float(v) for k, v in value.items()} if value else None


Share = Annotated[float, BeforeValidator(_share)]


class Section(BaseModel):
    # strict: TOML's own types (a "20" in quotes is no number); forbid: a key not declared here is refused
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CourseSection(Section):
    """[course]: the course instance."""
    id: str = setting(en="course id; it seeds every student's data: do not change it in term",
                      zh="课程编号，参与生成每个学生的数据，开课后不要改")
    title_zh: str = setting("", en="the course's title in Chinese", zh="课程名称（中文）")
    title_en: str = setting("", en="the course's title in English", zh="课程名称（英文）")
    locale: Literal["zh_CN", "en_US"] = setting("zh_CN", en="language of the simulated names and addresses",
                                                zh="模拟数据里姓名和地址的语言")
    timezone: Annotated[str, BeforeValidator(_timezone)] = setting(
        "Asia/Shanghai", en="the course's local time (an IANA name): feedback's \"as of\" and reports show times in it",
        zh="课程所在时区（IANA 名称）：反馈和报告里的时间按它显示")
    exchange: str | None = setting(
        None, en="nbgrader's exchange folder; on a multi-user hub a folder every user can write (mode 1777), outside "
        "the course (default: DIR/exchange)", zh="nbgrader 交换区；多用户 JupyterHub 上放在课程外、所有用户可写（1777）"
        "（默认 DIR/exchange）")


class GradingSection(Section):
    """[grading]: the grading run, the sandbox and its limits, what is taken from a submission."""
    cell_timeout: int = setting(en="seconds a cell may run before it is interrupted (nbgrader Execute.timeout)",
                                zh="每个单元格最多运行的秒数，超时即中断", ge=1)
    submission_timeout: float = setting(en="seconds for a whole submission before it is stopped",
                                        zh="每份提交的评分时限（秒），超时即停止", gt=0)
    workers: int = setting(2, en="parallel grading workers (each keeps nbgrader loaded)", zh="并行评分进程数", ge=1)
    sandbox: Literal["auto", "required", "off"] = setting(
        "auto", en="each kernel in a sandbox (bubblewrap): \"auto\" grades without one, with a warning, where "
        "bubblewrap is missing; \"required\" then refuses to grade; \"off\" never sandboxes",
        zh="学生代码在沙箱（bubblewrap）里运行：auto 没有沙箱时警告后照常评分；required 拒绝评分；off 不用沙箱")
    db_url: str | None = setting(None, en="the gradebook on a database server (an SQLAlchemy URL, e.g. "
                                 "postgresql://user@host/db); default: the SQLite file DIR/gradebook.db",
                                 zh="成绩簿放在数据库服务器上（SQLAlchemy 地址）；默认 DIR/gradebook.db")
    # the sandbox's limits, per submission (its own user id and, as root, its own cgroup): grading/run/sandbox/
    memory_mb: int = setting(3072, en="address space of each process of the kernel (the submission's cgroup: this "
                             "+ disk_mb)", zh="内核每个进程的地址空间（MB；整份提交的 cgroup：这个加 disk_mb）", ge=1)
    cpu_seconds: int = setting(600, en="CPU time of the kernel and everything it starts",
                               zh="内核及其子进程的 CPU 时间（秒）", ge=1)
    processes: int = setting(64, en="processes and threads of the submission", zh="整份提交的进程和线程数", ge=1)
    file_mb: int = setting(200, en="largest file the kernel may write", zh="内核可写的最大文件（MB）", ge=1)
    open_files: int = setting(256, en="files a process of the kernel may hold open", zh="内核每个进程可同时打开的文件数",
                              ge=1)
    disk_mb: int = setting(500, en="all the kernel may write into its working space (as root: a tmpfs of this size)",
                           zh="内核在工作区里可写入的总量（MB；以 root 运行时是这么大的 tmpfs）", ge=1)
    max_written_files: int = setting(20000, en="files the kernel may create in its working space",
                                     zh="内核在工作区里可创建的文件数", ge=1)
    max_output_kb: int = setting(1024, en="output kept per cell while it runs; the rest is cut (status \"limit\")",
                                 zh="每个单元格保留的输出（KB），其余截断（状态 limit）", ge=1)
    max_total_output_kb: int = setting(20480, en="output kept per notebook", zh="每个笔记本保留的输出（KB）", ge=1)
    # what is taken from a submission (grading/classroom/intake.py): regular files only, no links; the rest is left out, said
    max_files: int = setting(200, en="files taken from a submission", zh="每份提交最多收取的文件数", ge=1)
    max_file_mb: float = setting(20.0, en="size of one file (a notebook larger than this is refused)",
                                 zh="单个文件的大小上限（MB；更大的笔记本被拒收）", gt=0)
    max_submission_mb: float = setting(100.0, en="all the files of a submission together",
                                       zh="一份提交全部文件的大小上限（MB）", gt=0)

    @property
    def limits(self) -> dict[str, int]:
        """The sandbox's limits (grading/run/sandbox/)."""
        return {k: getattr(self, k) for k in LIMITS}


LIMITS = ("memory_mb", "cpu_seconds", "processes", "file_mb", "open_files", "disk_mb", "max_written_files")


class GradesSection(Section):
    """[grades]: the course grade (crmlab grades; docs/design.md "Course grade")."""
    peer_share: Share = setting(0.4, en="the CRM show's part of the final grade, scored by the other groups' leaders "
                                "(0: no show)", zh="表演秀互评占总评的比例（0：不办表演秀）")
    missing: Literal["blank", "zero"] = setting(
        "blank", en="a module without a score leaves the final grade blank; \"zero\" counts it as 0",
        zh="缺一个模块的成绩时总评留空（blank），或按 0 分计（zero）")
    combine: Literal["equal", "points"] = setting(
        "equal", en="how the modules make the coursework: \"equal\": each sub-project's percentage counts the same "
        "(the brief's sum of the sub-projects' grades); \"points\": the modules' points summed, so a module with "
        "more points weighs more", zh="各模块如何合成平时成绩：equal 每个子项目的百分制成绩同等计入（课程方案：各子项目成绩之和）；"
        "points 各模块得分直接相加，分值多的模块占比大")
    weights: Annotated[dict[str, float] | None, BeforeValidator(_weights)] = setting(
        None, en="each module's percentage weighted, e.g. { m01 = 2, m06 = 1 }; only the modules named count (over "
        "`combine`)", zh="各模块百分制成绩的权重，例如 { m01 = 2, m06 = 1 }；只计写到的模块（优先于 combine）")

    @classmethod
    def of(cls, course) -> "GradesSection":
        return course.settings.grades


class CompanySection(Section):
    """[company]: the term's company — each student's own, living through the term; the company-track modules
    hand it out at their days (docs/design.md "The company track")."""
    scenario: str = setting("education_services", en="the company's industry: a built-in scenario (education_services, "
                            "auto_dealer_4s, …) or a path", zh="公司所在行业：内置场景（education_services、auto_dealer_4s 等）"
                            "或文件路径")
    customers: int | None = setting(None, en="the company's customers at the start of the term (each student's "
                                    "company); default: the scenario's own", zh="学期开始时公司的客户数（每个学生一家公司）；"
                                    "默认用场景自己的", ge=1)
    days: int = setting(730, en="how many days the company lives (the last company-track module's day is before "
                        "it)", zh="公司存续的天数（最后一个公司线模块的日子在它之前）", ge=1)


class ModuleSection(Section):
    """[modules.<id>]: one module of the catalogue."""
    title_zh: str = setting(en="the module's title in Chinese", zh="模块名称（中文）")
    title_en: str = setting(en="the module's title in English", zh="模块名称（英文）")
    track: Literal["case", "company"] = setting(
        "case", en="\"company\": the module hands out the student's own company as of `day` (with what the student "
        "decided in the earlier company modules); \"case\": a case of its own (`scenario`, `customers`)",
        zh="company：发给学生的是他自己的公司在第 day 天的样子（带着他在前面公司线模块里的决策）；case：独立案例（scenario、customers）")
    day: int | None = setting(None, en="on the company track: the company's day the hand-out shows (days since the "
                              "company's start)", zh="公司线：发下去的数据是公司第几天的样子", ge=1)
    scenario: str | None = setting(None, en="a case module's scenario: a built-in one (scenarios/) or a path",
                                   zh="案例模块的场景：内置场景名（scenarios/）或文件路径")
    customers: int | None = setting(None, en="a case module's customers simulated for each student",
                                    zh="案例模块为每个学生模拟的客户数", ge=1)
    data_file: str = setting(en="the student's own database, next to the notebook", zh="学生自己的数据库（在笔记本旁边）")
    data_writable: bool = setting(False, en="operational: the student changes their CRM, so the grading sandbox "
                                  "leaves the data file and the action log writable",
                                  zh="操作型模块：学生会修改自己的 CRM，评分沙箱让数据文件和操作日志可写")
    due: Annotated[dt.datetime | None, BeforeValidator(_due)] = setting(
        None, en="due time with its time zone, e.g. 2026-12-20T23:59:00+08:00: submissions stamped later are "
        "graded as \"late\"", zh="截止时间（带时区），之后提交的标为迟交")
    tables: Annotated[tuple[str, ...] | None, BeforeValidator(_tables)] = setting(
        None, en="the tables of the student's database (each with the tables its keys point at); default: every table",
        zh="学生数据库里的表（连同外键指向的表）；默认全部")
    group_scene: str | None = setting(None, en="the CRM show: the role-play scene each group plays together "
                                      "(docs/design.md \"Group play\")", zh="表演秀：每组一起演的角色扮演场景")
    group_roles: list[str] | None = setting(None, en="the roles dealt round the group in roster order (default: the "
                                            "scene's)", zh="按名单顺序轮流分配的角色（默认：场景的角色）")
    group_silent_share: Share = setting(0.5, en="the share of the group's points a member who played no turn loses",
                                        zh="没有发言的组员失去的小组得分比例")

    @model_validator(mode="after")
    def _track(self):
        if self.track == "company":
            if self.day is None:
                raise ValueError("on the company track needs its day: day = N (the company's day the hand-out shows)")
            if self.scenario is not None or self.customers is not None:
                raise ValueError("is on the company track: its data is the course's [company]; leave scenario and "
                                 "customers out")
        else:
            if self.day is not None:
                raise ValueError("has a day but is a case module: add track = \"company\" or leave day out")
            missing = [k for k in ("scenario", "customers") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"is a case module: it needs {' and '.join(missing)} (or track = \"company\")")
        return self


class CourseSettings(Section):
    """A course's crmlab.toml."""
    course: CourseSection
    grading: GradingSection
    grades: GradesSection = GradesSection()
    company: CompanySection = CompanySection()
    modules: dict[str, ModuleSection] = {}

    @model_validator(mode="after")
    def _term(self):
        days: dict[int, str] = {}
        for mid, m in sorted(self.modules.items()):
            if m.track != "company":
                continue
            if m.day >= self.company.days:
                raise ValueError(f"modules.{mid}.day = {m.day} is not within the company's {self.company.days} days "
                                 f"([company] days)")
            if m.day in days:
                raise ValueError(f"modules.{mid}.day = {m.day} is modules.{days[m.day]}'s day too: each company module "
                                 f"has a day of its own (what one decides shows in the next)")
            days[m.day] = mid
        return self


SECTIONS = {"course": CourseSection, "grading": GradingSection, "grades": GradesSection, "company": CompanySection,
            "modules.<id>": ModuleSection}


def read(path: Path) -> CourseSettings:
    """The settings in ``path``, checked; :class:`SettingsError` names the file and the key."""
    import tomllib
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None
    return parse(data, path)


def parse(data: dict, path: Path | str = "crmlab.toml") -> CourseSettings:
    try:
        return CourseSettings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(f"{path}: {_said(exc.errors()[0])}") from None


def _said(e: dict) -> str:
    """One pydantic error as one line naming the key."""
    loc = [str(x) for x in e["loc"]]
    key = ".".join(loc)
    if e["type"] == "extra_forbidden":
        if len(loc) == 1:
            return f"unknown table [{key}] (the tables: {', '.join(f'[{s}]' for s in SECTIONS)}; docs/settings.md)"
        table = ".".join(loc[:-1])
        known = (ModuleSection if loc[0] == "modules" else SECTIONS.get(loc[0], CourseSettings)).model_fields
        return f"unknown setting '{key}' (the settings of [{table}]: {', '.join(known)}; docs/settings.md)"
    if e["type"] == "missing":
        return f"missing table [{key}]" if len(loc) == 1 else f"missing field '{key}'"
    if e["type"] in ("model_type", "dict_type"):
        return f"'{key}' = {e['input']!r}: should be a table ([{key}] with its settings under it)"
    if e["type"] == "value_error":
        return f"'{key}' {e['ctx']['error']}" if key else str(e["ctx"]["error"])
    return f"'{key}' = {e['input']!r}: {e['msg'].replace('Input should', 'should')}"


# -- the reference, generated ----------------------------------------------------------------------------
def _type(annotation) -> str:
    """A setting's type in the reference's words."""
    import types
    import typing
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _type(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a) for a in args if a is not type(None))
    if origin is Literal:
        return " or ".join(f'`"{a}"`' for a in args)
    if origin in (list, tuple):
        return f"list of {_type(args[0])}s"
    if origin is dict:
        return f"table of {_type(args[1])}s"
    return {str: "text", int: "whole number", float: "number", bool: "true or false",
            dt.datetime: "date and time"}[annotation]


def _default(field) -> str:
    if field.is_required():
        return "required · 必填"
    if field.default is None:
        return "—"
    if isinstance(field.default, str):
        return f'`"{field.default}"`'
    return f"`{field.default}`"


def reference() -> str:
    """docs/settings.md: every setting of crmlab.toml, from the declarations above."""
    out = ["# crmlab.toml: the settings of a course · 课程设置", "",
           "<!-- generated from grading/classroom/settings.py by `python -m crmlab.grading.classroom.settings --write`; "
           "tests/grading/classroom/test_settings.py fails when it is stale -->", "",
           "A course's settings live in its `crmlab.toml` (the shipped one: course/crmlab.toml). A key not listed "
           "here is refused, naming the key and the file.",
           "课程设置写在课程文件夹的 `crmlab.toml` 里（模板：course/crmlab.toml）。这里没有列出的键会被拒绝，并指出键名和文件。", ""]
    for name, model in SECTIONS.items():
        out += [f"## [{name}]", "", model.__doc__.split(": ", 1)[1], "",
                "| setting · 设置 | type · 类型 | default · 默认 | meaning · 含义 |", "|---|---|---|---|"]
        for key, field in model.model_fields.items():
            help_text = f"{field.description}<br>{field.json_schema_extra['zh']}".replace("|", "\\|")
            out.append(f"| `{key}` | {_type(field.annotation)} | {_default(field)} | {help_text} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        DOC.write_text(reference(), encoding="utf-8")
        print(f"written {DOC}")
    else:
        sys.stdout.write(reference())
