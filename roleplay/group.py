"""Group play for the CRM show: a module's roles given to the members of each group, and a group's
transcript graded.

Data-driven: the groups are the course's groups file (CSV ``student, group`` — the one ``crmlab grades``
reads — with an optional ``role`` column), the roles a module hands out are ``group_roles`` and the
scene ``group_scene`` in the module's section of ``crmlab.toml``. A member without a ``role`` gets the
next of ``group_roles`` in roster order, round the list, so a group of three with ``["specialist",
"manager"]`` has two specialists and a manager. The group plays one session (``Session(…, cast=…)``):
each turn by one member within their own role's authority, and the transcript names who played it.
"""
from __future__ import annotations

import csv
from pathlib import Path

from crmlab.roleplay.engine import play_seed, replay
from crmlab.roleplay.messages import ROLES, Refusal
from crmlab.roleplay.scenario import RolePlay, load_roleplay
from crmlab.roleplay.scoring import score


class GroupError(ValueError):
    pass


def read_casts(path: str | Path, roles: list[str], roster: list[str] | None = None,
               allowed: list[str] | None = None) -> dict[str, dict[str, str]]:
    """group → {member: role} from a groups CSV (``student, group[, role]``). Members keep the roster's
    order (else the file's); a ``role`` cell wins over the round of ``roles``. Refused, naming the row:
    an unknown role, a role the scene cannot be played in (``allowed``), a student twice, a student not on
    the roster."""
    if not roles or any(r not in ROLES for r in roles):
        raise GroupError(f"group_roles should list roles among {', '.join(ROLES)} (got {roles!r})")
    groups: dict[str, list[tuple[str, str | None]]] = {}
    seen: set[str] = set()
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = {"student", "group"} - set(reader.fieldnames or [])
        if missing:
            raise GroupError(f"{path}: columns {', '.join(sorted(missing))} are missing (student, group[, role])")
        for n, row in enumerate(reader, start=2):
            student, group = (row.get("student") or "").strip(), (row.get("group") or "").strip()
            role = (row.get("role") or "").strip() or None
            if not student or not group:
                raise GroupError(f"{path}, row {n}: student and group are required")
            if student in seen:
                raise GroupError(f"{path}, row {n}: student {student!r} appears twice")
            if roster is not None and student not in roster:
                raise GroupError(f"{path}, row {n}: student {student!r} is not on the roster")
            if role is not None and role not in ROLES:
                raise GroupError(f"{path}, row {n}: unknown role {role!r} (one of {', '.join(ROLES)})")
            if role is not None and allowed is not None and role not in allowed:
                raise GroupError(f"{path}, row {n}: role {role!r} of student {student!r} is not played in this "
                                 f"scene (one of {', '.join(allowed)})")
            seen.add(student)
            groups.setdefault(group, []).append((student, role))
    order = {s: i for i, s in enumerate(roster or [])}
    casts = {}
    for group, members in groups.items():
        members.sort(key=lambda m: order.get(m[0], len(order)))
        casts[group] = {}
        k = 0
        for student, role in members:
            if role is None:
                role, k = roles[k % len(roles)], k + 1
            casts[group][student] = role
    return casts


def check_cast(scenario: RolePlay, cast: dict[str, str]) -> None:
    """Every role of the cast must be one the scene can be played in."""
    for member, role in cast.items():
        if role not in scenario.roles:
            raise Refusal("role_not_allowed", role=(ROLES, role), allowed=[(ROLES, r) for r in scenario.roles])


def group_seed(scenario_id: str, group: str, secret: str = "") -> int:
    """One seed per group and scene. A course mixes its secret in (``grading/classroom/groupplay.py``), so a group's
    customer cannot be computed from the group's name."""
    return play_seed("", scenario_id, group=f"{group} {secret}" if secret else group)


def grade_group(scenario: RolePlay | str, transcript: dict, cast: dict[str, str], group: str,
                seed: int | None = None) -> dict:
    """A group's transcript replayed with the cast and seed the course gives it (nothing in the file is
    trusted; ``seed``: the course's seed for the group, else ``group_seed(scene, group)``): the rubric score,
    the turns each member played, and who played none. Raises
    :class:`Refusal` for a transcript that does not replay (edited, another group's, a move beyond
    the authority of the member who made it)."""
    scenario = load_roleplay(scenario) if isinstance(scenario, str) else scenario
    check_cast(scenario, cast)
    if transcript.get("role") is not None or not transcript.get("cast"):
        raise Refusal("replay_mismatch", turn=0, field="cast")    # one student's conversation, not a group's
    seed = group_seed(scenario.id, group) if seed is None else seed
    session = replay(scenario, transcript, seed=seed, cast=cast)
    turns = {m: sum(t["by"] == m for t in session.turns) for m in cast}
    result = score(session)
    return {"group": group, "total": result["total"], "end": session.end, "turns": turns,
            "silent": [m for m, n in turns.items() if n == 0], "score": result}
