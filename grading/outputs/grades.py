"""The course grade: the modules' scores and the CRM show's peer score in one number per student.

The brief's rule: the course grade is the sum of the sub-projects' scores, and the "CRM show"
(客户关系管理表演秀) is 40 % of the total. Each group is scored by the other groups' leaders on a
0–10 whole-point scale; per group the highest and the lowest score are dropped and the rest
averaged; every member of a group gets the group's score. Settings (``[grades]`` in crmlab.toml,
declared in grading/classroom/settings.py):

    peer_share = 0.4                 # the show's part of the final grade (0 = no show)
    combine = "equal"                # each sub-project's percentage counts the same; "points": points summed
    weights = { m01 = 1, m06 = 2 }   # optional: each module's percentage weighted (over combine)
    missing = "blank"                # a module without a score leaves the final grade blank ("zero": counts 0)

A module counts once the grader has a score for it and the instructor has graded its manual answers
(nbgrader's manual_score, given in the formgrader). A final grade is computed only when everything
it needs is known; otherwise it is blank and the row says what is missing.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from crmlab.grading.classroom.course import Course, CourseError
from crmlab.grading.outputs.results import ClassResults, load
from crmlab.grading.classroom.settings import GradesSection

WHOLE = re.compile(r"\s*\d+\s*")


class GradesError(CourseError):
    """A settings or input file the course grade cannot be computed from (the message names the row)."""


def peer_average(scores: list[int]) -> float:
    """Drop one highest and one lowest score, average the rest (needs at least three scores)."""
    if len(scores) < 3:
        raise ValueError(f"{len(scores)} score(s): at least 3 are needed to drop the highest and the lowest")
    kept = sorted(scores)[1:-1]
    return sum(kept) / len(kept)


def _rows(path: Path, required: tuple[str, ...]):
    """(line number, row) of a CSV with the required columns (names case-insensitive; UTF-8 with or without a
    byte-order mark, or GBK as Chinese Excel and WPS save "CSV")."""
    from crmlab.grading.classroom.roster import csv_text

    with io.StringIO(csv_text(Path(path)), newline="") as f:
        reader = csv.DictReader(f)
        fields = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
        lacking = [c for c in required if c not in fields]
        if lacking:
            raise GradesError(f"{path}: missing column(s) {', '.join(lacking)} (needs: {', '.join(required)})")
        for row in reader:
            values = {c: (row.get(fields[c]) or "").strip() for c in required}
            if any(values.values()):
                yield reader.line_num, values


def read_groups(path: str | Path, roster: set[str] | None = None) -> dict[str, str]:
    """student → group from a CSV with columns student, group."""
    path, groups = Path(path), {}
    for line, row in _rows(path, ("student", "group")):
        if not row["student"] or not row["group"]:
            raise GradesError(f"{path}, row {line}: a student and a group are both needed")
        if roster is not None and row["student"] not in roster:
            raise GradesError(f"{path}, row {line}: student {row['student']!r} is not on the roster")
        if groups.get(row["student"], row["group"]) != row["group"]:
            raise GradesError(f"{path}, row {line}: student {row['student']!r} is already in group "
                              f"{groups[row['student']]!r}")
        groups[row["student"]] = row["group"]
    return groups


def read_peer_scores(path: str | Path, groups: dict[str, str] | None = None) -> dict[str, list[int]]:
    """group → the scores its judges gave, from a CSV with columns group, judge, score.

    A judge is another group's leader, written as that group's name or as the leader's student id
    (then ``groups`` says which group they lead). Refused, naming the row: a score that is not a whole
    number from 0 to 10, a group judging itself, the same judge twice for one group, an unknown group."""
    path, scores, seen = Path(path), {}, set()
    known = set(groups.values()) if groups else None
    for line, row in _rows(path, ("group", "judge", "score")):
        where = f"{path}, row {line}"
        group, judge, text = row["group"], row["judge"], row["score"]
        if not group or not judge:
            raise GradesError(f"{where}: a group and a judge are both needed")
        if known is not None and group not in known:
            raise GradesError(f"{where}: group {group!r} has no members in the group list")
        if not WHOLE.fullmatch(text) or not 0 <= int(text) <= 10:
            raise GradesError(f"{where}: score {text!r} for group {group!r} is not a whole number from 0 to 10")
        judge_group = groups.get(judge, judge) if groups else judge
        if known is not None and judge_group not in known:
            raise GradesError(f"{where}: judge {judge!r} is neither a group nor a member of one")
        if judge_group == group:
            raise GradesError(f"{where}: group {group!r} cannot judge itself (judge {judge!r})")
        if (group, judge_group) in seen:
            raise GradesError(f"{where}: group {group!r} was already scored by the judge of {judge_group!r}")
        seen.add((group, judge_group))
        scores.setdefault(group, []).append(int(text))
    return scores


# the course's [grades], declared and checked with every other setting (grading/classroom/settings.py)
Settings = GradesSection


@dataclass
class CourseGrade:
    student: str
    name: str
    group: str | None
    modules: dict[str, float | None]          # module → points counted (None: not known yet)
    coursework: float | None                  # share 0–1 of the modules' points (weighted if set)
    peer: float | None                        # the group's peer score, 0–10
    final: float | None                       # 0–100
    missing: list[str] = field(default_factory=list)


def course_grades(course: Course, peer_csv: str | Path | None = None, groups_csv: str | Path | None = None,
                  data: ClassResults | None = None) -> tuple[list[CourseGrade], dict[str, float]]:
    """Every roster student's course grade, and each group's peer score."""
    settings, data = Settings.of(course), data or load(course)
    roster = {s.id for s in data.students}
    modules = {m.id: m for m in data.modules}
    wanted = list(settings.weights) if settings.weights else list(modules)
    unknown = [m for m in wanted if m not in modules]
    if unknown:
        raise GradesError(f"[grades] weights name module(s) not assigned in this course: {', '.join(unknown)}")
    groups = read_groups(groups_csv, roster) if groups_csv else {}
    peer = {}
    if settings.peer_share > 0 and peer_csv:
        for group, scores in read_peer_scores(peer_csv, groups or None).items():
            try:
                peer[group] = peer_average(scores)
            except ValueError as exc:
                raise GradesError(f"{peer_csv}: group {group!r}: {exc}") from None
    out = []
    for s in data.students:
        got, missing = {}, []
        for m in wanted:
            got[m], why = counted(settings, m, data.results[(m, s.id)])
            if why:
                missing.append(why)
        share = None if None in got.values() else coursework(settings, {m: (got[m], modules[m].max_total)
                                                                         for m in wanted})
        group = groups.get(s.id)
        score = peer.get(group) if group else None
        if settings.peer_share > 0 and score is None:
            missing.append("CRM show: " + ("no group" if not group else f"no peer scores for group {group}"))
        final = None
        if share is not None and (settings.peer_share == 0 or score is not None):
            final = round(100 * ((1 - settings.peer_share) * share + settings.peer_share * (score or 0) / 10), 2)
        out.append(CourseGrade(s.id, s.name, group, got, share, score, final, missing))
    return out, peer


def default_inputs(course: Course, peer_csv=None, groups_csv=None) -> tuple[Path | None, Path | None]:
    """The peer scores and the groups file: those given, else the course's own peer_scores.csv and groups.csv
    where they exist."""
    def own(given, name):
        return given or (course.root / name if (course.root / name).exists() else None)

    return own(peer_csv, "peer_scores.csv"), own(groups_csv, "groups.csv")


def counted(settings: GradesSection, module: str, r) -> tuple[float | None, str | None]:
    """The points a module's result counts for (None: not yet), and why not: counted once scored and graded
    by hand; a missing submission counts 0 only with ``missing = "zero"``."""
    if r.total is not None and not r.needs_manual_grade:
        return r.total, None
    if r.status == "missing" and settings.missing == "zero":
        return 0.0, None
    return None, f"{module}: " + ("manual grading pending" if r.total is not None else r.status)


def coursework(settings: GradesSection, scored: dict[str, tuple[float, float]]) -> float | None:
    """The share 0–1 of the coursework that the modules ``scored`` (module → (points, max points)) make:
    each module's percentage weighted (``weights``: only the modules named count; ``combine = "equal"``:
    all the same), or their points summed (``combine = "points"``). A module of no points carries no
    weight; None when nothing counts. Used for the course grade and for the feedback's estimate so far."""
    if not settings.weights and settings.combine == "points":
        total = sum(top for _, top in scored.values())
        return sum(p for p, _ in scored.values()) / total if total else None
    weight = {m: (settings.weights.get(m, 0.0) if settings.weights else 1.0) if top > 0 else 0.0
              for m, (_, top) in scored.items()}
    total_w = sum(weight.values())
    return sum(weight[m] * p / top for m, (p, top) in scored.items() if weight[m]) / total_w if total_w else None


def to_csv(grades: list[CourseGrade], modules: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student_id", "name", "group", *modules, "coursework_pct", "peer_score", "final", "missing"])
    for g in grades:
        w.writerow([g.student, g.name, g.group or "", *("" if g.modules[m] is None else f"{g.modules[m]:g}" for m in modules),
                    "" if g.coursework is None else f"{100 * g.coursework:.2f}",
                    "" if g.peer is None else f"{g.peer:g}", "" if g.final is None else f"{g.final:g}",
                    "; ".join(g.missing)])
    return buf.getvalue()
