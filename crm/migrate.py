"""Bring a simulator database up to what the operational CRM needs, idempotently.

The simulator writes a snapshot (``simulator/schema.sql``) and is not edited for the CRM: new
tables come from ``schema_ops.sql`` (``CREATE … IF NOT EXISTS``), new columns are added only when
``PRAGMA table_info`` lacks them, and the guard triggers are generated from the foreign keys, so a
table that later gains an ``account_id`` is guarded without touching this file. Running the
migration twice changes nothing; it is one transaction.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_OPS = Path(__file__).with_name("schema_ops.sql")
OPS_SCHEMA_VERSION = "2"   # 2: the operations table

# table -> [(column, declaration)]; comments say what each column is (中文 / English)
ADDED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "accounts": [
        # 合并到的客户 / account this one was merged into (empty: active)
        ("merged_into", "TEXT REFERENCES accounts (account_id) CHECK (merged_into IS NULL OR merged_into <> account_id)"),
        # 合并时间 / merged at
        ("merged_at", "TEXT CHECK ((merged_at IS NULL) = (merged_into IS NULL))"),
        # 价值等级 / value grade on the 2×2 grid (volume class, profit class)
        ("grade", "TEXT CHECK (grade IS NULL OR grade IN ('AA', 'AB', 'BA', 'BB'))"),
        # 客户细分 / segment
        ("segment", "TEXT CHECK (segment IS NULL OR length(segment) > 0)"),
    ],
    "contacts": [
        # 合并到的联系人 / contact this one was merged into (empty: active)
        ("merged_into", "TEXT REFERENCES contacts (contact_id) CHECK (merged_into IS NULL OR merged_into <> contact_id)"),
        # 合并时间 / merged at
        ("merged_at", "TEXT CHECK ((merged_at IS NULL) = (merged_into IS NULL))"),
    ],
    "leads": [
        # 不合格原因 / why the lead was disqualified
        ("disqualified_reason", "TEXT CHECK (disqualified_reason IS NULL OR status = 'disqualified')"),
    ],
    "activities": [
        # 备注 / note
        ("note", "TEXT"),
    ],
    "tickets": [
        # 优先级（决定服务时限）/ priority (sets the SLA)
        ("priority", "TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('urgent', 'high', 'normal', 'low'))"),
        # 当前处理人 / currently assigned to
        ("assigned_to", "TEXT REFERENCES agents (agent_id)"),
        # 关闭时间（已解决或客户放弃后）/ closed at (only once resolved or abandoned)
        ("closed_at", "TEXT CHECK (closed_at IS NULL OR (status IN ('resolved', 'abandoned') AND closed_at >= opened_at))"),
    ],
}

# Declared once: name -> (default, help). Stored in ops_settings so an instructor can change a
# module's database without code; the API reads them from there.
SETTINGS: dict[str, tuple[float, str]] = {
    "max_discount": (0.25, "largest quote discount a rep may give without a manager (share of list amount)"),
    "quote_valid_days": (30, "days a quote stays valid"),
    "due_soon_share": (0.25, "an open ticket is 'due soon' when less than this share of its SLA window is left"),
    "duplicate_threshold": (0.8, "name similarity (0–1) from which two accounts in one city are reported as duplicates"),
    "default_close_days": (60, "days from creation to an opportunity's expected close when none is given"),
}


def columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in con.execute(f'PRAGMA table_info("{table}")')}


def has_table(con: sqlite3.Connection, table: str) -> bool:
    """Whether the database holds ``table`` (a module's database holds the tables it needs)."""
    return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None


def referencing(con: sqlite3.Connection, target: str) -> list[tuple[str, str]]:
    """Every (table, column) with a foreign key to ``target``'s primary key, in name order."""
    tables = [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    found = []
    for table in tables:
        for fk in con.execute(f'PRAGMA foreign_key_list("{table}")'):
            if fk[2] == target and not (table == target and fk[3] == "merged_into"):
                found.append((table, fk[3]))
    return found


def _guard_triggers(con: sqlite3.Connection) -> list[str]:
    """No new work may point at a merged account or contact (defence in depth behind the API)."""
    out = []
    for target, key in (("accounts", "account_id"), ("contacts", "contact_id")):
        for table, col in referencing(con, target):
            for event, name in ((f"INSERT ON {table}", "ins"), (f"UPDATE OF {col} ON {table}", "upd")):
                out.append(
                    f"CREATE TRIGGER IF NOT EXISTS ops_{table}_{col}_{name}_not_merged BEFORE {event} "
                    f"WHEN NEW.{col} IS NOT NULL AND "
                    f"(SELECT merged_into FROM {target} WHERE {key} = NEW.{col}) IS NOT NULL "
                    f"BEGIN SELECT RAISE(ABORT, '{table}.{col} points at a merged {target[:-1]}'); END")
    out.append("CREATE TRIGGER IF NOT EXISTS ops_complaint_cause BEFORE INSERT ON complaints "
               "WHEN NEW.cause NOT IN (SELECT cause FROM complaint_causes) "
               "BEGIN SELECT RAISE(ABORT, 'unknown complaint cause'); END")
    return out


def _scenario_causes(con: sqlite3.Connection) -> list[str]:
    """Causes of the scenario the database came from, for a run that happens to have no complaints."""
    row = con.execute("SELECT value FROM meta WHERE key = 'scenario'").fetchone()
    if row is None:
        return []
    try:
        from crmlab.simulator import load_scenario
        return sorted(load_scenario(row[0]).complaints.causes)
    except Exception:  # a scenario file not shipped here: the database's own values must do
        return []


def migrate(con: sqlite3.Connection) -> bool:
    """Apply the operational additions; True if anything had to change. One transaction."""
    have = {t: columns(con, t) for t in ADDED_COLUMNS}
    version = con.execute("SELECT value FROM meta WHERE key = 'ops_schema_version'").fetchone()
    if version == (OPS_SCHEMA_VERSION,) and all(c in have[t] for t, cols in ADDED_COLUMNS.items() for c, _ in cols):
        return False
    con.execute("BEGIN IMMEDIATE")
    try:
        for table, cols in ADDED_COLUMNS.items():
            for name, decl in cols:
                if name not in have[table]:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
        for statement in SCHEMA_OPS.read_text(encoding="utf-8").split(";\n"):
            if statement.strip() and not all(
                    line.strip().startswith("--") or not line.strip() for line in statement.splitlines()):
                con.execute(statement)
        con.executemany("INSERT OR IGNORE INTO ops_settings VALUES (?, ?, ?)",
                        [(k, v, h) for k, (v, h) in SETTINGS.items()])
        con.execute("INSERT OR IGNORE INTO complaint_causes SELECT DISTINCT cause FROM complaints ORDER BY cause")
        if con.execute("SELECT count(*) FROM complaint_causes").fetchone()[0] == 0:
            con.executemany("INSERT INTO complaint_causes VALUES (?)", [(c,) for c in _scenario_causes(con)])
        for sql in _guard_triggers(con):
            con.execute(sql)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('ops_schema_version', ?)", (OPS_SCHEMA_VERSION,))
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return True
