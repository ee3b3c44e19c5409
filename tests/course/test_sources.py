"""Course sources (course/): notebooks without outputs, valid nbgrader metadata, bilingual learner text. (The
course instance made from them is tested in tests/grading/classroom/test_course_instance.py.)"""
import json
import re
import tomllib

import pytest

from crmlab.grading.classroom.course import SHIPPED_COURSE

MODULES = sorted(tomllib.loads((SHIPPED_COURSE / "crmlab.toml").read_text(encoding="utf-8"))["modules"])
NOTEBOOKS = sorted(SHIPPED_COURSE.glob("modules/*/*.ipynb"))
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORDS = re.compile(r"[A-Za-z]{3,}(?: [A-Za-z]{2,}){2,}")


def _nb(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_catalogued_module_has_a_notebook():
    assert MODULES
    for m in MODULES:
        assert (SHIPPED_COURSE / "modules" / m / f"{m}.ipynb").exists()


def _checks(module: str) -> set[str]:
    """The check functions the grader has for ``module`` (course/checks/<module>.py)."""
    import ast

    tree = ast.parse((SHIPPED_COURSE / "checks" / f"{module}.py").read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("chk_")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    for cell in _nb(path)["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_nbgrader_metadata_is_complete_and_consistent(path):
    cells = _nb(path)["cells"]
    checks = _checks(path.stem)
    ids = [c["metadata"]["nbgrader"]["grade_id"] for c in cells]  # every cell carries nbgrader metadata
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    tests = [c for c in cells if c["metadata"]["nbgrader"]["grade"] and c["cell_type"] == "code"]
    manual = [c for c in cells if c["metadata"]["nbgrader"]["grade"] and c["cell_type"] == "markdown"]
    assert len(tests) >= 4 and len(manual) >= 1
    for c in tests:
        meta, src = c["metadata"]["nbgrader"], "".join(c["source"])
        assert meta["points"] > 0 and meta["locked"] and not meta["solution"]
        # no hidden tests in a notebook: the cell hands its answer to a check of the grader's own
        assert "HIDDEN TESTS" not in src
        assert src.rstrip().splitlines()[-1].startswith(f'hand_in("{meta["grade_id"]}", ')
        assert meta["grade_id"] in checks
    for c in cells:
        meta, src = c["metadata"]["nbgrader"], "".join(c["source"])
        if c["cell_type"] == "code" and meta["solution"]:
            assert src.count("### BEGIN SOLUTION") == 1 and src.count("### END SOLUTION") == 1
    # points in the notebook are the points announced to students
    points = sum(c["metadata"]["nbgrader"]["points"] for c in tests)
    intro = "".join(cells[0]["source"])
    assert f"（共 {points:g} 分）" in intro or f"({points:g} points)" in intro


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_learner_text_is_bilingual(path):
    for c in _nb(path)["cells"]:
        if c["cell_type"] == "markdown":
            text = "".join(c["source"])
            assert CJK.search(text), f"{c['id']}: no Chinese text"
            assert LATIN_WORDS.search(text), f"{c['id']}: no English text"


# the rubric of a written answer: a table whose header starts "| 评分项", one row per criterion, each level a cell that
# opens with its points in both languages ("**0.5 分 / 0.5 pt** …"), "—" where a level does not apply
RUBRIC_LEVEL = re.compile(r"\*\*(\d+(?:\.\d+)?) 分 / (\d+(?:\.\d+)?) pts?\*\*")
LENGTH_ZH = re.compile(r"中文 (\d+)–(\d+) 字，或英文 (\d+)–(\d+) 个词")
LENGTH_EN = re.compile(r"(\d+)–(\d+) Chinese characters, or (\d+)–(\d+) English words")


def _rubric(text: str) -> dict[str, list[float]]:
    """The rubric table in a question cell: each criterion with the points of its levels, in the table's order."""
    lines = text.splitlines()
    head = next((i for i, line in enumerate(lines) if line.startswith("| 评分项")), None)
    assert head is not None, "no rubric table (a header row starting '| 评分项')"
    columns = lines[head].count("|")
    assert re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[head + 1]) and lines[head + 1].count("|") == columns
    rubric = {}
    for line in lines[head + 2:]:
        if not line.startswith("|"):
            break
        assert line.count("|") == columns, f"a row with another number of cells: {line[:60]}"
        criterion, *cells = (cell.strip() for cell in line.strip().strip("|").split("|"))
        levels = []
        for cell in cells:
            if cell == "—":
                continue
            got = RUBRIC_LEVEL.match(cell)
            assert got and got[1] == got[2], f"{criterion}: a level without its points in both languages: {cell[:40]}"
            assert CJK.search(cell) and LATIN_WORDS.search(cell), f"{criterion}: a level not in both languages"
            levels.append(float(got[1]))
        rubric[criterion] = levels
    return rubric


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_written_answer_has_an_analytic_rubric_and_one_length_rule(path):
    """The question before each manual-graded answer shows the student and the formgrader how it is scored: a table,
    one row per criterion with at least two levels (none, some, full), whose full marks add up to the answer's points,
    and the length in both forms, Chinese characters twice the English words."""
    cells = _nb(path)["cells"]
    manual = [i for i, c in enumerate(cells) if c["metadata"]["nbgrader"]["grade"] and c["cell_type"] == "markdown"]
    assert manual
    for i in manual:
        question = cells[i - 1]
        assert question["cell_type"] == "markdown" and not question["metadata"]["nbgrader"]["grade"]
        text = "".join(question["source"])
        rubric = _rubric(text)
        assert rubric, f"{question['id']}: the rubric has no rows"
        for criterion, levels in rubric.items():
            assert CJK.search(criterion) and re.search(r"[A-Za-z]{3,}", criterion), f"{criterion}: not bilingual"
            assert len(levels) >= 2 and levels[0] == 0 and levels == sorted(set(levels)), (criterion, levels)
        assert sum(max(levels) for levels in rubric.values()) == pytest.approx(cells[i]["metadata"]["nbgrader"]["points"])
        zh, en = LENGTH_ZH.search(text), LENGTH_EN.search(text)
        assert zh and en, f"{question['id']}: the length rule in both forms (字 and words)"
        assert zh.groups() == en.groups()
        low, high, words_low, words_high = map(int, zh.groups())
        assert (low, high) == (2 * words_low, 2 * words_high)
