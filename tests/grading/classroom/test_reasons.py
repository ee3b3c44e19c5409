"""The grader's reasons: every code in both languages with the same placeholders, and every code the grading
code gives is declared (grading/classroom/reasons.py). tests/crmlab/test_messages.py checks every catalogue the same way."""
from __future__ import annotations

import re

import pytest
from codes_used import codes_given

from crmlab.grading.classroom import reasons
from crmlab.grading.classroom.reasons import REASONS, REFUSALS, Reason, placeholders


@pytest.mark.parametrize("table", [REASONS, REFUSALS], ids=["reasons", "refusals"])
def test_every_reason_has_both_languages_with_the_same_placeholders(table):
    for code, (zh, en) in table.items():
        assert zh.strip() and en.strip(), code
        assert re.search(r"[\u4e00-\u9fff]", zh), f"{code}: the Chinese text has no Chinese"
        assert placeholders(zh) == placeholders(en), code


def test_every_code_the_grader_gives_is_declared():
    # every Reason(…) in the grader and the crmlab command, both branches of a conditional code included
    used = codes_given(["grading", "crmlab"], {".Reason": 0})
    assert {"no_submission", "not_graded_yet", "left_out", "late"} <= set(used)
    assert set(used) <= set(REASONS), {c: used[c] for c in set(used) - set(REASONS)}
    # every refusal a left-out file or a refused notebook can carry ("missing": no folder at all, which
    # is no_submission, never shown as a refusal)
    why = codes_given(["grading"], {"_refuse": 3}, dict_key="why")
    assert {"symlink", "too_large", "more"} <= set(why)
    assert set(why) - {"missing"} <= set(REFUSALS), set(why) - {"missing"} - set(REFUSALS)
    with pytest.raises(KeyError):
        Reason("no_such_code")


def test_why_a_notebook_was_refused_is_read_in_the_readers_language():
    r = Reason("notebook_refused", {"name": "m01.ipynb", "why": {"why": "too_large", "params": {"limit_mb": 5}}})
    assert r.text("zh_CN") == "笔记本 m01.ipynb 没有被接收（超过 5 MB）：请提交笔记本文件本身"
    assert r.text("en_US") == "the notebook m01.ipynb was refused (larger than 5 MB): hand in the notebook file itself"
    nothing = Reason("missing_notebook", {"expected": ["m01.ipynb"], "found": [{"word": "nothing"}]})
    assert nothing.text("zh_CN") == "提交里没有 m01.ipynb（找到的是：没有文件）：请用原来的文件名提交"
    assert nothing.text("en_US") == "no m01.ipynb in the submission (found: nothing)"
    # a grading state written before refusals were codes holds the English text: shown as it is
    old = Reason("not_a_folder", {"name": "s1/m01", "why": "a symbolic link"})
    assert old.text("en_US") == "s1/m01 in submitted/ is not a plain folder (a symbolic link); it was not graded"


def test_a_reason_renders_in_each_language_from_its_parameters():
    r = Reason("left_out", {"files": [{"name": "a.lnk", "why": "symlink"}, {"name": "…", "why": "more",
                                                                            "params": {"n": 3}}]})
    assert r.text("en_US") == "left out: a.lnk (a symbolic link), and 3 more of the same"
    assert r.text("zh_CN") == "没有接收这些文件：a.lnk（符号链接）、还有 3 个同样没有接收"
    assert reasons.loads(reasons.dumps([r])) == [r]
