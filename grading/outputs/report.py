"""The class report of one module, for the instructor: ``crmlab report MODULE`` → one HTML page.

Status counts, the distribution of automatic points, each checkpoint's share of right / partly /
wrong / no answer, the most common wrong-answer messages per checkpoint, grading time per
submission, and the submissions that need a look. Charts are matplotlib ``Figure``s drawn without
pyplot (no global figure state), embedded as PNG.
"""
from __future__ import annotations

import base64
import io
import re
import statistics
from collections import Counter
from pathlib import Path

from crmlab import html
from crmlab.messages import split_bilingual

from crmlab.grading.classroom.course import Course
from crmlab.grading.classroom.labels import STATUS, VERDICT, fmt, status, verdict, when
from crmlab.grading.outputs.results import ClassResults, ModuleInfo, load

VERDICTS = ("right", "partly", "wrong", "no_answer")
COLOURS = {"right": "#2f855a", "partly": "#d69e2e", "wrong": "#c53030", "no_answer": "#a0aec0"}
# decimals anywhere, whole numbers standing alone ("有 12 个客户"), not those that are part of the text ("top-20 %")
NUMBER = re.compile(r"\d+\.\d+|(?<![\w.-])\d+(?![\w.%-])")
LIST = re.compile(r"\[[^\]]*\]")


def _figure(width: float, height: float):
    """A figure without pyplot, and the rc settings that put a CJK font first (crm/fonts.py)."""
    from matplotlib.figure import Figure

    from crmlab.crm.fonts import chart_rc
    return Figure(figsize=(width, height), dpi=110), chart_rc()


def _img(fig, alt: str) -> dict:
    """A chart for the page: its alternative text and the PNG as a data URI (the template writes the img)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    return {"alt": alt, "src": f"data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}"}


def message_kind(message: str) -> str:
    """A message with its numbers and lists blanked, so "12 accounts are graded wrongly" and "3 accounts
    are graded wrongly" count as one kind of mistake."""
    return LIST.sub("[…]", NUMBER.sub("#", message))


def summarise(data: ClassResults, module: str) -> dict:
    """The report's numbers, as plain data (tested without reading the HTML)."""
    m = data.module(module)
    results = data.of(module)
    scored = [r for r in results if r.has_score]
    auto_cells = [c for c in m.cells if not c.manual]
    verdicts = {c.name: Counter() for c in auto_cells}
    messages = {c.name: Counter() for c in auto_cells}
    raw = {}                                   # kind of message → the messages themselves
    for r in scored:
        for c in auto_cells:
            v = r.verdicts.get(c.name)
            if v is None:
                continue
            verdicts[c.name][v.status] += 1
            if v.status != "right":
                messages[c.name][message_kind(v.message)] += 1
                raw.setdefault(message_kind(v.message), set()).add(v.message)
    seconds = [r.seconds for r in results if r.seconds]
    return {
        "students": len(results),
        "status": Counter(r.status for r in results),
        "auto_points": [sum(r.scores.get(c.name) or 0 for c in auto_cells) for r in scored],
        "auto_max": sum(c.max_score for c in auto_cells),
        "manual_pending": sum(1 for r in scored if r.needs_manual_grade),
        "verdicts": verdicts,
        "pass_rate": {c: (n["right"] / sum(n.values()) if sum(n.values()) else None) for c, n in verdicts.items()},
        # a kind shown as its one message where all its messages are the same (numbers kept)
        "messages": {c: [(next(iter(raw[k])) if len(raw[k]) == 1 else k, n) for k, n in counts.most_common(3)]
                     for c, counts in messages.items()},
        "seconds": seconds,
        "attention": [r for r in results if r.status not in ("graded",) or r.reason],
    }


def _status_chart(s: dict) -> dict:
    fig, rc = _figure(6.5, 2.4)
    import matplotlib
    with matplotlib.rc_context(rc):
        ax = fig.add_subplot()
        kinds = _kinds(s)
        ax.barh([str(status(k)) for k in kinds], [s["status"][k] for k in kinds],
                color=["#2f855a" if k == "graded" else "#c53030" if k == "error" else "#a0aec0" if k == "missing"
                       else "#d69e2e" for k in kinds])
        for i, k in enumerate(kinds):
            ax.text(s["status"][k], i, f" {s['status'][k]}", va="center", fontsize=9)
        ax.invert_yaxis()
        ax.set_xlabel("提交数 submissions")
        ax.spines[["top", "right"]].set_visible(False)
        return _img(fig, "status counts")


