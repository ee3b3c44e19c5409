"""The course grade's rules on hand-computed cases: the CRM show's peer scoring (drop the highest and the
lowest, average), refused inputs named by row, and modules counted the same, summed or weighted. No nbgrader here: the
class results are built by hand (tests/grading/outputs/test_feedback.py does the same on a class graded by nbgrader)."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from crmlab.grading.outputs.grades import GradesError, course_grades, peer_average, read_groups, read_peer_scores
from crmlab.grading.outputs.results import Cell, ClassResults, ModuleInfo, Result, Student
from crmlab.grading.classroom.settings import SettingsError, parse


@pytest.mark.parametrize("scores, expected", [
    ([7, 8, 9], 8),                 # one left
    ([10, 0, 5, 5], 5),             # the extremes go, the two middles stay
    ([8, 8, 8, 2, 10], 8),
    ([0, 10, 10, 10], 10),          # only one of the tied highest is dropped
    ([6, 9, 7, 10, 4, 8], 7.5),     # (6 + 7 + 8 + 9) / 4
    ([7, 7, 7], 7),
])
def test_peer_average_drops_one_highest_and_one_lowest(scores, expected):
    assert peer_average(scores) == expected


def test_peer_average_needs_three_scores():
    with pytest.raises(ValueError, match="at least 3"):
        peer_average([9, 3])


def _csv(tmp_path: Path, text: str, name="peer.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GROUPS = "student,group\ns01,火锅队\ns02,火锅队\ns03,航空队\ns04,银行队\ns05,汽车队\n"


def test_peer_scores_by_group_name_or_by_the_leaders_student_id(tmp_path):
    groups = read_groups(_csv(tmp_path, GROUPS, "groups.csv"))
    scores = read_peer_scores(_csv(tmp_path, "group,judge,score\n火锅队,航空队,8\n火锅队,s04,9\n火锅队,汽车队, 6 \n"
                                             "航空队,s01,7\n"), groups)
    assert scores == {"火锅队": [8, 9, 6], "航空队": [7]}


def test_headers_are_case_insensitive_and_a_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "peer.csv"
    path.write_text("Group,Judge,Score\nA,B,10\n", encoding="utf-8-sig")   # as Excel saves it
    assert read_peer_scores(path) == {"A": [10]}


@pytest.mark.parametrize("row, words", [
    ("火锅队,航空队,7.5", ["row 3", "'7.5'", "whole number from 0 to 10"]),
    ("火锅队,航空队,11", ["row 3", "'11'"]),
    ("火锅队,航空队,-1", ["row 3", "'-1'"]),
    ("火锅队,航空队,八", ["row 3", "'八'"]),
    ("火锅队,航空队,", ["row 3", "''"]),
    ("火锅队,火锅队,9", ["row 3", "'火锅队' cannot judge itself"]),
    ("火锅队,s02,9", ["row 3", "cannot judge itself", "'s02'"]),        # a member of the group, by student id
    ("火锅队,s03,9", ["row 3", "already scored by the judge of '航空队'"]),   # 航空队's leader twice
    ("烧烤队,航空队,9", ["row 3", "'烧烤队' has no members"]),
    ("火锅队,s99,9", ["row 3", "judge 's99' is neither a group nor a member"]),
])
def test_bad_rows_are_refused_naming_the_row(tmp_path, row, words):
    groups = read_groups(_csv(tmp_path, GROUPS, "groups.csv"))
    path = _csv(tmp_path, f"group,judge,score\n火锅队,航空队,8\n{row}\n")
    with pytest.raises(GradesError) as err:
        read_peer_scores(path, groups)
    for w in words:
        assert w in str(err.value)


def test_group_list_refuses_a_student_in_two_groups_or_off_the_roster(tmp_path):
    with pytest.raises(GradesError, match="row 3: student 's01' is already in group '火锅队'"):
        read_groups(_csv(tmp_path, "student,group\ns01,火锅队\ns01,航空队\n", "g.csv"))
    with pytest.raises(GradesError, match="row 2: student 'x9' is not on the roster"):
        read_groups(_csv(tmp_path, "student,group\nx9,火锅队\n", "g.csv"), roster={"s01"})
    with pytest.raises(GradesError, match="missing column"):
        read_groups(_csv(tmp_path, "id,team\ns01,火锅队\n", "g.csv"))


# -- the course grade on hand-made class results ------------------------------------------------
def _class(results: dict[tuple[str, str], Result]) -> ClassResults:
    m01 = ModuleInfo("m01", "认识你的客户", "Know your customers", [Cell("chk_a", 10, False, ""), Cell("refl", 10, True, "")])
    m02 = ModuleInfo("m02", "二", "two", [Cell("chk_b", 5, False, "")])   # 20 and 5 points
    students = [Student("s01", "伟", "王"), Student("s02", "芳", "李"), Student("s03", "静", "张"),
                Student("s04", "强", "刘"), Student("s05", "敏", "陈"), Student("s06", "磊", "杨")]   # other groups' leaders
    return ClassResults("c", students, [m01, m02], results)


def _course(tmp_path, **grades):
    """A course whose [grades] are ``grades``, read as a crmlab.toml would be (grading/classroom/settings.py)."""
    given = {"course": {"id": "c"}, "grading": {"cell_timeout": 20, "submission_timeout": 240}, "grades": grades}
    return SimpleNamespace(root=tmp_path, settings=parse(given, tmp_path / "crmlab.toml"))


def _results():
    g = lambda m, s, t, **kw: Result(m, s, "graded", "", total=t, needs_manual_grade=False, **kw)  # noqa: E731
    return {("m01", "s01"): g("m01", "s01", 15.0), ("m02", "s01"): g("m02", "s01", 5.0),
            ("m01", "s02"): Result("m01", "s02", "graded", "", total=8.0, needs_manual_grade=True),
            ("m02", "s02"): g("m02", "s02", 2.0),
            ("m01", "s03"): Result("m01", "s03", "missing", "no submission"), ("m02", "s03"): g("m02", "s03", 4.0)} \
        | {(m, s): Result(m, s, "missing", "no submission") for m in ("m01", "m02") for s in ("s04", "s05", "s06")}


LEADERS = "s04,C\ns05,D\ns06,E\n"


def test_each_module_counts_the_same_by_default_and_the_show_forty_percent(tmp_path):
    groups = _csv(tmp_path, "student,group\ns01,A\ns02,A\ns03,B\n" + LEADERS, "groups.csv")
    peer = _csv(tmp_path, "group,judge,score\nA,B,9\nA,C,6\nA,s05,8\nA,E,10\nB,s01,5\nB,C,7\nB,D,6\n")
    grades, by_group = course_grades(_course(tmp_path), peer, groups, data=_class(_results()))
    assert by_group == {"A": 8.5, "B": 6}        # A: 9, 6, 8, 10 → (9 + 8) / 2; B: 5, 7, 6 → 6
    s01, s02, s03 = grades[:3]
    # m01 15/20 = 0.75 and m02 5/5 = 1 count the same, though m01 has four times the points: (0.75 + 1) / 2
    # = 0.875 → 60 × 0.875 + 40 × 0.85 = 52.5 + 34
    assert s01.coursework == pytest.approx(0.875) and s01.final == pytest.approx(86.5)
    assert s02.final is None and s02.missing == ["m01: manual grading pending"]   # not counted as 0
    assert s03.final is None and s03.missing == ["m01: missing"]


def test_points_summed_when_the_course_says_so(tmp_path):
    groups = _csv(tmp_path, "student,group\ns01,A\n" + LEADERS, "groups.csv")
    peer = _csv(tmp_path, "group,judge,score\nA,C,9\nA,D,6\nA,E,8\n")
    grades, _ = course_grades(_course(tmp_path, combine="points"), peer, groups, data=_class(_results()))
    # (15 + 5) / 25 = 0.8 of the points → 60 × 0.8 + 40 × 0.8 = 48 + 32
    assert grades[0].coursework == pytest.approx(0.8) and grades[0].final == pytest.approx(80)


@pytest.mark.parametrize("combine, expected", [
    ("equal", 48),     # s03: m01 0/20 and m02 4/5 = 0.8 → 0.4 → 60 × 0.4 + 40 × 0.6 = 24 + 24
    ("points", 33.6),  # s03: (0 + 4) / 25 = 0.16 → 60 × 0.16 + 40 × 0.6 = 9.6 + 24
])
def test_missing_counts_zero_when_the_course_says_so(tmp_path, combine, expected):
    groups = _csv(tmp_path, "student,group\ns01,A\ns03,B\n" + LEADERS, "groups.csv")
    peer = _csv(tmp_path, "group,judge,score\nB,A,5\nB,C,7\nB,D,6\n")
    grades, _ = course_grades(_course(tmp_path, missing="zero", combine=combine), peer, groups, data=_class(_results()))
    assert grades[2].final == pytest.approx(expected)


@pytest.mark.parametrize("combine", ["equal", "points"])
def test_weights_average_the_modules_percentages_and_no_show(tmp_path, combine):
    course = _course(tmp_path, weights={"m01": 3, "m02": 1}, peer_share=0, combine=combine)
    grades, _ = course_grades(course, data=_class(_results()))
    # s01: m01 15/20 = 0.75 weighted 3, m02 5/5 = 1 weighted 1 → (2.25 + 1) / 4 = 0.8125, whatever `combine` says
    assert grades[0].final == pytest.approx(81.25) and grades[0].missing == []


def test_weights_count_only_the_modules_they_name(tmp_path):
    grades, _ = course_grades(_course(tmp_path, weights={"m02": 1}, peer_share=0), data=_class(_results()))
    assert grades[0].final == pytest.approx(100) and list(grades[0].modules) == ["m02"]   # s01: m02 5/5


@pytest.mark.parametrize("grades, words", [
    ({"peer_share": 40}, "'grades.peer_share' = 40 should be a share from 0 to 1"),
    ({"peer_share": True}, "'grades.peer_share' = True should be a share"),
    ({"missing": "ignore"}, "'grades.missing' = 'ignore': should be 'blank' or 'zero'"),
    ({"combine": "sum"}, "'grades.combine' = 'sum': should be 'equal' or 'points'"),
    ({"weights": {"m01": "a lot"}}, "'grades.weights' should map"),
    ({"weight": {"m01": 1}}, "unknown setting 'grades.weight'"),
])
def test_bad_settings_are_named(tmp_path, grades, words):
    with pytest.raises(SettingsError, match="^" + re.escape(f"{tmp_path / 'crmlab.toml'}: {words}")):
        _course(tmp_path, **grades)


def test_weights_of_a_module_not_assigned_are_named(tmp_path):
    with pytest.raises(GradesError, match="m09"):
        course_grades(_course(tmp_path, weights={"m09": 1}), data=_class(_results()))


def test_peer_scores_and_groups_saved_as_gbk_by_chinese_excel_read_the_same(tmp_path):
    """Excel and WPS in Chinese save "CSV" as GBK unless told UTF-8: the group names read the same either way; a
    file that is neither UTF-8 nor GBK is refused naming it, not a traceback."""
    from crmlab.grading.classroom.course import CourseError

    text = "group,judge,score\n火锅队,航空队,8\n火锅队,银行队,9\n"
    (tmp_path / "gbk.csv").write_bytes(text.encode("gbk"))
    (tmp_path / "utf8.csv").write_bytes(text.encode("utf-8"))
    assert read_peer_scores(tmp_path / "gbk.csv") == read_peer_scores(tmp_path / "utf8.csv") == {"火锅队": [8, 9]}
    (tmp_path / "g.csv").write_bytes(GROUPS.encode("gbk"))
    assert read_groups(tmp_path / "g.csv")["s01"] == "火锅队"
    (tmp_path / "bad.csv").write_bytes(b"group,judge,score\n\xff\xfe\xff,\x81,8\n")
    with pytest.raises(CourseError, match=r"bad\.csv: neither UTF-8 nor GBK"):
        read_peer_scores(tmp_path / "bad.csv")
