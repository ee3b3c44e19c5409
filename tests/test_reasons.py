"""The grader's reasons: every code in both languages with the same placeholders, and every code the grading
code gives is declared (grading/reasons.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from crmlab.grading import reasons
from crmlab.grading.reasons import REASONS, REFUSALS, Reason, placeholders

GRADING = Path(reasons.__file__).parent


@pytest.mark.parametrize("table", [REASONS, REFUSALS], ids=["reasons", "refusals"])
def test_every_reason_has_both_languages_with_the_same_placeholders(table):
    for code, (zh, en) in table.items():
        assert zh.strip() and en.strip(), code
        assert re.search(r"[\u4e00-\u9fff]", zh), f"{code}: the Chinese text has no Chinese"
        assert placeholders(zh) == placeholders(en), code


def test_every_code_the_grader_gives_is_declared():
    used = set()
    for path in GRADING.glob("*.py"):
        used |= set(re.findall(r'Reason\(\s*"(\w+)"', path.read_text(encoding="utf-8")))
    assert used and used <= set(REASONS), used - set(REASONS)
    with pytest.raises(KeyError):
        Reason("no_such_code")


def test_a_reason_renders_in_each_language_from_its_parameters():
    r = Reason("left_out", {"files": [{"name": "a.lnk", "why": "symlink"}, {"name": "…", "why": "more",
                                                                            "params": {"n": 3}}]})
    assert r.text("en_US") == "left out: a.lnk (a symbolic link), and 3 more of the same"
    assert r.text("zh_CN") == "没有接收这些文件：a.lnk（符号链接）、还有 3 个同样没有接收"
    assert reasons.loads(reasons.dumps([r])) == [r]
