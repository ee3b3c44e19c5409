"""Checks of module m07 (complaint handling with the three roles), run by the grader (grading/run/verify.py).

- ``chk_customer``: the guest's history, recomputed with SQL on the grader's copy of the student's data
  for the persona the grader draws itself (the student's seed, the student's database).
- ``chk_play``: the transcript the player saved is *replayed* here with the grader's copy of the
  scenario, the student's own seed and database and the assigned role; the score is the rubric's on
  the replayed session. Nothing recorded in the file is trusted: an edited state, a classmate's
  transcript (another seed, another guest) or a move beyond the role's authority does not replay and
  earns nothing.
- ``chk_policy``: the student's response policy (source code) is played by the grader on hidden seeds
  (course secret × the student's data) against both of the chain's complaint scenes, the policy itself
  in a sandboxed process (grading/run/policy.py); partial credit by the mean rubric score. A conversation
  in which the policy makes a move the role may not make, or fails, scores 0.
- ``chk_crm``: the complaint as recorded in the CRM the notebook left (``ctx.work_db``), against the
  replayed conversation (its guest, its remedy, how it ended) and the agent the task's rule names.
- ``chk_group``: the CRM show's group play (grading/classroom/groupplay.py). The group's transcript is the first,
  in the group's order, of those its members handed in that replays with the cast (course groups file ×
  ``group_roles``) and the group's secret seed; every member gets its score, less ``group_silent_share``
  for a member who played no turn. Another group's transcript, an edited one or a turn beyond the
  authority of the member who played it earns nothing.
Grader-only: never released to students.
"""
from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import statistics

from crmlab.crm import check_state
from crmlab.grading.classroom.data import student_database
from crmlab.grading.classroom.groupplay import GroupPlay, group_result, member_share
from crmlab.grading.run.policy import SandboxedPolicy
from crmlab.grading.run.verify import Partial, Wrong, close
from crmlab.roleplay import load_roleplay, play_seed, replay, score
from crmlab.roleplay.messages import Refusal
from crmlab.roleplay.policy import play_policy

SCENE, ROLE = "hotpot_angry_guest", "specialist"
POLICY_SCENES = ("hotpot_angry_guest", "social_media_complaint")
POLICY_SEEDS = 3                     # hidden seeds per scene
POLICY_ZERO, POLICY_FULL = 40, 90   # mean rubric score: no points at or below, all points at or above
# the played conversation earns all points from this rubric score: the seeded spread on the mood can leave
# the model path at ≈99 on some students' seeds (final satisfaction just under 60), which is not their doing
PLAY_FULL = 95


def _db_path(ctx):
    return student_database(ctx.course, ctx.module, ctx.student)


def _played(ctx):
    """The handed-in transcript replayed by the grader (once per submission), or the reason it cannot be."""
    if "played" not in ctx.cache:
        transcript = ctx.answers.get("chk_play")
        try:
            if not isinstance(transcript, dict) or not transcript.get("turns"):
                raise Wrong("没有可回放的对话记录（先在播放器里完成对话）/ no conversation to replay (play it in the "
                            "player first)")
            try:
                session = replay(load_roleplay(SCENE), transcript, role=ROLE,
                                 seed=play_seed(ctx.meta["data_id"], SCENE), db=_db_path(ctx))
            except Refusal as exc:
                raise Wrong(f"对话记录无法按你的种子、你的顾客和你的角色回放，不计分：{exc.message('zh_CN')} / the "
                            f"transcript does not replay with your seed, your guest and your role, so it earns "
                            f"nothing: {exc.message('en_US')}") from None
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise Wrong(f"对话记录的格式不对 / the transcript is malformed ({type(exc).__name__})") from None
            ctx.cache["played"] = session
        except Wrong as exc:
            ctx.cache["played"] = exc
    if isinstance(ctx.cache["played"], Wrong):
        raise ctx.cache["played"]
    return ctx.cache["played"]


def _guest(ctx) -> dict:
    """The guest of the student's conversation, drawn by the grader (seed and database are the student's)."""
    from crmlab.roleplay import Session

    return Session(load_roleplay(SCENE), ROLE, play_seed(ctx.meta["data_id"], SCENE), db=_db_path(ctx)).persona


