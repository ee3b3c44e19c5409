"""Writing a run: the tables asked for with the tables their keys point at, the same rows whatever is
written, the schema's constraints verified on the load, Parquet with the same rows as SQLite."""
import sqlite3

import numpy as np
import pandas as pd
import pytest

from crmlab.simulator import open_run, save, simulate
from crmlab.simulator import layouts, store


def _rows(path, table):
    with sqlite3.connect(path) as con:
        return con.execute(f"SELECT * FROM {table}").fetchall()


def test_a_table_comes_with_the_tables_its_keys_point_at():
    # from schema.sql's REFERENCES, by hand: calls → tickets, accounts, contacts, agents; tickets → the same three;
    # contacts → accounts → account_kinds, lead_sources; agents → skills; and meta, which says what the data is
    assert set(store.with_parents(["calls"])) == {"calls", "tickets", "accounts", "contacts", "agents", "skills",
                                                  "account_kinds", "lead_sources", "meta"}
    assert store.with_parents(["meta"]) == ["meta"]
    assert len(store.with_parents(None)) == 28
    with pytest.raises(ValueError, match="unknown table.*order_line\\b.*the tables are meta"):
        store.with_parents(["order_line"])


def test_each_table_is_declared_with_the_columns_the_schema_makes():
    # simulator/layouts.py declares each table's columns (the rows' order, the names the INSERTs give); the
    # CREATE statements are schema.sql's and truth_schema.sql's: asked of SQLite itself, they agree, every table
    for declared, schema in ((layouts.CRM, store.SCHEMA), (layouts.TRUTH, store.TRUTH_SCHEMA)):
        con = sqlite3.connect(":memory:")
        con.executescript(schema.read_text(encoding="utf-8"))
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")]
        assert list(declared) == tables, schema.name
        for name in tables:
            assert declared[name].columns == tuple(r[1] for r in con.execute(f'PRAGMA table_info("{name}")')), name
        con.close()
    assert layouts.TICKETS.insert().startswith("INSERT INTO tickets (ticket_id, account_id, contact_id, channel")
    with pytest.raises(ValueError, match="column 'insert' is declared twice or shadows"):
        layouts.Layout("t", "a insert")
    assert layouts.REPS.row(name="Ann", rep_id="S01") == ["S01", "Ann"]      # by name, in the table's order
    with pytest.raises(ValueError, match="reps: no value for column 'name'"):
        layouts.REPS.row(rep_id="S01")
    with pytest.raises(ValueError, match=r"reps: no column \['title'\]"):
        layouts.REPS.row(rep_id="S01", name="Ann", title="Dr")


def test_the_check_clauses_are_read_from_the_statement_not_from_comments_or_strings():
    sql = ("CREATE TABLE t (\n"
           "    a TEXT CHECK (a GLOB 'x(*') ,  -- a comment with CHECK (this is not one)\n"
           "    b INTEGER NOT NULL CHECK (b IN (1, 2) AND (b > 0)),  -- 'quoted (' in a comment\n"
           "    CHECK ((a IS NULL) = (b = 1))\n)")
    assert store._checks(sql) == ["a GLOB 'x(*'", "b IN (1, 2) AND (b > 0)", "(a IS NULL) = (b = 1)"]


def test_a_database_of_some_tables_holds_the_rows_of_the_whole_one(tmp_path):
    whole = simulate("education_services", 5, tmp_path / "whole.db", customers=150)
    part = simulate("education_services", 5, tmp_path / "part.db", customers=150, tables=["calls", "order_lines"])
    expected = set(store.with_parents(["calls", "order_lines"]))
    assert set(part.tables) == expected and "survey_answers" not in expected
    with sqlite3.connect(part.db_path) as con:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    assert names == expected
    for table in expected:
        assert _rows(part.db_path, table) == _rows(whole.db_path, table), table
    # without orders, their lines are not built at all (and the other tables keep their rows)
    service = simulate("education_services", 5, tmp_path / "service.db", customers=150, tables=["calls"])
    with sqlite3.connect(service.db_path) as con:
        assert "orders" not in {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    assert _rows(service.db_path, "calls") == _rows(whole.db_path, "calls")


def test_a_run_opened_for_some_tables_cannot_be_saved_with_others(tmp_path):
    sim = open_run("education_services", 5, customers=40, tables=["tickets"])
    with pytest.raises(ValueError, match="opened for the tables.*cannot save.*orders"):
        save(sim, tmp_path / "x.db", tables=["orders"])
    with pytest.raises(ValueError, match="list of table names"):
        open_run("education_services", 5, customers=40, tables="tickets")
    with pytest.raises(ValueError, match="format must be one of sqlite, parquet"):
        save(sim, tmp_path / "x.db", format="csv")


def test_rows_that_break_a_check_are_refused_by_the_load(tmp_path):
    sim = open_run("education_services", 5, customers=40)
    sim.finish()
    sim.t.tickets[0][layouts.TICKETS.status] = "lost"          # not a ticket status
    with pytest.raises(RuntimeError, match="rows of tickets break its CHECK.*status IN"):
        save(sim, tmp_path / "bad.db")


def test_orders_built_from_wrong_positions_are_refused(tmp_path):
    sim = open_run("education_services", 5, customers=40)
    sim.finish()
    contact = sim.t.orders.contact
    first = sim.acc.first_contact[sim.t.orders.account].astype(np.int64)
    wrong = np.flatnonzero(first > 0)[0]
    contact[wrong] = first[wrong] - 1     # the contact before the account's first: another account's person
    with pytest.raises(RuntimeError, match="an order's contact is not one of its account's"):
        save(sim, tmp_path / "bad.db")


def test_the_constraints_still_guard_every_later_change(tmp_path):
    # the CHECKs are verified in bulk after the load, but stay declared: a later change that breaks one fails
    db = simulate("education_services", 5, tmp_path / "crm.db", customers=40).db_path
    with sqlite3.connect(db) as con:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            con.execute("UPDATE orders SET source = 'gift' WHERE order_id = (SELECT min(order_id) FROM orders)")
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            con.execute("UPDATE tickets SET status = 'lost' WHERE ticket_id = (SELECT min(ticket_id) FROM tickets)")


def test_parquet_holds_the_rows_of_the_sqlite_database(tmp_path):
    db = simulate("hotpot_chain", 4, tmp_path / "crm.db", customers=150)
    pq = simulate("hotpot_chain", 4, tmp_path / "crm_parquet", customers=150, format="parquet",
                  tables=["order_lines", "calls"])
    assert {p.stem for p in (tmp_path / "crm_parquet").glob("*.parquet")} == set(pq.tables)
    frames, sql = pq.frames(), db.frames()
    for table in pq.tables:
        a, b = frames[table], sql[table]
        assert list(a.columns) == list(b.columns), table
        assert a.astype(object).where(a.notna(), None).values.tolist() == \
            b.astype(object).where(b.notna(), None).values.tolist(), table
    assert str(frames["order_lines"]["quantity"].dtype) == "int64"
    assert pd.api.types.is_float_dtype(frames["order_lines"]["unit_price"])
