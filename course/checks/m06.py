"""Checks of module m06, run by the grader on the answers handed in (grading/run/verify.py).

The measured figures are recomputed from the student's own database with SQL; the busiest hour
is sized with Erlang C written out from the textbook formula (independent of crmlab.simulator.queueing);
the staffing plan is checked hour by hour with Erlang A and replayed in the simulator on three
hidden seeds derived from the course's secret and the student's data. Grader-only: never released to students.
"""
from __future__ import annotations

import hashlib
import math

import pandas as pd

from crmlab.grading.run.verify import Partial, Wrong, close, mapping, number, sequence
from crmlab.simulator import load_scenario
from crmlab.simulator import queueing as q
from crmlab.simulator.callcentre import simulate_calls, summarise

MAX_ABANDON = 0.05
REPLAY_SEEDS, REPLAY_DAYS = 3, 20


def _days(ctx) -> float:
    (days,) = ctx.db.execute("SELECT julianday(?) - julianday(?)",
                             (ctx.meta["snapshot_date"], ctx.meta["start_date"])).fetchone()
    return days


def _per_hour(ctx) -> list[float]:
    n = dict(ctx.db.execute("SELECT CAST(strftime('%H', arrived_at) AS INTEGER), COUNT(*) FROM calls "
                            "WHERE callback_of IS NULL GROUP BY 1").fetchall())
    return [n.get(h, 0) / _days(ctx) for h in range(24)]


def _aht(ctx) -> float:
    (aht,) = ctx.db.execute("SELECT AVG((julianday(c.ended_at) - julianday(c.answered_at)) * 1440) FROM calls c "
                            "JOIN agents a ON a.agent_id = c.agent_id WHERE a.role = 'agent'").fetchone()
    return aht


def chk_arrivals(answer, ctx):
    got, want = [number(x) for x in sequence(answer)], _per_hour(ctx)
    bad = [h for h in range(24) if h >= len(got) or not close(got[h], want[h], 1e-6)]
    if bad:
        raise Wrong(f"这些小时的话务量不对 / the calls per hour are not right for hours {bad}")


def chk_aht(answer, ctx):
    if not close(answer, _aht(ctx), 1e-3):
        raise Wrong("平均处理时长不对（单位是分钟，只算坐席）/ the average handle time is not right (minutes, agents only?)")


def chk_service(answer, ctx):
    got = mapping(answer)
    in_time, lost = ctx.db.execute(
        "SELECT AVG(abandoned = 0 AND strftime('%s', answered_at) - strftime('%s', arrived_at) <= ?), AVG(abandoned) "
        "FROM calls WHERE callback_of IS NULL", (float(ctx.meta["sla_seconds"]),)).fetchone()
    wrong = []
    if not close(got.get("service_level"), in_time, 1e-3):
        wrong.append("服务水平（分母是全部首次来电）/ the service level (out of all first attempts)")
    if not close(got.get("abandon_rate"), lost, 1e-6):
        wrong.append("放弃率 / the abandonment rate")
    if len(wrong) == 2:
        raise Wrong("不对 / not right: " + "; ".join(wrong))
    return Partial(0.5, "不对 / not right: " + wrong[0]) if wrong else None   # each of the two: half


def _erlang_c_service_level(lam: float, mu: float, c: int, t: float) -> float:
    """P(wait ≤ t) in M/M/c, the textbook formula written out."""
    a = lam / mu
    if c <= a:
        return 0.0
    top = a ** c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a ** k / math.factorial(k) for k in range(c)) + top)
    return 1 - p_wait * math.exp(-(c * mu - lam) * t)


def chk_peak(answer, ctx):
    got = mapping(answer)
    lam, mu = max(_per_hour(ctx)) / 60, 1 / _aht(ctx)
    t, target = float(ctx.meta["sla_seconds"]) / 60, float(ctx.meta["sla_target"])
    want = next(c for c in range(1, 500) if _erlang_c_service_level(lam, mu, c, t) >= target)
    try:
        agents = number(got.get("peak_agents"))
    except Wrong:
        agents = None
    if agents == want and close(got.get("peak_sl"), _erlang_c_service_level(lam, mu, want, t), 1e-4):
        return None
    # half: Erlang C applied rightly to a number of agents found wrongly (that needs the student's own traffic).
    # The count alone earns nothing: a small whole number, the same for most students, is guessed or copied
    if agents is not None and agents != want and agents == int(agents) and 1 <= agents < 500 and \
            close(got.get("peak_sl"), _erlang_c_service_level(lam, mu, int(agents), t), 1e-4):
        return Partial(0.5, "最忙小时需要的坐席数不对（达到目标的最少人数）；这个人数下的服务水平算对了 / the number of agents "
                            "for the busiest hour is not right (the fewest that meet the target); the service level "
                            "of that number is right")
    raise Wrong("最忙小时的坐席数或它的服务水平不对 / the agents for the busiest hour or their service level is not right")


