"""Hand an answer to the grader · 把答案交给评分程序

A checkpoint cell ends with ``hand_in("chk_…", value)``. The value is turned into plain data
(numbers, text, lists, tables) and shown in the cell's output; when the notebook is graded, the
grader reads it from there and checks it against your own data in its own process. So nothing in
this notebook can make a wrong answer look right, and the checks never see your variables, only
the plain data.

检查点单元格的最后一行是 ``hand_in("chk_…", 值)``：值被转换成普通数据（数字、文字、列表、表格）
显示在输出里；评分时，评分程序从输出中读取它，并在自己的进程里用你自己的数据核对。
"""
from __future__ import annotations

import json
import math

MIME = "application/vnd.crmlab.answer+json"


def plain(value):
    """``value`` as JSON-ready data: pandas Series and DataFrames become
    ``{"index": […], "values": […]}`` and ``{"columns": […], "index": […], "data": [[…]]}``;
    numpy numbers become Python numbers; NaN becomes None."""
    if hasattr(value, "to_dict") and hasattr(value, "index"):
        if hasattr(value, "columns"):   # DataFrame
            return {"columns": [plain(c) for c in value.columns], "index": [plain(i) for i in value.index],
                    "data": [[plain(x) for x in row] for row in value.itertuples(index=False, name=None)]}
        return {"index": [plain(i) for i in value.index], "values": [plain(x) for x in value.tolist()]}
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):   # numpy arrays and scalars
        return plain(value.tolist())
    if isinstance(value, dict):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(x) for x in (sorted(value, key=str) if isinstance(value, (set, frozenset)) else value)]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "isoformat"):   # dates and times
        return value.isoformat()
    raise TypeError(f"cannot hand in a {type(value).__name__}: use numbers, text, lists, dicts or pandas objects / "
                    f"不能提交 {type(value).__name__} 类型：请用数字、文字、列表、字典或 pandas 对象")


def hand_in(check: str, value) -> None:
    """Show ``value`` as this checkpoint's answer (see the module's docstring)."""
    from IPython.display import display

    data = {"check": check, "value": plain(value)}
    text = json.dumps(data["value"], ensure_ascii=False)
    display({MIME: data, "text/plain": f"{check} ✓ 已提交 / handed in: {text[:200]}{'…' if len(text) > 200 else ''}"},
            raw=True)


def company_note(con) -> None:
    """On the company track: what your data includes of your earlier decisions · 公司线：你的数据带入了哪些决策

    Your company lives through the term: what you decided in an earlier company module (CRM changes, a
    policy) is in this module's data from that module's day on. The database says what was carried in
    (its ``meta``: ``term_day``, ``term_decisions``); this prints it, in Chinese and English."""
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    if "term_day" not in meta:          # a case module's data
        return
    day, lines = meta["term_day"], []
    steps = json.loads(meta.get("term_decisions") or "[]")
    if not steps:
        lines.append(f"你的公司第 {day} 天。此前没有公司线模块，数据里没有带入的决策。"
                     f" / Your company on day {day}: no earlier company module, so no decisions are carried in.")
    else:
        lines.append(f"你的公司第 {day} 天，带入了你在前面模块的决策： / Your company on day {day}, with your earlier decisions:")
    for s in steps:
        m = s["module"]
        if not s["handed_in"]:
            lines.append(f"  {m}：没有提交，公司按默认方式运营 / not handed in: the company ran on its defaults")
            continue
        parts_zh, parts_en = [f"CRM 操作 {s['crm_done']} 步"], [f"{s['crm_done']} CRM operations"]
        if s.get("policy"):
            fields = ", ".join(f for p in s["policy"] for f in p)
            parts_zh.append(f"政策（{fields}）"); parts_en.append(f"a policy ({fields})")
        lines.append(f"  {m}：带入 {'、'.join(parts_zh)} / carried in: {', '.join(parts_en)}")
        refused = s.get("crm_refused") or []
        if refused:
            lines.append(f"    其中 {len(refused)} 步没能带入（之后公司的情况变了）/ {len(refused)} could not be carried in "
                         f"(the company moved on):")
            lines += [f"    · {r['operation']} {r['at']}：{r['reason']}" for r in refused[:5]]
    print("\n".join(lines))
