"""A course's settings (crmlab.toml) as grading/classroom/settings.py declares them: an unknown key, a missing one or
a wrong value is refused in one line naming the file and the key; docs/settings.md is the declarations'
reference; ``course init`` writes its values as TOML whatever the template's layout."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from crmlab.grading.classroom import course as course_module
from crmlab.grading.classroom.course import SHIPPED_COURSE, Course, CourseError, settings_text
from crmlab.grading.classroom.settings import DOC, SECTIONS, reference
from crmlab.grading.classroom.tomledit import set_value, value


def run(*args):
    crmlab = Path(sys.executable).with_name("crmlab")
    env = dict(os.environ, PATH=f"{crmlab.parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run([str(crmlab), *args], env=env, capture_output=True, text=True, timeout=300)

TEMPLATE = (SHIPPED_COURSE / "crmlab.toml").read_text(encoding="utf-8")


def _course_with(tmp_path: Path, text: str) -> Course:
    root = tmp_path / "c"
    root.mkdir(exist_ok=True)
    (root / "crmlab.toml").write_text(text, encoding="utf-8")
    return Course.open(root)


@pytest.mark.parametrize("table, line, key", [
    ("[grading]", "cel_timeout = 4", "grading.cel_timeout"),             # a typo of cell_timeout
    ("[course]", 'time_zone = "Asia/Urumqi"', "course.time_zone"),
    ("[grades]", "weight = { m01 = 1 }", "grades.weight"),
    ("[modules.m01]", "data_writeable = true", "modules.m01.data_writeable"),
])
def test_an_unknown_key_is_refused_naming_it_and_the_file(tmp_path, table, line, key):
    lines = TEMPLATE.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith(table)) + 1
    course = _course_with(tmp_path, "\n".join(lines[:at] + [line] + lines[at:]))
    where = re.escape(str(course.root / "crmlab.toml"))
    with pytest.raises(CourseError, match=rf"^{where}: unknown setting '{re.escape(key)}' \(the settings of \["):
        course.settings  # noqa: B018 - reading is what fails


def test_an_unknown_table_is_refused_naming_it(tmp_path):
    course = _course_with(tmp_path, TEMPLATE + "\n[grade]\npeer_share = 0\n")
    with pytest.raises(CourseError, match=r"unknown table \[grade\]"):
        course.module_ids  # noqa: B018


def test_a_missing_table_or_a_value_where_a_table_belongs_is_named(tmp_path):
    start, end = TEMPLATE.index("[grading]"), TEMPLATE.index("[grades]")
    course = _course_with(tmp_path, TEMPLATE[:start] + TEMPLATE[end:])
    with pytest.raises(CourseError, match=r"crmlab\.toml: missing table \[grading\]$"):
        course.settings  # noqa: B018
    course = _course_with(tmp_path, TEMPLATE.replace("[modules.m01]", "[modules]\nm09 = 3\n[modules.m01]"))
    with pytest.raises(CourseError, match=r"'modules\.m09' = 3: should be a table"):
        Course.open(course.root).settings  # noqa: B018


def test_the_command_says_an_unknown_key_in_one_line_with_exit_code_2(tmp_path):
    course = _course_with(tmp_path, TEMPLATE.replace("workers = 2 ", "worker = 2  "))
    r = run("roster", "list", "--course", str(course.root))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert f"{course.root / 'crmlab.toml'}: unknown setting 'grading.worker'" in r.stderr


@pytest.mark.parametrize("old, new, words", [
    ("cell_timeout = 20", 'cell_timeout = "20"', "'grading.cell_timeout' = '20': should be a valid integer"),
    ('sandbox = "auto"', 'sandbox = "sometimes"', "'grading.sandbox' = 'sometimes': should be 'auto', 'required' or 'off'"),
    ("memory_mb = 3072", "memory_mb = 0", "'grading.memory_mb' = 0: should be greater than or equal to 1"),
    ('locale = "zh_CN"', 'locale = "zh"', "'course.locale' = 'zh'"),
    ("data_writable = true", 'data_writable = "yes"', "'modules.m04.data_writable' = 'yes': should be a valid boolean"),
    ("group_silent_share = 0.5", "group_silent_share = 2", "'modules.m07.group_silent_share' = 2 should be a share"),
    ("customers = 300\n", "customers = 12.5\n", "'modules.m07.customers' = 12.5: should be a valid integer"),
    ("# customers = 120 ", "customers = 12.5 #", "'company.customers' = 12.5: should be a valid integer"),
    # the company track: a company module's data is the course's [company]; each has a day of its own, in the term
    ("day = 365 ", 'scenario = "hotpot_chain"\nday = 365 ', "'modules.m01' is on the company track: its data is the "
     "course's [company]; leave scenario and customers out"),
    ("day = 455 ", "day = 365 ", "modules.m04.day = 365 is modules.m01's day too"),
    ("day = 455 ", "day = 800 ", "modules.m04.day = 800 is not within the company's 730 days ([company] days)"),
    ('track = "company"\nday = 365 ', "", "'modules.m01' is a case module: it needs scenario and customers"),
    ('scenario = "hotpot_chain"', 'scenario = "hotpot_chain"\nday = 30', "'modules.m07' has a day but is a case module"),
])
def test_a_wrong_value_is_named_with_its_key(tmp_path, old, new, words):
    assert old in TEMPLATE
    course = _course_with(tmp_path, TEMPLATE.replace(old, new, 1))
    with pytest.raises(CourseError, match=re.escape(f"{course.root / 'crmlab.toml'}: {words}")):
        course.settings  # noqa: B018


def test_the_shipped_template_holds_every_setting_it_shows_with_the_declared_defaults():
    """The template's values are the declared defaults (two places saying the same thing stay the same)."""
    data = tomllib.loads(TEMPLATE)
    for name, model in SECTIONS.items():
        if name == "modules.<id>":
            continue
        for key, given in data[name].items():
            field = model.model_fields[key]
            if not field.is_required() and key not in ("title_zh", "title_en"):
                assert given == field.default, f"[{name}] {key} = {given!r} in the template, {field.default!r} declared"


