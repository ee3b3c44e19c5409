"""The map of docs/design.md holds: imports go one way along the spine, every folder with code is a package the
project installs, and no file grows past ≈400 lines without saying why at its top."""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest
from paths import REPO

FOLDERS = {"crmlab": "crmlab", "crmlab.simulator": "simulator", "crmlab.crm": "crm", "crmlab.roleplay": "roleplay",
           "crmlab.grading": "grading"}
# a room may import the rooms listed for it (and itself), nothing else of crmlab: the direction of the map
ALLOWED = {
    "crmlab.base": set(),                                                  # vocab, messages, html, paths
    "crmlab.simulator": {"crmlab.base"},
    "crmlab.crm": {"crmlab.base", "crmlab.simulator"},
    "crmlab.roleplay": {"crmlab.base", "crmlab.simulator", "crmlab.crm"},
    "crmlab.grading.classroom": {"crmlab.base", "crmlab.simulator", "crmlab.crm", "crmlab.roleplay"},
    "crmlab.grading.run": {"crmlab.base", "crmlab.simulator", "crmlab.crm", "crmlab.roleplay",
                           "crmlab.grading.classroom"},
    "crmlab.grading.outputs": {"crmlab.base", "crmlab.simulator", "crmlab.crm", "crmlab.roleplay",
                               "crmlab.grading.classroom", "crmlab.grading.run"},
    "crmlab.grading": None,   # grading/demo.py and grading/__init__: the whole flow, any room
    "crmlab.cli": None,       # the command: any room
}


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in FOLDERS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if package == "crmlab" and parts and parts[0] not in {"cli"} and len(parts) == 1:
                found[f"crmlab.{parts[0]}"] = path
            elif package == "crmlab" and parts and parts[0] == "cli":
                found[".".join(["crmlab", *parts])] = path
            elif package != "crmlab":
                found[".".join([package, *parts])] = path
    return found


def room(name: str) -> str:
    if name.split(".")[1] in {"vocab", "messages", "html", "paths"} or name == "crmlab":
        return "crmlab.base"
    for r in sorted(ALLOWED, key=len, reverse=True):
        if name == r or name.startswith(r + "."):
            return r
    raise AssertionError(f"{name} is in no room of the map")


def imports(path: Path, name: str) -> set[str]:
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            out |= {f"{target}.{a.name}" for a in node.names}   # `from crmlab import paths`
    return {i for i in out if i.startswith("crmlab")}


def test_imports_go_one_way():
    wrong = []
    mods = modules()
    for name, path in mods.items():
        allowed = ALLOWED[room(name)]
        if allowed is None:
            continue
        for target in imports(path, name):
            if target not in mods and target.rpartition(".")[0] in mods:
                target = target.rpartition(".")[0]     # `from pkg import function`
            if target not in mods or target == "crmlab":
                continue
            there = room(target)
            if there != room(name) and there not in allowed:
                wrong.append(f"{path.relative_to(REPO)} imports {target} ({there})")
    assert not wrong, "imports against the map's direction:\n" + "\n".join(wrong)


def test_every_code_folder_is_an_installed_package():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    folders = {".".join(["crmlab", *p.parent.relative_to(REPO / FOLDERS[pkg]).parts]) if pkg == "crmlab" else
               ".".join([pkg, *p.parent.relative_to(REPO / FOLDERS[pkg]).parts])
               for pkg in FOLDERS for p in (REPO / FOLDERS[pkg]).rglob("__init__.py")}
    assert folders - listed == set(), f"folders with an __init__.py that pyproject.toml does not install: {folders - listed}"
    assert listed - folders == set(), f"packages in pyproject.toml with no folder: {listed - folders}"


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_file_over_400_lines_without_a_reason_at_its_top(name):
    path = modules()[name]
    lines = path.read_text().splitlines()
    if len(lines) <= 420:
        return
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert re.search(r"\b(over|more than) 400 lines\b", doc, re.I), \
        f"{path.relative_to(REPO)} has {len(lines)} lines and its docstring does not say why it stays one file"


PUBLIC = ("crmlab.crm", "crmlab.simulator", "crmlab.roleplay")


@pytest.mark.parametrize("notebook", sorted((REPO / "course" / "modules").glob("*/*.ipynb")), ids=lambda p: p.stem)
def test_a_notebook_imports_only_the_public_names(notebook):
    """A module's notebook takes what it uses from a package's public names (its ``__all__``), never from a room
    inside it, and nothing of the grader's: a room can then be rebuilt without touching the course."""
    import importlib
    import json

    public = {p: set(importlib.import_module(p).__all__) for p in PUBLIC}
    found = []
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                found += [(a.name, None) for a in node.names if a.name.startswith("crmlab.") or a.name == "crmlab"]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "crmlab":
                found += [(node.module, a.name) for a in node.names]
    wrong = [f"{m}{'.' + n if n else ''}" for m, n in found if m not in public or n not in public[m]]
    assert not wrong, f"{notebook.name} imports names that are not public: {wrong}"
