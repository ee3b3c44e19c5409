"""Why a submission has the status it has: every reason the grader gives, in 简体中文 and English, declared once.

A reason is a code and its parameters (:class:`Reason`), stored as such in the grading state; feedback
pages, exports and reports render it in the language they need. Parameters are ids, names and numbers;
a list is shown joined. What a student chose (a file name, an error message of their code) is passed
through :func:`printable` first: it reaches HTML pages, spreadsheets and the instructor's terminal.
Why something was refused is passed as its code too (``{"why": "symlink"}``, with the file's ``name`` for a
file left out), so each reader reads it in their own language. Both tables are catalogues of crmlab's one
message mechanism (``crmlab/messages.py``).
"""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field

from crmlab.messages import LANGS, Catalogue, join, locale, placeholders

__all__ = ["LANGS", "REASONS", "REFUSALS", "CATALOGUE", "REFUSAL_CATALOGUE", "WORDS", "WORD_CATALOGUE", "Reason", "refusal", "render", "dumps",
           "loads", "printable", "placeholders"]

# code -> (简体中文, English)
REASONS: dict[str, tuple[str, str]] = {
    # nothing to grade
    "no_submission": ("没有提交", "no submission"),
    "not_graded_yet": ("已提交，尚未评分", "submitted, not graded yet"),
    "missing_notebook": ("提交里没有 {expected}（找到的是：{found}）：请用原来的文件名提交",
                         "no {expected} in the submission (found: {found})"),
    "lost_answer_cells": ("答案单元格 {cells} 不见了或丢失了 nbgrader 元数据（笔记本被清空或重建？），无法评分：请用发下去的笔记本重新提交",
                          "answer cell(s) {cells} are missing or lost their nbgrader metadata (an empty or rebuilt "
                          "notebook?); it cannot be graded: resubmit from the released notebook"),
    "notebook_refused": ("笔记本 {name} 没有被接收（{why}）：请提交笔记本文件本身",
                         "the notebook {name} was refused ({why}): hand in the notebook file itself"),
    "not_json": ("笔记本文件不是有效的 JSON（上传被截断或文件损坏），无法评分",
                 "the notebook file is not valid JSON (truncated or corrupted); nothing could be graded"),
    "not_a_folder": ("submitted/ 里的 {name} 不是普通文件夹（{why}），没有评分",
                     "{name} in submitted/ is not a plain folder ({why}); it was not graded"),
    # what was left out of a submission (only regular files are taken, bounded in number and size)
    "left_out": ("没有接收这些文件：{files}", "left out: {files}"),
    # what the grader put right before grading
    "nbformat_upgraded": ("笔记本是旧格式（nbformat {version}），评分前已升级", "the notebook was saved in an old format "
                          "(nbformat {version}) and was upgraded before grading"),
    "duplicate_cells": ("单元格 {cells} 出现了不止一次：按最后一份评分，其余的当作普通单元格运行",
                        "cell(s) {cells} appeared more than once: the last copy was graded, the others ran as plain cells"),
    "foreign_cells": ("有单元格带着发下去的笔记本里没有的 nbgrader 标记（{cells}），当作普通单元格运行",
                      "cell(s) carried nbgrader marks the released notebook does not have ({cells}); they ran as "
                      "plain cells"),
    "tests_deleted": ("检查单元格 {cells} 被删除了，已恢复后评分",
                      "test cell(s) {cells} were deleted by the student; restored and graded"),
    "cells_edited": ("只读单元格被改动：{cells}；已恢复原样后评分",
                     "read-only cell(s) changed by the student: {cells}; the originals were restored and graded"),
    "notebooks_missing": ("缺少笔记本 {names}，计 0 分", "notebook(s) {names} missing: scored 0"),
    # time
    "late": ("提交时间 {when}，比截止时间 {due} 晚 {hours} 小时", "submitted {when}, {hours} h after the due time ({due})"),
    "bad_timestamp": ("提交的时间戳（{stamp}）无法读取", "the submission's time stamp ({stamp}) cannot be read"),
    "backdated": ("时间戳写的是 {claimed}，但提交的文件最后在 {changed} 改动过：按后者计算",
                  "the time stamp says {claimed} but the submission's files were last changed at {changed}: the later "
                  "time counts"),
    "cell_timeout": ("单元格 {cells} 运行超过 {seconds} 秒，被中断", "cell(s) {cells} exceeded the {seconds} s limit and "
                     "were interrupted"),
    "notebook_timeout": ("有单元格运行超过 {seconds} 秒且不响应中断，整个笔记本无法评分",
                         "a cell ran past the {seconds} s limit and ignored the interrupt; nbgrader gave up on the "
                         "whole notebook"),
    "submission_timeout": ("评分超过 {seconds} 秒被停止（可能是不响应中断的死循环，或很慢的代码）",
                           "grading took longer than {seconds} s and was stopped (a loop that ignores interrupts, or a "
                           "very slow notebook)"),
    # the sandbox's limits
    "output_cut": ("单元格 {cells} 输出超过 {kib} KiB，其余部分被截断", "cell(s) {cells} printed more than {kib} KiB; the "
                   "rest was cut"),
    "resource_limit": ("单元格 {cells} 超出了资源限制（内存 {memory_mb} MB、文件大小或进程数）",
                       "cell(s) {cells} hit a resource limit of the sandbox (memory {memory_mb} MB, file size, processes)"),
    "disk_limit": ("笔记本写入的数据超出限制：{used_mb} MB、{files} 个文件（上限 {limit_mb} MB、{limit_files} 个文件）",
                   "the notebook wrote {used_mb} MB in {files} files into its working copy; the limit is {limit_mb} MB "
                   "and {limit_files} files"),
    "memory_limit": ("笔记本的进程合计使用内存超过 {limit_mb} MB，被停止", "the notebook's processes together used more "
                     "than {limit_mb} MB of memory and were stopped"),
    # the student's own failures
    "kernel_died": ("运行笔记本时内核崩溃或被终止", "the kernel died while running the notebook (it crashed or was killed)"),
    "unreadable_result": ("运行后的笔记本无法读回（{detail}）", "the executed notebook could not be read back ({detail})"),
    "nbgrader_failed": ("nbgrader 无法评分：{detail}", "nbgrader could not grade it: {detail}"),
    # the grader's or the host's faults: status `retry`, graded again by the next run
    "kernel_start_failed": ("内核无法启动（{detail}）：这是评分程序或服务器的问题，下次运行会重新评分",
                            "the kernel could not start ({detail}): a fault of the grader or the host; the next run "
                            "grades it again"),
    "worker_died": ("评分进程在处理这份作业时意外退出（退出码 {code}），下次运行会重新评分",
                    "the grading worker died while running this submission (exit code {code}); the next run grades it "
                    "again"),
    "grader_failure": ("评分程序出错（{detail}），下次运行会重新评分", "grader failure ({detail}); the next run grades it "
                       "again"),
    "host_disk_full": ("评分服务器的磁盘已满（{path}），下次运行会重新评分", "the grader's disk is full ({path}); the next "
                       "run grades it again"),
    "sandbox_failed": ("沙箱在评分过程中失效（{detail}），评分已停止，下次运行会重新评分",
                       "the sandbox stopped working during the run ({detail}); grading stopped and the next run grades "
                       "it again"),
}

