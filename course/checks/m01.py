"""Checks of module m01, run by the grader on the answers handed in (grading/run/verify.py).

Each recomputes the right answer from the student's own database with SQL written independently
of the notebook's pandas solution. Grader-only: never released to students.
"""
from __future__ import annotations

import math

from crmlab.grading.run.verify import Partial, Wrong, close, mapping, sequence


def chk_active(answer, ctx):
    want = dict(ctx.db.execute(
        "SELECT k.kind, COUNT(DISTINCT o.account_id) FROM account_kinds k "
        "LEFT JOIN accounts a ON a.kind = k.kind "
        "LEFT JOIN orders o ON o.account_id = a.account_id "
        " AND o.ordered_at >= datetime((SELECT value FROM meta WHERE key = 'snapshot_date'), '-180 days') "
        "GROUP BY k.kind").fetchall())
    got = {k: int(v) for k, v in mapping(answer).items()}
    if got != want:
        raise Wrong("活跃客户数不对（最近 180 天内有订单的客户，按类型）/ the counts of active accounts are not "
                    "right (accounts with an order in the last 180 days, by kind)")


def _revenue_ranking(ctx) -> list[tuple[str, float]]:
    return ctx.db.execute(
        "SELECT o.account_id, SUM(l.quantity * l.unit_price) AS r FROM order_lines l "
        "JOIN orders o ON o.order_id = l.order_id GROUP BY o.account_id ORDER BY r DESC, o.account_id").fetchall()


def chk_top10(answer, ctx):
    want = [a for a, _ in _revenue_ranking(ctx)[:10]]
    if [str(x) for x in sequence(answer)] != want:
        raise Wrong("前十名客户或其顺序不对 / the top ten or their order is not right")


def chk_pareto(answer, ctx):
    revenue = [r for _, r in _revenue_ranking(ctx) if r > 0]
    want = sum(revenue[:math.ceil(0.2 * len(revenue))]) / sum(revenue)
    if not close(answer, want, 1e-6):
        raise Wrong("前 20% 客户的收入占比不对 / the top-20 % share is not right")


SERVICE_SECONDS = 20   # the service-level standard the notebook names: answered within 20 seconds (80/20)
# each customer call to the hotline that an agent answered: its wait in whole seconds, as stored (no rounding at
# the 20 s edge), and the hour it arrived; a manager's call on the escalation queue is no customer waiting
HOTLINE_WAITS = ("SELECT strftime('%s', c.answered_at) - strftime('%s', c.arrived_at) AS w, strftime('%H', c.arrived_at) "
                 "AS h FROM calls c JOIN agents g ON g.agent_id = c.agent_id WHERE g.role = 'agent'")


def chk_wait(answer, ctx):
    """Two parts, one point each: the mean wait in seconds and the share waiting longer than 20 s, over the
    customers' answered calls — the calls a manager answered on the escalation queue (at any hour, at once)
    are not customers waiting in the hotline's queue."""
    got = mapping(answer)
    mean, over = _waits(ctx)
    wrong = []
    if not close(got.get("mean_wait_s"), mean, 0.05):
        wrong.append("平均等待时间不对（秒；只算客户打进热线、已接通的来电，升级给主管的不算）/ the mean wait is not "
                     "right (seconds; the customers' answered calls to the hotline, not the escalations)")
    if not close(got.get("over_20s_share"), over, 1e-4):
        wrong.append("等待超过 20 秒的来电占比不对（0 到 1 之间的比例）/ the share of calls waiting more than 20 s is "
                     "not right (a share from 0 to 1)")
    if len(wrong) == 2:
        raise Wrong("; ".join(wrong))
    return Partial(0.5, wrong[0]) if wrong else None


def _waits(ctx) -> tuple[float, float]:
    """(mean wait in seconds, share waiting more than 20 s) over the hotline's answered calls."""
    return ctx.db.execute(f"SELECT AVG(w), AVG(w > ?) FROM ({HOTLINE_WAITS})", (SERVICE_SECONDS,)).fetchone()


