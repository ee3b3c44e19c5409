"""Writing a finished run: the student-visible CRM database and the grader-only ground truth.

Every table's columns are declared once (simulator/layouts.py: the rows' order, the names the INSERTs
give, the places code reads a row by) and its rows made once (simulator/rows.py, :class:`Rows`: one method
per table giving its columns in key order, a chunk at a time); the SQLite writer, the Parquet writer and the benchmark's
storage floor all take them from there. The layout and why (measured in ``docs/design.md``, "Storage"):

- The big tables are clustered on their key (``WITHOUT ROWID``) and loaded in key order: no second
  copy of every key in an index beside a rowid table, and each insert lands at the end of the tree.
  The small lookup tables and ``survey_answers`` keep a rowid, so they list in the scenario's order.
- The schema's CHECK constraints stay declared (they guard every later change, the CRM API's
  included) but are verified once per table after the load, by one query built from the table's own
  CHECK clauses: a CHECK with an ``IN (…)`` list costs a temporary lookup table per inserted row
  (``executemany`` runs the statement once per row), in one query it is built once.
- Foreign keys are verified once at the end (``PRAGMA foreign_key_check``), except for the orders and
  their lines, which are built from positions in the accounts', contacts', orders' and catalogue's
  lists: their keys are verified on those positions with numpy (the same guarantee, and stronger: an
  order's contact works at the order's account).
- Secondary indexes are built after the load: an account's contacts, orders, tickets, calls and deals, a
  ticket's calls, a deal's activities. The order lines have none by product: a catalogue has a handful of
  products, so the rows of one are a large share of all lines and reading the table is as fast; the
  index cost a fifth of the write and 95 MiB at 100,000 customers.
"""
from __future__ import annotations

import functools
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from . import layouts as L
from .engine import Simulation
from .records import bulk
from .rows import Rows, later_accounts

SCHEMA = Path(__file__).with_name("schema.sql")
TRUTH_SCHEMA = Path(__file__).with_name("truth_schema.sql")
INDEXES = {         # built after the load; per table, so that a database with some tables gets theirs
    "contacts": ["CREATE INDEX contacts_by_account ON contacts (account_id)"],
    "orders": ["CREATE INDEX orders_by_account ON orders (account_id)"],
    "tickets": ["CREATE INDEX tickets_by_account ON tickets (account_id)"],
    "calls": ["CREATE INDEX calls_by_ticket ON calls (ticket_id)", "CREATE INDEX calls_by_account ON calls (account_id)"],
    "opportunities": ["CREATE INDEX opportunities_by_account ON opportunities (account_id)"],
    "activities": ["CREATE INDEX activities_by_opportunity ON activities (opportunity_id)"],
}
BUILT_FROM_POSITIONS = ("orders", "order_lines")   # their foreign keys are verified on positions (Rows.verify_orders)


# -- the layout, read from the schema itself ----------------------------------------------------
@dataclass(frozen=True)
class Table:
    name: str
    sql: str                            # the CREATE TABLE statement, as the database will hold it
    columns: tuple[tuple[str, str], ...]   # (name, declared type)
    checks: tuple[str, ...]             # the CHECK clauses' expressions
    parents: frozenset[str]             # tables its foreign keys point at


@functools.cache
def layout(schema: Path = SCHEMA) -> dict[str, Table]:
    """The tables of a schema file in its order, read back from SQLite (so the statements are exactly the
    ones a database made from the file holds)."""
    con = sqlite3.connect(":memory:")
    try:
        con.executescript(schema.read_text(encoding="utf-8"))
        out = {}
        for name, sql in con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY rowid"):
            cols = tuple((r[1], r[2]) for r in con.execute(f'PRAGMA table_info("{name}")'))
            parents = frozenset(r[2] for r in con.execute(f'PRAGMA foreign_key_list("{name}")'))
            out[name] = Table(name, sql, cols, tuple(_checks(sql)), parents)
        return out
    finally:
        con.close()


