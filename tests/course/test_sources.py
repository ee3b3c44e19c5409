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
