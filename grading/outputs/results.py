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

from crmlab.grading.classroom import reasons as reason_codes
from crmlab.grading.classroom.course import Course, CourseError
from crmlab.grading.classroom.labels import Score
from crmlab.grading.classroom.roster import Student, roster_key  # noqa: F401  (results are told in roster order)
from crmlab.grading.classroom.state import StateStore, Verdict

HEADING = re.compile(r"^#+\s*(.+?)\s*$", re.M)
POINTS_SUFFIX = re.compile(r"\s*[(（][^()（）]*(?:points?|分)[^()（）]*[)）]\s*$", re.I)


@dataclass(frozen=True)
class Cell:
    """A graded cell of a module: a checkpoint the grader checks, or a manually graded answer."""
    name: str
    max_score: float
    manual: bool          # graded by the instructor in the formgrader (markdown answers)
    title: str            # the task's heading in the notebook, both languages, without the points


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
    reasons: list = field(default_factory=list)                       # the reason as codes (grading/run/reasons.py)

    @property
    def has_score(self) -> bool:
        return self.total is not None

    def reason_in(self, lang: str) -> str:
        """The reason in ``lang``; a state written before reason codes has it in English only."""
        return reason_codes.render(self.reasons, lang) if self.reasons else self.reason

    def score(self, module: "ModuleInfo") -> Score | None:
        """The points as one sum, automatic + by hand = total (None: no score, not a zero)."""
        if not self.has_score:
            return None
        auto = [c for c in module.cells if not c.manual]
        manual = [c for c in module.cells if c.manual]
        given = [self.scores.get(c.name) for c in manual]
        return Score(sum(self.scores.get(c.name) or 0 for c in auto), sum(c.max_score for c in auto),
                     None if None in given else sum(given), sum(c.max_score for c in manual),
                     self.total, self.max_total if self.max_total is not None else module.max_total)

    def verdict(self, cell: "Cell") -> str | None:
        """A cell's verdict (grading/outputs/labels.py VERDICT): the grader's for a checkpoint it checked; for a
        hand-graded answer whether the instructor has graded it; else from nbgrader's score alone."""
        if not self.has_score:
            return None
        if cell.name in self.verdicts:
            return self.verdicts[cell.name].status
        score = self.scores.get(cell.name)
        if cell.manual:   # an answer left as handed out is scored 0 by nbgrader itself, not by the instructor
            return "pending" if score is None else "manual" if cell.name in self.manual or score else "no_answer"
        if score is None:
            return "pending"
        return "right" if score >= cell.max_score else "partly" if score > 0 else "wrong"


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
    """The class's results: the grading state, and nbgrader's gradebook read with SQL (grading/classroom/gradebook.py:
    no nbgrader import, so the commands built on this answer in about a second)."""
    from crmlab.grading.classroom import gradebook

    state = StateStore(course.private / "state.db")
    try:
        outcomes = {(o.module, o.student): o for o in state.all()}
        verdicts = {}
        for module, student, check, points, max_points, status, message in state.con.execute(
                "SELECT module, student, checkpoint, points, max_points, status, message FROM checks"):
            verdicts.setdefault((module, student), {})[check] = Verdict(check, points, max_points, status, message)
    finally:
        state.close()
    with gradebook.opened(course) as gb:
        roster = gradebook.students(gb)
        assigned, cells, tops = gradebook.modules(gb), gradebook.cells(gb), gradebook.max_scores(gb)
        grades, comments, submitted = gradebook.grades(gb), gradebook.comments(gb), gradebook.submissions(gb)
    people = {s.id: Student(s.id, s.first_name, s.last_name, s.email) for s in roster}
    for _, s in outcomes:
        people.setdefault(s, Student(s))
    students = sorted(people.values(), key=lambda p: roster_key(p.id))
    modules = []
    for name in assigned:
        titles = cell_titles(course, name)
        order = {cell: i for i, cell in enumerate(titles)}   # as the notebook has them
        try:
            m = course.module(name)
            title_zh, title_en = m.title_zh, m.title_en
        except CourseError:   # an assignment made outside crmlab: no catalogue entry
            title_zh = title_en = name
        mine = sorted((c for c in cells if c.module == name), key=lambda c: (order.get(c.name, len(order)), c.name))
        modules.append(ModuleInfo(name, title_zh, title_en,
                                  [Cell(c.name, c.max_score, c.manual, titles.get(c.name, c.name)) for c in mine]))
    by_submission: dict[tuple[str, str], list] = {}
    for g in grades:
        by_submission.setdefault((g.module, g.student), []).append(g)
    remarks: dict[tuple[str, str], dict[str, str]] = {}
    for (mm, st, cell), text in comments.items():
        remarks.setdefault((mm, st), {})[cell] = text
    results = {}
    for m in modules:
        for s in students:
            key = (m.id, s.id)
            results[key] = _result(course, m, s.id, outcomes.get(key), verdicts.get(key, {}),
                                   by_submission.get(key, []) if key in submitted else None, tops.get(m.id, 0.0),
                                   remarks.get(key, {}))
    return ClassResults(course.course_id, students, modules, results)


def _result(course, module: ModuleInfo, student: str, o, verdicts, grades, max_total: float, comments) -> Result:
    if o is None:
        why = [reason_codes.Reason("not_graded_yet" if course.path("submitted", student, module.id).is_dir()
                                   else "no_submission")]
        return Result(module.id, student, "pending" if why[0].code == "not_graded_yet" else "missing",
                      reason_codes.render(why), reasons=why)
    r = Result(module.id, student, o.status, o.reason, seconds=o.seconds,
               verdicts=verdicts if o.score is not None else {}, reasons=o.reasons)
    # scores only where nbgrader finished this very submission (the worker read them back); a run
    # stopped by the watchdog may have left older grades in the gradebook
    if o.score is None or grades is None:
        return r
    r.total, r.max_total = sum(g.score for g in grades), max_total
    r.needs_manual_grade = any(g.needs_manual_grade for g in grades)
    for g in grades:
        r.scores[g.cell] = None if g.needs_manual_grade else g.score   # not 0: nobody graded it yet
        if g.manual_score is not None:
            r.manual[g.cell] = g.manual_score
    r.comments = dict(comments)
    return r