def chk_customer(answer, ctx):
    got = answer if isinstance(answer, dict) else {}
    account = _guest(ctx)["account"]
    (visits,) = ctx.db.execute("SELECT COUNT(*) FROM orders WHERE account_id = ?", (account,)).fetchone()
    (spend,) = ctx.db.execute("SELECT COALESCE(SUM(l.quantity * l.unit_price), 0) FROM orders o "
                              "JOIN order_lines l USING (order_id) WHERE o.account_id = ?", (account,)).fetchone()
    (complaints,) = ctx.db.execute("SELECT COUNT(*) FROM complaints WHERE account_id = ?", (account,)).fetchone()
    if got.get("account") != account:
        raise Wrong("这不是你这桌顾客的客户编号 / that is not the account of your guest")
    wrong = []
    if got.get("visits") != visits:
        wrong.append("来店次数（订单数）/ the visits (orders)")
    if not close(got.get("spend"), spend, 0.01):
        wrong.append("消费总额 / the total spend")
    if got.get("complaints") != complaints:
        wrong.append("以往投诉数 / the earlier complaints")
    if wrong:
        if len(wrong) == 3:
            raise Wrong("不对 / not right: " + "; ".join(wrong))
        return Partial(1 - len(wrong) / 3, "不对 / not right: " + "; ".join(wrong))


def chk_play(answer, ctx):
    session = _played(ctx)
    result = score(session)
    if not session.end:
        return Partial(result["total"] / PLAY_FULL * 0.5, "对话没有结束：只计一半 / the conversation did not end: half "
                                                    "the rubric's credit")
    if result["total"] < PLAY_FULL:
        missed = [f"{c['zh']} / {c['en']}" for c in result["criteria"] if c["points"] < c["of"]]
        return Partial(result["total"] / PLAY_FULL, "评分表中未满分的项 / rubric lines not fully met: " + "; ".join(missed))


def policy_seeds(ctx) -> list[int]:
    """Hidden: from the course's secret and the student's data, never shown to the student."""
    return [int.from_bytes(hashlib.sha256(f"crmlab m07 policy {ctx.course.secret} {ctx.meta['data_id']} {k}"
                                          .encode()).digest()[:6], "big") for k in range(POLICY_SEEDS)]


def policy_results(source: str, ctx) -> list[dict]:
    """The policy played on every hidden seed of every scene (once per submission and source)."""
    key = ("policy", source)
    if key not in ctx.cache:
        out = []
        with SandboxedPolicy(source, ctx.course.grading) as choose:
            for scene in POLICY_SCENES:
                sc = load_roleplay(scene)
                for seed in policy_seeds(ctx):
                    session = play_policy(choose, sc, ROLE, seed, db=_db_path(ctx))
                    total = 0.0 if session.stopped else score(session)["total"]
                    out.append({"scene": scene, "total": total, "end": session.end, "stopped": session.stopped,
                                "moves": list(session.moves)})
        ctx.cache[key] = out
    return ctx.cache[key]


def chk_policy(answer, ctx):
    if not isinstance(answer, str) or "def policy" not in answer:
        raise Wrong("应提交策略函数 policy 的源代码 / hand in the source code of the function policy")
    results = policy_results(answer, ctx)
    mean = statistics.fmean(r["total"] for r in results)
    stopped = [r["stopped"] for r in results if r["stopped"]]
    note = ""
    if stopped:
        s = stopped[0]
        note = (f"；{len(stopped)} 次对话因无效或越权的动作而中止（计 0 分），例如：{s['zh']}" +
                f" / {len(stopped)} conversations stopped at an invalid or unauthorised move (0 points), e.g.: {s['en']}")
    fraction = max(0.0, min(1.0, (mean - POLICY_ZERO) / (POLICY_FULL - POLICY_ZERO)))
    message = f"隐藏种子上的平均评分 {mean:.1f}/100{note} / mean rubric score on the hidden seeds {mean:.1f}/100"
    if fraction <= 0:
        raise Wrong(message)
    if fraction < 1 or stopped:
        return Partial(fraction, message)


def duty_agent(ctx) -> str:
    """The rule of the task: tonight's specialist on duty is the general agent with the fewest tickets
    opened in the last 31 days of the data (a tie: the smaller id)."""
    (agent,) = ctx.db.execute(
        "SELECT a.agent_id FROM agents a LEFT JOIN tickets t ON t.agent_id = a.agent_id "
        "AND t.opened_at >= datetime(?, '-31 days') WHERE a.role = 'agent' GROUP BY a.agent_id "
        "ORDER BY COUNT(t.ticket_id), a.agent_id LIMIT 1", (ctx.meta["snapshot_date"],)).fetchone()
    return agent


