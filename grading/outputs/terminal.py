"""Text for a terminal: columns that line up when names are Chinese.

A CJK character takes two columns in a terminal (and in a spreadsheet cell), a Latin letter one:
widths come from Unicode's East Asian Width (``W``ide and ``F``ull-width count two), so ``str.ljust``
and pandas' ``to_string``, which count characters, misalign every row with a Chinese name.
"""
from __future__ import annotations

import unicodedata


def width(text) -> int:
    """Columns the text takes in a terminal."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in str(text))


def pad(text, columns: int, right: bool = False) -> str:
    """The text padded with spaces to ``columns`` columns (on the left when ``right``)."""
    text = str(text)
    fill = " " * max(0, columns - width(text))
    return fill + text if right else text + fill


def table(header: list[str], rows: list[list], right: set[int] = frozenset(), gap: str = "  ") -> str:
    """Rows under a header, each column as wide as its widest cell (the last column is not padded)."""
    cells = [[str(c) for c in header]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(width(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        parts = [pad(c, widths[i], i in right) if i < len(header) - 1 or i in right else c for i, c in enumerate(row)]
        lines.append(gap.join(parts).rstrip())
    return "\n".join(lines)


def wrap(text: str, columns: int) -> list[str]:
    """Lines of at most ``columns`` display columns, indented as the text is: Latin text breaks at
    spaces, Chinese between any two characters (as it is typeset), but never before a closing or
    after an opening punctuation mark."""
    indent = text[:len(text) - len(text.lstrip(" "))]
    tokens, word = [], ""
    for ch in text.lstrip(" "):
        if ch == " ":
            tokens += [word] if word else []
            tokens.append(" ")
            word = ""
        elif width(ch) == 2 and ch not in CLOSING:
            tokens += [word] if word and word[-1] not in OPENING else []
            word = word + ch if word and word[-1] in OPENING else ch
            if ch not in OPENING:
                tokens.append(word)
                word = ""
        else:
            word += ch
    tokens += [word] if word else []
    lines, line = [], indent
    for token in tokens:
        if line.strip() and token != " " and width(line.rstrip()) + width(token) > columns:
            lines.append(line.rstrip())
            line = indent
        if token == " " and not line.strip():
            continue
        line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines


CLOSING = "，。、；：？！）》」』】…"
OPENING = "（《「『【"
