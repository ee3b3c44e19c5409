"""Filling the school's own score sheet (crmlab export --format fill): the 学号 column found by its header
below a title row, the named column filled, 四舍五入, everything else of the workbook as it was, and what could
not be filled said. The workbook is made here as a school office's template looks; the scores are given by hand
(the command on a class graded by nbgrader: tests/grading/outputs/test_feedback.py)."""
from __future__ import annotations

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font

from crmlab.grading.outputs.fill import FillError, fill


def _template(path, ids=("2024001", "2024002", "2024003", "2024009")):
    wb = Workbook()
    ws = wb.active
    ws.title = "成绩单"
    ws.append(["2025–2026 学年第一学期 客户关系管理 成绩登记表"])          # a title row above the header
    ws.append(["序号", "学 号", "姓名", "平时成绩", "期末成绩", "总评"])     # 学 号 with a space, as offices type it
    for c in ws[2]:
        c.font = Font(bold=True)
    for i, sid in enumerate(ids, 1):
        ws.append([i, int(sid), f"学生{i}", None, 80, f"=D{i + 2}*0.4+E{i + 2}*0.6"])   # 学号 stored as a number
    ws.append([None, None, "合计", None, None, None])                       # a row without a 学号
    wb.create_sheet("说明").append(["平时成绩按百分制填写"])
    wb.save(path)
    return path


def test_the_named_column_is_filled_by_student_id_and_the_rest_is_kept(tmp_path):
    template = _template(tmp_path / "成绩单.xlsx")
    before = template.read_bytes()
    done = fill(template, "平时成绩", {"2024001": 84.5, "2024002": 92.44, "2024003": None, "2024004": 70},
                tmp_path / "out.xlsx", why_blank={"2024003": "m01: manual grading pending"})
    assert template.read_bytes() == before                        # the school's file is never written
    ws = load_workbook(tmp_path / "out.xlsx")["成绩单"]
    assert [ws.cell(r, 4).value for r in range(3, 7)] == [85, 92, None, None]   # 84.5 → 85 (四舍五入), 92.44 → 92
    assert [ws.cell(r, 6).value for r in range(3, 7)] == [f"=D{r}*0.4+E{r}*0.6" for r in range(3, 7)]
    assert ws.cell(1, 1).value.startswith("2025–2026") and ws.cell(2, 2).font.bold and ws.cell(3, 5).value == 80
    assert load_workbook(tmp_path / "out.xlsx")["说明"].cell(1, 1).value == "平时成绩按百分制填写"
    assert (done.sheet, done.header_row, done.column, done.filled) == ("成绩单", 2, "平时成绩 (D)", 2)
    assert done.no_score == {"2024003": "m01: manual grading pending"}
    assert done.not_on_roster == ["2024009"] and done.not_in_sheet == ["2024004"]


def test_decimals_are_kept_when_asked(tmp_path):
    fill(_template(tmp_path / "t.xlsx"), "平时成绩", {"2024001": 84.45, "2024002": 84.449}, tmp_path / "o.xlsx",
         decimals=1)
    ws = load_workbook(tmp_path / "o.xlsx").active
    assert (ws.cell(3, 4).value, ws.cell(4, 4).value) == (84.5, 84.4)


@pytest.mark.parametrize("column, out, words", [
    ("期中成绩", "o.xlsx", ["no sheet has", "'期中成绩'", "平时成绩"]),   # says which columns there are
    ("平时成绩", "t.xlsx", ["the school's template itself"]),
])
def test_a_sheet_that_cannot_be_filled_is_refused_and_nothing_written(tmp_path, column, out, words):
    template = _template(tmp_path / "t.xlsx")
    before = template.read_bytes()
    with pytest.raises(FillError) as err:
        fill(template, column, {"2024001": 90}, tmp_path / out)
    assert all(w in str(err.value) for w in words), str(err.value)
    assert template.read_bytes() == before and not (tmp_path / "o.xlsx").exists()


def test_an_old_xls_sheet_is_filled_into_a_new_xlsx_with_its_values(tmp_path):
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("成绩单")
    for r, row in enumerate([["成绩登记表"], ["学号", "姓名", "平时成绩"], [2024001, "王伟"], [2024002, "李静"]]):
        for c, v in enumerate(row):
            ws.write(r, c, v)
    wb.add_sheet("说明").write(0, 0, "百分制")
    old = tmp_path / "成绩单.xls"
    wb.save(str(old))
    with pytest.raises(FillError, match=r"\.xlsx"):
        fill(old, "平时成绩", {"2024001": 90}, tmp_path / "o.xls")
    done = fill(old, "平时成绩", {"2024001": 90.5, "2024002": 77}, tmp_path / "o.xlsx")
    got = load_workbook(tmp_path / "o.xlsx")
    assert [[c.value for c in row] for row in got["成绩单"].iter_rows()] == [
        ["成绩登记表", None, None], ["学号", "姓名", "平时成绩"], [2024001, "王伟", 91], [2024002, "李静", 77]]
    assert got["说明"].cell(1, 1).value == "百分制" and done.filled == 2
    (tmp_path / "坏.xls").write_bytes(b"not a workbook")
    with pytest.raises(FillError, match="not a readable Excel"):
        fill(tmp_path / "坏.xls", "平时成绩", {}, tmp_path / "o.xlsx")