# why a file was left out of a submission (the ``why`` of a ``left_out`` entry)
REFUSALS: dict[str, tuple[str, str]] = {
    "symlink": ("符号链接", "a symbolic link"),
    "special": ("不是普通文件（管道、设备或套接字）", "not a regular file (a pipe, device or socket)"),
    "bad_name": ("文件名不是有效的 UTF-8 或含控制字符", "the name is not valid UTF-8 or holds control characters"),
    "too_large": ("超过 {limit_mb} MB", "larger than {limit_mb} MB"),
    "too_many": ("文件超过 {limit} 个", "more than {limit} files"),
    "too_deep": ("文件夹嵌套超过 {limit} 层", "folders nested deeper than {limit}"),
    "total_too_large": ("提交合计超过 {limit_mb} MB", "the submission exceeds {limit_mb} MB in all"),
    "unreadable": ("无法读取", "cannot be read"),
    "more": ("还有 {n} 个同样没有接收", "and {n} more of the same"),
}

# words a reason's parameter can be instead of a value (``{"word": "nothing"}``)
WORDS: dict[str, tuple[str, str]] = {
    "nothing": ("没有文件", "nothing"),
}


@dataclass(frozen=True)
class Reason:
    code: str
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.code not in REASONS:
            raise KeyError(f"unknown reason code {self.code!r}")

    def text(self, lang: str = "en_US") -> str:
        return CATALOGUE.render(self.code, locale(lang), self.params)

    def as_dict(self) -> dict:
        return {"code": self.code, "params": self.params}


