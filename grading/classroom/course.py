"""A course instance: the nbgrader course directory plus CRM-lab settings (crmlab.toml).

Layout (one function, :meth:`Course.path`, builds every path)::

    DIR/crmlab.toml            course settings and module catalogue
    DIR/nbgrader_config.py     nbgrader configuration, derived from crmlab.toml
    DIR/modules/<m>/           nbgrader source (what instructors edit)
    DIR/release/<m>/           nbgrader release version
    DIR/outbox/<s>/<m>/        one student's hand-out: released notebook + their own data
    DIR/submitted/<s>/<m>/     submissions, as nbgrader expects them
    DIR/autograded/<s>/<m>/    nbgrader autograde output
    DIR/gradebook.db           nbgrader gradebook (SQLite, WAL, busy timeout)
    DIR/.crmlab/               grader-private: data cache, ground truth, grading state
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import shutil
import sqlite3
import sys
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from crmlab import paths

if TYPE_CHECKING:
    from crmlab.grading.classroom.settings import CourseSettings, GradingSection

SHIPPED_COURSE = paths.COURSE
STEPS = ("modules", "release", "outbox", "submitted", "autograded", "feedback")
COURSE_ENV = "CRMLAB_COURSE"   # the course a command works on, when --course is not given and no course is here


class CourseError(RuntimeError):
    pass


def settings_text(course_id: str | None = None, locale: str | None = None, db_url: str | None = None,
                  exchange: str | None = None) -> str:
    """The shipped crmlab.toml with these settings written in as TOML (grading/classroom/tomledit.py), its comments kept."""
    from crmlab.grading.classroom.tomledit import set_value

    text = (SHIPPED_COURSE / "crmlab.toml").read_text(encoding="utf-8")
    for table, key, value in (("course", "id", course_id), ("course", "locale", locale),
                              ("course", "exchange", exchange),   # a multi-user hub: outside the course folder
                              ("grading", "db_url", db_url)):     # the gradebook on a database server
        if value:
            text = set_value(text, table, key, value)
    return text


_GRADEBOOKS_OK: dict[Path, bool] = {}
def find_course(start: Path) -> Path | None:
    """The course instance holding ``start`` (``start`` itself or the nearest folder above it with a
    crmlab.toml), as git finds its repository; None outside any course."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / "crmlab.toml").is_file():
            return folder
    return None


def ensure_env_on_path() -> None:
    """nbgrader runs `alembic` by name: put this environment's bin/ first on PATH."""
    # nbgrader 0.9.6 on SQLAlchemy 2.x warns on every session flush; grades are stored all the same
    warnings.filterwarnings("ignore", message=".*not in session.*")
    bindir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


@dataclass(frozen=True)
class Module:
    id: str
    title_zh: str
    title_en: str
    scenario: str
    customers: int
    data_file: str
    # an operational module: the student changes their CRM, so the grading sandbox binds the data file
    # and the console's action log writable (docs/design.md, "Operational modules")
    data_writable: bool = False
    due: dt.datetime | None = None   # submissions stamped later are 'late' (score kept, reason says by how much)
    # the tables of the student's database (None: all); each comes with the tables its keys point at, and the
    # others are neither written nor, where that saves time, built (simulator.simulate's ``tables``)
    tables: tuple[str, ...] | None = None
    # on the company track (docs/design.md "The company track"): the student's own company as of ``day``, whose
    # scenario and customers are the course's [company]; a case module has a scenario of its own
    track: str = "case"
    day: int | None = None

    @property
    def on_company_track(self) -> bool:
        return self.track == "company"

    @property
    def writable_files(self) -> list[str]:
        """Files of the working copy the student's kernel may change at grading (none by default)."""
        from crmlab.crm.actions import LOG_NAME

        return [self.data_file, LOG_NAME] if self.data_writable else []


