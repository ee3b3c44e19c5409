"""The class list, read from the file a school's office hands out: XLSX (Excel, WPS), the old XLS or CSV.

Columns are found by their header, in Chinese or English, in any order (:data:`COLUMNS`); only the
student id is required. A full name (姓名 / name) is split into family and given name, as nbgrader's
roster keeps them. A Chinese name is family-first whatever its spacing: one space inside it ("王 芳",
or the full-width "刘　洋" of a registrar's export that pads two-character names) marks where the
family name ends; without one, the surname is the first character, or two for the compound surnames
such as 欧阳. A Latin name splits at its last space ("Wei Zhang" → given "Wei", family "Zhang"); a
name with a middle dot (阿依古丽·买买提) is kept whole, as written. Separate family and given name
columns win over a full name. The header may sit below a title row (a class list often starts with
"2024级市场营销1班"): the first of the first ten rows that names an id column.

Every error names the file, the row as Excel numbers it and the column, so the instructor can fix the
cell: ``students.xlsx, row 7, column 学号 (B): 's 07' is not a valid student id …``.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from crmlab.grading.classroom.course import CourseError
from crmlab.grading.classroom.data import STUDENT_ID

# field → the headers that mean it (compared without case, spaces, '_' and '-')
COLUMNS = {
    "id": ("id", "studentid", "学号", "学生编号", "学籍号"),
    "name": ("name", "fullname", "姓名", "学生姓名"),
    "last_name": ("lastname", "familyname", "surname", "姓"),
    "first_name": ("firstname", "givenname", "名"),
    "email": ("email", "mail", "emailaddress", "邮箱", "电子邮箱", "电子邮件", "邮件"),
}
COMPOUND_SURNAMES = {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
                     "夏侯", "令狐", "轩辕", "端木", "独孤", "南宫", "西门", "百里", "呼延", "万俟", "申屠", "太史"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CJK = re.compile(r"^[\u3400-\u9fff\u00b7·]+$")


class RosterError(CourseError):
    """A class list that cannot be imported (the message names the row and the column)."""


def split_name(name: str) -> tuple[str, str]:
    """(family name, given name) of a full name."""
    parts = name.split()   # any run of spaces, the full-width U+3000 included
    name = " ".join(parts)
    if "·" in name or "・" in name:   # 阿依古丽·买买提: no family name to split off; kept whole, as written
        return "".join(parts), ""
    if CJK.match("".join(parts)):     # Chinese: family name first, whatever the spacing
        if len(parts) == 2 and len(parts[0]) <= 2:   # "王 芳", "欧阳 娜娜": the space says where it ends
            return parts[0], parts[1]
        name = "".join(parts)
        n = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
        return name[:n], name[n:]
    if " " in name:
        given, family = name.rsplit(" ", 1)
        return family, given
    return name, ""


def header_key(header) -> str:
    return re.sub(r"[\s_\-]", "", str(header or "")).lower().lstrip("\ufeff")


def cell_text(value) -> str:
    """A cell as text: Excel stores 2024001 as a number (2024001.0), which is the id 2024001."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def column_letter(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out


