"""Feedback pages, the class report, the XLSX and LMS exports and the course grade, on a small class graded
once by real nbgrader (as tests/grading/run/test_grading.py does), with a manual grade given as the formgrader
gives it."""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from crmlab.grading.classroom.assign import assign
from crmlab.grading.run.autograde import autograde
from crmlab.grading.classroom.course import SHIPPED_COURSE, Course
from crmlab.grading.demo import solution_code, write_submission
from crmlab.grading.outputs.export import export
from crmlab.grading.outputs.feedback import write_feedback
from crmlab.grading.outputs.grades import course_grades
from crmlab.grading.outputs.report import summarise, write_report
from crmlab.grading.outputs.results import load

MODULE = "m01"
CRMLAB = str(Path(sys.executable).with_name("crmlab"))
# roster order is by student id with numbers compared as numbers: s2 before s10
KINDS = {"s1": "correct", "s2": "partly_wrong", "s3": "blank", "s9": "partly_wrong", "s10": "broken_json",
         "s11": "no_submission", "s12": "infinite_loop"}
NAMES = {"s1": ("王", "小明"), "s2": ("欧阳", "娜娜"), "s3": ("李", "静"), "s9": ("张", "伟"), "s10": ("陈", "思思"),
         "s11": ("刘", "洋"), "s12": ("赵", "磊")}
CHECK_POINTS = {"chk_active": 2, "chk_top10": 2, "chk_pareto": 2, "chk_wait": 2, "chk_grid": 3}   # the notebook's


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("fbcourse") / "c"
    Course.init(root, "fb-course", secret="feedback-test-secret")   # reproducible data
    toml = root / "crmlab.toml"
    toml.write_text(toml.read_text().replace("cell_timeout = 20", "cell_timeout = 4"))
    course = Course.open(root)
    course.add_students([{"id": s, "last_name": NAMES[s][0], "first_name": NAMES[s][1], "email": f"{s}@example.edu"}
                         for s in KINDS])
    assign(course, MODULE, progress=False)
    rng = np.random.default_rng(3)
    for student, kind in KINDS.items():
        write_submission(course, MODULE, student, kind, rng, copied_from="s1")
    autograde(course, MODULE, workers=2, progress=False)
    # the instructor grades s1's reflection in the formgrader (what its API does to the gradebook)
    with course.gradebook() as gb:
        grade = gb.find_grade("reflection", MODULE, MODULE, "s1")
        grade.manual_score, grade.needs_manual_grade = 3.0, False
        gb.find_comment("reflection", MODULE, MODULE, "s1").manual_comment = "分析清楚，建议再具体一些。"
        gb.db.commit()
    return course


@pytest.fixture(scope="module")
def pages(course):
    return {p.parent.parent.name: p.read_text(encoding="utf-8") for p in write_feedback(course, MODULE)}


def _text(page: str) -> str:
    """What a reader sees: the page without its style sheet, tags and entities."""
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _auto_scores(course, student) -> dict[str, float]:
    with course.gradebook() as gb:
        return {g.name: g.score for nb in gb.find_submission(MODULE, student).notebooks for g in nb.grades}


# -- feedback ------------------------------------------------------------------------------------
def test_every_roster_student_gets_a_page(course, pages):
    assert set(pages) == set(KINDS)
    assert (course.path("feedback", "s10", MODULE) / "index.html").exists()


