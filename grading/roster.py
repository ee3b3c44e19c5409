"""The class list, read from the file a school's office hands out: XLSX (Excel, WPS) or CSV.

Columns are found by their header, in Chinese or English, in any order (:data:`COLUMNS`); only the
student id is required. A full name (姓名 / name) is split into family and given name, as nbgrader's
roster keeps them: a Chinese name by its surname (two characters for the compound surnames such as
欧阳), a name with spaces at its last space ("Wei Zhang" → given "Wei", family "Zhang"); a name
with a middle dot (阿依古丽·买买提) is kept whole, as written. Separate
family and given name columns win over a full name. The header may sit below a title row (a class
list often starts with "2024级市场营销1班"): the first of the first ten rows that names an id column.

Every error names the file, the row as Excel numbers it and the column, so the instructor can fix the
cell: ``students.xlsx, row 7, column 学号 (B): 's 07' is not a valid student id …``.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

from .course import CourseError
from .data import STUDENT_ID

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
    name = " ".join(name.split())
    if "·" in name or "・" in name:   # 阿依古丽·买买提: no family name to split off; kept whole, as written
        return name, ""
    if CJK.match(name):
        n = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
        return name[:n], name[n:]
    if " " in name:
        given, family = name.rsplit(" ", 1)
        return family, given
    return name, ""


def _key(header) -> str:
    return re.sub(r"[\s_\-]", "", str(header or "")).lower().lstrip("\ufeff")


def _text(value) -> str:
    """A cell as text: Excel stores 2024001 as a number (2024001.0), which is the id 2024001."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _letter(index: int) -> str:
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
    if suffix == ".xls":
        raise RosterError(f"{path}: the old Excel format (.xls) is not read: save it as .xlsx (Excel workbook) or CSV")
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):   # Excel in Chinese saves "CSV" as GBK unless told UTF-8
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    return [(i, r) for i, r in enumerate(csv.reader(text.splitlines()), 1)], False


def read_roster(path: str | Path) -> list[dict]:
    """The students of a class list: dicts with id, first_name, last_name, email (None where absent)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such class list: {path}")
    rows, workbook = _rows(path)
    wanted = {alias: field for field, aliases in COLUMNS.items() for alias in aliases}
    for at, (line, cells) in enumerate(rows[:10]):
        found = {}
        for i, header in enumerate(cells):
            field = wanted.get(_key(header))
            if field and field not in found:
                found[field] = (i, _text(header))
        if "id" in found:
            break
    else:
        seen = ", ".join(_text(c) for c in (rows[0][1] if rows else []) if _text(c)) or "none"
        raise RosterError(f"{path}: no student id column (学号 or id) in the first rows; columns found: {seen}")

    def where(row: int, field: str) -> str:
        i, header = found[field]
        return f"{path}, row {row}, column {header}" + (f" ({_letter(i)})" if workbook else "")

    people, first_seen = [], {}
    for line, cells in rows[at + 1:]:
        value = {f: _text(cells[i]) if i < len(cells) else "" for f, (i, _) in found.items()}
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
        people.append({"id": sid, "first_name": value.get("first_name") or given or None,
                       "last_name": value.get("last_name") or family or None, "email": email})
    if not people:
        raise RosterError(f"{path}: no students below the header row {rows[at][0]}")
    return people
