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
reads in the student's own folder (grading/scores.py). Only that student's numbers are in it.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

from .course import SHIPPED_COURSE, Course
from .htmlpage import badge, esc, page, split_message
from .labels import STATUS, VERDICT, Score, fmt, when
from .results import ClassResults, ModuleInfo, Result, Student, load

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
    title = f"{module.id} {module.title_zh} · {module.title_en}"
    who = f"{student.name} ({student.id})" if student.name else student.id
    out = [f"<h1>{esc(title)}</h1>",
           f"<p class='sub'>反馈 <span class='en'>Feedback</span> · {esc(who)} · {esc(data.course_id)}</p>"]

    # the summary: status, score (automatic + by hand = total), what to do
    score = r.score(module)
    if score is not None:
        top = f"<div class='score'>{fmt(score.total)} <small>/ {fmt(score.max_total)}</small></div>"
        if score.manual_max:
            top += f"<div class='note'>{esc(score.text('zh'))}<br><span class='en'>{esc(score.text('en'))}</span></div>"
    else:
        top = "<div class='score'>— <small>/ " + fmt(module.max_total) + "</small></div>" \
              "<div class='note'>没有分数（不是 0 分）<br><span class='en'>no score (not a zero)</span></div>"
    out.append(f"<div class='summary'><div>{badge(r.status, STATUS)}</div>{top}</div>")
    if r.reason:
        zh, en = r.reason_in("zh_CN"), r.reason_in("en_US")
        out.append("<p class='reason'><span class='label'>原因 Reason:</span> "
                   + (f"{esc(zh)}<br><span class='en'>{esc(en)}</span>" if zh != en else esc(en)) + "</p>")
    if r.status in NEXT_STEP:
        zh, en = NEXT_STEP[r.status]
        out.append(f"<p>{esc(zh)}<br><span class='en'>{esc(en)}</span></p>")

    if r.has_score:
        out.append("<h2>每个检查点 <span class='en'>Checkpoint by checkpoint</span></h2>")
        out.append("<table><tr><th>检查点 <span class='en'>Checkpoint</span></th><th class='num'>得分 "
                   "<span class='en'>Points</span></th><th>结果 <span class='en'>Result</span></th></tr>")
        for c in module.cells:
            out.append(f"<tr><td>{esc(c.title)} <span class='cid'>{esc(c.name)}</span></td>"
                       f"<td class='num'>{_points(r, c)}</td><td>{badge(r.verdict(c), VERDICT)}</td></tr>")
        out.append("</table>")
        todo = [c for c in module.cells if c.name in r.verdicts and r.verdicts[c.name].status != "right"]
        if todo:
            out.append("<h2>还差在哪里 <span class='en'>What to look at again</span></h2>")
        for c in todo:
            v = r.verdicts[c.name]
            zh, en = split_message(v.message)
            hint = hints.get(c.name, {})
            out.append(f"<div class='card {esc(v.status)}'><h3>{esc(c.title)} <span class='cid'>{esc(c.name)}</span> "
                       f"{badge(v.status, VERDICT)}</h3>"
                       f"<p><span class='label'>检查的内容 What was checked:</span> {esc(zh)}"
                       + (f"<br><span class='en'>{esc(en)}</span>" if en else "") + "</p>"
                       + (f"<div class='hint'><span class='label'>提示 Hint:</span> {esc(hint.get('zh', ''))}<br>"
                          f"<span class='en'>{esc(hint.get('en', ''))}</span></div>" if hint else "") + "</div>")
        manual = [c for c in module.cells if c.manual or c.name in r.manual or c.name in r.comments]
        if manual:
            out.append("<h2>老师评分 <span class='en'>Graded by your instructor</span></h2><table>")
            for c in manual:
                given = r.scores.get(c.name) if c.manual else r.manual.get(c.name)
                points = (f"{fmt(given)} / {fmt(c.max_score)}" if given is not None else
                          f"{esc(VERDICT['pending'].zh)} <span class='en'>{esc(VERDICT['pending'].en)}</span>")
                comment = r.comments.get(c.name)
                out.append(f"<tr><td>{esc(c.title)} <span class='cid'>{esc(c.name)}</span></td>"
                           f"<td class='num'>{points}</td><td>"
                           + (f"<span class='label'>评语 Comment:</span> {esc(comment)}" if comment else "") + "</td></tr>")
            out.append("</table>")
    if so_far:
        out.append(render_so_far(so_far))
    out.append("<p class='note'>本页只有你的得分、检查的内容和提示，不含答案。<br><span class='en'>This page holds your "
               "scores, what each checkpoint checks and hints, never the answers.</span></p>")
    return page(f"{module.id} · {student.id}", "\n".join(out))


