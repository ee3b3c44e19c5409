"""Feedback for each student as one bilingual HTML page: ``feedback/<student>/<module>/index.html``.

Built from what the grader decided, never from the notebooks: the status and reason, the points
of each checkpoint, for each one not fully right what it checks (the verdict's message) and a hint
(``checks/<module>.hints.toml``), and the instructor's manual grades and comments. Nothing of the
check code, the solution or the right values is read, so nothing of them can leak (tested).
nbgrader's own ``generate_feedback`` is not used: it shows hidden tests and skips every submission
that failed to grade, which are the students who need feedback most.

Released feedback (:func:`release_feedback`) also carries the student's *scores so far*: every
module whose feedback has been released, with points and status, and an estimate of the coursework
part of the course grade — nbgrader has no such view (its issue #987). It is a section of the page
and the same data as JSON inside it (``<script id="crmlab-scores">``), which ``crmlab my-scores``
reads in the student's own folder (grading/outputs/scores.py). Only that student's numbers are in it.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

from crmlab import html
from crmlab.messages import split_bilingual

from crmlab.grading.classroom.course import SHIPPED_COURSE, Course
from crmlab.grading.classroom.labels import Score, fmt, status, verdict, when
from crmlab.grading.outputs.results import ClassResults, ModuleInfo, Result, Student, load

NEXT_STEP = {
    "error": ("这不是 0 分：你的作业没能评分。请检查笔记本能否正常打开、从头到尾运行一遍，然后重新提交，或联系老师。",
              "This is not a zero: your work could not be graded. Check that the notebook opens and runs from top to "
              "bottom, then submit again or talk to your instructor."),
    "missing": ("没有找到你的作业。请确认用的是发下去的笔记本文件名，并已提交。",
                "Your work was not found. Make sure you submitted the notebook under the name it was handed out with."),
    "pending": ("你的作业已提交，还没有评分。", "Your work has been submitted and is waiting to be graded."),
    "timeout": ("有的代码运行太久被中断；其余部分照常评分。检查那个单元格里有没有死循环或很慢的计算。",
                "Some code ran too long and was interrupted; the rest was graded as usual. Look for a loop that never "
                "ends or a very slow computation in that cell."),
    "late": ("作业在截止时间之后提交；照常评分，是否扣分由老师决定。",
             "Your work came in after the due time; it was graded as usual, and your instructor decides about any "
             "penalty."),
    "tampered": ("笔记本里不允许修改的单元格被改动或删除了；已恢复原样后评分。以后请只在答题单元格里作答。",
                 "Cells you may not change were changed or deleted; the originals were restored and graded. Answer "
                 "only in the answer cells."),
    "limit": ("有的代码用了太多内存或写了太多数据，被停止。", "Some code used too much memory or wrote too much data and "
              "was stopped."),
}


def hints_of(course: Course, module: str) -> dict[str, dict]:
    """checkpoint → {"zh": …, "en": …} from the course's ``checks/<module>.hints.toml`` (else the
    shipped one)."""
    for folder in (course.root / "checks", SHIPPED_COURSE / "checks"):
        path = folder / f"{module}.hints.toml"
        if path.exists():
            return tomllib.loads(path.read_text(encoding="utf-8"))
    return {}


def render(data: ClassResults, module: ModuleInfo, student: Student, r: Result, hints: dict,
           so_far: dict | None = None) -> str:
    """The page (grading/templates/feedback.html.j2): what is shown, worked out here; how, in the template."""
    cards = []
    for c in module.cells:
        if c.name in r.verdicts and r.verdicts[c.name].status != "right":
            v = r.verdicts[c.name]
            zh, en = split_bilingual(v.message)
            cards.append({"cell": c, "status": v.status, "zh": zh, "en": en, "hint": hints.get(c.name, {})})
    manual = [(c, r.scores.get(c.name) if c.manual else r.manual.get(c.name), r.comments.get(c.name))
              for c in module.cells if c.manual or c.name in r.manual or c.name in r.comments]
    return html.render("crmlab.grading.outputs", "feedback.html.j2",
                       title=f"{module.id} · {student.id}", heading=f"{module.id} {module.title_zh} · {module.title_en}",
                       who=f"{student.name} ({student.id})" if student.name else student.id,
                       course_id=data.course_id, r=r, score=r.score(module), max_total=module.max_total,
                       reason=(r.reason_in("zh_CN"), r.reason_in("en_US")) if r.reason else None,
                       next_step=NEXT_STEP.get(r.status),
                       checkpoints=[(c, _points(r, c), r.verdict(c)) for c in module.cells] if r.has_score else [],
                       cards=cards, manual=manual, so_far=so_far, **(_so_far_values(so_far) if so_far else {}),
                       **WORDS)


# -- the student's scores so far ---------------------------------------------------------------------
SCORES_ID = "crmlab-scores"   # the id of the JSON inside a released page (grading/outputs/scores.py reads it)


def scores_so_far(course: Course, data: ClassResults, student: str, modules: list[str], released_at: str) -> dict:
    """One student's results in every module of ``modules`` (those released so far), plain data.

    The coursework estimate counts the modules with a final score (manual grading done), by the
    course's own rule (``[grades]``: each module the same, points summed, or weighted; a missing submission
    counts 0 only with ``missing = "zero"``). The CRM show's part is not known before the end."""
    from crmlab.grading.outputs.grades import Settings, coursework
    from crmlab.grading.outputs.grades import counted as counted_points

    settings = Settings.of(course)
    rows, counted = [], {}
    for m in modules:
        info, r = data.module(m), data.results[(m, student)]
        pending = r.has_score and bool(r.needs_manual_grade)
        score = r.score(info)
        rows.append({"module": m, "title_zh": info.title_zh, "title_en": info.title_en, "status": r.status,
                     "points": r.total, "max_points": info.max_total, "manual_pending": pending,
                     "auto": score and score.auto, "auto_max": score and score.auto_max,
                     "manual": score and score.manual, "manual_max": score and score.manual_max})
        points, _ = counted_points(settings, m, r)
        if points is not None:
            counted[m] = (points, info.max_total)
    share = coursework(settings, counted)
    pct = None if share is None else 100 * share
    return {"course_id": data.course_id, "student": student, "released_at": released_at, "modules": rows,
            "counted": sorted(counted), "coursework_pct": None if pct is None else round(pct, 1),
            "coursework_share": round(1 - settings.peer_share, 4), "peer_share": settings.peer_share}


