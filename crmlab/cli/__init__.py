"""`crmlab`: the one command of the CRM course lab.

Every command and option is declared once, in :func:`~crmlab.cli.table.commands` (crmlab/cli/table.py), in
the order of a term's work, each with its help in English and Chinese and its default; argparse is built
from that table here, and what each command does is in crmlab/cli/handlers.py. A command imports what it
needs only when it runs, so ``crmlab --help`` and the commands that read results (roster, export, report,
feedback, grades) answer in about a second (benchmarks/typed_commands.py).

The course a command works on is ``--course DIR``, else the course folder you are in (or below), else
the environment variable ``CRMLAB_COURSE`` (grading/classroom/course.py, ``Course.locate``).
"""
from __future__ import annotations

import argparse
import sys
import warnings

from .handlers import UsageError, _say
from .table import EXCLUSIVE, GROUPS, TERM, Opt, commands

__all__ = ["UsageError", "main", "parser"]


class HelpFormatter(argparse.HelpFormatter):
    """Help with a Chinese line under each English one: lines kept, each wrapped by display width."""

    def _split_lines(self, text, width):
        from crmlab.grading.outputs.terminal import wrap
        return [part for line in text.splitlines() for part in (wrap(line, width) or [""])]

    def _fill_text(self, text, width, indent):
        from crmlab.grading.outputs.terminal import wrap
        return "\n".join(indent + part for line in text.splitlines() for part in (wrap(line, width - len(indent)) or [""]))

    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "usage · 用法: " if prefix is None else prefix)


def _help(o: Opt) -> str:
    en, zh = o.en, o.zh
    default = o.kw.get("default")
    if o.shown_default:
        en, zh = f"{en} (default: {o.shown_default[0]})", f"{zh}（默认：{o.shown_default[1]}）"
    elif default not in (None, False) and not o.kw.get("required"):
        en, zh = f"{en} (default: {default})", f"{zh}（默认：{default}）"
    return f"{en}\n{zh}".replace("%", "%%")   # argparse formats help with %


def _add_help(p: argparse.ArgumentParser) -> None:
    p.add_argument("-h", "--help", action="help", help="show this help and exit\n显示这份帮助后退出")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crmlab", formatter_class=HelpFormatter, epilog=TERM, add_help=False,
                                description="CRM course lab: simulate a business, assign per-student nbgrader modules, "
                                            "grade whole classes.\n客户关系管理实训平台：模拟企业数据、按学生布置 nbgrader "
                                            "模块、批量评分。")
    _add_help(p)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands · 命令")
    groups: dict[str, argparse._SubParsersAction] = {}
    for cmd in commands():
        head, _, tail = cmd.name.partition(" ")
        if tail:
            if head not in groups:
                en, zh = GROUPS[head]
                g = sub.add_parser(head, help=f"{en}\n{zh}", description=f"{en}\n{zh}", formatter_class=HelpFormatter,
                                   add_help=False)
                _add_help(g)
                groups[head] = g.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions · 操作")
            where, name = groups[head], tail
        else:
            where, name = sub, head
        c = where.add_parser(name, help=f"{cmd.en}\n{cmd.zh}", description=f"{cmd.en}\n{cmd.zh}",
                             formatter_class=HelpFormatter, add_help=False)
        _add_help(c)
        exclusive = EXCLUSIVE.get(cmd.name, ())
        both = c.add_mutually_exclusive_group() if exclusive else None
        for o in cmd.opts:
            (both if o.flags[0] in exclusive else c).add_argument(*o.flags, help=_help(o), **o.kw)
        c.set_defaults(func=cmd.run)
    return p


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings meant for the person at the terminal (a missing Chinese font) as one plain line."""
    if getattr(category, "__module__", "").startswith("crmlab."):
        _say(f"warning: {message}")
    else:
        _default_show(message, category, filename, lineno, file, line)


_default_show = warnings.showwarning


def _expected(exc: BaseException) -> bool:
    """An error that is the input's, not crmlab's: shown as a message, exit code 2, no traceback."""
    from crmlab.grading.classroom.course import CourseError
    known = (CourseError, UsageError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
    scenario = sys.modules.get("crmlab.simulator.scenario")   # only where a scenario was read (importing it costs 0.5 s)
    return isinstance(exc, known) or (scenario is not None and isinstance(exc, scenario.ScenarioError))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _say("interrupted; finished work is kept (a rerun resumes)")
        return 130
    except Exception as exc:
        if not _expected(exc):
            raise
        _say(f"error: {exc}")
        return 2
    finally:
        warnings.showwarning = _default_show
