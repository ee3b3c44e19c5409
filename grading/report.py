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

from .course import Course
from .htmlpage import badge, bilingual, esc, page, split_message
from .labels import STATUS, VERDICT, fmt, status, when
from .results import ClassResults, ModuleInfo, load

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


def _img(fig, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    return f"<img alt='{esc(alt)}' src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'>"


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


def _status_chart(s: dict) -> str:
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


def _histogram(values: list[float], top: float, xlabel: str, bins=None) -> str:
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


def _verdict_chart(m: ModuleInfo, s: dict) -> str:
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


def render(data: ClassResults, module: str, generated=None) -> str:
    m, s = data.module(module), summarise(data, module)
    out = [f"<h1>{esc(m.id)} {esc(m.title_zh)} · {esc(m.title_en)}</h1>",
           f"<p class='sub'>班级报告 <span class='en'>Class report</span> · {esc(data.course_id)} · "
           f"{s['students']} 名学生 <span class='en'>students</span>"
           + (f" · 生成于 <span class='en'>as of</span> {esc(when(generated))}" if generated else "") + "</p>"]

    out.append(f"<h2>{bilingual('提交状态', 'Status of the submissions')}</h2><table><tr><th>状态 "
               "<span class='en'>Status</span></th><th class='num'>人数 <span class='en'>Students</span></th></tr>")
    for k in _kinds(s):
        if s["status"].get(k):
            out.append(f"<tr><td>{badge(k, STATUS)}</td><td class='num'>{s['status'][k]}</td></tr>")
    out.append("</table>" + _status_chart(s))

    pts = s["auto_points"]
    out.append(f"<h2>{bilingual('自动评分得分分布', 'Distribution of the automatic points')}</h2>")
    if pts:
        out.append(f"<p>{len(pts)} 份有分数 <span class='en'>submissions with a score</span> · 中位数 "
                   f"<span class='en'>median</span> {fmt(statistics.median(pts))} / {fmt(s['auto_max'])} · 平均 "
                   f"<span class='en'>mean</span> {statistics.mean(pts):.1f}"
                   + (f" · {s['manual_pending']} 份待人工评分 <span class='en'>waiting for manual grading</span>"
                      if s["manual_pending"] else "") + "</p>")
        out.append(_histogram(pts, s["auto_max"], "自动评分得分 automatic points"))
    else:
        out.append("<p>还没有分数 <span class='en'>no scores yet</span></p>")

    out.append(f"<h2>{bilingual('每个检查点', 'Checkpoint by checkpoint')}</h2><table><tr><th>检查点 "
               "<span class='en'>Checkpoint</span></th><th class='num'>通过率 <span class='en'>Pass rate</span></th>"
               + "".join(f"<th class='num'>{esc(VERDICT[v].zh)} <span class='en'>{esc(VERDICT[v].en)}</span></th>"
                         for v in VERDICTS)
               + "</tr>")
    for c in m.cells:
        if c.manual:
            continue
        rate = s["pass_rate"][c.name]
        out.append(f"<tr><td>{esc(c.title)} <span class='cid'>{esc(c.name)}</span></td><td class='num'>"
                   f"{'—' if rate is None else f'{rate:.0%}'}</td>"
                   + "".join(f"<td class='num'>{s['verdicts'][c.name].get(v, 0)}</td>" for v in VERDICTS) + "</tr>")
    out.append("</table>")
    if any(s["verdicts"][c.name] for c in m.cells if not c.manual):
        out.append(_verdict_chart(m, s))

    out.append(f"<h2>{bilingual('最常见的错误', 'The most common mistakes')}</h2>")
    out.append("<table><tr><th>检查点 <span class='en'>Checkpoint</span></th><th>检查结果 <span class='en'>"
               "Message</span></th><th class='num'>人数 <span class='en'>Students</span></th></tr>")
    for c in m.cells:
        for msg, n in s["messages"].get(c.name, []):
            zh, en = split_message(msg)
            out.append(f"<tr><td><span class='cid'>{esc(c.name)}</span></td><td>{esc(zh)}"
                       + (f"<br><span class='en'>{esc(en)}</span>" if en else "") + f"</td><td class='num'>{n}</td></tr>")
    out.append("</table><p class='note'>数字和小时列表换成 # 和 […] 后归类 / numbers and lists of hours are "
               "blanked (# and […]) to group messages.</p>")

    secs = s["seconds"]
    out.append(f"<h2>{bilingual('每份作业的评分用时', 'Grading time per submission')}</h2>")
    if secs:
        out.append(f"<p>中位数 <span class='en'>median</span> {statistics.median(secs):.1f} s · 最长 "
                   f"<span class='en'>longest</span> {max(secs):.1f} s · 合计 <span class='en'>total</span> "
                   f"{sum(secs):.0f} s</p>")
        top = max(secs)
        out.append(_histogram(secs, top, "秒 seconds", bins=min(20, max(5, len(secs) // 2))))

    out.append(f"<h2>{bilingual('需要看一下的提交', 'Submissions that need a look')}</h2><table><tr><th>学生 "
               "<span class='en'>Student</span></th><th>状态 <span class='en'>Status</span></th><th>原因 "
               "<span class='en'>Reason</span></th></tr>")
    names = {st.id: st.name for st in data.students}
    for r in s["attention"]:
        out.append(f"<tr><td>{esc(r.student)} {esc(names.get(r.student, ''))}</td><td>{badge(r.status, STATUS)}</td>"
                   f"<td>{esc(r.reason_in('zh_CN'))}<br><span class='en'>{esc(r.reason)}</span></td></tr>")
    out.append("</table>")
    return page(f"{m.id} class report", "\n".join(out))


def write_report(course: Course, module: str, out: str | Path | None = None) -> Path:
    # beside the course's steps, not in feedback/ (what nbgrader releases to students)
    path = Path(out) if out else course.root / "reports" / f"{module}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(load(course), module, course.now()), encoding="utf-8")
    return path