def _checks(sql: str) -> list[str]:
    """The expressions of the CHECK clauses of a CREATE TABLE statement (comments and string literals
    are skipped when looking for the keyword and matching parentheses)."""
    code = re.sub(r"--[^\n]*", lambda m: " " * len(m.group()), sql)       # same length: positions stay valid
    quoted = [(m.start(), m.end()) for m in re.finditer(r"'(?:[^']|'')*'", code)]
    inside = lambda i: any(a <= i < b for a, b in quoted)
    out = []
    for m in re.finditer(r"\bCHECK\s*\(", code, re.IGNORECASE):
        if inside(m.start()):
            continue
        depth, i = 1, m.end()
        while depth:
            if not inside(i):
                depth += {"(": 1, ")": -1}.get(code[i], 0)
            i += 1
        out.append(code[m.end(): i - 1].strip())
    return out


def with_parents(tables: Iterable[str] | None, schema: Path = SCHEMA) -> list[str]:
    """The tables to write for a request (None: all), each with every table its foreign keys point at
    (a database never holds a key to a table it lacks), and ``meta``, which says what the data is; in the
    schema's order. An unknown name is refused."""
    known = layout(schema)
    if tables is None:
        return list(known)
    wanted = set(tables) | ({"meta"} & set(known))
    unknown = sorted(wanted - set(known))
    if unknown:
        raise ValueError(f"unknown table(s) {', '.join(unknown)}: the tables are {', '.join(known)}")
    todo = list(wanted)
    while todo:
        for parent in known[todo.pop()].parents - wanted:
            wanted.add(parent)
            todo.append(parent)
    return [t for t in known if t in wanted]


# -- SQLite ---------------------------------------------------------------------------------------------
def _connect_fresh(path: Path) -> sqlite3.Connection:
    """A new file written in one go: no journal, no syncing (a crash leaves a file that is thrown away)."""
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("PRAGMA cache_size = -65536")       # 64 MiB: the index builds sort in memory
    return con


def _insert(con: sqlite3.Connection, table: Table, chunks: Iterable[tuple[Sequence, ...]]) -> int:
    sql = L.CRM[table.name].insert()
    n = 0
    for cols in chunks:
        con.executemany(sql, zip(*cols, strict=True))
        n += len(cols[0])
    return n


def broken_checks(con: sqlite3.Connection, table: Table, limit: int = 3) -> list[tuple[str, list]]:
    """Rows of ``table`` that break one of its CHECK clauses (a CHECK fails when its value is false, not
    NULL), one query per table and a second per clause only when the first finds any."""
    if not table.checks:
        return []
    fails = [f"NOT coalesce(({c}), 1)" for c in table.checks]
    if not con.execute(f"SELECT EXISTS (SELECT 1 FROM {table.name} WHERE {' OR '.join(fails)})").fetchone()[0]:
        return []
    return [(check, rows) for check, fail in zip(table.checks, fails)
            if (rows := con.execute(f"SELECT * FROM {table.name} WHERE {fail} LIMIT {limit}").fetchall())]


