"""The `crmlab` command as a person uses it: exit codes, messages, files."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from paths import REPO

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
    src = REPO / "scenarios" / "education_services.toml"
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


# -- bad values are refused: a message naming the value, exit code 2, no traceback, nothing written ------------
@pytest.mark.parametrize("args, words", [
    (["--seed", "-1"], ["argument --seed", "'-1' is not a seed", "from 0 to 9223372036854775807"]),
    (["--seed", "12345678901234567890"], ["argument --seed", "'12345678901234567890' is not a seed"]),   # 20 digits
    (["--seed", "7.5"], ["argument --seed", "'7.5' is not a seed"]),
    (["--seed", "1", "--customers", "0"], ["argument --customers", "'0': a whole number of at least 1"]),
    (["--seed", "1", "--customers", "-5"], ["argument --customers", "'-5'"]),
    (["--seed", "1", "--years", "0"], ["argument --years", "'0': a number greater than 0"]),
    (["--seed", "1", "--years", "0.001"], ["--years 0.001 is less than a day"]),
    (["--seed", "1", "--days", "0"], ["argument --days", "'0': a whole number of at least 1"]),
])
def test_simulate_refuses_values_it_would_otherwise_change_or_crash_on(tmp_path, args, words):
    r = run("simulate", *args, "--out", "x.db", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    for w in words:
        assert w in r.stderr
    assert not (tmp_path / "x.db").exists()


def test_simulate_creates_no_folder_it_was_not_asked_for(tmp_path):
    r = run("simulate", "--seed", "1", "--out", str(tmp_path / "no" / "such" / "dir" / "x.db"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"--out {tmp_path}/no/such/dir/x.db: there is no folder {tmp_path}/no/such/dir" in r.stderr
    assert not (tmp_path / "no").exists()
    r = run("simulate", "--seed", "1", "--out", "x.db", "--truth", str(tmp_path / "nope" / "t.db"), cwd=tmp_path)
    assert r.returncode == 2 and "--truth" in r.stderr and not (tmp_path / "x.db").exists()
    r = run("simulate", "--seed", "1", "--out", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 2 and "that is a folder" in r.stderr
    assert run("course", "init", str(tmp_path / "c")).returncode == 0
    for command in (["export"], ["grades"], ["report", "m01"]):   # every --out: no folder made unasked
        r = run(*command, "--out", str(tmp_path / "nope" / "out.csv"), cwd=tmp_path / "c")
        assert r.returncode == 2 and "there is no folder" in r.stderr and "Traceback" not in r.stderr, command
    assert not (tmp_path / "nope").exists()


# -- the course a command works on ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_courses(tmp_path_factory):
    base = tmp_path_factory.mktemp("courses")
    for name in ("a", "b"):
        assert run("course", "init", str(base / name), "--course-id", f"course-{name}").returncode == 0
    return base


def test_the_course_is_found_from_the_current_folder_or_crmlab_course(two_courses):
    a, b = two_courses / "a", two_courses / "b"
    for where in (a, a / "modules" / "m01"):                 # the course folder, or any folder inside it
        r = run("roster", "list", cwd=where, env={"CRMLAB_COURSE": ""})
        assert r.returncode == 0 and "the roster of course-a" in r.stdout, r.stderr
    r = run("roster", "list", cwd=two_courses, env={"CRMLAB_COURSE": str(b)})   # outside every course: the variable
    assert r.returncode == 0 and "the roster of course-b" in r.stdout, r.stderr
    r = run("roster", "list", cwd=a, env={"CRMLAB_COURSE": str(b)})               # inside a course: that course
    assert "the roster of course-a" in r.stdout
    r = run("roster", "list", "--course", str(b), cwd=a)                             # --course wins over both
    assert "the roster of course-b" in r.stdout
    r = run("roster", "list", cwd=two_courses, env={"CRMLAB_COURSE": ""})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "which course?" in r.stderr and "--course DIR" in r.stderr and "CRMLAB_COURSE" in r.stderr
    r = run("roster", "list", cwd=two_courses, env={"CRMLAB_COURSE": str(two_courses / "gone")})
    assert r.returncode == 2 and "(from CRMLAB_COURSE)" in r.stderr and "no such folder" in r.stderr


def test_a_course_subfolder_given_as_the_course_names_the_course_it_is_in(two_courses):
    a = two_courses / "a"
    r = run("export", "--course", ".", cwd=a / "modules")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{a / 'modules'} (--course) is a folder inside the course instance {a}" in r.stderr
    assert f"use --course {a}" in r.stderr and "course init" not in r.stderr     # not: create a course in the course
    r = run("course", "init", str(a / "modules" / "inner"))
    assert r.returncode == 2 and "a course cannot hold another one" in r.stderr
    assert not (a / "modules" / "inner").exists()


# -- help ---------------------------------------------------------------------------------------------------
def _help(*command: str) -> str:
    r = run(*command, "--help")
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_help_lists_the_commands_in_the_order_of_a_term_in_both_languages():
    text = _help()
    order = ["demo", "course", "roster", "assign", "lab", "collect", "autograde", "feedback", "release-feedback",
             "report", "groups", "export", "grades", "my-scores", "student-config", "simulate"]
    listed = [ln.split()[0] for ln in text.split("commands · 命令:")[1].split("\n\n")[0].splitlines()
              if ln.startswith("    ") and not ln.startswith("      ")]
    assert listed == order
    assert "客户关系管理实训平台" in text and "一个学期的顺序" in text


def _options(text: str) -> dict[str, str]:
    """option or argument → its help text, from argparse's listing."""
    out, current = {}, None
    for line in text.splitlines():
        if line.startswith("  ") and not line.startswith("      ") and line.strip():
            current = line.split()[0].rstrip(",")
            out[current] = " ".join(line.split()[1 + (line.split()[1].isupper() if len(line.split()) > 1 else 0):])
        elif current and line.startswith("      "):
            out[current] += " " + line.strip()
    return out


