"""Group play for the CRM show, wired into a course: who plays which role, the group's seed, the group's
transcript handed in by any member, and each member's points.

The data, all of it the course's own:

- the groups file (CSV ``student, group[, role]``): the one ``crmlab grades --groups`` reads, by default
  ``DIR/groups.csv``; a ``role`` cell names a member's role, otherwise the module's ``group_roles`` are
  dealt round the group in roster order (``crmlab.roleplay.group.read_casts``; a bad row is refused by number);
- the module's section of ``crmlab.toml``::

      group_scene = "hotpot_angry_guest"      # the scene a group plays
      group_roles = ["specialist", "manager", "consultant"]   # dealt round each group
      group_silent_share = 0.5                # what a member who played no turn loses of the group's points

- the course secret: a group's seed mixes it in (like every per-student seed), so no group can compute
  another group's customer, and ``crmlab assign`` writes each member's ``group.json`` (group, scene,
  cast, seed) into their hand-out, and the grader places it again before running the notebook.

The group plays *one* session in the player (a member picks who plays the next turn; each turn within that
member's role's authority), saved as ``roleplay_group_<scene>.json``; any member hands it in with their
notebook. The grader replays the transcripts the members handed in with the cast and seed the course gives
the group (``crmlab.roleplay.group.grade_group``): the first that replays, in the group's order, is the group's,
and every member gets its score — less ``group_silent_share`` for a member who played no turn, who is named.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from crmlab.roleplay.group import GroupError, grade_group, group_seed, read_casts
from crmlab.roleplay.messages import ROLES, Refusal
from crmlab.roleplay.scenario import load_roleplay

from crmlab.grading.classroom.course import Course, CourseError
from crmlab.grading.classroom.intake import GROUP_FILE



def transcript_name(scene: str) -> str:
    return f"roleplay_group_{scene}.json"


@dataclass(frozen=True)
class GroupPlay:
    """A module's group play settings, checked."""
    module: str
    scene: str
    roles: list[str]
    silent_share: float
    groups_file: Path

    @classmethod
    def of(cls, course: Course, module: str, groups: str | Path | None = None) -> "GroupPlay | None":
        """The module's settings, or None if the module has no group play (no ``group_scene``)."""
        m = course.settings.modules.get(module)
        if m is None or m.group_scene is None:
            return None
        where = f"{course.root / 'crmlab.toml'} [modules.{module}]"
        scene = load_roleplay(m.group_scene)
        roles = m.group_roles or list(scene.roles)   # types and the share's range: checked with the file
        bad = [r for r in roles if r not in scene.roles]
        if bad:
            raise CourseError(f"{where}: group_roles {roles!r}: the scene {scene.id} is played as "
                              f"{', '.join(scene.roles)}")
        return cls(module, scene.id, list(roles), m.group_silent_share, Path(groups or course.root / "groups.csv"))

    def casts(self, course: Course) -> dict[str, dict[str, str]]:
        """group → {member: role}; {} when the course has no groups file (no CRM show)."""
        if not self.groups_file.exists():
            return {}
        try:
            return read_casts(self.groups_file, self.roles, roster=course.students(),
                              allowed=list(load_roleplay(self.scene).roles))
        except GroupError as exc:
            raise CourseError(str(exc)) from None

    def seed(self, course: Course, group: str) -> int:
        return group_seed(self.scene, group, secret=f"{course.secret} {course.course_id} {self.module}")

    def group_of(self, course: Course, student: str) -> tuple[str, dict[str, str]] | None:
        for group, cast in self.casts(course).items():
            if student in cast:
                return group, cast
        return None

    def handout(self, course: Course, student: str) -> dict | None:
        """What ``group.json`` tells a member: their group, the scene, the cast and the group's seed."""
        found = self.group_of(course, student)
        if found is None:
            return None
        group, cast = found
        return {"group": group, "scene": self.scene, "cast": cast, "seed": self.seed(course, group),
                "transcript": transcript_name(self.scene), "you": student, "role": cast[student]}