def refusal(why: str, lang: str, **params) -> str:
    return REFUSAL_CATALOGUE.render(why, locale(lang), params)


def _show(value, lang: str) -> str:
    if isinstance(value, list):
        return join((_show(v, lang) for v in value), lang)
    if isinstance(value, dict) and value.get("why") == "more":
        return refusal("more", lang, **value["params"])
    if isinstance(value, dict) and "why" in value:
        # a refusal as its code; a state written before refusals were codes holds its English text
        why = (refusal(value["why"], lang, **value.get("params", {})) if value["why"] in REFUSALS
               else str(value["why"]))
        if "name" not in value:
            return why
        return f"{value['name']}（{why}）" if lang.startswith("zh") else f"{value['name']} ({why})"   # a file left out
    if isinstance(value, dict) and "word" in value:
        return WORD_CATALOGUE.label(value["word"], locale(lang))
    if isinstance(value, dict) and "cell" in value:   # a changed cell: how many lines
        removed, added = value.get("removed", 0), value.get("added", 0)
        if lang.startswith("zh"):
            what = "，".join(p for p in (f"删去 {removed} 行" if removed else "", f"增加 {added} 行" if added else "") if p)
            return f"{value['cell']}（{what}）"
        what = ", ".join(f"{n} line{'s' if n != 1 else ''} {verb}" for n, verb in ((removed, "removed"), (added, "added"))
                         if n)
        return f"{value['cell']} ({what})"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


CATALOGUE = Catalogue("grading.reasons", REASONS, show=_show)
REFUSAL_CATALOGUE = Catalogue("grading.refusals", REFUSALS)
WORD_CATALOGUE = Catalogue("grading.words", WORDS)


def render(reasons: list[Reason], lang: str = "en_US") -> str:
    return ("；" if lang.startswith("zh") else "; ").join(r.text(lang) for r in reasons)


def dumps(reasons: list[Reason]) -> str:
    return json.dumps([r.as_dict() for r in reasons], ensure_ascii=False)


def loads(text: str | None) -> list[Reason]:
    """The reasons stored by :func:`dumps`; unknown codes (a newer grader's) are skipped."""
    out = []
    for item in json.loads(text or "[]"):
        if isinstance(item, dict) and item.get("code") in REASONS:
            out.append(Reason(item["code"], item.get("params") or {}))
    return out


def printable(text, limit: int = 120) -> str:
    """A student-chosen string made safe to show anywhere: bytes that are not UTF-8 as ``\\xNN``, control
    and format characters (terminal escapes, bidi overrides) as ``\\uNNNN``, at most ``limit`` characters."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    text = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    out = "".join(c if unicodedata.category(c)[0] != "C" or c == " " else f"\\u{ord(c):04x}" for c in text)
    return out if len(out) <= limit else out[:limit - 1] + "…"
