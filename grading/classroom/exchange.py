"""The course's nbgrader exchange, with each student's own data delivered through it.

Over 400 lines, one file: the five steps plugged into nbgrader's ``ExchangeFactory`` (personal release,
fetch, collect, feedback release, the students' configuration) share one layout of the exchange, written below.

nbgrader's exchange hands out *one* release for everybody (``outbound/<module>/``) and takes
submissions in (``inbound/``). A CRM-lab module also needs *each student's own* ``crm.db``. We keep
nbgrader's exchange and plug two classes into its ``ExchangeFactory``:

- :class:`PersonalReleaseAssignment` (instructor side): after the common release it fills a
  per-student area, ``personal/<student>/<module>/``, with every roster student's database (the
  grader's cached copy, the same one grading regenerates);
- :class:`PersonalFetchAssignment` (student side): after fetching the common release it adds the
  files of *the fetching student's* personal area, and refuses to fetch when there is none
  ("ask your instructor") rather than hand out a module without data;
- :class:`PersonalReleaseFeedback` (instructor side): releases *our* feedback page of each student
  (``feedback/<student>/<module>/index.html``, grading/outputs/feedback.py) where nbgrader's own "Fetch
  Feedback" looks for it. The student side stays nbgrader's.

How a student finds their feedback, and nobody else's: at submit nbgrader writes a random
``submission_secret.txt`` (128 hex digits) into the submission and into the student's own cache;
collect brings it to ``submitted/<student>/<module>/``. The released page is named
``md5(secret + notebook id).html`` in ``feedback/``, a folder others may enter but not list (0711).
``fetch_feedback`` computes the names from the secrets in the fetching student's *own* cache, so it
finds their pages only, whatever student id they put into their config.

Layout, under the course instance (``DIR/exchange``, :func:`exchange_root`)::

    exchange/<course_id>/outbound/<module>/              nbgrader: the common release
    exchange/<course_id>/inbound/<student>+<module>+…    nbgrader: submissions
    exchange/<course_id>/personal/<student>/<module>/    ours: that student's crm.db
    exchange/<course_id>/feedback/<hash>.html            nbgrader's place; our pages (PersonalReleaseFeedback)

Who is fetching: nbgrader's ``CourseDirectory.student_id`` when it is set (``crmlab lab --user``
writes it into the student's own nbgrader config, so several students can share one machine for a
demo or a test), else the operating-system user, as nbgrader does for a submission.

On one machine every student's server runs as the same OS user, so the separation is by
configuration only. On a multi-user JupyterHub each student's server runs as their own user and the
file system enforces it: ``personal/`` is mode 0711 (enter, not list), and each
``personal/<student>/`` is owned by that student (or readable to them alone through an ACL) with mode
0700 — a student who sets somebody else's id in their config is refused by the kernel's permission
check, not by our code. See docs/guide-instructor.md, "Many users".
"""
from __future__ import annotations

import datetime as dt
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.fetch_assignment import ExchangeFetchAssignment
from nbgrader.exchange.default.release_assignment import ExchangeReleaseAssignment
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.utils import get_username, notebook_hash, parse_utc
from traitlets import Bool, List, Unicode

from crmlab.grading.classroom.reasons import printable

PERSONAL = "personal"
SECRET = "submission_secret.txt"   # nbgrader's, written at submit


def exchange_root(course) -> Path:
    """The course's exchange directory: ``[course] exchange`` in crmlab.toml (on a multi-user hub, a
    folder every user can write, outside the instructor's course folder), else inside the course
    instance, so that one folder holds a class."""
    return Path(course.settings.course.exchange or course.root / "exchange")


def personal_path(exchange: str | Path, course_id: str, student: str, module: str) -> Path:
    """Where one student's own files for one module wait to be fetched."""
    return Path(exchange, course_id, PERSONAL, student, module)


def configure_exchange(c, course) -> None:
    """The instructor's side of the exchange, for the course's nbgrader config."""
    c.Exchange.root = str(exchange_root(course))
    c.ExchangeFactory.release_assignment = "crmlab.grading.classroom.exchange.PersonalReleaseAssignment"
    c.ExchangeFactory.fetch_assignment = "crmlab.grading.classroom.exchange.PersonalFetchAssignment"
    c.ExchangeFactory.release_feedback = "crmlab.grading.classroom.exchange.PersonalReleaseFeedback"
    c.ExchangeFactory.collect = "crmlab.grading.classroom.exchange.SafeCollect"


