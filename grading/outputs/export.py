"""Export: one row per student and module, with a status and reason, the total and each checkpoint.

Status comes from the grading state (graded, late, tampered, error, timeout, limit, missing); scores come from
nbgrader's gradebook (grading/outputs/results.py). A submission that could not be graded has no score
(blank), never a silent 0. Formats:

- ``csv``, ``json``: every module, every checkpoint, status and reason (for people and scripts);
- ``xlsx``: a workbook for Excel/WPS: a summary sheet and one sheet per module, roster order, real
  number cells, frozen header, each checkpoint's score and verdict;
- ``canvas``: Canvas's gradebook import (Student, ID, SIS User ID, SIS Login ID, Section, one
  column per module, a "Points Possible" row); a blank cell changes nothing in Canvas;
  a module waiting for manual grading is blank in both LMS files (its total would count the
  ungraded answer as 0);
- ``moodle``: Moodle's CSV grade import (ID number, names, email, one column per module and its
  feedback column with the status); "-" is Moodle's "no grade".
"""
from __future__ import annotations

import csv
import io
import json
from crmlab.grading.classroom.course import Course
from crmlab.grading.classroom.labels import status, verdict
from crmlab.grading.outputs.results import ClassResults, load
from crmlab.grading.outputs.terminal import width as display_width

BASE_COLUMNS = ["student_id", "module", "status", "reason", "reason_zh", "total", "max_total", "needs_manual_grade"]
FORMATS = ("csv", "json", "xlsx", "canvas", "moodle")

def rows(course: Course, data: ClassResults | None = None) -> tuple[list[dict], list[str]]:
    """(rows, checkpoint column names) for every roster student × every assigned module."""
    data = data or load(course)
    checkpoints = [f"{m.id}:{c.name}" for m in data.modules for c in m.cells]
    out = []
    for m in data.modules:
        for r in data.of(m.id):
            row = {"student_id": r.student, "module": m.id, "status": r.status, "reason": r.reason,
                   "reason_zh": r.reason_in("zh_CN"), "total": r.total, "max_total": r.max_total, "needs_manual_grade": r.needs_manual_grade}
            if r.has_score:
                row |= {f"{m.id}:{c}": v for c, v in r.scores.items()}
            out.append(row)
    return out, checkpoints


def export(course: Course, fmt: str = "csv") -> str | bytes:
    """The export as text (csv, json, canvas, moodle) or bytes (xlsx)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} ({', '.join(FORMATS)})")
    data = load(course)
    if fmt == "xlsx":
        return xlsx(data)
    if fmt == "canvas":
        return canvas_csv(data)
    if fmt == "moodle":
        return moodle_csv(data)
    table, checkpoints = rows(course, data)
    if fmt == "json":
        return json.dumps([{k: r.get(k) for k in BASE_COLUMNS}
                           | {"checkpoints": {c.split(":", 1)[1]: r.get(c) for c in checkpoints
                                              if c.startswith(r["module"] + ":")}}
                           for r in table], ensure_ascii=False, indent=1)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=BASE_COLUMNS + checkpoints, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in table:
        writer.writerow({k: ("" if v is None else safe_cell(v)) for k, v in r.items()})
    return buf.getvalue()


# -- LMS imports ------------------------------------------------------------------------------
FORMULA = ("=", "+", "@", "\t", "\r")


def _both(r) -> str | None:
    """A reason for a person's sheet: in Chinese, with the English under it."""
    zh, en = r.reason_in("zh_CN"), r.reason_in("en_US")
    return None if not en else en if zh == en else f"{zh}\n{en}"


def safe_cell(value):
    """A text cell no spreadsheet runs as a formula (a leading ' is Excel's and WPS's "this is text")."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA) else value


def _module_column(m) -> str:
    return f"{m.id} {m.title_zh} {m.title_en}"


def _lms_score(r) -> float | None:
    """The score an LMS may record: none while the instructor still has answers to grade."""
    return None if r.total is None or r.needs_manual_grade else r.total


def canvas_csv(data: ClassResults) -> str:
    """Canvas Gradebook import: the columns of Canvas's own gradebook export. Students are matched
    by SIS User ID (our student id); Student (sortable name "Last, First") is shown in the preview;
    ID (Canvas's internal id) is left blank. A module column Canvas does not know yet becomes a new
    assignment; the "Points Possible" row gives its points. Blank = no score (not 0)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] + [_module_column(m) for m in data.modules])
    w.writerow(["Points Possible", "", "", "", ""] + [f"{m.max_total:g}" for m in data.modules])
    for s in data.students:
        name = f"{s.last_name}, {s.first_name}" if s.last_name and s.first_name else s.name or s.id
        scores = []
        for m in data.modules:
            r = data.results[(m.id, s.id)]
            scores.append("" if _lms_score(r) is None else f"{r.total:g}")
        w.writerow([safe_cell(x) for x in [name, "", s.id, "", ""] + scores])
    return buf.getvalue()