# -- the student's scores so far ---------------------------------------------------------------------
SCORES_ID = "crmlab-scores"   # the id of the JSON inside a released page (grading/scores.py reads it)


def scores_so_far(course: Course, data: ClassResults, student: str, modules: list[str], released_at: str) -> dict:
    """One student's results in every module of ``modules`` (those released so far), plain data.

    The coursework estimate counts the modules with a final score (manual grading done), by the
    course's own rule (``[grades]``: points summed, or percentages weighted; a missing submission
    counts 0 only with ``missing = "zero"``). The CRM show's part is not known before the end."""
    from .grades import Settings

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
        if r.has_score and not pending:
            counted[m] = (r.total, info.max_total)
        elif r.status == "missing" and settings.missing == "zero":
            counted[m] = (0.0, info.max_total)
    if settings.weights:
        weights = {m: settings.weights.get(m, 0.0) for m in counted}
        total_w = sum(weights.values())
        pct = 100 * sum(weights[m] * p / top for m, (p, top) in counted.items()) / total_w if total_w else None
    else:
        top = sum(t for _, t in counted.values())
        pct = 100 * sum(p for p, _ in counted.values()) / top if top else None
    return {"course_id": data.course_id, "student": student, "released_at": released_at, "modules": rows,
            "counted": sorted(counted), "coursework_pct": None if pct is None else round(pct, 1),
            "coursework_share": round(1 - settings.peer_share, 4), "peer_share": settings.peer_share}


def render_so_far(so_far: dict) -> str:
    out = ["<h2 id='scores'>你目前的成绩 <span class='en'>Your scores so far</span></h2>",
           "<table><tr><th>模块 <span class='en'>Module</span></th><th>状态 <span class='en'>Status</span></th>"
           "<th class='num'>得分 <span class='en'>Points</span></th></tr>"]
    for row in so_far["modules"]:
        score = Score.of_row(row)
        if score is None:
            points = f"— / {fmt(row['max_points'])}"
        else:
            points = f"{fmt(score.total)} / {fmt(score.max_total)}" + (
                f"<br><span class='note'>{esc(score.text('zh'))}<br><span class='en'>{esc(score.text('en'))}</span></span>"
                if score.manual_max else "")
        out.append(f"<tr><td>{esc(row['module'])} {esc(row['title_zh'])} <span class='en'>{esc(row['title_en'])}</span>"
                   f"</td><td>{badge(row['status'], STATUS)}</td><td class='num'>{points}</td></tr>")
    out.append("</table>")
    pct, share = so_far["coursework_pct"], so_far["coursework_share"]
    if pct is None:
        out.append("<p>还没有可以计入的模块成绩。<br><span class='en'>No module score counts yet.</span></p>")
    else:
        counted = ", ".join(so_far["counted"])
        out.append(f"<p><span class='label'>估计 Estimate:</span> 已计入的模块（{esc(counted)}）平时成绩为 "
                   f"<b>{fmt(pct)} %</b>，按 {fmt(100 * share)} % 计入总评，约 <b>{fmt(round(pct * share, 1))}</b> 分"
                   + (f"；另外 {fmt(100 * so_far['peer_share'])} % 来自期末的客户关系管理表演秀。" if so_far["peer_share"] else "。")
                   + f"<br><span class='en'>Coursework so far ({esc(counted)}): <b>{fmt(pct)} %</b>; it makes "
                   f"{fmt(100 * share)} % of the course grade, about <b>{fmt(round(pct * share, 1))}</b> points"
                   + (f"; the other {fmt(100 * so_far['peer_share'])} % come from the CRM show at the end of term."
                      if so_far["peer_share"] else ".") + "</span></p>")
    out.append(f"<p class='note'>截至 {esc(when(so_far['released_at']))}，只有你自己的成绩。<br><span class='en'>As of "
               f"{esc(when(so_far['released_at']))}; your own scores only.</span></p>")
    # the same as data, for `crmlab my-scores` (grading/scores.py); "</" cannot end the script early
    payload = json.dumps(so_far, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")
    out.append(f"<script type='application/json' id='{SCORES_ID}'>{payload}</script>")
    return "\n".join(out)


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
    "Fetch Feedback" finds it (grading/exchange.py, PersonalReleaseFeedback).

    The pages of the modules released before are rewritten and released again too, so that the
    scores so far on every page a student holds are the same, current ones (a grade changed in the
    formgrader since shows up). Returns ``released`` (students) and, per reason, those whose page
    could not go through the exchange (no submission collected: hand out ``feedback/<s>/<m>/``)."""
    from .exchange import unreleasable
    from .nbgrader_api import check, nbgrader_api

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