def _rows(path: Path) -> tuple[list[tuple[int, list]], bool]:
    """(row number, cells) of the first sheet or the CSV file; and whether it is a workbook."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook
        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:   # openpyxl raises several kinds for a file that is not a workbook
            raise RosterError(f"{path}: not a readable XLSX workbook ({exc})") from None
        try:
            return [(i, list(r)) for i, r in enumerate(wb.worksheets[0].iter_rows(values_only=True), 1)], True
        finally:
            wb.close()
    if suffix == ".xls":   # the old binary format (Excel 97–2003), which school offices still export
        (_, rows), = read_xls(path, RosterError, first_only=True)
        return [(i, r) for i, r in enumerate(rows, 1)], True
    return [(i, r) for i, r in enumerate(csv.reader(csv_text(path).splitlines()), 1)], False


def csv_text(path: Path) -> str:
    """A CSV file a person saved, as text: UTF-8 (with or without a byte-order mark), else GBK — Excel and WPS
    in Chinese save "CSV" as GBK unless told UTF-8 (gb18030 decodes every GBK file and more)."""
    raw = Path(path).read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CourseError(f"{path}: neither UTF-8 nor GBK text: save it as \"CSV UTF-8\" (Excel) or CSV (WPS)")


def read_xls(path: Path, error=CourseError, first_only: bool = False) -> list[tuple[str, list[list]]]:
    """(sheet name, rows) of an old Excel (.xls) file's sheets (or its first only), as values: numbers as
    floats, as Excel keeps them (cell_text makes 2024001.0 the id 2024001). A file that is not one is
    refused as ``error``."""
    import xlrd

    try:
        book = xlrd.open_workbook(str(path), on_demand=True)
    except Exception as exc:   # xlrd raises several kinds for a file that is not a workbook
        raise error(f"{path}: not a readable Excel (.xls) workbook ({exc})") from None
    try:
        sheets = book.sheets()[:1] if first_only else book.sheets()
        return [(s.name, [s.row_values(i) for i in range(s.nrows)]) for s in sheets]
    finally:
        book.release_resources()


@dataclass(frozen=True)
class Roster:
    """A class list as read: its students (dicts with id, first_name, last_name, email; None where
    absent), the row its header is in, and what was odd but not wrong (an empty name)."""
    path: Path
    students: list[dict]
    header_row: int
    warnings: list[str] = field(default_factory=list)


def read_roster(path: str | Path) -> Roster:
    """Read and check a whole class list: any bad cell refuses the file, naming the row and the column."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such class list: {path}")
    rows, workbook = _rows(path)
    wanted = {alias: field for field, aliases in COLUMNS.items() for alias in aliases}
    for at, (line, cells) in enumerate(rows[:10]):
        found = {}
        for i, header in enumerate(cells):
            kind = wanted.get(header_key(header))
            if kind and kind not in found:
                found[kind] = (i, cell_text(header))
        if "id" in found:
            break
    else:
        raise RosterError(f"{path}: no student id column (学号 or id) in the first rows; " + _likely_header(rows))

    def where(row: int, kind: str) -> str:
        i, header = found[kind]
        return f"{path}, row {row}, column {header}" + (f" ({column_letter(i)})" if workbook else "")

    people, first_seen, warnings = [], {}, []
    named = "name" in found or "last_name" in found or "first_name" in found
    if not named:
        warnings.append(f"{path}: no name column (姓名 or name; or 姓 and 名): the students are imported with "
                        "their ids only, and feedback and reports show the ids")
    for line, cells in rows[at + 1:]:
        value = {f: cell_text(cells[i]) if i < len(cells) else "" for f, (i, _) in found.items()}
        if not any(value.values()):
            continue   # a blank row between groups
        sid = value["id"]
        if not sid:
            raise RosterError(f"{where(line, 'id')}: the student id is empty")
        if not STUDENT_ID.match(sid):
            raise RosterError(f"{where(line, 'id')}: {sid!r} is not a valid student id (letters, digits, '_', '-', "
                              "'.'; no spaces)")
        if sid in first_seen:
            raise RosterError(f"{where(line, 'id')}: student id {sid} appears twice (first in row {first_seen[sid]})")
        first_seen[sid] = line
        email = value.get("email") or None
        if email and not EMAIL.match(email):
            raise RosterError(f"{where(line, 'email')}: {email!r} is not an e-mail address")
        family, given = split_name(value["name"]) if value.get("name") else ("", "")
        person = {"id": sid, "first_name": value.get("first_name") or given or None,
                  "last_name": value.get("last_name") or family or None, "email": email}
        if named and not (person["first_name"] or person["last_name"]):
            column = next(f for f in ("name", "last_name", "first_name") if f in found)
            warnings.append(f"{where(line, column)}: student {sid} has no name: imported with the id only")
        people.append(person)
    if not people:
        raise RosterError(f"{path}: no students below the header row {rows[at][0]}")
    return Roster(path, people, rows[at][0], warnings)


