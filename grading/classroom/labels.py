"""The one vocabulary of grading: every status and verdict in Chinese and English, and one way to write a score.

Feedback pages, the class report, the XLSX workbook, ``crmlab my-scores``, the demo's summary and the
commands' output take their words from here, so a student's page, the instructor's workbook and the
report say the same thing of the same submission. Codes (``graded``, ``partly``) stay the machine's:
CSV and JSON exports and the grading state hold them. A new status or verdict is one more row here
(``tests/grading/outputs/test_feedback.py`` checks that every status the grading state allows has one).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from crmlab.messages import Catalogue


@dataclass(frozen=True)
class Label:
    zh: str
    en: str

    def __str__(self) -> str:   # a cell of the workbook or a terminal: 已评分 graded
        return f"{self.zh} {self.en}"


# a submission's status (grading/classroom/state.py STATUSES, and "pending": submitted, not graded yet)
STATUS = {
    "graded": Label("已评分", "graded"),
    "late": Label("迟交", "late"),
    "tampered": Label("被改动", "tampered"),
    "error": Label("出错", "error"),
    "timeout": Label("超时", "timeout"),
    "limit": Label("超出限制", "over a limit"),
    "missing": Label("未提交", "missing"),
    "retry": Label("待重评", "to be graded again"),   # not the student's doing: the next run grades it
    "pending": Label("待评分", "not graded yet"),
}

# a checkpoint's verdict (the grader's: right … no_answer), or a hand-graded answer's state
VERDICT = {
    "right": Label("正确", "right"),
    "partly": Label("部分正确", "partly right"),
    "wrong": Label("不正确", "wrong"),
    "no_answer": Label("没有答案", "no answer"),
    "manual": Label("老师已评", "graded by hand"),
    "pending": Label("待老师评分", "to be graded by hand"),
}

# what nbgrader's release puts where the model answer was (ClearSolutions' stubs; grading/run/nbgrader_setup.py):
# the code stub stops Run All at the first question not answered yet, saying so in both languages
STUB = {
    "code_comment": Label("在这里写代码，把结果存进题目要求的变量", "write your code here and store the result in the "
                          "variable the question names"),
    "code_error": Label("这道题还没有作答", "this question is not answered yet"),
    "text": Label("在这里写你的回答", "write your answer here"),
}


def code_stub() -> str:
    """The code an answer cell holds in a released notebook."""
    c, e = STUB["code_comment"], STUB["code_error"]
    return f'# {c.zh} / {c.en}\nraise NotImplementedError("{e.zh} / {e.en}")'


def text_stub() -> str:
    """The text a written answer holds in a released notebook."""
    return f"{STUB['text'].zh} / {STUB['text'].en}"


# the same words as catalogues of crmlab's message mechanism, so tests/crmlab/test_messages.py checks them with the rest
STATUS_CATALOGUE = Catalogue("grading.statuses", {k: (v.zh, v.en) for k, v in STATUS.items()})
VERDICT_CATALOGUE = Catalogue("grading.verdicts", {k: (v.zh, v.en) for k, v in VERDICT.items()})
STUB_CATALOGUE = Catalogue("grading.stubs", {k: (v.zh, v.en) for k, v in STUB.items()})


def status(code: str) -> Label:
    return STATUS.get(code, Label(code, code))


def verdict(code: str) -> Label:
    return VERDICT.get(code, Label(code, code))


def fmt(x) -> str:
    """A number of points as people write it: 11, 2.5, 13.1 (no trailing .0, at most two decimals); '' for none."""
    return "" if x is None else f"{round(x, 2):g}"


@dataclass(frozen=True)
class Score:
    """A submission's points, the one way they are shown: automatic + by hand = total."""
    auto: float
    auto_max: float
    manual: float | None          # None: a hand-graded answer is still waiting for the instructor
    manual_max: float
    total: float
    max_total: float

    @classmethod
    def of_row(cls, row: dict) -> "Score | None":
        """The score of one module in a student's scores so far (grading/outputs/feedback.py; None: no score)."""
        if row["points"] is None:
            return None
        if row.get("auto") is None:   # a page released before the parts were recorded: the total alone
            return cls(row["points"], row["max_points"], None, 0, row["points"], row["max_points"])
        return cls(row["auto"], row["auto_max"], row["manual"], row["manual_max"], row["points"], row["max_points"])

    @property
    def manual_pending(self) -> bool:
        return self.manual_max > 0 and self.manual is None

    def text(self, lang: str = "zh") -> str:
        """``自动 11/11 + 人工 3/4 = 14/15`` (``automatic 11/11 + by hand 3/4 = 14/15``); a module without a
        hand-graded part is just ``11/11``; a part still to grade shows as ``—``."""
        total = f"{fmt(self.total)}/{fmt(self.max_total)}"
        if not self.manual_max:
            return total
        manual = "—" if self.manual is None else fmt(self.manual)
        auto_word, manual_word = ("自动", "人工") if lang == "zh" else ("automatic", "by hand")
        line = f"{auto_word} {fmt(self.auto)}/{fmt(self.auto_max)} + {manual_word} {manual}/{fmt(self.manual_max)} = {total}"
        if self.manual is None:
            line += "（人工部分待评）" if lang == "zh" else " (the hand-graded part is still to grade)"
        return line


def when(moment: dt.datetime | str) -> str:
    """A time as a person reads it, in the zone it was taken in (the course's): ``2026-06-30 18:00 (UTC+08:00)``."""
    if isinstance(moment, str):
        try:
            moment = dt.datetime.fromisoformat(moment)
        except ValueError:
            return moment
    if moment.tzinfo is None:
        return f"{moment:%Y-%m-%d %H:%M}"
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"