def render_so_far(so_far: dict) -> str:
    """The scores-so-far section alone (grading/templates/so_far.html.j2), as the end of a released page."""
    return html.render("crmlab.grading.outputs", "so_far.html.j2", so_far=so_far, **_so_far_values(so_far), **WORDS)


def _so_far_values(so_far: dict) -> dict:
    pct, share = so_far["coursework_pct"], so_far["coursework_share"]
    # the JSON inside the page goes through the template's tojson: "<", ">", "&" and "'" are escaped there,
    # so nothing in it can end the script early (grading/outputs/scores.py reads it back with json.loads)
    return {"so_far_rows": [(row, Score.of_row(row)) for row in so_far["modules"]],
            "counted": ", ".join(so_far["counted"]), "scores_id": SCORES_ID, "as_of": when(so_far["released_at"]),
            "pct": fmt(pct), "share": fmt(100 * share),
            "estimate": None if pct is None else fmt(round(pct * share, 1)),
            "peer": fmt(100 * so_far["peer_share"]) if so_far["peer_share"] else None}


# the words of the grading vocabulary a template uses (grading/classroom/labels.py)
WORDS = {"fmt": fmt, "status": status, "verdict": verdict}


def _points(r: Result, c) -> str:
    score = r.scores.get(c.name)
    return ("—" if score is None else fmt(score)) + f" / {fmt(c.max_score)}"


def write_feedback(course: Course, module: str, students: list[str] | None = None,
                   data: ClassResults | None = None, so_far: list[str] | None = None,
                   released_at: str = "") -> list[Path]:
    """Write one page per student (every roster student, or ``students``); the paths written.
    With ``so_far`` (modules), each page ends with the student's scores in those modules."""
    data = data or load(course)
    info = data.module(module)
    hints = hints_of(course, module)
    written = []
    for s in data.students:
        if students and s.id not in students:
            continue
        folder = course.path("feedback", s.id, module)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "index.html"
        summary = scores_so_far(course, data, s.id, so_far, released_at) if so_far else None
        path.write_text(render(data, info, s, data.results[(module, s.id)], hints, summary), encoding="utf-8")
        written.append(path)
    return written


# -- release through the exchange ----------------------------------------------------------------------
def released_modules(course: Course) -> dict[str, str]:
    """module → when its feedback was last released (``.crmlab/feedback_released.json``)."""
    path = course.private / "feedback_released.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def release_feedback(course: Course, module: str, students: list[str] | None = None) -> dict[str, list[str]]:
    """Write every student's page of ``module`` and release it to the exchange, where nbgrader's
    "Fetch Feedback" finds it (grading/classroom/exchange.py, PersonalReleaseFeedback).

    The pages of the modules released before are rewritten and released again too, so that the
    scores so far on every page a student holds are the same, current ones (a grade changed in the
    formgrader since shows up). Returns ``released`` (students) and, per reason, those whose page
    could not go through the exchange (no submission collected: hand out ``feedback/<s>/<m>/``)."""
    from crmlab.grading.classroom.exchange import unreleasable
    from crmlab.grading.classroom.nbgrader_api import check, nbgrader_api

    data = load(course)
    data.module(module)   # assigned in this course, or a clear error
    now = course.now().isoformat(timespec="seconds")   # the course's local time (shown as such on the pages)
    record = {**released_modules(course), module: now}
    modules = [m.id for m in data.modules if m.id in record]
    for m in modules:
        write_feedback(course, m, students, data=data, so_far=modules, released_at=now)
    api = nbgrader_api(course)
    for m in modules:
        if students:
            for s in students:
                check(api.release_feedback(m, s), "release_feedback")
        else:
            check(api.release_feedback(m), "release_feedback")
    path = course.private / "feedback_released.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    out = {"released": []}
    for s in data.students:
        if students and s.id not in students:
            continue
        why = unreleasable(course.path("feedback", s.id, module) / "index.html", course.path("submitted", s.id, module))
        out.setdefault(why or "released", []).append(s.id)
    return out
