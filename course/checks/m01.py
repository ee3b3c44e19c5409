"""Checks of module m01, run by the grader on the answers handed in (grading/run/verify.py).

Each recomputes the right answer from the student's own database with SQL written independently
of the notebook's pandas solution. Grader-only: never released to students.
"""
from __future__ import annotations

import math

from crmlab.grading.run.verify import Wrong, close, mapping, sequence


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


def chk_wait(answer, ctx):
    (want,) = ctx.db.execute("SELECT AVG((julianday(answered_at) - julianday(arrived_at)) * 1440) FROM calls").fetchone()
    if not close(answer, want, 1e-3):
        raise Wrong("平均首次响应时间不对（单位是分钟）/ the mean first-response time is not right (minutes?)")


def chk_grid(answer, ctx):
    threshold = float(ctx.meta["profit_threshold"])
    rows = ctx.db.execute(
        "SELECT o.account_id, SUM(l.quantity * l.unit_price), "
        "       SUM(l.quantity * (l.unit_price - l.unit_cost)) * 1.0 / SUM(l.quantity) "
        "FROM order_lines l JOIN orders o ON o.order_id = l.order_id "
        "GROUP BY o.account_id HAVING SUM(l.quantity * l.unit_price) > 0 ORDER BY 2 DESC, 1").fetchall()
    total, run, want = sum(r[1] for r in rows), 0.0, {}
    for account, revenue, unit_profit in rows:
        want[account] = ("A" if run / total < 0.8 else "B") + ("A" if unit_profit > threshold else "B")
        run += revenue
    got = {k: str(v) for k, v in mapping(answer).items()}
    wrong = sum(got.get(a) != g for a, g in want.items()) + len(set(got) - set(want))
    if wrong:
        raise Wrong(f"有 {wrong} 个客户的等级不对 / {wrong} accounts are graded wrongly")