def chk_crm(answer, ctx):
    session = _played(ctx)
    if not session.end:
        raise Wrong("对话没有结束，没有可登记的结果 / the conversation did not end: there is no outcome to record")
    if ctx.work_db is None:
        raise Wrong("评分时运行后的数据库 crm.db 不见了 / the database crm.db was missing after the notebook ran")
    ticket = answer.get("ticket") if isinstance(answer, dict) else None
    account, cost, link = session.persona["account"], session.cost, session.scenario.crm
    with contextlib.closing(sqlite3.connect(f"{ctx.work_db.resolve().as_uri()}?mode=ro", uri=True)) as con:
        try:
            row = con.execute("SELECT account_id, reason, channel FROM tickets WHERE ticket_id = ?", (ticket,)).fetchone()
            complaint = con.execute("SELECT recovery_cost FROM complaints WHERE ticket_id = ?", (ticket,)).fetchone()
        except sqlite3.DatabaseError:
            row = complaint = None
    if row is None or row[0] != account or row[1] != "complaint":
        raise Wrong("没有找到这位顾客的投诉工单 / there is no complaint ticket for your guest")
    if "record" not in session.moves:
        return Partial(0.25, "工单建了，但对话中没有“在 CRM 中登记”这一步 / a ticket exists, but the conversation never "
                             "recorded the case")
    conditions = [
        {"kind": "ticket_status", "ticket": ticket, "assigned_to": duty_agent(ctx), "points": 1},
        {"kind": "ticket_status", "ticket": ticket, "status": "resolved" if session.end == "resolved" else "open",
         "escalated": session.end == "escalated", "points": 1},
        {"kind": "complaint", "ticket": ticket, "cause": link.cause, "severity": link.severity,
         "recovery_action": "compensation" if cost > 0 else "apology", "points": 1},
        {"kind": "audited", "operation": "complaint.register", "record": ticket, "points": 1},
    ]
    result = check_state(ctx.work_db, conditions)
    got, most = sum(i.score for i in result.items), sum(i.points for i in result.items)
    missing = [f"{i.explain('zh_CN')} / {i.explain('en_US')}" for i in result.items if not i.passed]
    most += 1
    if complaint is not None and close(complaint[0], cost, 0.01):
        got += 1
    else:
        missing.append(f"补救金额应与对话中给出的一致 / the remedy cost should be what the conversation offered")
    if not missing:
        return None
    if got <= 0:
        raise Wrong(" ".join(missing))
    return Partial(got / most, " ".join(missing))


def chk_group(answer, ctx):
    play = GroupPlay.of(ctx.course, ctx.module)
    found = play.group_of(ctx.course, ctx.student) if play else None
    if found is None:
        raise Wrong("你不在课程分组文件的任何一组里（表演秀）/ you are in no group of the course's groups file (the CRM show)")
    group, cast = found
    key = ("group", group)
    if key not in ctx.cache:
        ctx.cache[key] = group_result(ctx.course, play, group, cast)
    result = ctx.cache[key]
    if result.handed_in_by is None:
        why = "; ".join(f"{m}: {reason}" for m, reason in result.problems)
        raise Wrong(f"{group} 组没有可回放的小组对话记录 / group {group} handed in no group transcript that replays"
                    + (f" — {why}" if why else ""))
    fraction = min(1.0, result.total / PLAY_FULL) * (1.0 if result.end else 0.5)
    notes = []
    if not result.end:
        notes.append("小组对话没有结束：只计一半 / the group's conversation did not end: half the credit")
    if result.total < PLAY_FULL:
        notes.append(f"小组评分 {result.total:g}/100 / the group's rubric score {result.total:g}/100")
    if ctx.student in result.silent:
        fraction *= member_share(play, result, ctx.student)
        notes.append(f"{ctx.student} 在小组对话中一个回合也没有出手，少得 {play.silent_share:.0%} / {ctx.student} played no "
                     f"turn in the group's conversation and loses {play.silent_share:.0%} of the group's points")
    elif result.silent:
        notes.append(f"本组没有出手的组员 / members who played no turn: {', '.join(result.silent)}")
    if fraction >= 1:
        return None
    if fraction <= 0:
        raise Wrong(" ".join(notes))
    return Partial(fraction, " ".join(notes) or "本组有组员没有出手 / some members of the group played no turn")