def student_config(course, student: str | None) -> str:
    """A student's own ``nbgrader_config.py``: the course, the exchange and who they are — nothing
    of the instructor's (no course root, no gradebook), and nothing to import but nbgrader. Without
    ``student`` (every student of a hub) nbgrader takes the OS user name as the student id."""
    return (
        "# nbgrader configuration of " + ("one student (written by `crmlab lab --user`; rewritten at each start)\n"
                                          if student else "every student (written by `crmlab student-config`)\n")
        + "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {course.course_id!r}\n"
        + (f"c.CourseDirectory.student_id = {student!r}\n" if student else "")
        + f"c.Exchange.root = {str(exchange_root(course))!r}\n"
        "c.ExchangeFactory.fetch_assignment = 'crmlab.grading.classroom.exchange.PersonalFetchAssignment'\n"
    )


def _valid_student(student: str) -> bool:
    from crmlab.grading.classroom.data import STUDENT_ID
    return bool(STUDENT_ID.match(student))


def _os_user(student: str) -> bool:
    try:
        pwd.getpwnam(student)
        return True
    except KeyError:
        return False


class PersonalReleaseAssignment(ExchangeReleaseAssignment):
    """nbgrader's release, then each student's own data into ``personal/<student>/<module>/``.

    Also what the formgrader's "Release" button runs, so releasing from the lab hands out data too."""

    students = List(Unicode(), help="students whose data to place (default: the whole roster)").tag(config=True)
    grant_os_users = Bool(True, help="give each personal folder to the OS user of the same name, where one "
                                     "exists (a multi-user hub): chown as root, else a read ACL (setfacl)").tag(config=True)

    def copy_files(self):
        super().copy_files()
        from crmlab.grading.classroom.course import Course
        from crmlab.grading.classroom.data import place_student_data

        course = Course.open(self.coursedir.root)
        module = self.coursedir.assignment_id
        base = Path(self.root, self.coursedir.course_id, PERSONAL)
        base.mkdir(exist_ok=True)
        os.chmod(base, 0o711)   # students may enter their own folder but not list the others
        students = list(self.students) or course.students()
        for student in students:
            dest = personal_path(self.root, self.coursedir.course_id, student, module)
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            # one inode with the student's outbox hand-out (grading/classroom/data.py), unless the folder is about to be
            # given to the student's OS user: then it is a copy, so the outbox file never becomes theirs
            given = self.grant_os_users and os.geteuid() == 0 and _os_user(student)
            outbox = course.path("outbox", student, module) / course.module(module).data_file
            place_student_data(course, module, student, dest, share_with=None if given else outbox)
            for path in (dest, dest.parent):
                os.chmod(path, 0o700)
            if self.grant_os_users:
                self.grant(student, dest.parent)
        self.log.info("Personal data placed for %d students: %s", len(students), base)

    def grant(self, student: str, folder: Path) -> None:
        """On a hub each student is an OS user: only they (and the instructor) may read their folder."""
        try:
            user = pwd.getpwnam(student)
        except KeyError:
            return   # one machine, students played by configuration: nothing to give
        if os.geteuid() == 0:
            for path in [folder, *folder.rglob("*")]:
                os.chown(path, user.pw_uid, -1)
        elif shutil.which("setfacl"):   # an owner may set ACLs on their own files: no root needed
            subprocess.run(["setfacl", "-R", "-m", f"u:{student}:rX", str(folder)], check=True)
        else:
            self.log.warning("%s cannot read their folder %s: run as root or install setfacl (Debian: acl)",
                             student, folder)