def _histogram(values: list[float], top: float, xlabel: str, bins=None) -> dict:
    fig, rc = _figure(6.5, 2.6)
    import matplotlib
    with matplotlib.rc_context(rc):
        ax = fig.add_subplot()
        if bins is None:   # one bar per whole point: points are few and whole here
            bins = [x - 0.5 for x in range(int(top) + 2)]
        ax.hist(values, bins=bins, color="#3c6fb4", edgecolor="white")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("人数 students")
        ax.spines[["top", "right"]].set_visible(False)
        ax.yaxis.get_major_locator().set_params(integer=True)
        return _img(fig, xlabel)


def _verdict_chart(m: ModuleInfo, s: dict) -> dict:
    cells = [c for c in m.cells if not c.manual]
    fig, rc = _figure(6.5, 0.45 * len(cells) + 1.0)
    import matplotlib
    with matplotlib.rc_context(rc):
        ax = fig.add_subplot()
        left = [0.0] * len(cells)
        for v in VERDICTS:
            counts = [s["verdicts"][c.name].get(v, 0) for c in cells]
            totals = [sum(s["verdicts"][c.name].values()) or 1 for c in cells]
            shares = [n / t for n, t in zip(counts, totals)]
            ax.barh([c.name for c in cells], shares, left=left, color=COLOURS[v], label=str(VERDICT[v]))
            left = [a + b for a, b in zip(left, shares)]
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.legend(ncol=4, fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.18))
        ax.spines[["top", "right"]].set_visible(False)
        return _img(fig, "verdicts per checkpoint")


def _kinds(s: dict) -> list[str]:
    """The statuses to show, in the vocabulary's order (one it does not know yet at the end)."""
    return [k for k in STATUS if s["status"].get(k)] + sorted(k for k in s["status"] if k not in STATUS)


def render(data: ClassResults, module: str, generated=None, notes=()) -> str:
    """The page (grading/templates/report.html.j2): the numbers and charts here, the layout in the template.
    ``notes``: each student's own numbers for grading the written answers (verify.grader_notes)."""
    m, s = data.module(module), summarise(data, module)
    auto_cells = [c for c in m.cells if not c.manual]
    pts, secs = s["auto_points"], s["seconds"]
    charts = {"status": _status_chart(s),
              "points": _histogram(pts, s["auto_max"], "自动评分得分 automatic points") if pts else None,
              "verdicts": _verdict_chart(m, s) if any(s["verdicts"][c.name] for c in auto_cells) else None,
              "seconds": _histogram(secs, max(secs), "秒 seconds", bins=min(20, max(5, len(secs) // 2)))
              if secs else None}
    names = {st.id: st.name for st in data.students}
    return html.render(
        "crmlab.grading.outputs", "report.html.j2", title=f"{m.id} class report", m=m, s=s, course_id=data.course_id,
        generated=when(generated) if generated else None, kinds=[k for k in _kinds(s) if s["status"].get(k)],
        median=fmt(statistics.median(pts)) if pts else None, mean=f"{statistics.mean(pts):.1f}" if pts else None,
        verdicts=VERDICTS, auto_cells=auto_cells, charts=charts,
        rates={c.name: "—" if s["pass_rate"][c.name] is None else f"{s['pass_rate'][c.name]:.0%}" for c in auto_cells},
        mistakes=[(c.name, *split_bilingual(msg), n) for c in m.cells for msg, n in s["messages"].get(c.name, [])],
        seconds={"median": f"{statistics.median(secs):.1f}", "longest": f"{max(secs):.1f}",
                 "total": f"{sum(secs):.0f}"} if secs else None,
        attention=[(r, names.get(r.student, "")) for r in s["attention"]], fmt=fmt, status=status, verdict=verdict,
        notes=[(student, names.get(student, ""), rows) for student, rows in notes],
        note_labels=[(zh, en) for zh, en, _ in notes[0][1]] if notes else [])


def write_report(course: Course, module: str, out: str | Path | None = None) -> Path:
    # beside the course's steps, not in feedback/ (what nbgrader releases to students)
    path = Path(out) if out else course.root / "reports" / f"{module}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    from crmlab.grading.run.verify import grader_notes

    data = load(course)
    notes = grader_notes(course, module, [s.id for s in data.students])
    path.write_text(render(data, module, course.now(), notes), encoding="utf-8")
    return path
