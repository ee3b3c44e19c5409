"""Reading SQLite databases in tests: rows, one value, the whole content as SQL text."""
from __future__ import annotations

import sqlite3


def sql(path, query, args=()) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


def one(path, query, args=()):
    return sql(path, query, args)[0][0]


def dump(path) -> str:
    """The whole content as SQL text (like ``sqlite3 path .dump``): equal dumps, equal databases."""
    con = sqlite3.connect(path)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()