class PersonalFetchAssignment(ExchangeFetchAssignment):
    """nbgrader's fetch, then the fetching student's own files from their personal area."""

    def student(self) -> str:
        sid = self.coursedir.student_id
        return sid if sid and sid != "*" else get_username()

    def init_src(self):
        super().init_src()
        student = self.student()
        if not _valid_student(student):
            self.fail(f"invalid student id {student!r}")
        self.personal_path = personal_path(self.root, self.coursedir.course_id, student,
                                           self.coursedir.assignment_id)
        if not self.personal_path.is_dir():
            self.fail(f"没有找到你在 {self.coursedir.assignment_id} 的个人数据，请联系教师 / "
                      f"no personal data of {student} for {self.coursedir.assignment_id}: "
                      "ask your instructor (are you on the roster?)")

    def copy_files(self):
        super().copy_files()
        for src in sorted(self.personal_path.iterdir()):
            dest = Path(self.dest_path, src.name)
            # a second fetch only restores missing files, like nbgrader's: a student's work is never overwritten
            if src.is_file() and not dest.exists():
                shutil.copyfile(src, dest)
                self.log.info("Fetched your own %s", src.name)


class PersonalReleaseFeedback(ExchangeReleaseFeedback):
    """nbgrader's release of feedback, with our page instead of nbgrader's generated one.

    For every student with a page ``feedback/<student>/<module>/index.html`` and a collected
    submission (its ``submission_secret.txt``), the page goes to ``<exchange>/<course>/feedback/``
    under the name nbgrader's fetch computes for each notebook of that submission. A page generated
    by nbgrader's ``generate_feedback`` (``<notebook>.html`` beside ours, which shows the graded
    notebook) is never released. Also what the formgrader's "Release Feedback" runs."""

    def copy_files(self):
        module = self.coursedir.assignment_id
        exclude = set(filter(None, (self.coursedir.student_id_exclude or "").split(",")))
        wanted = self.coursedir.student_id
        base = Path(self.coursedir.root, self.coursedir.feedback_directory)
        students = [wanted] if wanted and wanted != "*" else sorted(
            page.parent.parent.name for page in base.glob(f"*/{module}/index.html"))
        for student in students:
            page = Path(self.coursedir.format_path(self.coursedir.feedback_directory, student, module), "index.html")
            submitted = Path(self.coursedir.format_path(self.coursedir.submitted_directory, student, module))
            if student in exclude or unreleasable(page, submitted):
                continue
            key = _secret(submitted)
            for notebook in sorted(submitted.glob("*.ipynb")):
                dest = Path(self.dest_path, notebook_hash(secret=key, notebook_id=notebook.stem) + ".html")
                tmp = dest.with_name(dest.stem + "-tmp.html")
                shutil.copyfile(page, tmp)
                os.chmod(tmp, 0o644)    # readable by the student who can name it; the folder lists nothing
                os.replace(tmp, dest)
            self.log.info("Released feedback of %s on %s", student, module)


def _secret(submitted: Path) -> str | None:
    """The secret nbgrader wrote at submit, read as a student's file is read (no link, bounded)."""
    from crmlab.grading.classroom.intake import read_file

    data = read_file(submitted.parent.parent, (submitted.parent.name, submitted.name), SECRET, limit_mb=0.01)
    return data.decode("utf-8", "replace") if data else None


def unreleasable(page: Path, submitted: Path) -> str | None:
    """Why a student's feedback page cannot go through the exchange (None: it can)."""
    if not page.is_file():
        return "no feedback page"
    if not _secret(submitted):   # never submitted, or handed in outside the exchange
        return "no submission collected from the exchange"
    return None


