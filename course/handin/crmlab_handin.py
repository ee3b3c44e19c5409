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