def _grid(ctx) -> list[tuple[str, str, float, str]]:
    """(account, kind, revenue, grade) of every account with revenue, highest revenue first: the volume class
    by the 80 % rule (the accounts ranked before it hold less than 0.8 of revenue), the profit class by the
    average profit per unit sold against the threshold."""
    threshold = float(ctx.meta["profit_threshold"])
    rows = ctx.db.execute(
        "SELECT o.account_id, a.kind, SUM(l.quantity * l.unit_price), "
        "       SUM(l.quantity * (l.unit_price - l.unit_cost)) * 1.0 / SUM(l.quantity) "
        "FROM order_lines l JOIN orders o ON o.order_id = l.order_id JOIN accounts a ON a.account_id = o.account_id "
        "GROUP BY o.account_id HAVING SUM(l.quantity * l.unit_price) > 0 ORDER BY 3 DESC, 1").fetchall()
    total, run, out = sum(r[2] for r in rows), 0.0, []
    for account, kind, revenue, unit_profit in rows:
        out.append((account, kind, revenue,
                    ("A" if run / total < 0.8 else "B") + ("A" if unit_profit > threshold else "B")))
        run += revenue
    return out


def chk_grid(answer, ctx):
    want = {account: grade for account, _, _, grade in _grid(ctx)}
    got = {k: str(v) for k, v in mapping(answer).items()}
    if set(got) != set(want):   # the grid must hold every account with revenue, and only those
        missing, extra = len(set(want) - set(got)), len(set(got) - set(want))
        raise Wrong(f"等级表里缺 {missing} 个有收入的客户、多 {extra} 个别的 / the grid misses {missing} accounts with "
                    f"revenue and holds {extra} others")
    # the two dimensions apart, half the points each: the volume class (first letter), the profit class (second)
    wrong = {dim: sum(len(got[a]) != 2 or got[a][i] != g[i] for a, g in want.items())
             for i, dim in enumerate(("volume", "profit"))}
    words = {"volume": ("数量（收入）维度", "volume class"), "profit": ("利润维度", "profit class")}
    said = [f"{words[d][0]}有 {n} 个客户不对 / {n} accounts have the wrong {words[d][1]}" for d, n in wrong.items() if n]
    if len(said) == 2:
        raise Wrong("; ".join(said))
    return Partial(0.5, said[0]) if said else None


# -- the grader's notes: each student's own numbers for the reflection's rubric (the class report) -------------
def notes(ctx) -> list[tuple[str, str, str]]:
    """What this student's advice should cite, from their own data: the value grid by kind against the case's
    finding, the AA accounts' share of revenue, and the wait over the day against the 9 o'clock peak."""
    grid = _grid(ctx)
    total, by_kind, aa = sum(r[2] for r in grid), {}, [0, 0.0]
    for _, kind, revenue, grade in grid:
        by_kind.setdefault(kind, {}).setdefault(grade, 0)
        by_kind[kind][grade] += 1
        if grade == "AA":
            aa[0], aa[1] = aa[0] + 1, aa[1] + revenue
    case = {"university": "AA", "k12": "AB", "vocational": "BA", "training": "BB"}
    kinds = "; ".join(f"{k} {'/'.join(f'{g} {n}' for g, n in sorted(v.items()))} (case {case.get(k, '?')})"
                     for k, v in sorted(by_kind.items()))
    mean, over = _waits(ctx)
    hour, peak = ctx.db.execute(f"SELECT h, AVG(w) FROM ({HOTLINE_WAITS}) GROUP BY h HAVING COUNT(*) >= 30 "
                                "ORDER BY AVG(w) DESC LIMIT 1").fetchone()
    return [
        ("价值矩阵按客户类型", "the value grid by kind", kinds),
        ("AA 客户数及其收入占比", "AA accounts and their share of revenue", f"{aa[0]}, {aa[1] / total:.0%}"),
        ("平均等待 / 超过 20 秒的比例", "mean wait / share over 20 s", f"{mean:.1f} s / {over:.1%}"),
        ("等得最久的钟点（平均等待）", "the hour callers wait longest (mean wait)",
         f"{int(hour)}:00 ({peak:.0f} s, {peak / mean:.1f}× the day's)"),
    ]