def test_feedback_shows_status_reason_points_and_hints_in_both_languages(course, pages):
    wrong = _text(pages["s2"])
    scores = _auto_scores(course, "s2")
    hints = tomllib.loads((SHIPPED_COURSE / "checks" / "m01.hints.toml").read_text(encoding="utf-8"))
    missed = [c for c in CHECK_POINTS if scores[c] < CHECK_POINTS[c]]
    assert missed   # a partly wrong submission
    for c in CHECK_POINTS:
        assert f"{scores[c]:g} / {CHECK_POINTS[c]}" in wrong
    for c in missed:   # what it checks and a hint, in both languages
        assert hints[c]["zh"] in wrong and hints[c]["en"] in wrong
    for c in set(CHECK_POINTS) - set(missed):
        assert hints[c]["en"] not in wrong
    assert "还差在哪里" in wrong and "What to look at again" in wrong
    broken = _text(pages["s10"])
    assert "出错 · error" in broken and "not valid JSON" in broken and "不是有效的 JSON" in broken
    assert "不是 0 分" in broken and "not a zero" in broken and "Checkpoint by checkpoint" not in broken
    assert "没有提交" in _text(pages["s11"]) and "no submission" in _text(pages["s11"])
    loop = _text(pages["s12"])
    assert "超时" in loop and "ans_wait" in loop and "运行超过 4 秒" in loop


def test_feedback_shows_the_manual_grade_and_comment(pages):
    sol = _text(pages["s1"])
    assert "3 / 4" in sol and "分析清楚，建议再具体一些。" in sol
    assert "14 / 15" in sol                       # 11 automatic points + 3 given by hand
    assert "待老师评分" in _text(pages["s2"])        # not graded yet: said, not shown as 0


def test_one_way_to_show_a_score_automatic_plus_by_hand_is_the_total(course, pages):
    # s1: the five checkpoints right (2 + 2 + 2 + 2 + 3 = 11 automatic points) and 3 of 4 given by hand
    assert "自动 11/11 + 人工 3/4 = 14/15" in _text(pages["s1"]) and "automatic 11/11 + by hand 3/4 = 14/15" in _text(pages["s1"])
    # s2: the reflection waits for the instructor. Every total on the page is out of the module's 15 points
    # (a page once said "11 / 11" at the top and "11 / 15" below)
    scores = _auto_scores(course, "s2")
    auto = sum(scores[c] for c in CHECK_POINTS)
    text = _text(pages["s2"])
    assert f"自动 {auto:g}/11 + 人工 —/4 = {auto:g}/15" in text and "by hand —/4" in text and "人工部分待评" in text
    outside_tables = _text(re.sub(r"<table>.*?</table>", "", pages["s2"], flags=re.S))
    assert re.findall(r"\b(\d+(?:\.\d+)?) ?/ ?(\d+)\b", outside_tables) == \
        [(f"{auto:g}", "15"), (f"{auto:g}", "11"), (f"{auto:g}", "15"), (f"{auto:g}", "11"), (f"{auto:g}", "15")]
    # ... the big total, then the sum in each language: nothing says "x / 11" as if that were the total
    zh_line = re.search(r"<div class='summary'>.*?<div class='note'>(.*?)<br>", pages["s2"], re.S).group(1)
    assert "人工" in zh_line and not re.search(r"[A-Za-z]{3,}", zh_line)   # no English id inside a Chinese sentence


def _badges(page: str) -> list[tuple[str, str, str]]:
    """(code, Chinese, English) of every status or verdict badge on a page."""
    return re.findall(r"<span class='badge b-(\w+)'>(.*?) · (.*?)</span>", page)


