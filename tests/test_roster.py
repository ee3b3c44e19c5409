"""The class list (grading/roster.py): XLSX or CSV as a school's office hands it out — Chinese or English
headers, Chinese names, ids stored as numbers — and errors that name the row and the column."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook

from grading.roster import RosterError, read_roster, split_name

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


def test_an_xlsx_class_list_with_a_title_row_chinese_headers_and_numeric_ids(tmp_path):
    path = xlsx(tmp_path / "学生名单.xlsx", [
        ["2024级市场营销1班 学生名单"],
        ["序号", "学号", "姓名", "性别", "邮箱"],
        [1, 2024010101, "张伟", "男", "zw@example.edu.cn"],
        [2, "2024010102", "欧阳娜娜", "女", None],
        [None, None, None, None, None],                      # a blank row between groups
        [3, 2024010103.0, "Wei Zhang", "男", " wz@example.edu "],
    ])
    assert read_roster(path) == [
        {"id": "2024010101", "first_name": "伟", "last_name": "张", "email": "zw@example.edu.cn"},
        {"id": "2024010102", "first_name": "娜娜", "last_name": "欧阳", "email": None},
        {"id": "2024010103", "first_name": "Wei", "last_name": "Zhang", "email": "wz@example.edu"},
    ]


@pytest.mark.parametrize("header", [["id", "name", "email"], ["Student ID", "Name", "E-mail"], ["学号", "姓名", "电子邮箱"]])
def test_header_variants_in_either_language(tmp_path, header):
    path = xlsx(tmp_path / "r.xlsx", [header, ["s01", "李静", "s01@example.edu"]])
    assert read_roster(path) == [{"id": "s01", "first_name": "静", "last_name": "李", "email": "s01@example.edu"}]


def test_separate_family_and_given_name_columns_win_and_csv_may_be_gbk(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("学号,姓,名,姓名\ns01,司,马光,司马光\n".encode("gb18030"))   # Excel's "CSV" in Chinese Windows
    assert read_roster(path) == [{"id": "s01", "first_name": "马光", "last_name": "司", "email": None}]
    path.write_text("id,first_name,last_name,email\ns02,芳,王,s02@example.edu\n", encoding="utf-8-sig")
    assert read_roster(path)[0] == {"id": "s02", "first_name": "芳", "last_name": "王", "email": "s02@example.edu"}


@pytest.mark.parametrize("rows, message", [
    ([["学号", "姓名"], ["s01", "张伟"], ["s 02", "王芳"]], r"row 3, column 学号 \(A\): 's 02' is not a valid student id"),
    ([["姓名", "学号"], ["张伟", "s01"], ["王芳", None]], r"row 3, column 学号 \(B\): the student id is empty"),
    ([["id", "name"], ["s01", "张伟"], ["s01", "王芳"]], r"row 3, column id \(A\): student id s01 appears twice \(first in row 2\)"),
    ([["学号", "姓名", "邮箱"], ["s01", "张伟", "zhangwei.example.edu"]],
     r"row 2, column 邮箱 \(C\): 'zhangwei.example.edu' is not an e-mail address"),
    ([["姓名", "班级"], ["张伟", "1班"]], r"no student id column \(学号 or id\) in the first rows; columns found: 姓名, 班级"),
    ([["学号", "姓名"]], r"no students below the header row 1"),
])
def test_a_bad_cell_is_refused_naming_its_row_and_column(tmp_path, rows, message):
    with pytest.raises(RosterError, match=message):
        read_roster(xlsx(tmp_path / "r.xlsx", rows))


def test_roster_import_from_xlsx_puts_chinese_names_in_the_gradebook_or_changes_nothing(tmp_path):
    from grading.course import Course

    course = Course.init(tmp_path / "c", "roster-course")
    good = xlsx(tmp_path / "good.xlsx", [["学号", "姓名", "邮箱"], ["s01", "张伟", "s01@example.edu"],
                                          ["s02", "欧阳娜娜", "s02@example.edu"]])
    r = subprocess.run([CRMLAB, "roster", "import", str(good), "--course", str(course.root)], capture_output=True, text=True)
    assert r.returncode == 0 and "2 students on the roster" in r.stdout, r.stderr
    with course.gradebook() as gb:
        assert {(s.id, s.last_name, s.first_name) for s in gb.students} == {("s01", "张", "伟"), ("s02", "欧阳", "娜娜")}
    bad = xlsx(tmp_path / "bad.xlsx", [["学号", "姓名"], ["s03", "李静"], ["s 04", "赵磊"]])
    r = subprocess.run([CRMLAB, "roster", "import", str(bad), "--course", str(course.root)], capture_output=True, text=True)
    assert r.returncode == 2 and "row 3, column 学号 (A)" in r.stderr and "Traceback" not in r.stderr
    assert course.students() == ["s01", "s02"]          # nothing of a refused file is imported