@bulk()
def write_database(path: Path, sim: Simulation, reveal_seed: bool = True, tables: Iterable[str] | None = None,
                   timings: dict | None = None) -> list[str]:
    """Write the CRM database: the tables asked for (default: all) with the tables their keys point at.
    Returns the tables written. ``timings``, if given, receives the seconds of each step."""
    clock = time.perf_counter
    steps = timings if timings is not None else {}
    names = with_parents(tables)
    schema, rows = layout(), Rows(sim, reveal_seed)
    con = _connect_fresh(path)
    try:
        for name in names:
            con.execute(schema[name].sql)
        con.execute("PRAGMA ignore_check_constraints = ON")   # verified once per table below
        t = clock()
        with con:
            for name in names:
                _insert(con, schema[name], rows(name))
        steps["load"] = clock() - t
        con.execute("PRAGMA ignore_check_constraints = OFF")
        t = clock()
        for name in names:
            broken = broken_checks(con, schema[name])
            if broken:
                raise RuntimeError(f"simulator bug: rows of {name} break its CHECK constraints: {broken}")
        steps["checks"] = clock() - t
        t = clock()
        with con:
            for name in names:
                for sql in INDEXES.get(name, ()):
                    con.execute(sql)
        steps["indexes"] = clock() - t
        t = clock()
        for name in names:
            if name in BUILT_FROM_POSITIONS:
                continue
            broken = con.execute(f"PRAGMA foreign_key_check({name})").fetchmany(5)
            if broken:
                raise RuntimeError(f"simulator bug: rows break foreign keys: {broken}")
        if any(n in BUILT_FROM_POSITIONS for n in names):
            rows.verify_orders()
        steps["foreign_keys"] = clock() - t
    finally:
        con.close()
    return names


@bulk()
def write_truth(path: Path, sim: Simulation) -> None:
    con = _connect_fresh(path)
    try:
        con.executescript(TRUTH_SCHEMA.read_text(encoding="utf-8"))
        with con:
            con.executemany(L.TRUTH_META.insert(), [("scenario", sim.scenario.scenario.id), ("seed", str(sim.seed))])
            cols = list(sim.t.latent)
            at = L.LATENT_ACCOUNTS.churned_at
            cols[at] = sim.clock.stamps(cols[at])
            later = later_accounts(sim)           # (a snapshot: not in the CRM yet)
            con.executemany(L.LATENT_ACCOUNTS.insert(), (row for i, row in enumerate(zip(*cols, strict=True))
                                                         if i not in later))
            con.executemany(L.LATENT_REPS.insert(), sorted(getattr(sim, "rep_optimism", {}).items()))
            ids = sim.acc.ids
            con.executemany(L.LATENT_DUPLICATES.insert(), sorted((ids[a], ids[b]) for a, b in sim.duplicates.items()))
            O = L.OPPORTUNITIES
            con.executemany(L.LATENT_OPPORTUNITIES.insert(),
                            sorted((o[O.opportunity_id], sim.win_probability(o[O.stage])) for o in sim.t.opportunities))
    finally:
        con.close()


# -- Parquet ------------------------------------------------------------------------------------------
PARQUET_TYPES = {"TEXT": "string", "INTEGER": "int64", "REAL": "float64"}


@bulk()
def write_parquet(folder: Path, sim: Simulation, reveal_seed: bool = True, tables: Iterable[str] | None = None) -> list[str]:
    """The same tables as :func:`write_database`, one ``<table>.parquet`` file each (zstd) in ``folder``, for
    big data: pandas reads them with ``pd.read_parquet``. Keys and CHECK constraints are the SQLite file's
    to keep; the rows are the same (the orders' keys are verified as for SQLite)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    names = with_parents(tables)
    schema, rows = layout(), Rows(sim, reveal_seed)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    for name in names:
        table = schema[name]
        arrow = pa.schema([(c, getattr(pa, PARQUET_TYPES[kind])()) for c, kind in table.columns])
        with pq.ParquetWriter(folder / f"{name}.parquet", arrow, compression="zstd") as out:
            wrote = False
            for cols in rows(name):
                out.write_table(pa.table([_arrow(pa, c, f.type) for c, f in zip(cols, arrow)], schema=arrow))
                wrote = True
            if not wrote:
                out.write_table(arrow.empty_table())
    if any(n in BUILT_FROM_POSITIONS for n in names):
        rows.verify_orders()
    return names


def _arrow(pa, values: Sequence, kind):
    """A column as an Arrow array of the table's type; a flag kept as True/False (SQLite stores it as 1/0) is
    cast to its INTEGER column."""
    try:
        return pa.array(values, kind)
    except pa.ArrowTypeError:
        return pa.array(values).cast(kind)
