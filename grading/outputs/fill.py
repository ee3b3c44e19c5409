"""Fill the school's own score sheet: the 教务系统's template (成绩单.xlsx) gets each student's score in the
column the instructor names, found by its header; the 学号 column is found as the roster importer finds it
(grading/classroom/roster.py :data:`COLUMNS`). Everything else of the workbook is left as it was: other
columns, other sheets, the title rows, formats, formulas. The result goes to a new file, never over the
school's template.

What could not be filled is said, not guessed: the 学号 of the sheet that are not on the course's roster,
the students whose score is not known yet (their grade is blank, with what is missing), and the roster's
students the sheet does not list.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from crmlab.grading.classroom.course import CourseError
from crmlab.grading.classroom.roster import COLUMNS, cell_text, column_letter, header_key, read_xls


class FillError(CourseError):
    """A template that cannot be filled (the message names the file, the sheet and what is missing)."""


@dataclass
class Filled:
    sheet: str
    header_row: int
    column: str                                          # the column's header and letter, e.g. "平时成绩 (E)"
    filled: int = 0
    not_on_roster: list[str] = field(default_factory=list)   # 学号 of the sheet the course does not know
    no_score: dict[str, str] = field(default_factory=dict)   # 学号 → why its cell stays blank
    not_in_sheet: list[str] = field(default_factory=list)    # roster students the sheet does not list


def _from_xls(path: Path):
    """An old .xls workbook's sheets and values as an openpyxl workbook (xlrd reads the format; nothing
    writes it any more, so the filled sheet is an .xlsx)."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in read_xls(path, FillError):
        ws = wb.create_sheet(name)
        for r, cells in enumerate(rows):
            for c, value in enumerate(cells):
                if value != "":
                    ws.cell(r + 1, c + 1, int(value) if isinstance(value, float) and value.is_integer() else value)
    return wb


def _find(ws, column: str) -> tuple[int, int, int] | None:
    """(header row, id column, score column), 1-based row, 0-based columns, in the first ten rows."""
    ids, wanted = {header_key(a) for a in COLUMNS["id"]}, header_key(column)
    for r, cells in enumerate(ws.iter_rows(min_row=1, max_row=10, values_only=True), 1):
        keys = [header_key(c) for c in cells]
        id_col = next((i for i, k in enumerate(keys) if k in ids), None)
        score_col = next((i for i, k in enumerate(keys) if k == wanted), None)
        if id_col is not None and score_col is not None:
            return r, id_col, score_col
    return None


def fill(template: str | Path, column: str, scores: dict[str, float | None], out: str | Path, *,
         why_blank: dict[str, str] | None = None, decimals: int = 0) -> Filled:
    """Write ``scores`` (student id → score on the school's scale, None: not known yet) into ``column`` of
    the first sheet of ``template`` that has a 学号 column and that one; save as ``out``."""
    from openpyxl import load_workbook

    template, out = Path(template), Path(out)
    if not template.is_file():
        raise FillError(f"no such score sheet: {template}")
    suffix = template.suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".xls"):
        raise FillError(f"{template}: a score sheet must be an Excel workbook (.xlsx, or the old .xls)")
    if out.resolve() == template.resolve():
        raise FillError(f"{out}: that is the school's template itself; write the filled sheet to a new file")
    if suffix == ".xls" and out.suffix.lower() != ".xlsx":
        raise FillError(f"{out}: an old .xls sheet is filled into a new .xlsx workbook (its values; not its "
                        "formats): name the output file .xlsx")
    if suffix == ".xls":
        wb = _from_xls(template)
    else:
        try:
            wb = load_workbook(template, keep_vba=suffix == ".xlsm")
        except Exception as exc:   # openpyxl raises several kinds for a file that is not a workbook
            raise FillError(f"{template}: not a readable XLSX workbook ({exc})") from None
    for ws in wb.worksheets:
        found = _find(ws, column)
        if found:
            break
    else:
        seen = "; ".join(f"{ws.title}: " + ", ".join(h for h in (cell_text(c) for c in row) if h)
                         for ws in wb.worksheets for row in ws.iter_rows(min_row=1, max_row=3, values_only=True)
                         if any(row))
        raise FillError(f"{template}: no sheet has both a student id column (学号) and the column {column!r} in its "
                        f"first ten rows (the first rows hold: {seen or 'nothing'})")
    header, id_col, score_col = found
    result = Filled(ws.title, header, f"{cell_text(ws.cell(header, score_col + 1).value)} "
                                      f"({column_letter(score_col)})")
    listed = set()
    for row in ws.iter_rows(min_row=header + 1):
        sid = cell_text(row[id_col].value) if id_col < len(row) else ""
        if not sid:
            continue   # a blank or a total row
        listed.add(sid)
        if sid not in scores:
            result.not_on_roster.append(sid)
            continue
        value = scores[sid]
        cell = ws.cell(row[0].row, score_col + 1)
        if value is None:
            result.no_score[sid] = (why_blank or {}).get(sid, "no score yet")
            cell.value = None
            continue
        # 四舍五入 as the school rounds (84.5 → 85), not Python's round half to even
        q = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
        cell.value = int(q) if decimals == 0 else float(q)
        result.filled += 1
    result.not_in_sheet = [s for s in scores if s not in listed]
    wb.save(out)
    return result


def school_scores(course, score: str = "final", scale: float = 100.0) -> tuple[dict[str, float | None], dict[str, str]]:
    """Each roster student's score on the school's scale (``scale`` points for 100 %), and why a blank one is
    blank: ``final`` the course grade (crmlab grades, with the course's peer_scores.csv and groups.csv),
    ``coursework`` the modules' part alone, or a module id (that module's total)."""
    from crmlab.grading.outputs.grades import GradesSection, counted, course_grades, default_inputs
    from crmlab.grading.outputs.results import load

    data = load(course)
    if score in ("final", "coursework"):
        grades, _ = course_grades(course, *default_inputs(course), data)
        out, why = {}, {}
        for g in grades:
            pct = g.final if score == "final" else (None if g.coursework is None else 100 * g.coursework)
            out[g.student] = None if pct is None else pct * scale / 100
            if pct is None:
                why[g.student] = "; ".join(g.missing) or "no grade yet"
        return out, why
    if score not in {m.id for m in data.modules}:
        raise FillError(f"--score {score!r}: neither final, coursework nor a module assigned in this course "
                        f"({', '.join(m.id for m in data.modules) or 'none assigned yet'})")
    info, out, why, settings = data.module(score), {}, {}, GradesSection.of(course)
    for s in data.students:
        points, not_yet = counted(settings, score, data.results[(score, s.id)])
        out[s.id] = None if points is None or not info.max_total else points / info.max_total * scale
        if not_yet:
            why[s.id] = not_yet
    return out, why