class SafeCollect(ExchangeCollect):
    """nbgrader's collect, taking from the exchange only what may be taken (grading/classroom/intake.py).

    nbgrader's own collect copies a student's inbound folder with ``shutil.copytree`` as the grader —
    often root — following every link in it (a link to the course secret arrives as its content), and
    stops the whole collect on one folder name it cannot parse. Here:

    - a folder name that is not ``<student id>+<module>+<time stamp>[+<random>]`` with a valid student id
      is skipped and reported, the others are collected;
    - on a multi-user hub, a folder that claims to be a student's must belong to that student's OS user
      (or to the instructor): one student cannot hand in as another;
    - only regular files are taken, bounded in number and size, no link followed; what was left out is
      recorded for the student's status (``.crmlab/collect/<module>/<student>.json``);
    - on a hub, a time stamp earlier than the last change of the submission's files (which the student
      cannot set back) is replaced by that change time, and said."""

    def init_src(self):
        from crmlab.grading.classroom.data import STUDENT_ID

        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        module, wanted = self.coursedir.assignment_id, self.coursedir.student_id or None
        newest: dict[str, dict] = {}
        refused = []
        for name in sorted(os.listdir(self.inbound_path)):
            parts = name.rsplit("+", 3)
            if len(parts) < 3 or parts[1] != module:
                continue
            student = parts[0]
            if wanted not in (None, "*") and student != wanted:
                continue
            try:
                stamp = parse_utc(parts[2])
            except (ValueError, OverflowError):
                refused.append((printable(name), "its time stamp cannot be read"))
                continue
            if not STUDENT_ID.match(student):
                refused.append((printable(name), "the name holds no valid student id"))
                continue
            why = self.foreign(name, student)
            if why:
                refused.append((printable(name), why))
                continue
            record = {"username": student, "filename": name, "timestamp": stamp}
            if student not in newest or stamp > newest[student]["timestamp"]:
                newest[student] = record
        self.src_records = list(newest.values())
        import json

        record = Path(self.coursedir.root, ".crmlab", "collect", module, REFUSED)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(refused, ensure_ascii=False), encoding="utf-8")

    def foreign(self, name: str, student: str) -> str | None:
        """Why the folder ``name`` cannot be the student's own submission, or None."""
        st = os.lstat(os.path.join(self.inbound_path, name))
        if not stat.S_ISDIR(st.st_mode):
            return "not a folder (a link or a file)"
        try:
            account = pwd.getpwnam(student)
        except KeyError:
            return None   # one machine, students played by configuration: ownership cannot tell
        if st.st_uid not in (account.pw_uid, os.geteuid()):
            try:
                owner = pwd.getpwuid(st.st_uid).pw_name
            except KeyError:
                owner = str(st.st_uid)
            return f"it claims to be {student}'s but belongs to {owner}"
        return None

    def do_copy(self, src, dest, log=None):
        from crmlab.grading.classroom.course import Course
        from crmlab.grading.classroom.intake import Limits, take
        from crmlab.grading.classroom.reasons import Reason, dumps

        course = Course.open(self.coursedir.root)
        module = self.coursedir.assignment_id
        student = Path(dest).parent.name
        tmp = Path(dest).with_name(f".{Path(dest).name}.collecting")
        shutil.rmtree(tmp, ignore_errors=True)
        from crmlab.grading.classroom.intake import reserved_names

        got = take(Path(self.inbound_path), (Path(src).name,), tmp, Limits.of(course.grading),
                   reserved_names(course.module(module).data_file))
        notes = got.reasons()
        st = os.lstat(src)
        try:
            own = pwd.getpwnam(student).pw_uid == st.st_uid
        except KeyError:
            own = False
        if own and got.latest_change:   # a hub: the student's own files, whose change times they cannot set back
            stamp_file = tmp / "timestamp.txt"
            try:
                claimed = parse_utc(stamp_file.read_text(encoding="utf-8").strip())
            except (OSError, ValueError, OverflowError):
                claimed = None
            changed = dt.datetime.fromtimestamp(got.latest_change, dt.timezone.utc).replace(tzinfo=None)
            if claimed is not None and (changed - claimed).total_seconds() > BACKDATE_SLACK:
                stamp_file.write_text(changed.strftime("%Y-%m-%d %H:%M:%S.%f UTC"), encoding="utf-8")
                notes.append(Reason("backdated", {"claimed": f"{claimed:%Y-%m-%d %H:%M} UTC",
                                                  "changed": f"{changed:%Y-%m-%d %H:%M} UTC"}))
        if Path(dest).exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
        record = course.private / "collect" / module / f"{student}.json"
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(dumps(notes), encoding="utf-8")


REFUSED = "_refused.json"   # beside the students' records in .crmlab/collect/<module>/
BACKDATE_SLACK = 300   # seconds between a submission's stamp and the last change of its files that pass unremarked


