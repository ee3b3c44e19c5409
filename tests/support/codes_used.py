"""Which message codes the source code gives, read from its syntax tree (tests/crmlab/test_messages.py,
tests/grading/classroom/test_reasons.py): every string constant in the code argument of the calls that take one, both
branches of a conditional included, so a code used anywhere but declared nowhere is found."""
from __future__ import annotations

import ast

from paths import REPO as ROOT


def _strings(node: ast.AST) -> set[str]:
    """The codes an expression can give: a string, either branch of ``a if c else b``, ``a or b``
    (a name or a call is not a code written here)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    if isinstance(node, ast.BoolOp):
        return set().union(*(_strings(v) for v in node.values))
    return set()


def _at(func: ast.AST, calls: dict[str, int], imported: dict[str, str]) -> int | None:
    """Where the code is among the arguments of a call: ``calls["Reason"]`` for ``Reason(…)``,
    ``calls[".Reason"]`` for ``Reason(…)`` and ``anything.Reason(…)`` alike, ``calls["render@messages"]``
    for ``render(…)`` imported from a module named ``…messages`` (not crmlab.html's render) (None: not such
    a call)."""
    if isinstance(func, ast.Name):
        at = calls.get(func.id, calls.get("." + func.id))
        if at is None and func.id in imported:
            at = calls.get(f"{func.id}@{imported[func.id].rsplit('.', 1)[-1]}")
        return at
    if isinstance(func, ast.Attribute):
        return calls.get("." + func.attr)
    return None


def _imports(tree: ast.AST) -> dict[str, str]:
    """name → the module it is imported from (``from .messages import render`` → render: messages)."""
    return {a.asname or a.name: node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            for a in node.names}


def codes_given(folders: list[str], calls: dict[str, int], dict_key: str | None = None) -> dict[str, set[str]]:
    """code → the files giving it, for calls ``name(…)`` whose argument at position ``calls[name]`` (or
    keyword ``code``) is the code (``".name"``: method calls too); with ``dict_key``, also the values of
    that key in dict literals."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            where = str(path.relative_to(ROOT))
            imported = _imports(tree)
            for node in ast.walk(tree):
                args = []
                at = _at(node.func, calls, imported) if isinstance(node, ast.Call) else None
                if at is not None:
                    args = node.args[at:at + 1] + [k.value for k in node.keywords if k.arg == "code"]
                elif dict_key and isinstance(node, ast.Dict):
                    args = [v for k, v in zip(node.keys, node.values)
                            if isinstance(k, ast.Constant) and k.value == dict_key]
                for arg in args:
                    if isinstance(arg, ast.Starred):
                        continue
                    for code in _strings(arg):
                        found.setdefault(code, set()).add(where)
    return found
