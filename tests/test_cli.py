"""The `crmlab` command as a person uses it: exit codes, messages, files."""
from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

CRMLAB = str(Path(sys.executable).with_name("crmlab"))


def run(*args, cwd=None, env=None, timeout=600):
    env = dict(os.environ, **(env or {}))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run([CRMLAB, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def sql_dump_hash(path: Path) -> str:
    out = subprocess.run([sys.executable, "-c", "import sqlite3,sys; "
                          "print('\\n'.join(sqlite3.connect(sys.argv[1]).iterdump()))", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return hashlib.sha256(out.encode()).hexdigest()


def test_simulate_twice_gives_identical_content_whatever_the_hash_seed(tmp_path):
    a = run("simulate", "--scenario", "education_services", "--seed", "7", "--out", "a.db", cwd=tmp_path,
            env={"PYTHONHASHSEED": "1"})
    b = run("simulate", "--scenario", "education_services", "--seed", "7", "--out", "b.db", cwd=tmp_path,
            env={"PYTHONHASHSEED": "2"})
    c = run("simulate", "--scenario", "education_services", "--seed", "8", "--out", "c.db", cwd=tmp_path)
    assert a.returncode == b.returncode == c.returncode == 0, a.stderr
    assert "orders" in a.stdout and "tickets" in a.stdout
    assert sql_dump_hash(tmp_path / "a.db") == sql_dump_hash(tmp_path / "b.db")
    assert sql_dump_hash(tmp_path / "a.db") != sql_dump_hash(tmp_path / "c.db")
    assert not (tmp_path / "a.truth.db").exists()  # ground truth only when asked for


def test_simulate_rejects_an_invalid_scenario_naming_the_field(tmp_path):
    bad = tmp_path / "bad.toml"
    src = Path(__file__).resolve().parent.parent / "scenarios" / "education_services.toml"
    bad.write_text(src.read_text(encoding="utf-8").replace("agents = 3", "agents = -3"), encoding="utf-8")
    r = run("simulate", "--scenario", str(bad), "--seed", "1", "--out", "x.db", cwd=tmp_path)
    assert r.returncode == 2
    assert "service.agents" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.db").exists()


def test_errors_are_messages_not_tracebacks(tmp_path):
    r = run("autograde", "m01", "--course", str(tmp_path))
    assert r.returncode == 2 and "not a course instance" in r.stderr and "Traceback" not in r.stderr
    assert run("course", "init", str(tmp_path / "c")).returncode == 0
    r = run("autograde", "m99", "--course", str(tmp_path / "c"))
    assert r.returncode == 2 and "unknown module 'm99'" in r.stderr
    r = run("demo", str(tmp_path / "d"), "--module", "m99")   # refused before anything is created
    assert r.returncode == 2 and "course/demo/m99.toml" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "d").exists()


def test_demo_grades_a_class_of_thirty_in_under_three_minutes(tmp_path):
    started = time.monotonic()
    r = run("demo", str(tmp_path / "demo"))
    elapsed = time.monotonic() - started
    assert r.returncode == 0, r.stderr[-2000:]
    assert elapsed < 180
    for status in ("graded", "error", "timeout", "missing"):
        assert status in r.stdout
    table = list(csv.DictReader(io.StringIO(run("export", "--course", str(tmp_path / "demo")).stdout)))
    assert len(table) == 30
    statuses = [row["status"] for row in table]
    assert statuses.count("graded") >= 20
    assert all(row["reason"] for row in table if row["status"] != "graded")


def test_simulate_shows_progress_and_takes_years_and_a_locale(tmp_path):
    r = run("simulate", "--scenario", "hotpot_chain", "--seed", "3", "--customers", "60", "--years", "0.5",
            "--locale", "en_US", "--out", "h.db", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "simulating hotpot_chain" in r.stderr and "100%" in r.stderr   # the progress bar
    import sqlite3
    with sqlite3.connect(tmp_path / "h.db") as con:
        meta = dict(con.execute("SELECT key, value FROM meta"))
    assert (meta["days"], meta["customers"], meta["locale"], meta["currency"]) == ("182", "60", "en_US", "USD")
    both = run("simulate", "--seed", "1", "--years", "1", "--days", "30", "--out", "x.db", cwd=tmp_path)
    assert both.returncode == 2 and "not allowed with" in both.stderr


def test_simulate_writes_the_tables_asked_for_as_parquet_and_names_an_unknown_table(tmp_path):
    r = run("simulate", "--scenario", "hotpot_chain", "--seed", "3", "--customers", "40", "--tables", "calls,nope",
            "--out", "x.db", cwd=tmp_path)
    assert r.returncode == 2 and "unknown table(s) nope" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.db").exists()
    r = run("simulate", "--scenario", "hotpot_chain", "--seed", "3", "--customers", "40", "--tables", "calls",
            "--format", "parquet", "--out", "pq", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    import pandas as pd
    files = {p.stem for p in (tmp_path / "pq").glob("*.parquet")}
    assert {"calls", "tickets", "meta"} <= files and "orders" not in files   # a call's ticket comes with it
    calls = pd.read_parquet(tmp_path / "pq" / "calls.parquet")
    assert f"calls {len(calls)}" in r.stdout and calls["call_id"].is_unique
