"""`crmlab my-scores`: a student's own scores so far, from the feedback they have fetched.

Run by a student in their own JupyterLab (a terminal, or ``!crmlab my-scores`` in a notebook). It
reads only the feedback pages in the student's folder — what nbgrader's "Fetch Feedback" brought
there, ``<module>/feedback/<timestamp>/<notebook>.html`` — and from each the scores-so-far data the
instructor's release put in it (grading/outputs/feedback.py). No course directory, gradebook or exchange
is read, so it shows nothing that was not released to this student, and works on any machine.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from crmlab.grading.classroom.labels import Score, fmt, status, when
from crmlab.grading.outputs.terminal import pad, width

# the scores-so-far JSON of a released page (grading/templates/so_far.html.j2 writes it through tojson)
SCORES = re.compile(r"<script type=['\"]application/json['\"] id=['\"]crmlab-scores['\"]>(.*?)</script>", re.S)
# nbgrader's fetch_feedback: <assignment>/feedback/<timestamp>/<notebook>.html, or with the course
# id in front when Exchange.path_includes_course is set
PAGES = ("*/feedback/*/*.html", "*/*/feedback/*/*.html")


def find_scores(folder: str | Path = ".") -> list[dict]:
    """The newest scores-so-far of each course found in the fetched feedback under ``folder``."""
    newest: dict[str, dict] = {}
    for pattern in PAGES:
        for path in Path(folder).glob(pattern):
            m = SCORES.search(path.read_text(encoding="utf-8", errors="replace"))
            if not m:
                continue   # a page from elsewhere (nbgrader's own feedback): no scores in it
            try:
                data = json.loads(m.group(1))
            except json.JSONDecodeError:
                continue
            key = data.get("course_id", "")
            if key not in newest or data.get("released_at", "") > newest[key].get("released_at", ""):
                newest[key] = data
    return [newest[k] for k in sorted(newest)]


def format_scores(data: dict) -> str:
    """A plain-text table of one student's scores so far, in Chinese and English."""
    lines = [f"{data['course_id']} · {data['student']} — 你目前的成绩 / your scores so far — "
             f"截至 as of {when(data['released_at'])}", ""]
    rows = [("模块 module", "状态 status", "得分 points")]
    for r in data["modules"]:
        score = Score.of_row(r)
        points = f"— / {fmt(r['max_points'])}" if score is None else score.text("zh") + (
            f"  /  {score.text('en')}" if score.manual_max else "")
        rows.append((f"{r['module']} {r['title_zh']}", str(status(r["status"])), points))
    widths = [max(width(row[i]) for row in rows) for i in range(2)]
    for row in rows:
        lines.append("  ".join(pad(cell, widths[i]) for i, cell in enumerate(row[:2])) + "  " + row[2])
    lines.append("")
    pct = data["coursework_pct"]
    if pct is None:
        lines.append("还没有可以计入的模块成绩 / no module score counts yet")
    else:
        share = data["coursework_share"]
        lines.append(f"平时成绩（{', '.join(data['counted'])}）/ coursework so far: {fmt(pct)} %  → "
                     f"按 {fmt(100 * share)} % 计入总评，约 {fmt(round(pct * share, 1))} 分 / "
                     f"{fmt(100 * share)} % of the course grade: about {fmt(round(pct * share, 1))} points")
        if data["peer_share"]:
            lines.append(f"另外 {fmt(100 * data['peer_share'])} % 来自期末的表演秀 / the other "
                         f"{fmt(100 * data['peer_share'])} % come from the CRM show at the end of term")
    return "\n".join(lines)
