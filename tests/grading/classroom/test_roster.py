"""The class list (grading/classroom/roster.py): XLSX or CSV as a school's office hands it out — Chinese or English
headers, Chinese names, ids stored as numbers — and errors that name the row and the column."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook

from crmlab.grading.classroom.roster import RosterError, read_roster, split_name

CRMLAB = str(Path(sys.executable).with_name("crmlab"))


def xlsx(path: Path, rows: list[list]) -> Path:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(path)
    return path


@pytest.mark.parametrize("name, parts", [("张伟", ("张", "伟")), ("欧阳娜娜", ("欧阳", "娜娜")), ("司马光", ("司马", "光")),
                                         ("王小明", ("王", "小明")), ("Wei Zhang", ("Zhang", "Wei")),
                                         ("Mary Ann Lee", ("Lee", "Mary Ann")), ("阿依古丽·买买提", ("阿依古丽·买买提", "")),
                                         ("Li", ("Li", ""))])
def test_a_full_name_is_split_into_family_and_given_name(name, parts):
    assert split_name(name) == parts


@pytest.mark.parametrize("name, parts", [
    ("王 芳", ("王", "芳")),              # a half-width space: not a Western "given family"
    ("刘\u3000洋", ("刘", "洋")),          # the full-width space a registrar's export pads two-character names with
    (" 李\u3000\u3000静 ", ("李", "静")),  # several, and around it
    ("欧阳 娜娜", ("欧阳", "娜娜")),        # the space marks where the family name ends ...
    ("司 马光", ("司", "马光")),            # ... even where the characters could be a compound surname
    ("王 小 明", ("王", "小明")),           # several spaces: family name by the surname rule
    ("诸葛\u3000亮", ("诸葛", "亮")),
    ("阿依古丽 · 买买提", ("阿依古丽·买买提", "")),
])
def test_a_chinese_name_is_family_first_whatever_its_spacing(name, parts):
    assert split_name(name) == parts


def test_names_with_spaces_reach_the_roster_family_first(tmp_path):
    from crmlab.grading.classroom.course import Course
    from crmlab.grading.outputs.results import load

    path = xlsx(tmp_path / "r.xlsx", [["学号", "姓名"], ["s01", "王 芳"], ["s02", "刘\u3000洋"], ["s03", "Wei Zhang"]])
    course = Course.init(tmp_path / "c", "names-course")
    course.add_students(read_roster(path).students)
    assert {s.id: s.name for s in load(course).students} == {"s01": "王芳", "s02": "刘洋", "s03": "Wei Zhang"}


def xls(path: Path, rows: list[list]) -> Path:
    """An old Excel (.xls, BIFF8) file, as a school office's system exports it (written by xlwt)."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("学生名单")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                ws.write(r, c, value)
    wb.save(str(path))
    return path


def test_an_old_xls_class_list_reads_as_the_xlsx_one_and_its_errors_name_the_cell(tmp_path):
    rows = [["2024级市场营销1班 学生名单"], ["序号", "学号", "姓名", "邮箱"],
            [1, 2024010101, "张伟", "zw@example.edu.cn"], [2, "2024010102", "欧阳娜娜", None]]
    old, new = xls(tmp_path / "名单.xls", rows), xlsx(tmp_path / "名单.xlsx", rows)
    assert read_roster(old).students == read_roster(new).students == [
        {"id": "2024010101", "first_name": "伟", "last_name": "张", "email": "zw@example.edu.cn"},
        {"id": "2024010102", "first_name": "娜娜", "last_name": "欧阳", "email": None}]
    with pytest.raises(RosterError, match=r"名单\.xls, row 4, column 学号 \(B\): 's 02' is not a valid student id"):
        read_roster(xls(tmp_path / "名单.xls", rows[:3] + [[2, "s 02", "李静", None]]))
    (tmp_path / "坏.xls").write_bytes(b"not a workbook")
    with pytest.raises(RosterError, match=r"坏\.xls: not a readable Excel \(\.xls\) workbook"):
        read_roster(tmp_path / "坏.xls")


def test_an_xlsx_class_list_with_a_title_row_chinese_headers_and_numeric_ids(tmp_path):
    path = xlsx(tmp_path / "学生名单.xlsx", [
        ["2024级市场营销1班 学生名单"],
        ["序号", "学号", "姓名", "性别", "邮箱"],
        [1, 2024010101, "张伟", "男", "zw@example.edu.cn"],
        [2, "2024010102", "欧阳娜娜", "女", None],
        [None, None, None, None, None],                      # a blank row between groups
        [3, 2024010103.0, "Wei Zhang", "男", " wz@example.edu "],
    ])
    assert read_roster(path).students == [
        {"id": "2024010101", "first_name": "伟", "last_name": "张", "email": "zw@example.edu.cn"},
        {"id": "2024010102", "first_name": "娜娜", "last_name": "欧阳", "email": None},
        {"id": "2024010103", "first_name": "Wei", "last_name": "Zhang", "email": "wz@example.edu"},
    ]