@dataclass(frozen=True)
class Course:
    root: Path

    @classmethod
    def open(cls, root: str | Path, how: str = "") -> "Course":
        """The course instance in ``root`` (``how``: where that folder came from, for the message)."""
        root = Path(root).expanduser().resolve()
        if not (root / "crmlab.toml").exists():
            outer = find_course(root.parent)
            given = f"{root}{f' ({how})' if how else ''}"
            if outer is not None:
                raise CourseError(f"{given} is a folder inside the course instance {outer}, not a course itself: "
                                  f"use --course {outer}, or leave --course out while you are inside it")
            if not root.is_dir():
                raise CourseError(f"{given}: no such folder; create a course there with `crmlab course init {root}`")
            raise CourseError(f"{given} is not a course instance (no crmlab.toml); create one with "
                              f"`crmlab course init {root}`")
        return cls(root)

    @classmethod
    def locate(cls, given: str | Path | None = None) -> "Course":
        """The course a command works on: ``given`` (``--course``); else the course folder the current
        folder is in (or below); else the environment variable ``CRMLAB_COURSE``."""
        if given:
            return cls.open(given, "--course")
        here = find_course(Path.cwd())
        if here is not None:
            return cls(here)
        env = os.environ.get(COURSE_ENV)
        if env:
            return cls.open(env, f"from {COURSE_ENV}")
        raise CourseError(f"which course? {Path.cwd()} is not inside a course instance: give --course DIR, run crmlab "
                          f"in the course's folder, or set {COURSE_ENV}=DIR (a new course: crmlab course init DIR)")

    @classmethod
    def init(cls, root: str | Path, course_id: str | None = None, locale: str | None = None,
             db_url: str | None = None, secret: str | None = None, exchange: str | Path | None = None) -> "Course":
        """Create a course instance from the shipped course (settings, nbgrader config, modules)."""
        root = Path(root).expanduser().resolve()
        if (root / "crmlab.toml").exists():
            raise CourseError(f"{root} already holds a course instance")
        outer = find_course(root.parent)
        if outer is not None:
            raise CourseError(f"{root} is inside the course instance {outer}: a course cannot hold another one; "
                              "choose a folder outside it")
        made = not root.exists()
        root.mkdir(parents=True, exist_ok=True)
        if made:   # the course is the instructor's: on a multi-user server no student may look in
            root.chmod(0o700)
        shutil.copytree(SHIPPED_COURSE / "modules", root / "modules", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        shutil.copy2(SHIPPED_COURSE / "nbgrader_config.py", root / "nbgrader_config.py")
        # the grader's checks of handed-in answers (grading/run/verify.py): the instructor's copy to edit
        shutil.copytree(SHIPPED_COURSE / "checks", root / "checks", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        (root / "crmlab.toml").write_text(settings_text(course_id=course_id, locale=locale, db_url=db_url,
                                                        exchange=str(Path(exchange).resolve()) if exchange else None),
                                          encoding="utf-8")
        course = cls(root)
        course.module_ids  # noqa: B018 - read the settings now: a bad file fails here, not at grading
        if secret is not None:   # given (reproducible tests, a course moved between machines)
            course.private.mkdir(parents=True, exist_ok=True)
            (course.private / "secret").write_text(secret + "\n", encoding="utf-8")
            (course.private / "secret").chmod(0o600)
        course.secret  # noqa: B018 - made now, before any student data exists
        course.create_gradebook()
        course.close_private_parts()
        return course

    def close_private_parts(self) -> None:
        """What no student may read, even where the course folder is open to others: the sources (with the
        solutions), the grader's checks, the submissions, the grading state and ground truth, the gradebook."""
        for name in ("modules", "checks", "submitted", "autograded", "feedback", ".crmlab"):
            (self.root / name).mkdir(exist_ok=True)
            (self.root / name).chmod(0o700)
        for name in ("gradebook.db", "gradebook.db-wal", "gradebook.db-shm"):
            if (self.root / name).exists():
                (self.root / name).chmod(0o600)

    # -- settings -----------------------------------------------------------------------------
    @cached_property
    def settings(self) -> "CourseSettings":
        """crmlab.toml, checked all at once (grading/classroom/settings.py declares every setting)."""
        from crmlab.grading.classroom.settings import read
        return read(self.root / "crmlab.toml")

    @property
    def course_id(self) -> str:
        return self.settings.course.id

    @property
    def locale(self) -> str:
        return self.settings.course.locale

    @cached_property
    def timezone(self) -> dt.tzinfo:
        """The course's local time (``[course] timezone``, an IANA name checked when the file is read): every
        time a person reads — feedback's "as of", reports — is shown in it."""
        from zoneinfo import ZoneInfo
        return ZoneInfo(self.settings.course.timezone)

    def now(self) -> dt.datetime:
        """The time now, in the course's time zone."""
        return dt.datetime.now(self.timezone)

    @property
    def grading(self) -> "GradingSection":
        return self.settings.grading

    def module(self, module_id: str) -> Module:
        try:
            m = self.settings.modules[module_id]
        except KeyError:
            known = ", ".join(sorted(self.settings.modules))
            raise CourseError(f"unknown module '{module_id}' (this course has: {known})") from None
        if m.tables is not None:   # checked here, not when the file is read: the dictionary costs ≈0.4 s to import
            from crmlab.simulator.dictionary import tables as schema_tables
            known = [t.name for t in schema_tables()]
            unknown = [t for t in m.tables if t not in known]
            if unknown:
                raise CourseError(f"{self.root / 'crmlab.toml'}: 'modules.{module_id}.tables' names unknown tables "
                                  f"{', '.join(unknown)} (the database's tables: {', '.join(known)})")
        company = self.settings.company
        scenario, customers = (company.scenario, company.customers) if m.track == "company" else (m.scenario, m.customers)
        return Module(module_id, m.title_zh, m.title_en, scenario, customers, m.data_file, m.data_writable, m.due,
                      m.tables, m.track, m.day)

    @property
    def company_modules(self) -> list[str]:
        """The modules on the company track, in the order of their days (the term's order)."""
        mods = self.settings.modules
        return sorted((k for k, m in mods.items() if m.track == "company"), key=lambda k: mods[k].day)

    @property
    def module_ids(self) -> list[str]:
        return sorted(self.settings.modules)

    # -- paths ----------------------------------------------------------------------------------
    def path(self, step: str, student: str | None = None, module: str | None = None) -> Path:
        """``{step}/{module}`` for course-wide steps, ``{step}/{student}/{module}`` per student."""
        if step not in STEPS:
            raise ValueError(f"unknown step {step!r}")
        parts = [self.root, step] + ([student] if student else []) + ([module] if module else [])
        return Path(*parts)

    @property
    def private(self) -> Path:
        """Grader-private files: never inside a student's folder."""
        return self.root / ".crmlab"

    @cached_property
    def secret(self) -> str:
        """The course's own secret, mixed into every per-student seed (``.crmlab/secret``, made at the
        first need). A course that built student data before secrets existed keeps an empty one, so
        its students' data does not change mid-term."""
        path = self.private / "secret"
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        data = self.private / "data"
        if data.is_dir() and any(data.iterdir()):
            return ""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"secret.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_hex(16) + "\n")
        try:
            os.link(tmp, path)   # the first one wins; a concurrent maker reads the winner's
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return path.read_text(encoding="utf-8").strip()

    @property
    def gradebook_path(self) -> Path:
        return self.root / "gradebook.db"

    @property
    def db_url(self) -> str:
        """The gradebook: ``[grading] db_url`` in crmlab.toml (any SQLAlchemy URL, e.g. a department's
        PostgreSQL), else the SQLite file of the course instance — with a busy timeout, so that
        parallel workers wait for the lock instead of aborting the run."""
        return self.grading.db_url or f"sqlite:///{self.gradebook_path}?timeout=60"

    @property
    def sqlite_gradebook(self) -> bool:
        return self.db_url.startswith("sqlite:")

    # -- gradebook and roster -----------------------------------------------------------------
    def create_gradebook(self) -> None:
        with self.gradebook():  # nbgrader creates its tables on first open
            pass
        if self.sqlite_gradebook:
            with sqlite3.connect(self.gradebook_path) as con:  # WAL: readers never block the writer
                con.execute("PRAGMA journal_mode=WAL")

    def gradebook(self):
        ensure_env_on_path()
        self.check_gradebook()
        from nbgrader.api import Gradebook
        return Gradebook(self.db_url, self.course_id)

    def check_gradebook(self) -> None:
        """A damaged SQLite gradebook is said in one line naming the file, not as a traceback from deep in
        nbgrader (checked once per process)."""
        if not self.sqlite_gradebook or not self.gradebook_path.exists() or _GRADEBOOKS_OK.get(self.root):
            return
        try:
            with contextlib.closing(sqlite3.connect(f"file:{self.gradebook_path}?mode=ro", uri=True, timeout=60)) as c:
                c.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise CourseError(f"the gradebook {self.gradebook_path} is damaged ({exc}): put back a copy from a backup; "
                              "the grading state in .crmlab/state.db still says who was graded") from None
        _GRADEBOOKS_OK[self.root] = True

    def add_students(self, students: list[dict]) -> tuple[list[str], list[str]]:
        """Add or update roster entries (dicts with id, first_name, last_name, email), in one transaction;
        the ids (added, updated). Written with SQL (grading/classroom/gradebook.py): importing nbgrader costs ≈3 s."""
        from crmlab.grading.classroom import gradebook
        if self.sqlite_gradebook and not self.gradebook_path.exists():
            self.create_gradebook()
        with gradebook.opened(self, write=True) as gb:
            return gradebook.save_students(gb, students)

    def students(self) -> list[str]:
        """The roster, read straight from the gradebook: importing nbgrader costs ≈3 s, and the
        coordinator of a grading run needs nothing else from it."""
        if not self.sqlite_gradebook:
            from sqlalchemy import create_engine, text
            engine = create_engine(self.db_url)
            try:
                with engine.connect() as con:
                    return sorted(r[0] for r in con.execute(text("SELECT id FROM student")))
            finally:
                engine.dispose()
        if not self.gradebook_path.exists():
            return []
        self.check_gradebook()
        with contextlib.closing(sqlite3.connect(f"file:{self.gradebook_path}?mode=ro", uri=True, timeout=60)) as con:
            return sorted(r[0] for r in con.execute("SELECT id FROM student"))

    def submitted_students(self, module: str) -> list[str]:
        """Students with a folder ``submitted/<student>/<module>`` (a plain folder, not a link), by valid
        student id: a folder of any other name is not a student's."""
        from crmlab.grading.classroom.data import STUDENT_ID

        base = self.path("submitted")
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if STUDENT_ID.match(p.name) and not p.is_symlink()
                      and (p / module).is_dir() and not (p / module).is_symlink())