def _likely_header(rows: list[tuple[int, list]]) -> str:
    """The columns of the row that looks most like a header: of the first ten, the one with the most
    filled cells (a title row above the header has one)."""
    best = max(rows[:10], key=lambda r: sum(bool(cell_text(c)) for c in r[1]), default=None)
    if best is None or not any(cell_text(c) for c in best[1]):
        return "the file is empty"
    return f"columns found in row {best[0]}: " + ", ".join(cell_text(c) for c in best[1] if cell_text(c))



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

# -- the roster in the course -------------------------------------------------------------------------
def listing(course) -> list[dict]:
    """Every student on the roster, in roster order: id, name, email."""
    from crmlab.grading.classroom import gradebook

    with gradebook.opened(course) as gb:
        rows = gradebook.students(gb)
    people = sorted((Student(r.id, r.first_name, r.last_name, r.email) for r in rows), key=lambda p: roster_key(p.id))
    return [{"id": p.id, "name": p.name, "email": p.email} for p in people]


def work_of(course, student: str) -> list[str]:
    """What a student has handed in or been given in this course: the folders, and the modules with a
    grade or a grading outcome (empty: nothing would be lost by removing them)."""
    from crmlab.grading.classroom import gradebook
    from crmlab.grading.classroom.state import StateStore

    found = [f"{step}/{student}/" for step in ("submitted", "autograded", "feedback")
             if course.path(step, student).is_dir() and any(course.path(step, student).iterdir())]
    with gradebook.opened(course) as gb:
        graded = sorted(m for m, s in gradebook.submissions(gb) if s == student)
    state = StateStore(course.private / "state.db")
    try:
        outcomes = sorted({m for (m,) in state.con.execute("SELECT module FROM results WHERE student = ?", (student,))})
    finally:
        state.close()
    found += [f"{m} in the gradebook" for m in graded] + [f"{m} in the grading state" for m in outcomes
                                                          if m not in graded]
    return found


def remove_student(course, student: str, force: bool = False) -> Path | None:
    """Take a student off the roster. One with work in the course (:func:`work_of`) is refused unless
    ``force``: then their grades leave the gradebook and the grading state, and their folders
    (``outbox``, ``submitted``, ``autograded``, ``feedback``, ``home``) move to
    ``.crmlab/removed/<student>/`` — nothing is deleted from the disk. Returns that folder, if any."""
    import shutil
    import time

    from crmlab.grading.classroom import gradebook
    from crmlab.grading.classroom.state import StateStore

    if student not in course.students():
        raise RosterError(f"{student} is not on the roster of {course.course_id} (crmlab roster list shows who is)")
    work = work_of(course, student)
    if work and not force:
        raise RosterError(f"{student} has work in this course ({'; '.join(work)}): removing them takes their grades "
                          "out of the gradebook. Add --force to remove them all the same (their folders are kept in "
                          f"{course.private / 'removed' / student})")
    with gradebook.opened(course) as gb:
        in_gradebook = any(s == student for _, s in gradebook.submissions(gb))
    if in_gradebook:   # nbgrader deletes the submissions, grades and comments with the student
        with course.gradebook() as gb:
            gb.remove_student(student)
    else:
        with gradebook.opened(course, write=True) as gb:
            gb.execute("DELETE FROM student WHERE id = :id", id=student)
    state = StateStore(course.private / "state.db")
    try:
        with state.con:
            for table in ("results", "checks"):
                state.con.execute(f"DELETE FROM {table} WHERE student = ?", (student,))
    finally:
        state.close()
    kept = course.private / "removed" / student / time.strftime("%Y%m%d-%H%M%S")
    folders = {step: course.path(step, student) for step in ("outbox", "submitted", "autograded", "feedback")}
    folders["home"] = course.root / "home" / student
    moved = False
    for step, folder in folders.items():
        if folder.exists():
            kept.mkdir(parents=True, exist_ok=True)
            shutil.move(folder, kept / step)
            moved = True
    return kept if moved else None