@pytest.mark.parametrize("header", [["id", "name", "email"], ["Student ID", "Name", "E-mail"], ["学号", "姓名", "电子邮箱"]])
def test_header_variants_in_either_language(tmp_path, header):
    path = xlsx(tmp_path / "r.xlsx", [header, ["s01", "李静", "s01@example.edu"]])
    assert read_roster(path).students == [{"id": "s01", "first_name": "静", "last_name": "李", "email": "s01@example.edu"}]


def test_separate_family_and_given_name_columns_win_and_csv_may_be_gbk(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("学号,姓,名,姓名\ns01,司,马光,司马光\n".encode("gb18030"))   # Excel's "CSV" in Chinese Windows
    assert read_roster(path).students == [{"id": "s01", "first_name": "马光", "last_name": "司", "email": None}]
    path.write_text("id,first_name,last_name,email\ns02,芳,王,s02@example.edu\n", encoding="utf-8-sig")
    assert read_roster(path).students[0] == {"id": "s02", "first_name": "芳", "last_name": "王", "email": "s02@example.edu"}


@pytest.mark.parametrize("rows, message", [
    ([["学号", "姓名"], ["s01", "张伟"], ["s 02", "王芳"]], r"row 3, column 学号 \(A\): 's 02' is not a valid student id"),
    ([["姓名", "学号"], ["张伟", "s01"], ["王芳", None]], r"row 3, column 学号 \(B\): the student id is empty"),
    ([["id", "name"], ["s01", "张伟"], ["s01", "王芳"]], r"row 3, column id \(A\): student id s01 appears twice \(first in row 2\)"),
    ([["学号", "姓名", "邮箱"], ["s01", "张伟", "zhangwei.example.edu"]],
     r"row 2, column 邮箱 \(C\): 'zhangwei.example.edu' is not an e-mail address"),
    ([["姓名", "班级"], ["张伟", "1班"]], r"no student id column \(学号 or id\) in the first rows; columns found in row 1: "
                                        r"姓名, 班级$"),
    # the title row above is not the header: the row with the most filled cells is the one shown
    ([["2024级市场营销1班 学生名单"], ["序号", "学生号", "姓名", "邮箱"], [1, "s01", "张伟", None]],
     r"columns found in row 2: 序号, 学生号, 姓名, 邮箱$"),
    ([["学号", "姓名"]], r"no students below the header row 1"),
])
def test_a_bad_cell_is_refused_naming_its_row_and_column(tmp_path, rows, message):
    with pytest.raises(RosterError, match=message):
        read_roster(xlsx(tmp_path / "r.xlsx", rows))


def test_roster_import_from_xlsx_puts_chinese_names_in_the_gradebook_or_changes_nothing(tmp_path):
    from crmlab.grading.classroom.course import Course

    course = Course.init(tmp_path / "c", "roster-course")
    good = xlsx(tmp_path / "good.xlsx", [["学号", "姓名", "邮箱"], ["s01", "张伟", "s01@example.edu"],
                                          ["s02", "欧阳娜娜", "s02@example.edu"]])
    r = subprocess.run([CRMLAB, "roster", "import", str(good), "--course", str(course.root)], capture_output=True, text=True)
    assert r.returncode == 0 and "the roster of roster-course now has 2 students" in r.stdout, r.stderr
    with course.gradebook() as gb:
        assert {(s.id, s.last_name, s.first_name) for s in gb.students} == {("s01", "张", "伟"), ("s02", "欧阳", "娜娜")}
    bad = xlsx(tmp_path / "bad.xlsx", [["学号", "姓名"], ["s03", "李静"], ["s 04", "赵磊"]])
    r = subprocess.run([CRMLAB, "roster", "import", str(bad), "--course", str(course.root)], capture_output=True, text=True)
    assert r.returncode == 2 and "row 3, column 学号 (A)" in r.stderr and "Traceback" not in r.stderr
    assert course.students() == ["s01", "s02"]          # nothing of a refused file is imported


def test_an_empty_name_is_warned_naming_the_row(tmp_path):
    path = xlsx(tmp_path / "r.xlsx", [["学号", "姓名"], ["s01", "张伟"], ["s02", None], ["s03", "  "]])
    roster = read_roster(path)
    assert [p["id"] for p in roster.students] == ["s01", "s02", "s03"]     # imported all the same
    assert roster.warnings == [f"{path}, row 3, column 姓名 (B): student s02 has no name: imported with the id only",
                               f"{path}, row 4, column 姓名 (B): student s03 has no name: imported with the id only"]
    no_names = read_roster(xlsx(tmp_path / "ids.xlsx", [["学号"], ["s01"]]))
    assert len(no_names.warnings) == 1 and "no name column" in no_names.warnings[0]
    assert read_roster(xlsx(tmp_path / "ok.xlsx", [["学号", "姓名"], ["s01", "张伟"]])).warnings == []


def crmlab(*args, cwd=None, env=None):
    import os
    return subprocess.run([CRMLAB, *args], capture_output=True, text=True, cwd=cwd, env=dict(os.environ, **(env or {})))


def test_roster_import_counts_the_roster_and_warns_of_empty_names(tmp_path):
    from crmlab.grading.classroom.course import Course

    course = Course.init(tmp_path / "c", "count-course")
    # a title row, a header, four students and a blank row: 6 rows of the file, 4 students
    first = xlsx(tmp_path / "first.xlsx", [["2024级市场营销1班"], ["学号", "姓名"], ["s01", "张伟"], ["s02", "王 芳"],
                                           [None, None], ["s03", None], ["s04", "李静"]])
    r = crmlab("roster", "import", str(first), "--course", str(course.root))
    assert r.returncode == 0, r.stderr
    assert "4 students read from first.xlsx (header in row 2): 4 added, 0 updated; the roster of count-course " \
           "now has 4 students" in r.stdout
    assert "crmlab: warning:" in r.stderr and "row 6, column 姓名 (B): student s03 has no name" in r.stderr
    second = xlsx(tmp_path / "second.xlsx", [["学号", "姓名"], ["s04", "李 静"], ["s05", "赵磊"]])
    r = crmlab("roster", "import", str(second), "--course", str(course.root))
    assert "2 students read from second.xlsx (header in row 1): 1 added, 1 updated; the roster of count-course " \
           "now has 5 students" in r.stdout and r.stderr == ""


def test_roster_list_and_remove(tmp_path):
    from crmlab.grading.classroom.course import Course

    course = Course.init(tmp_path / "c", "list-course")
    course.add_students([{"id": "s10", "last_name": "欧阳", "first_name": "娜娜", "email": "s10@example.edu"},
                         {"id": "s2", "last_name": "王", "first_name": "芳", "email": None},
                         {"id": "s3", "last_name": "Zhang", "first_name": "Wei", "email": "wz@example.edu"}])
    r = crmlab("roster", "list", cwd=course.root / "modules")    # the course found from a folder inside it
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [ln.split()[0] for ln in lines[1:4]] == ["s2", "s3", "s10"]             # roster order: s2 before s10
    assert "欧阳娜娜" in lines[3] and "Wei Zhang" in lines[2] and lines[-1] == "3 students on the roster of list-course"
    # the e-mail column starts at the same terminal column whatever the width of the names (a CJK character takes 2)
    from crmlab.grading.outputs.terminal import width
    at = [width(ln[:ln.rindex(" ") + 1]) for ln in lines if "@" in ln]
    assert len(at) == 2 and len(set(at)) == 1

    r = crmlab("roster", "remove", "s99", "--course", str(course.root))
    assert r.returncode == 2 and "s99 is not on the roster of list-course" in r.stderr and "Traceback" not in r.stderr
    (course.path("submitted", "s3", "m01")).mkdir(parents=True)                  # s3 has handed something in
    r = crmlab("roster", "remove", "s3", "--course", str(course.root))
    assert r.returncode == 2 and "s3 has work in this course (submitted/s3/)" in r.stderr and "--force" in r.stderr
    assert course.students() == ["s10", "s2", "s3"]                               # refused: nothing changed
    r = crmlab("roster", "remove", "s2", "--course", str(course.root))
    assert r.returncode == 0 and "removed s2 from the roster of list-course" in r.stdout, r.stderr
    r = crmlab("roster", "remove", "s3", "--force", "--course", str(course.root))
    assert r.returncode == 0 and "their folders are kept in" in r.stdout, r.stderr
    assert course.students() == ["s10"] and not course.path("submitted", "s3").exists()
    [kept] = (course.private / "removed" / "s3").iterdir()
    assert (kept / "submitted" / "m01").is_dir()                                  # moved, not deleted
