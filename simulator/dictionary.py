"""The data dictionary, generated from the comments in the schema files (one source of truth).

Every table is preceded by a comment line ``-- 中文 / English`` and every column line ends with
``-- 中文 / English``; :func:`tables` parses them and :func:`markdown` renders the dictionary that
``datasets/DATA_DICTIONARY.md`` holds (a test checks that file is up to date and complete).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
_TABLE = re.compile(r"^CREATE TABLE (\w+) \($")
_COLUMN = re.compile(r"^\s+(\w+)\s+(TEXT|INTEGER|REAL)\b(.*?)(?:--\s*(.*))?$")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    zh: str
    en: str
    constraints: str


@dataclass(frozen=True)
class Table:
    name: str
    zh: str
    en: str
    columns: tuple[Column, ...]


def _split(comment: str) -> tuple[str, str]:
    zh, _, en = (comment or "").partition("/ ")
    return zh.strip(), en.strip()


def tables(schema: Path = HERE / "schema.sql") -> list[Table]:
    out, comment, current = [], "", None
    for line in schema.read_text(encoding="utf-8").splitlines():
        if current is None:
            m = _TABLE.match(line)
            if m:
                current = (m.group(1), *_split(comment), [])
            comment = line[2:].strip() if line.startswith("--") else ""
            continue
        if line.startswith(")"):
            out.append(Table(current[0], current[1], current[2], tuple(current[3])))
            current = None
            continue
        m = _COLUMN.match(line)
        if m:
            name, typ, rest, note = m.groups()
            zh, en = _split(note)
            cons = " ".join(w for w in ("PRIMARY KEY" if "PRIMARY KEY" in rest else "",
                                        "NOT NULL" if "NOT NULL" in rest else "",
                                        "→ " + re.search(r"REFERENCES (\w+)", rest).group(1)
                                        if "REFERENCES" in rest else "") if w)
            current[3].append(Column(name, typ, zh, en, cons))
    return out


def markdown() -> str:
    parts = ["# Data dictionary · 数据字典", "",
             "Generated from `simulator/schema.sql` by `python -m crmlab.simulator.dictionary`; do not edit by hand.",
             "由 `simulator/schema.sql` 自动生成，请勿手工修改。", "",
             "Timestamps are text `YYYY-MM-DD HH:MM:SS` (local business time), dates `YYYY-MM-DD`; money is in "
             "the currency named in `meta.currency`. 时间为文本 `YYYY-MM-DD HH:MM:SS`（当地营业时间），日期为 "
             "`YYYY-MM-DD`；金额的币种见 `meta.currency`。", ""]
    for t in tables():
        parts += [f"## `{t.name}` — {t.zh} / {t.en}", "",
                  "| column 字段 | type 类型 | 中文说明 | English | keys 约束 |", "|---|---|---|---|---|"]
        parts += [f"| `{c.name}` | {c.type} | {c.zh} | {c.en} | {c.constraints} |" for c in t.columns]
        parts.append("")
    return "\n".join(parts)


if __name__ == "__main__":
    print(markdown(), end="")