def test_one_vocabulary_in_feedback_workbook_and_report(course, pages):
    """The words for a status or a verdict are the same on a student's page, in the instructor's workbook
    and in the class report (they were 已评分 / 未提交 / 不正确 on one and 已评 / 未交 / 错误 on another)."""
    from crmlab.grading.classroom.labels import STATUS, VERDICT
    from crmlab.grading.classroom.state import STATUSES

    wb = load_workbook(io.BytesIO(export(course, "xlsx")))
    header = [c.value for c in wb[MODULE][1]]
    sheet = {r[0]: dict(zip(header, r)) for r in wb[MODULE].iter_rows(min_row=2, values_only=True)}
    summary = {r[0]: r[3] for r in wb["汇总 Summary"].iter_rows(min_row=2, values_only=True)}
    report = write_report(course, MODULE).read_text(encoding="utf-8")
    report_status = {code: (zh, en) for code, zh, en in _badges(report) if code in STATUS}
    seen_status = set()
    for student in KINDS:
        code, zh, en = _badges(pages[student])[0]                  # the page's first badge: the status
        assert sheet[student]["状态 Status"] == summary[student] == f"{zh} {en}"
        assert report_status[code] == (zh, en)
        seen_status.add(code)
        for c, full in CHECK_POINTS.items():                         # each checkpoint's verdict, page and workbook
            row = re.search(rf"<span class='cid'>{c}</span></td><td class='num'>[^<]*</td><td>(<span class='badge[^/]*</span>)",
                            pages[student])
            cell = sheet[student][f"{c} 结果 verdict"]
            if row is None:                                          # no score: no verdicts anywhere
                assert cell is None
                continue
            [(vcode, vzh, ven)] = _badges(row.group(1))
            assert cell == f"{vzh} {ven}" and (vzh, ven) == (VERDICT[vcode].zh, VERDICT[vcode].en)
    assert seen_status == {"graded", "error", "missing", "timeout"}
    # every status the grading state can record has its words in both languages
    for code in (*STATUSES, "pending"):
        assert re.search(r"[\u4e00-\u9fff]", STATUS[code].zh) and STATUS[code].en.isascii()


def test_times_are_shown_in_the_courses_local_time(course):
    [page] = write_feedback(course, MODULE, ["s1"], so_far=[MODULE], released_at="2026-06-30T18:00:00+08:00")
    text = _text(page.read_text(encoding="utf-8"))
    assert "截至 2026-06-30 18:00 (UTC+08:00)" in text and "As of 2026-06-30 18:00 (UTC+08:00)" in text
    assert course.now().utcoffset().total_seconds() == 8 * 3600     # the shipped course: Asia/Shanghai


def test_released_pages_end_with_the_students_own_scores_so_far_and_a_coursework_estimate(course):
    from crmlab.grading.outputs.feedback import scores_so_far
    from crmlab.grading.outputs.scores import find_scores, format_scores

    data = load(course)
    s1 = scores_so_far(course, data, "s1", [MODULE], "2026-06-30T18:00:00+08:00")
    assert s1["modules"] == [{"module": "m01", "title_zh": "认识你的客户", "title_en": "Know your customers",
                              "status": "graded", "points": 14.0, "max_points": 15.0, "manual_pending": False,
                              "auto": 11.0, "auto_max": 11.0, "manual": 3.0, "manual_max": 4.0}]
    assert (s1["counted"], s1["coursework_pct"], s1["coursework_share"]) == (["m01"], round(100 * 14 / 15, 1), 0.6)
    pending = scores_so_far(course, data, "s2", [MODULE], "t")       # reflection not graded yet: not counted
    assert pending["modules"][0]["manual_pending"] and pending["coursework_pct"] is None
    assert scores_so_far(course, data, "s10", [MODULE], "t")["modules"][0]["points"] is None   # error: no score, not 0
    assert scores_so_far(course, data, "s11", [MODULE], "t")["coursework_pct"] is None       # missing: blank ...

    toml = course.root / "crmlab.toml"
    before = toml.read_text(encoding="utf-8")
    try:                                                                                      # ... or 0 if the course says so
        toml.write_text(before.replace('missing = "blank"', 'missing = "zero"'), encoding="utf-8")
        assert scores_so_far(Course.open(course.root), data, "s11", [MODULE], "t")["coursework_pct"] == 0
    finally:
        toml.write_text(before, encoding="utf-8")

    [page] = write_feedback(course, MODULE, ["s1"], data=data, so_far=[MODULE], released_at="2026-06-30T18:00:00+08:00")
    text = _text(page.read_text(encoding="utf-8"))
    assert "你目前的成绩" in text and "Your scores so far" in text and "93.3 %" in text and "about 56 points" in text
    assert all(f"({other})" not in text for other in KINDS if other != "s1")
    # `crmlab my-scores` reads it where nbgrader's fetch_feedback puts it in the student's folder
    fetched = course.root / "home-s1" / "m01" / "feedback" / "2026-06-30 10:00:00 UTC"
    fetched.mkdir(parents=True)
    (fetched / "m01.html").write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
    [found] = find_scores(course.root / "home-s1")
    assert found == s1
    table = format_scores(found)
    assert "fb-course · s1" in table and "14/15" in table and "93.3 %" in table and "已评分 graded" in table
    assert "自动 11/11 + 人工 3/4 = 14/15" in table and "2026-06-30 18:00 (UTC+08:00)" in table


