"""What the HTML pages of grading share: the page shell, bilingual text, statuses as badges
(their words: grading/labels.py).

Pages are self-contained (CSS inline, charts as embedded PNG), so they can be mailed, put on a
course site or opened from a folder. Every value from a student or a check goes through
``html.escape``.
"""
from __future__ import annotations

import html
import re

from .labels import Label

CSS = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Zen Hei",
       "Helvetica Neue", Arial, sans-serif; color: #1f2933; margin: 0; background: #f4f6f8; line-height: 1.55; }
main { max-width: 980px; margin: 0 auto; padding: 24px 28px 40px; background: #fff; min-height: 100vh; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 28px 0 10px; border-bottom: 2px solid #e3e8ee;
     padding-bottom: 4px; } h3 { font-size: 16px; margin: 0 0 6px; }
.en { color: #52606d; font-weight: normal; }
.sub { color: #52606d; margin: 0 0 18px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid #e3e8ee; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #f0f4f8; font-weight: 600; } td.num, th.num { text-align: right; white-space: nowrap; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 13px; white-space: nowrap; color: #fff; }
.b-right, .b-graded { background: #2f855a; }
.b-partly, .b-late, .b-tampered, .b-timeout, .b-limit, .b-pending { background: #b7791f; }
.b-wrong, .b-error { background: #c53030; } .b-no_answer, .b-missing, .b-retry { background: #718096; } .b-manual { background: #3c6fb4; }
.summary { display: flex; gap: 28px; align-items: center; background: #f0f4f8; border-radius: 8px; padding: 14px 18px; }
.summary .score { font-size: 30px; font-weight: 700; } .summary .score small { font-size: 16px; color: #52606d; }
.card { border: 1px solid #e3e8ee; border-left: 5px solid #b7791f; border-radius: 6px; padding: 10px 14px; margin: 12px 0; }
.card.wrong, .card.no_answer { border-left-color: #c53030; }
.card p { margin: 4px 0; } .label { font-weight: 600; color: #52606d; }
.hint { background: #fffbea; border-radius: 4px; padding: 6px 10px; margin-top: 6px; }
.note { color: #52606d; font-size: 13px; }
.reason { background: #fff5f5; border-radius: 4px; padding: 8px 12px; }
img { max-width: 100%; } .cid { color: #8a99a8; font-size: 12px; font-family: monospace; }
"""


def esc(text) -> str:
    return html.escape("" if text is None else str(text))


def bilingual(zh: str, en: str, tag: str = "span") -> str:
    return f"{esc(zh)} <{tag} class='en'>{esc(en)}</{tag}>"


def badge(kind: str, labels: dict[str, Label]) -> str:
    label = labels.get(kind) or Label(kind, kind)
    return f"<span class='badge b-{esc(kind)}'>{esc(label.zh)} · {esc(label.en)}</span>"


def split_message(message: str) -> tuple[str, str]:
    """A check's "中文 / English" message as (zh, en) (the slash may follow a full-width bracket);
    ('message', '') when it is in one language."""
    m = re.search(r"\s*/\s+(?=[^\s/])", message)
    if m and re.search(r"[\u4e00-\u9fff]", message[:m.start()]):
        return message[:m.start()].strip(), message[m.end():].strip()
    return message, ""


def page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang='zh-CN'>\n<head>\n<meta charset='utf-8'>\n"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>\n<title>{esc(title)}</title>\n"
            f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n")
