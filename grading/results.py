"""Everything known about a class's results, read once: the one source of exports, feedback,
class reports and course grades.

Status and reason come from the grading state (``.crmlab/state.db``), scores and manual grades
from nbgrader's gradebook, each checkpoint's verdict from the state's ``checks`` table, the
checkpoints' titles from the module's source notebook. A score exists only where the grader
produced one: a submission that could not be graded has ``total = None``, and so has a cell that
waits for the instructor; never a 0 that nobody gave.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from . import reasons as reason_codes
from .course import Course
from .state import StateStore

HEADING = re.compile(r"^#+\s*(.+?)\s*$", re.M)
POINTS_SUFFIX = re.compile(r"\s*[(（][^()（）]*(?:points?|分)[^()（）]*[)）]\s*$", re.I)


def roster_key(student: str) -> tuple:
    """Roster order: by student id, digits compared as numbers (s2 before s10)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", student) if p)


@dataclass(frozen=True)
class Student:
    id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""

    @property
    def name(self) -> str:
        """The name as a Chinese class list writes it (family name first, no space); a Latin name
        keeps the space."""
        if self.last_name and self.first_name and (self.last_name + self.first_name).isascii():
            return f"{self.first_name} {self.last_name}"
        return f"{self.last_name}{self.first_name}"


@dataclass(frozen=True)
class Cell:
    """A graded cell of a module: a checkpoint the grader checks, or a manually graded answer."""
    name: str
    max_score: float
    manual: bool          # graded by the instructor in the formgrader (markdown answers)
    title: str            # the task's heading in the notebook, both languages, without the points


@dataclass
class Verdict:
    points: float
    max_points: float
    status: str           # right, partly, wrong, no_answer
    message: str


@dataclass
class Result:
    module: str
    student: str
    status: str           # a state.STATUSES, or pending (submitted, not graded yet)
    reason: str           # in English (scripts, old grading states)
    seconds: float | None = None
    total: float | None = None
    max_total: float | None = None
    needs_manual_grade: bool | None = None
    scores: dict[str, float | None] = field(default_factory=dict)    # cell → score (None: not graded)
    manual: dict[str, float] = field(default_factory=dict)           # cell → score the instructor gave
    comments: dict[str, str] = field(default_factory=dict)           # cell → the instructor's comment
    verdicts: dict[str, Verdict] = field(default_factory=dict)       # checkpoint → the grader's verdict
    reasons: list = field(default_factory=list)                       # the reason as codes (grading/reasons.py)

    @property
    def has_score(self) -> bool:
        return self.total is not None

    def reason_in(self, lang: str) -> str:
        """The reason in ``lang``; a state written before reason codes has it in English only."""
        return reason_codes.render(self.reasons, lang) if self.reasons else self.reason


@dataclass
class ModuleInfo:
    id: str
    title_zh: str
    title_en: str
    cells: list[Cell]

    @property
    def max_total(self) -> float:
        return sum(c.max_score for c in self.cells)


@dataclass
class ClassResults:
    course_id: str
    students: list[Student]                       # roster order
    modules: list[ModuleInfo]                     # modules assigned so far (in the gradebook)
    results: dict[tuple[str, str], Result]        # (module, student) → result

    def module(self, module_id: str) -> ModuleInfo:
        for m in self.modules:
            if m.id == module_id:
                return m
        known = ", ".join(m.id for m in self.modules) or "none"
        from .course import CourseError
        raise CourseError(f"module {module_id} has not been assigned in this course (assigned: {known})")

    def of(self, module_id: str) -> list[Result]:
        return [self.results[(module_id, s.id)] for s in self.students]


def cell_titles(course: Course, module: str) -> dict[str, str]:
    """grade id → the heading of the task it belongs to (the nearest heading above it)."""
    path = course.path("modules", module=module) / f"{module}.ipynb"
    if not path.exists():
        return {}
    titles, current = {}, ""
    for c in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
        text = "".join(c.get("source", ""))
        if c.get("cell_type") == "markdown":
            m = HEADING.search(text)
            if m:
                current = POINTS_SUFFIX.sub("", m.group(1))
        gid = c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid and c.get("metadata", {}).get("nbgrader", {}).get("grade"):
            titles[gid] = current
    return titles


def load(course: Course) -> ClassResults:
    state = StateStore(course.private / "state.db")
    try:
        outcomes = {(o.module, o.student): o for o in state.all()}
        verdicts = {}
        for module, student, check, points, max_points, status, message in state.con.execute(
                "SELECT module, student, checkpoint, points, max_points, status, message FROM checks"):
            verdicts.setdefault((module, student), {})[check] = Verdict(points, max_points, status, message)
    finally:
        state.close()
    with course.gradebook() as gb:
        people = {s.id: Student(s.id, s.first_name or "", s.last_name or "", s.email or "") for s in gb.students}
        for _, s in outcomes:
            people.setdefault(s, Student(s))
        students = sorted(people.values(), key=lambda p: roster_key(p.id))
        modules = []
        for a in sorted(gb.assignments, key=lambda a: a.name):
            titles = cell_titles(course, a.name)
            try:
                m = course.module(a.name)
                title_zh, title_en = m.title_zh, m.title_en
            except Exception:   # an assignment made outside crmlab: no catalogue entry
                title_zh = title_en = a.name
            cells = [Cell(g.name, float(g.max_score), g.cell_type == "markdown", titles.get(g.name, g.name))
                     for nb in a.notebooks for g in nb.grade_cells]
            modules.append(ModuleInfo(a.name, title_zh, title_en, cells))
        results = {}
        for m in modules:
            for s in students:
                results[(m.id, s.id)] = _result(course, gb, m, s.id, outcomes.get((m.id, s.id)),
                                                 verdicts.get((m.id, s.id), {}))
    return ClassResults(course.course_id, students, modules, results)


def _result(course, gb, module: ModuleInfo, student: str, o, verdicts) -> Result:
    if o is None:
        why = [reason_codes.Reason("not_graded_yet" if course.path("submitted", student, module.id).is_dir()
                                   else "no_submission")]
        return Result(module.id, student, "pending" if why[0].code == "not_graded_yet" else "missing",
                      reason_codes.render(why), reasons=why)
    r = Result(module.id, student, o.status, o.reason, seconds=o.seconds,
               verdicts=verdicts if o.score is not None else {}, reasons=o.reasons)
    # scores only where nbgrader finished this very submission (the worker read them back); a run
    # stopped by the watchdog may have left older grades in the gradebook
    if o.score is None:
        return r
    sub = gb.find_submission(module.id, student)
    r.total, r.max_total = float(sub.score), float(sub.max_score)
    r.needs_manual_grade = bool(sub.needs_manual_grade)
    for nb in sub.notebooks:
        for g in nb.grades:
            pending = g.needs_manual_grade or g.score is None   # not 0: nobody graded it yet
            r.scores[g.name] = None if pending else float(g.score)
            if g.manual_score is not None:
                r.manual[g.name] = float(g.manual_score)
        for c in nb.comments:
            if c.manual_comment:
                r.comments[c.name] = c.manual_comment
    return r