def play_as_group(play: GroupPlay, course: Course, group: str, cast: dict[str, str], policy_source: str,
                  silent=(), remedy: float | None = None) -> dict:
    """A group at one player, as the demo and the tests need it: members take turns in cast order (all but
    ``silent``), each choosing what ``policy_source`` (a ``policy(view)`` function's code) would in their
    own role; a remedy is offered by a manager of the group if there is one (``remedy`` yuan, else the
    policy's amount). → the transcript, as the player saves it."""
    from crmlab.roleplay import Session
    from crmlab.roleplay.policy import load_policy, parse_choice, view

    choose = load_policy(policy_source)
    s = Session(play.scene, None, play.seed(course, group), cast=cast)
    members = [m for m in cast if m not in silent]
    manager = next((m for m in members if cast[m] == "manager"), None)
    while not s.end:
        by = members[s.turn % len(members)]
        move, args = parse_choice(choose(view(s, by)))
        if move == "offer_remedy" and manager is not None:
            by = manager
            if remedy is not None:
                args = {"amount": remedy}
        s.play(move, by, **args)
    return s.transcript


def place_group_file(course: Course, module: str, student: str, folder: Path) -> None:
    """``group.json`` into a hand-out or a working copy (removed when the student is in no group)."""
    play = GroupPlay.of(course, module)
    dest = Path(folder) / GROUP_FILE
    info = play.handout(course, student) if play else None
    if info is None:
        dest.unlink(missing_ok=True)
        return
    dest.write_text(json.dumps(info, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")


@dataclass
class GroupResult:
    group: str
    cast: dict[str, str]
    seed: int
    handed_in_by: str | None = None     # whose transcript counts
    total: float | None = None          # the rubric score of the replayed session
    end: str | None = None
    turns: dict[str, int] = field(default_factory=dict)
    silent: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)   # (member, why their file does not count)
    score: dict | None = None


def group_result(course: Course, play: GroupPlay, group: str, cast: dict[str, str]) -> GroupResult:
    """The group's transcript: the first, in the cast's order, of those its members handed in
    (``submitted/<member>/<module>/roleplay_group_<scene>.json``) that replays with the group's cast and
    seed. The others are listed with the reason they do not count (another group's, edited, a turn beyond
    the authority of the member who played it…)."""
    result = GroupResult(group, dict(cast), play.seed(course, group))
    from crmlab.grading.classroom.intake import BadNotebook, loads_strict, read_file

    for member in cast:   # the members' own folders: read as a student's file is read (no link, bounded)
        data = read_file(course.path("submitted"), (member, play.module), transcript_name(play.scene))
        if data is None:
            continue
        try:
            transcript = loads_strict(data.decode("utf-8", "replace"))
            got = grade_group(play.scene, transcript, cast, group, seed=result.seed)
        except Refusal as exc:
            result.problems.append((member, f"{exc.message('zh_CN')} / {exc.message('en_US')}"))
            continue
        except (ValueError, KeyError, TypeError, AttributeError, BadNotebook, RecursionError) as exc:
            result.problems.append((member, f"对话记录的格式不对 / the transcript is malformed ({type(exc).__name__})"))
            continue
        if result.handed_in_by is None:
            result.handed_in_by = member
            result.total, result.end, result.turns, result.silent = got["total"], got["end"], got["turns"], got["silent"]
            result.score = got["score"]
    return result


def member_share(play: GroupPlay, result: GroupResult, member: str) -> float:
    """The share of the group's play points a member gets: all of it, or less ``group_silent_share`` for a
    member who played no turn."""
    return 1.0 - play.silent_share if member in result.silent else 1.0


def results(course: Course, module: str, groups: str | Path | None = None) -> tuple[GroupPlay, list[GroupResult]]:
    """Every group's cast and result (``crmlab groups``)."""
    play = GroupPlay.of(course, module, groups)
    if play is None:
        raise CourseError(f"module {module} has no group play (no group_scene in [modules.{module}] of crmlab.toml)")
    if not play.groups_file.exists():
        raise FileNotFoundError(f"no groups file {play.groups_file} (CSV: student, group[, role]); give one with --groups")
    return play, [group_result(course, play, g, cast) for g, cast in play.casts(course).items()]


def role_label(role: str) -> str:
    zh, en = ROLES[role]
    return f"{zh} {en}"