# -- the instructor's steps -------------------------------------------------------------------------
def release(course, module: str, students: list[str] | None = None) -> Path:
    """nbgrader release_assignment to the course's exchange (replacing an earlier release), with
    each student's data in their personal area. Returns the common release folder in the exchange."""
    from traitlets.config import Config

    from crmlab.grading.classroom.nbgrader_api import check, nbgrader_api

    overrides = Config()
    overrides.ExchangeReleaseAssignment.force = True
    if students:
        overrides.PersonalReleaseAssignment.students = list(students)
    check(nbgrader_api(course, overrides).release_assignment(module), "release_assignment")
    return exchange_root(course) / course.course_id / "outbound" / module


def _timestamps(course, module: str) -> dict[str, str]:
    from crmlab.grading.classroom.intake import read_file

    out = {}
    for student in course.submitted_students(module):
        stamp = read_file(course.path("submitted"), (student, module), "timestamp.txt", limit_mb=0.01)
        out[student] = stamp.decode("utf-8", "replace").strip() if stamp else ""
    return out


def collect(course, module: str) -> dict[str, list[str]]:
    """nbgrader collect: each student's newest submission from the exchange into
    ``submitted/<student>/<module>/`` (a newer one replaces the one collected before).

    Returns the students by what happened: ``new``, ``updated``, ``unchanged``, ``not_on_roster``
    (collected, but nobody of that id is on the roster: check the roster before grading), and ``refused``:
    inbound folders not collected, each with why (grading/classroom/exchange.py :class:`SafeCollect`)."""
    from crmlab.grading.classroom.locks import course_lock
    from crmlab.grading.classroom.course import CourseError
    from crmlab.grading.classroom.nbgrader_api import check, nbgrader_api

    course.module(module)
    released = exchange_root(course) / course.course_id / "outbound" / module
    if not released.is_dir() and not inbound(course, module):
        raise CourseError(f"{module} has not been assigned in this course (nothing released to the exchange, no "
                          f"submission in it): assign it first with `crmlab assign {module}`")
    with course_lock(course, f"crmlab collect {module}"):
        before = _timestamps(course, module)
        check(nbgrader_api(course).collect(module, update=True), "collect")
        after = _timestamps(course, module)
    roster = set(course.students())
    refused = _refused_at_collect(course, module)
    return {
        "new": sorted(s for s in after if s not in before),
        "updated": sorted(s for s in after if s in before and after[s] != before[s]),
        "unchanged": sorted(s for s in after if s in before and after[s] == before[s]),
        "not_on_roster": sorted(s for s in after if s not in roster),
        "refused": refused,
    }


def _refused_at_collect(course, module: str) -> list[str]:
    """What SafeCollect refused in its last run for ``module`` (it runs inside nbgrader's API, so it says
    so in a file)."""
    import json

    path = Path(course.private, "collect", module, REFUSED)
    try:
        return [f"{name}: {why}" for name, why in json.loads(path.read_text(encoding="utf-8"))]
    except (OSError, ValueError):
        return []


def _stamp(text: str) -> str:
    """nbgrader's timestamp ("2026-06-30 10:00:00.123456 UTC") in a form that sorts by time."""
    import datetime as dt
    try:
        return dt.datetime.fromisoformat(text.strip().removesuffix(" UTC")).isoformat()
    except ValueError:
        return text.strip()


def inbound(course, module: str) -> dict[str, str]:
    """student → the timestamp of their newest submission of ``module`` in the exchange's inbound folder
    (``<student>+<module>+<timestamp>[+<random>]``, as nbgrader's submit names it)."""
    folder = exchange_root(course) / course.course_id / "inbound"
    newest: dict[str, str] = {}
    if not folder.is_dir():
        return newest
    for path in folder.glob(f"*+{module}+*"):
        parts = path.name.rsplit("+", 3) if path.name.count("+") >= 3 else path.name.split("+", 2)
        if len(parts) < 3 or parts[1] != module:
            continue
        stamp = _stamp(parts[2])
        if stamp > newest.get(parts[0], ""):
            newest[parts[0]] = stamp
    return newest


def waiting(course, module: str) -> list[str]:
    """The students whose newest submission of ``module`` waits in the exchange, not collected yet (none
    collected, or an older one): what `crmlab collect` would bring in."""
    collected = {s: _stamp(t) for s, t in _timestamps(course, module).items()}
    return sorted(s for s, stamp in inbound(course, module).items() if stamp > collected.get(s, ""))