COMMANDS = [("demo",), ("course", "init"), ("roster", "import"), ("roster", "list"), ("roster", "remove"), ("assign",),
            ("lab",), ("collect",), ("autograde",), ("feedback",), ("release-feedback",), ("report",), ("groups",),
            ("export",), ("grades",), ("my-scores",), ("student-config",), ("simulate",)]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_option_has_help_in_english_and_chinese_and_its_default(command):
    import re
    text = _help(*command)
    options = _options(text.split("options:")[0].split("positional arguments:")[-1]) if "positional arguments:" in text else {}
    options |= _options(text.split("options:")[1])
    assert options
    for name, help_text in options.items():
        assert re.search(r"[A-Za-z]{3}", help_text) and re.search(r"[\u4e00-\u9fff]", help_text), (command, name, help_text)
    for name in ("--course", "--workers", "--locale", "--port", "--students", "--format"):
        if name in options:
            assert "default" in options[name] and "默认" in options[name], (command, name)
    if "MODULE" in options:   # the module argument lists the modules
        for m in ("m01", "m04", "m06", "m07"):
            assert m in options["MODULE"]


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


def test_a_character_gbk_cannot_write_is_refused_naming_its_line_and_nothing_is_written(tmp_path):
    """Some rare characters of Chinese names (𠮷, in the CJK extension B) are not in GBK: --encoding gbk says which
    line holds one and writes no half file; UTF-8 with a byte-order mark writes it."""
    from crmlab.cli.handlers import UsageError, _write_text

    text = "student_id,name\ns1,王伟\ns2,𠮷野\n"
    out = tmp_path / "grades.csv"
    with pytest.raises(UsageError, match=r"line 3 holds '𠮷'.*utf-8-sig"):
        _write_text(str(out), text, "gbk")
    assert not out.exists()
    _write_text(str(out), text, "utf-8-sig")
    assert out.read_bytes() == b"\xef\xbb\xbf" + text.encode("utf-8")
    _write_text(str(out), text.replace("𠮷", "吉"), "gbk")
    assert out.read_bytes().decode("gbk") == text.replace("𠮷", "吉")