def test_the_reference_is_generated_from_the_declarations():
    assert DOC.read_text(encoding="utf-8") == reference(), \
        "docs/settings.md is stale: python -m crmlab.grading.classroom.settings --write"
    for name, model in SECTIONS.items():
        for key, field in model.model_fields.items():
            assert field.description and field.json_schema_extra["zh"], f"[{name}] {key}: help in both languages"
            assert re.search(r"[\u4e00-\u9fff]", field.json_schema_extra["zh"]), f"[{name}] {key}: no Chinese help"


TRICKY = ['crm "2026" \\ spring', "a\\b", 'quote"', "tab\there", "控制\x01字符\x7f", "#not-a-comment"]


@pytest.mark.parametrize("text", TRICKY)
def test_a_toml_string_round_trips(text):
    assert tomllib.loads(f"x = {value(text)}")["x"] == text


def _reformatted() -> dict[str, str]:
    """The template as an instructor (or a formatter) might have rewritten it."""
    lines = TEMPLATE.splitlines(keepends=True)
    no_comments = "".join(ln for ln in lines if not ln.lstrip().startswith("#"))
    tight = re.sub(r"^(\w+) *= *", r"\1=", TEMPLATE, flags=re.M)
    wide = re.sub(r"^(\w+) = ", r"  \1   =\t", TEMPLATE, flags=re.M)
    course_at_end = TEMPLATE.partition("[course]")
    grading_start = course_at_end[2].index("[grading]")
    moved = course_at_end[0] + course_at_end[2][grading_start:] + "\n[course]" + course_at_end[2][:grading_start]
    quoted = re.sub(r"^(id|locale) = ", r'"\1" = ', TEMPLATE, flags=re.M).replace("[course]", '[ "course" ]')
    crlf = TEMPLATE.replace("\n", "\r\n")
    return {"as shipped": TEMPLATE, "no comments": no_comments, "no spaces": tight, "spaced, tabs": wide,
            "[course] last": moved, "quoted keys": quoted, "CRLF": crlf}


@pytest.mark.parametrize("layout", list(_reformatted()))
def test_course_init_writes_its_values_whatever_the_template_layout(tmp_path, monkeypatch, layout):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "crmlab.toml").write_bytes(_reformatted()[layout].encode("utf-8"))
    monkeypatch.setattr(course_module, "SHIPPED_COURSE", shipped)
    before = tomllib.loads(_reformatted()[layout])
    text = settings_text(course_id=TRICKY[0], locale="en_US", db_url='postgresql://u:p"w@h/db',
                         exchange="/srv/ex change/\\x")
    after = tomllib.loads(text)
    assert after["course"]["id"] == TRICKY[0] and after["course"]["locale"] == "en_US"
    assert after["course"]["exchange"] == "/srv/ex change/\\x"
    assert after["grading"]["db_url"] == 'postgresql://u:p"w@h/db'
    for table in before:   # nothing else changed
        for key, v in before[table].items():
            if (table, key) not in {("course", "id"), ("course", "locale")}:
                assert after[table][key] == v, (table, key)
    if layout == "as shipped":   # the example line is replaced, the comments are kept
        assert "# exchange =" not in text and text.count("#") == TEMPLATE.count("#") - 1


def test_a_value_that_cannot_land_is_an_error_not_a_file_left_as_it_was():
    with pytest.raises(ValueError, match="could not be written"):
        set_value('[course]\nid = """multi\nline"""\n', "course", "id", "x")


def test_a_course_id_with_quotes_and_backslashes_round_trips_through_course_init(tmp_path):
    cid = 'crm "2026" \\ spring'
    course = Course.init(tmp_path / "c", cid, "en_US", exchange=tmp_path / "ex")
    again = Course.open(course.root)
    assert again.course_id == cid and again.locale == "en_US"
    assert again.settings.course.exchange == str(tmp_path / "ex")