def test_no_solution_check_code_or_right_value_leaks_into_any_feedback(course, pages):
    forbidden = set()
    for code in solution_code(course, MODULE).values():                    # the instructor's solution
        forbidden |= {ln.strip() for ln in code.splitlines() if len(ln.strip()) >= 12}
    source = json.loads((course.path("modules", module=MODULE) / f"{MODULE}.ipynb").read_text(encoding="utf-8"))
    for c in source["cells"]:                                              # the model reflection, if any
        if c["metadata"].get("nbgrader", {}).get("solution") and c["cell_type"] == "markdown":
            forbidden |= {ln.strip() for ln in "".join(c["source"]).splitlines() if len(ln.strip()) >= 12}
    checks = (course.root / "checks" / f"{MODULE}.py").read_text(encoding="utf-8")   # the grader's checks
    forbidden |= {ln.strip() for ln in checks.splitlines() if len(ln.strip()) >= 12}
    assert len(forbidden) > 30
    for student, page in pages.items():
        seen = html.unescape(page)
        leaks = [ln for ln in forbidden if ln in seen]
        assert leaks == [], (student, leaks)
        for token in ("SELECT", "def chk_", "Wrong(", "ctx.", "BEGIN SOLUTION", "hand_in(", "read_sql"):
            assert token not in seen, (student, token)

    for student in ("s1", "s2", "s9", "s12"):    # the right values, recomputed here with pandas on their data
        con = sqlite3.connect(course.path("outbox", student, MODULE) / "crm.db")
        lines = pd.read_sql_query("SELECT o.account_id, l.quantity * l.unit_price AS r FROM order_lines l "
                                  "JOIN orders o USING (order_id)", con)
        calls = pd.read_sql_query("SELECT arrived_at, answered_at FROM calls WHERE answered_at IS NOT NULL", con,
                                  parse_dates=["arrived_at", "answered_at"])
        accounts = pd.read_sql_query("SELECT account_id FROM accounts", con)["account_id"]
        con.close()
        revenue = lines.groupby("account_id")["r"].sum()
        revenue = revenue[revenue > 0].sort_values(ascending=False)
        share = revenue.head(-(-len(revenue) // 5)).sum() / revenue.sum()
        wait = ((calls["answered_at"] - calls["arrived_at"]).dt.total_seconds() / 60).mean()
        text = _text(pages[student])
        for x in (share, wait):
            for shown in (f"{x:.2f}", f"{x:.3f}", f"{x:.4f}", repr(float(x)), f"{100 * x:.1f}"):
                assert shown not in text, (student, shown)
        assert [a for a in accounts if re.search(rf"\b{re.escape(a)}\b", text)] == []   # no account named at all


# -- class report ------------------------------------------------------------------------------
def test_class_report_counts_and_rates_agree_with_the_gradebook(course):
    data = load(course)
    s = summarise(data, MODULE)
    assert s["status"] == {"graded": 4, "error": 1, "missing": 1, "timeout": 1}
    scored = [st for st, k in KINDS.items() if k not in ("broken_json", "no_submission")]
    for c, full in CHECK_POINTS.items():   # full marks in nbgrader's gradebook ⇔ "right" in the report
        expected = sum(_auto_scores(course, st)[c] == full for st in scored) / len(scored)
        assert s["pass_rate"][c] == pytest.approx(expected)
    assert sorted(s["auto_points"]) == sorted(sum(_auto_scores(course, st)[c] for c in CHECK_POINTS) for st in scored)
    assert s["verdicts"]["chk_top10"]["no_answer"] >= 1          # the blank notebook
    assert all(n >= 1 for c in CHECK_POINTS for _, n in s["messages"][c]) and any(s["messages"].values())
    assert len(s["seconds"]) == 6 and all(t > 0 for t in s["seconds"])   # every submission handed in

    path = write_report(course, MODULE)
    page = path.read_text(encoding="utf-8")
    assert path == course.root / "reports" / f"{MODULE}.html"
    for heading in ("提交状态", "Status of the submissions", "最常见的错误", "The most common mistakes",
                    "评分用时", "Grading time per submission", "通过率", "Pass rate"):
        assert heading in page
    images = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    assert len(images) >= 4 and all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)


# -- exports -----------------------------------------------------------------------------------
ROSTER = ["s1", "s2", "s3", "s9", "s10", "s11", "s12"]


def test_xlsx_reads_back_with_types_chinese_names_and_roster_order(course):
    wb = load_workbook(io.BytesIO(export(course, "xlsx")))
    assert wb.sheetnames == ["汇总 Summary", MODULE]
    ws = wb[MODULE]
    header = [c.value for c in ws[1]]
    rows = {r[0]: dict(zip(header, r)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assert [r[0] for r in ws.iter_rows(min_row=2, values_only=True)] == ROSTER
    assert [r[1] for r in ws.iter_rows(min_row=2, values_only=True)] == ["".join(NAMES[s]) for s in ROSTER]
    assert ws.freeze_panes == "C2" and wb["汇总 Summary"].freeze_panes == "C2"
    sol = rows["s1"]
    assert sol["得分 Score (/15)"] == 14 and isinstance(sol["得分 Score (/15)"], (int, float))
    for c, full in CHECK_POINTS.items():
        assert sol[f"{c} (/{full})"] == full and sol[f"{c} 结果 verdict"] == "正确 right"
    assert sol["reflection (/4)"] == 3 and sol["待人工评分 Manual pending"] is False
    assert rows["s2"]["reflection (/4)"] is None and rows["s2"]["待人工评分 Manual pending"] is True
    for s, status in (("s10", "出错 error"), ("s11", "未提交 missing")):   # no score, never 0
        assert rows[s]["状态 Status"] == status and rows[s]["得分 Score (/15)"] is None
        assert all(rows[s][f"{c} (/{full})"] is None for c, full in CHECK_POINTS.items())
    zh, en = rows["s10"]["原因 Reason"].split("\n")   # the reason in Chinese, the English under it
    assert zh.startswith("笔记本文件不是有效的 JSON") and en.startswith("the notebook file is not valid JSON")
    assert ws.column_dimensions["D"].width > ws.column_dimensions["A"].width   # the reason column is wide
    for r in rows.values():   # automatic + by hand = total, in numbers
        if r["得分 Score (/15)"] is not None and r["人工 By hand (/4)"] is not None:
            assert r["自动 Automatic (/11)"] + r["人工 By hand (/4)"] == r["得分 Score (/15)"]
    assert (sol["自动 Automatic (/11)"], sol["人工 By hand (/4)"]) == (11, 3) and rows["s2"]["人工 By hand (/4)"] is None


def test_canvas_csv_parses_back_with_blank_where_there_is_no_final_score(course):
    table = list(csv.reader(io.StringIO(export(course, "canvas"))))
    assert table[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert table[0][5].startswith(f"{MODULE} ") and len(table[0]) == 6
    assert table[1][0] == "Points Possible" and float(table[1][5]) == 15
    body = {r[2]: r for r in table[2:]}
    assert [r[2] for r in table[2:]] == ROSTER and body["s2"][0] == "欧阳, 娜娜"
    assert float(body["s1"][5]) == 14                 # 11 + 3 from the formgrader
    assert float(body["s3"][5]) == 0                  # handed in untouched: a real 0
    for s in ("s2", "s9", "s10", "s11"):              # manual grading pending, error, missing: blank
        assert body[s][5] == ""


def test_moodle_csv_has_no_grade_dash_and_the_status_as_feedback(course):
    table = list(csv.DictReader(io.StringIO(export(course, "moodle"))))
    col = next(k for k in table[0] if k.startswith(f"{MODULE} ") and not k.endswith("(feedback)"))
    by = {r["ID number"]: r for r in table}
    assert [r["ID number"] for r in table] == ROSTER and by["s2"]["Surname"] == "欧阳"
    assert float(by["s1"][col]) == 14 and by["s10"][col] == "-" and by["s11"][col] == "-"
    assert by["s10"][f"{col} (feedback)"].startswith("error: the notebook file is not valid JSON")
    assert "manual grading pending" in by["s2"][f"{col} (feedback)"]


def test_export_command_writes_every_format(course, tmp_path):
    for fmt in ("csv", "json", "xlsx", "canvas", "moodle"):
        out = tmp_path / f"grades.{fmt}"
        r = subprocess.run([CRMLAB, "export", "--course", str(course.root), "--format", fmt, "--out", str(out)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert out.stat().st_size > 100
    r = subprocess.run([CRMLAB, "export", "--course", str(course.root), "--format", "xlsx"], capture_output=True, text=True)
    assert r.returncode == 2 and "--out" in r.stderr


def test_csv_for_excel_on_chinese_windows_has_a_byte_order_mark_and_gbk_on_request(course, tmp_path):
    """Excel on Chinese Windows shows plain UTF-8 as 乱码: the CSV a person opens starts with a byte-order mark; the
    LMS imports stay plain UTF-8 (Canvas reads a first header with a mark as something else than "Student");
    GBK on request reads back the same."""
    def run(*args):
        return subprocess.run([CRMLAB, *args, "--course", str(course.root)], capture_output=True, text=True)

    out = {}
    for name, args in {"csv": ["export"], "canvas": ["export", "--format", "canvas"], "final": ["grades"],
                       "gbk": ["export", "--encoding", "gbk"], "plain": ["export", "--encoding", "utf-8"]}.items():
        out[name] = tmp_path / f"{name}.csv"
        r = run(*args, "--out", str(out[name]))
        assert r.returncode == 0, r.stderr
    raw = {k: p.read_bytes() for k, p in out.items()}
    assert raw["csv"].startswith(b"\xef\xbb\xbf") and raw["final"].startswith(b"\xef\xbb\xbf")
    assert not raw["canvas"].startswith(b"\xef\xbb\xbf") and not raw["plain"].startswith(b"\xef\xbb\xbf")
    text = raw["csv"].decode("utf-8-sig")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text)   # reason_zh: Chinese that GBK must carry too
    assert raw["gbk"].decode("gbk") == text == raw["plain"].decode("utf-8")
    assert list(csv.DictReader(io.StringIO(text)))[0]["student_id"] == "s1"
    r = run("export", "--encoding", "gbk")   # the terminal has its own encoding
    assert r.returncode == 2 and "--out" in r.stderr and "Traceback" not in r.stderr


def test_the_schools_score_sheet_is_filled_with_a_modules_score_on_its_scale(course, tmp_path):
    """crmlab export --format fill on the graded class: s1's m01 is 14 of 15 (graded by hand above) → 93.3 of
    100 → 93; s2 waits for manual grading and stays blank, said; a 学号 the course does not know is said."""
    from openpyxl import Workbook, load_workbook

    template, out = tmp_path / "成绩单.xlsx", tmp_path / "已填.xlsx"
    wb = Workbook()
    wb.active.append(["学号", "姓名", "平时成绩"])
    for sid in ("s1", "s2", "x99"):
        wb.active.append([sid, NAMES.get(sid, ("", ""))[0], None])
    wb.save(template)
    r = subprocess.run([CRMLAB, "export", "--course", str(course.root), "--format", "fill", "--template", str(template),
                        "--column", "平时成绩", "--score", MODULE, "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "1 scores" in r.stdout and "平时成绩 (C)" in r.stdout
    assert "s2 (m01: manual grading pending)" in r.stderr and "not on the course's roster" in r.stderr and "x99" in r.stderr
    ws = load_workbook(out).active
    assert [ws.cell(i, 3).value for i in (2, 3, 4)] == [93, None, None]
    for args, words in (([], "--template"), (["--template", str(template), "--column", "期末", "--out", str(out)],
                                             "no sheet has"),
                        (["--column", "平时成绩"], "only for --format fill")):
        fmt = [] if "only for" in words else ["--format", "fill"]
        r = subprocess.run([CRMLAB, "export", "--course", str(course.root), *fmt, *args], capture_output=True, text=True)
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)


# -- the course grade --------------------------------------------------------------------------
def test_course_grade_uses_the_manual_grade_and_the_peer_score(course, tmp_path):
    groups = tmp_path / "groups.csv"
    groups.write_text("student,group\ns1,火锅队\ns2,火锅队\ns3,航空队\ns9,银行队\ns10,汽车队\ns11,汽车队\ns12,银行队\n",
                      encoding="utf-8")
    peer = tmp_path / "peer.csv"
    peer.write_text("group,judge,score\n火锅队,航空队,9\n火锅队,s9,6\n火锅队,汽车队,8\n航空队,火锅队,7\n"
                    "航空队,银行队,7\n航空队,汽车队,4\n", encoding="utf-8")
    grades, by_group = course_grades(course, peer, groups)
    assert by_group == {"火锅队": 8, "航空队": 7}
    g = {x.student: x for x in grades}
    # s1: 14 of 15 points (3 by hand) → 60 × 14/15 + 40 × 8/10 = 56 + 32
    assert g["s1"].modules == {MODULE: 14} and g["s1"].final == pytest.approx(88)
    assert g["s2"].final is None and "m01: manual grading pending" in g["s2"].missing
    assert g["s10"].final is None and g["s10"].missing[0] == "m01: error"
    assert "CRM show: no peer scores for group 汽车队" in g["s11"].missing
    r = subprocess.run([CRMLAB, "grades", "--course", str(course.root), "--peer", str(peer), "--groups", str(groups)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = {x["student_id"]: x for x in csv.DictReader(io.StringIO(r.stdout))}
    assert float(rows["s1"]["final"]) == 88 and rows["s2"]["final"] == ""
    peer.write_text("group,judge,score\n火锅队,航空队,9\n火锅队,s2,6\n", encoding="utf-8")
    r = subprocess.run([CRMLAB, "grades", "--course", str(course.root), "--peer", str(peer), "--groups", str(groups)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "row 3" in r.stderr and "cannot judge itself" in r.stderr and "Traceback" not in r.stderr


def test_a_course_without_the_crm_show_has_final_grades_and_no_word_of_peer_scores(course, tmp_path):
    toml = course.root / "crmlab.toml"
    before = toml.read_text(encoding="utf-8")
    try:
        toml.write_text(before.replace("peer_share = 0.4", "peer_share = 0"), encoding="utf-8")
        r = subprocess.run([CRMLAB, "grades", "--course", str(course.root)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        rows = {x["student_id"]: x for x in csv.DictReader(io.StringIO(r.stdout))}
        assert float(rows["s1"]["final"]) == pytest.approx(100 * 14 / 15, abs=0.01)   # the modules alone: 14 of 15
        assert all("CRM show" not in x["missing"] and "peer" not in x["missing"] for x in rows.values())
        assert "peer scores" not in r.stderr and "no CRM show: [grades] peer_share = 0" in r.stderr
        peer = tmp_path / "peer.csv"
        peer.write_text("group,judge,score\n", encoding="utf-8")
        r = subprocess.run([CRMLAB, "grades", "--course", str(course.root), "--peer", str(peer)], capture_output=True,
                           text=True)
        assert r.returncode == 0 and f"--peer {peer} is not used" in r.stderr    # a value given is never ignored silently
    finally:
        toml.write_text(before, encoding="utf-8")
    r = subprocess.run([CRMLAB, "grades", "--course", str(course.root)], capture_output=True, text=True)
    assert "no peer scores of the CRM show yet" in r.stderr and "peer_share = 0" in r.stderr   # with the show: what to do


def test_hints_cover_every_checkpoint_of_every_module_in_both_languages():
    modules = sorted(tomllib.loads((SHIPPED_COURSE / "crmlab.toml").read_text(encoding="utf-8"))["modules"])
    assert {"m01", "m04", "m06", "m07"} <= set(modules)
    for module in modules:
        checks = (SHIPPED_COURSE / "checks" / f"{module}.py").read_text(encoding="utf-8")
        names = set(re.findall(r"^def (chk_\w+)\(", checks, re.M))
        hints = tomllib.loads((SHIPPED_COURSE / "checks" / f"{module}.hints.toml").read_text(encoding="utf-8"))
        assert set(hints) == names
        for h in hints.values():
            assert re.search(r"[\u4e00-\u9fff]", h["zh"]) and h["en"] and not re.search(r"[\u4e00-\u9fff]", h["en"])
            for text in (h["zh"], h["en"]):   # plain text on the page: no Markdown left in it
                assert not re.search(r"\*\w|\w\*|`|\*\*", text), text


def test_what_a_student_or_a_check_wrote_reaches_the_page_as_text_and_the_scores_json_reads_back(tmp_path):
    """The pages come from autoescaping templates: markup in a name, a check's message, a comment or a reason
    is shown, never run, and a "</script>" in the scores data cannot end its script early."""
    from types import SimpleNamespace

    from crmlab.grading.outputs.feedback import render
    from crmlab.grading.classroom.reasons import Reason
    from crmlab.grading.outputs.results import Cell, ModuleInfo, Result, Student, Verdict
    from crmlab.grading.outputs.scores import find_scores

    evil = "<script>steal()</script>"
    module = ModuleInfo("m01", f"认识{evil}", "Know </script><b>", [Cell("chk_a", 2, False, f"检查 {evil}"),
                                                                   Cell("reflection", 4, True, "反思 'r'")])
    reason = Reason("missing_notebook", {"expected": ["m01.ipynb"], "found": [f"{evil}.ipynb"]})
    r = Result("m01", "s1", "graded", reason.text(), total=1.0, max_total=6.0, scores={"chk_a": 1.0, "reflection": None},
               comments={"reflection": f"好 {evil} & 'quoted'"}, reasons=[reason],
               verdicts={"chk_a": Verdict(1.0, 2.0, "partly", f"不对 {evil} / wrong {evil}")})
    so_far = {"course_id": "c", "student": "s1", "released_at": "2026-06-30T18:00:00+08:00", "counted": [],
              "modules": [{"module": "m01", "title_zh": module.title_zh, "title_en": module.title_en,
                           "status": "graded", "points": 1.0, "max_points": 6.0, "manual_pending": True,
                           "auto": 1.0, "auto_max": 2.0, "manual": None, "manual_max": 4.0}],
              "coursework_pct": None, "coursework_share": 0.6, "peer_share": 0.4}
    page = render(SimpleNamespace(course_id="c"), module, Student("s1", "明", "王"), r, {"chk_a": {"zh": evil, "en": evil}},
                  so_far)
    assert "<script>steal()" not in page and "<b>" not in page and "</script><b>" not in page
    assert page.count("&lt;script&gt;steal()&lt;/script&gt;") >= 6        # title, cell, message ×2, hint ×2, comment, reason
    text = _text(page)
    assert f"不对 {evil}" in text and f"wrong {evil}" in text and f"好 {evil} & 'quoted'" in text
    assert f"找到的是：{evil}.ipynb" in text and f"found: {evil}.ipynb" in text
    fetched = tmp_path / "m01" / "feedback" / "2026-06-30 10:00:00 UTC"
    fetched.mkdir(parents=True)
    (fetched / "m01.html").write_text(page, encoding="utf-8")
    assert find_scores(tmp_path) == [so_far]