def moodle_csv(data: ClassResults) -> str:
    """Moodle CSV grade import: map "ID number" to the users' ID number (or "Email address" to their
    email) and each module column to a grade item (or a new one), its "feedback" column to that
    item's feedback. "-" is no grade (Moodle's own export writes it; its importer skips it)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    header = ["ID number", "First name", "Surname", "Email address"]
    for m in data.modules:
        header += [_module_column(m), f"{_module_column(m)} (feedback)"]
    w.writerow(header)
    for s in data.students:
        row = [s.id, s.first_name, s.last_name, s.email]
        for m in data.modules:
            r = data.results[(m.id, s.id)]
            note = "" if r.status == "graded" and not r.reason else f"{r.status}: {r.reason}".strip(": ")
            if r.needs_manual_grade:
                note = (note + "; " if note else "") + "manual grading pending / 待人工评分"
            row += ["-" if _lms_score(r) is None else f"{r.total:g}", note]
        w.writerow([safe_cell(x) for x in row])
    return buf.getvalue()


# -- XLSX -------------------------------------------------------------------------------------
def xlsx(data: ClassResults) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    header_font, header_fill = Font(bold=True), PatternFill("solid", fgColor="DDE6F0")
    wb = Workbook()

    def sheet(ws, header: list[str], body: list[list], freeze: str, wide: set[int] = frozenset()) -> None:
        ws.append(header)
        for row in body:
            ws.append([safe_cell(v) for v in row])
        for cell in ws[1]:
            cell.font, cell.fill = header_font, header_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.freeze_panes = freeze
        ws.auto_filter.ref = ws.dimensions
        for i, col in enumerate(ws.iter_cols(min_row=1, max_row=ws.max_row), start=1):
            longest = max([display_width(c.value) for c in col[1:] if c.value is not None] or [0])
            head = max(display_width(w) for w in str(col[0].value).split())  # headers wrap at spaces
            ws.column_dimensions[get_column_letter(i)].width = min(60 if i in wide else 24, max(longest, head, 6) + 2)
            for c in col[1:]:
                if isinstance(c.value, float):
                    c.number_format = "0.##"

    ws = wb.active
    ws.title = "汇总 Summary"
    header = ["学号 Student ID", "姓名 Name"]
    for m in data.modules:
        header += [f"{m.id} 得分 Score (/{m.max_total:g})", f"{m.id} 状态 Status"]
    body = []
    for s in data.students:
        row = [s.id, s.name]
        for m in data.modules:
            r = data.results[(m.id, s.id)]
            row += [r.total, str(status(r.status))]
        body.append(row)
    sheet(ws, header, body, "C2")

    for m in data.modules:
        ws = wb.create_sheet(m.id)
        auto_max = sum(c.max_score for c in m.cells if not c.manual)
        manual_max = m.max_total - auto_max
        header = ["学号 Student ID", "姓名 Name", "状态 Status", "原因 Reason", f"自动 Automatic (/{auto_max:g})",
                  f"人工 By hand (/{manual_max:g})", f"得分 Score (/{m.max_total:g})", "满分 Max",
                  "待人工评分 Manual pending", "用时(秒) Seconds"]
        for c in m.cells:
            header += [f"{c.name} (/{c.max_score:g})", f"{c.name} 结果 verdict"]
        body = []
        for s in data.students:
            r = data.results[(m.id, s.id)]
            score = r.score(m)   # automatic + by hand = total, as on the feedback page
            row = [s.id, s.name, str(status(r.status)), _both(r), score and score.auto,
                   score and score.manual, r.total, r.max_total, r.needs_manual_grade, r.seconds or None]
            for c in m.cells:
                code = r.verdict(c)
                row += [r.scores.get(c.name) if r.has_score else None, str(verdict(code)) if code else None]
            body.append(row)
        sheet(ws, header, body, "C2", wide={4})
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
