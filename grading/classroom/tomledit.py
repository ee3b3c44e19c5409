"""Set values in a TOML text and keep the rest of it — its comments, order and layout — as it was
(``crmlab course init`` writes the shipped crmlab.toml with the instructor's course id, locale, exchange,
gradebook).

A value is written as TOML (:func:`value`: a string with every ``"``, ``\\`` and control character
escaped), in the key's line of its table whatever that line's spacing, else in place of a commented-out
``# key = …`` example there, else as a new line under the table's header. The result is read back and
compared: a value that did not land is an error, never a file silently left as it was.
"""
from __future__ import annotations

import datetime as dt
import re
import tomllib

HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\s\"]+?)\s*\]\s*(#.*)?$")


def value(v) -> str:
    """``v`` (text, number, true/false, date and time, list) as a TOML value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, str):
        out = []
        for ch in v:
            if ch in '"\\':
                out.append("\\" + ch)
            elif ch == "\t" or not (ord(ch) < 0x20 or ord(ch) == 0x7F):
                out.append(ch)
            else:
                out.append(f"\\u{ord(ch):04x}")
        return '"' + "".join(out) + '"'
    raise TypeError(f"no TOML value for {v!r}")


def _split(rest: str) -> tuple[str, str]:
    """A line's text after ``key =``: its value and its comment (a ``#`` inside a string is no comment)."""
    for i, ch in enumerate(rest):
        if ch == "#":
            try:
                tomllib.loads(f"x = {rest[:i]}")
            except tomllib.TOMLDecodeError:
                continue
            return rest[:i], rest[i:]
    return rest, ""


def _table(line: str) -> str | None:
    m = HEADER.match(line)
    return ".".join(p.strip().strip('"') for p in m.group(1).split(".")) if m else None


def set_value(text: str, table: str, key: str, new) -> str:
    """``text`` with ``[table] key = new``."""
    lines = text.splitlines(keepends=True)
    written = f"{key} = {value(new)}"
    current, header, example, found = None, None, None, None
    for i, line in enumerate(lines):
        name = _table(line)
        if name is not None:
            current = name
            if name == table:
                header = i
            continue
        if current != table:
            continue
        m = re.match(rf"^(\s*)(\"?){re.escape(key)}\2\s*=(.*?)(\r?\n)?$", line)
        if m:
            found = (i, m)
            break
        if example is None and re.match(rf"^\s*#\s*{re.escape(key)}\s*=", line):
            example = i
    if found:
        i, m = found
        old, comment = _split(m.group(3))
        gap = old[len(old.rstrip()):] if comment else ""
        lines[i] = f"{m.group(1)}{written}{gap}{comment.rstrip()}{m.group(4) or ''}"
    elif example is not None:
        rest = lines[example].split("=", 1)[1]
        _, comment = _split(rest)
        lines[example] = f"{written}   {comment.strip()}\n" if comment else f"{written}\n"
    elif header is not None:
        lines.insert(header + 1, written + "\n")
    else:
        lines.append(("\n" if lines and lines[-1].strip() else "") + f"[{table}]\n{written}\n")
        if len(lines) > 1 and not lines[-2].endswith("\n"):
            lines[-2] += "\n"
    out = "".join(lines)
    try:
        got = tomllib.loads(out)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"[{table}] {key} = {value(new)} could not be written into the file ({exc})") from None
    for part in table.split("."):
        got = got.get(part, {})
    if got.get(key) != new:
        raise ValueError(f"[{table}] {key} = {value(new)} could not be written into the file")
    return out