# -- the staffing plan: shared work, done once per submission ---------------------------------------
def _plan(answer) -> list[int]:
    plan = [number(x) for x in sequence(answer)]
    if len(plan) != 24 or any(k != int(k) or not 0 <= k <= 50 for k in plan):
        raise Wrong("排班表应为 24 个 0–50 的整数 / the plan needs 24 whole numbers from 0 to 50")
    return [int(k) for k in plan]


def _truth(ctx) -> dict:
    """The student's own traffic and the manager's reference plan (fewest agents per hour meeting
    the service level and the abandonment limit by Erlang A)."""
    if "truth" not in ctx.cache:
        per_hour, mu = _per_hour(ctx), 1 / _aht(ctx)
        (share,) = ctx.db.execute("SELECT AVG(priority = 0) FROM calls WHERE callback_of IS NULL").fetchone()
        theta = 1 / load_scenario(ctx.meta["scenario"]).service.patience_minutes.mean
        t, target = float(ctx.meta["sla_seconds"]) / 60, float(ctx.meta["sla_target"])

        def fewest(lam):
            if lam == 0:
                return 0
            c = q.agents_for_service_level(lam, mu, target, t, patience_rate=theta)
            while q.erlang_a(lam, mu, c, theta).p_abandon > MAX_ABANDON:
                c += 1
            return c

        ctx.cache["truth"] = {"per_hour": per_hour, "lams": [x / 60 for x in per_hour], "mu": mu, "share": share,
                              "theta": theta, "t": t, "target": target,
                              "reference": [fewest(x / 60) for x in per_hour]}
    return ctx.cache["truth"]


def _replay(plan: list[int], ctx) -> dict:
    """The plan replayed on hidden seeds (the course's secret × the student's data) × 20 days."""
    key = ("replay", tuple(plan))
    if key not in ctx.cache:
        tr = _truth(ctx)
        calls = []
        for k in range(REPLAY_SEEDS):
            digest = hashlib.sha256(f"crmlab m06 replay {ctx.course.secret} {ctx.meta['data_id']} {k}".encode()).digest()
            calls.append(simulate_calls(sum(tr["lams"]) / 24, tr["mu"], max(1, max(plan)), horizon=REPLAY_DAYS * 1440,
                                        seed=int.from_bytes(digest[:8], "big") >> 1, patience_rate=tr["theta"],
                                        staffing=plan, arrivals_per_hour=tr["per_hour"], priority_share=tr["share"]))
        calls = pd.concat(calls, ignore_index=True)
        busy = sorted(range(24), key=lambda h: -tr["lams"][h])[:3]
        ctx.cache[key] = {"all": summarise(calls, tr["t"]),
                          "busy": summarise(calls[(calls["arrived"] // 60 % 24).astype(int).isin(busy)], tr["t"])}
    return ctx.cache[key]


def _failing_hours(plan: list[int], ctx) -> list[int]:
    tr = _truth(ctx)
    return [h for h, lam in enumerate(tr["lams"]) if lam > 0 and (
        plan[h] == 0 or q.erlang_a(lam, tr["mu"], plan[h], tr["theta"]).service_level(tr["t"]) < tr["target"])]


def chk_policy_hours(answer, ctx):
    failing = _failing_hours(_plan(answer), ctx)
    if failing:
        raise Wrong(f"这些小时达不到服务水平 / these hours miss the service level: {failing}")


def chk_policy_sla(answer, ctx):
    """Two conditions, half the points each: the whole day's service level in the replay, and the busiest
    hours' (within two points of the target)."""
    replay, target = _replay(_plan(answer), ctx), _truth(ctx)["target"]
    missed = []
    if replay["all"]["service_level"] < target:
        missed.append("模拟中全部来电的服务水平 {0:.1f}% 未达标 / the service level {0:.1f}% in the replay is below the "
                      "target".format(100 * replay["all"]["service_level"]))
    if replay["busy"]["service_level"] < target - 0.02:
        missed.append("最忙时段的服务水平 {0:.1f}% 未达标 / the service level {0:.1f}% in the busiest hours is below "
                      "the target".format(100 * replay["busy"]["service_level"]))
    if len(missed) == 2:
        raise Wrong("; ".join(missed))
    return Partial(0.5, missed[0]) if missed else None


def chk_policy_abandon(answer, ctx):
    rate = _replay(_plan(answer), ctx)["all"]["abandon_rate"]
    if rate >= MAX_ABANDON:
        raise Wrong("模拟中放弃率 {0:.1f}% 太高 / {0:.1f}% of callers hung up in the replay".format(100 * rate))


def chk_policy_cost(answer, ctx):
    plan = _plan(answer)
    replay, tr = _replay(plan, ctx), _truth(ctx)
    if _failing_hours(plan, ctx) or replay["all"]["service_level"] < tr["target"] \
            or replay["all"]["abandon_rate"] >= MAX_ABANDON:
        raise Wrong("先满足服务要求，成本才有意义 / a cheap plan only counts if it meets the service targets")
    if sum(plan) > 1.10 * sum(tr["reference"]):
        raise Wrong("比经理的方案贵了 {0:.0f}% / {0:.0f}% more expensive than the manager's plan".format(
            100 * (sum(plan) / sum(tr["reference"]) - 1)))
