"""Writing a finished run: the student-visible CRM database and the grader-only ground truth.

Bulk ``executemany`` inside one transaction with ``foreign_keys = ON``; indexes are created after
the rows are in (measured faster than indexing while inserting). Rows are written in a fixed order,
so the same run gives the same ``.dump``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path

from .engine import SIMULATOR_VERSION, Simulation, bulk

SCHEMA = Path(__file__).with_name("schema.sql")
TRUTH_SCHEMA = Path(__file__).with_name("truth_schema.sql")
INDEXES = (
    "CREATE INDEX contacts_by_account ON contacts (account_id)",
    "CREATE INDEX orders_by_account ON orders (account_id)",
    "CREATE INDEX lines_by_product ON order_lines (product_id)",
    "CREATE INDEX tickets_by_account ON tickets (account_id)",
    "CREATE INDEX calls_by_ticket ON calls (ticket_id)",
    "CREATE INDEX calls_by_account ON calls (account_id)",
    "CREATE INDEX opportunities_by_account ON opportunities (account_id)",
    "CREATE INDEX activities_by_opportunity ON activities (opportunity_id)",
)


def _stamp_cols(sim: Simulation, rows: list, cols: tuple[int, ...]) -> list[tuple]:
    """Replace the float-minute columns ``cols`` of every row with ISO text, vectorised."""
    if not rows:
        return []
    rows = [list(r) for r in rows]
    for c in cols:
        txt = sim.clock.stamps([float("nan") if r[c] is None else r[c] for r in rows])
        for r, t in zip(rows, txt):
            r[c] = t
    return [tuple(r) for r in rows]


def _snapshot(sim: Simulation) -> dict[str, list]:
    """The records as the CRM shows them at the horizon: what happens later is not known yet
    (a ticket resolved after the snapshot is still open; a survey answered later is missing)."""
    end, t = sim.horizon, sim.t
    later = lambda x: x is not None and x > end
    tickets = []
    for row in t.tickets:
        row = list(row)
        if later(row[6]):
            row[6], row[10] = None, None
        if later(row[7]) or row[8] == "open":
            row[7], row[8] = None, "open"
        tickets.append(tuple(row))
    return {
        "tickets": tickets,
        "calls": [c for c in t.calls if c[11] <= end],
        "complaints": [c[:8] + ((None if later(c[8]) else c[8]),) for c in t.complaints],
        "csat": [c for c in t.csat if c[2] <= end],
        "activities": [a for a in t.activities if a[5] <= end],
        "quotes": [q for q in t.quotes if q[2] <= end],
        "survey_responses": [r for r in t.survey_responses if r[4] <= end],
    }


@bulk()
def data_id(sim: Simulation) -> str:
    """A name for the data a run produced (scenario, seed, simulator version) that does not give the
    seed away: per-student databases carry it instead of the seed, which would let anyone with the
    simulator recompute the ground truth."""
    key = f"{sim.scenario.scenario.id}\x1f{sim.seed}\x1f{SIMULATOR_VERSION}".encode()
    return hashlib.sha256(key).hexdigest()[:16]


def write_database(path: Path, sim: Simulation, reveal_seed: bool = True) -> None:
    s, t, head = sim.scenario, sim.t, sim.scenario.scenario
    money = head.currencies[head.locale]
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        # a fresh file written in one go: no journal; foreign keys are verified once at the end
        # (one pass) rather than row by row — same guarantee, much faster for millions of rows
        con.execute("PRAGMA journal_mode = OFF")
        con.execute("PRAGMA synchronous = OFF")
        con.executescript(SCHEMA.read_text(encoding="utf-8"))
        snapshot = head.start_date + dt.timedelta(days=head.days)
        meta = {
            "scenario": head.id, "title_zh": head.title_zh, "title_en": head.title_en,
            "data_id": data_id(sim), "locale": head.locale, "customers": str(head.customers), "days": str(head.days), "currency": money.code,
            "start_date": head.start_date.isoformat(), "snapshot_date": snapshot.isoformat(),
            "profit_threshold": f"{round(head.profit_threshold * money.per_base, 2):g}",
            "sla_seconds": f"{s.service.sla_seconds:g}", "sla_target": f"{s.service.sla_target:g}",
            "open_hour": f"{s.service.open_hour:g}", "close_hour": f"{s.service.close_hour:g}",
            "simulator_version": SIMULATOR_VERSION,
        }
        if reveal_seed:
            meta["seed"] = str(sim.seed)
        orders = t.orders
        ids, owner, contact, times, src, camp, opp, _ = orders
        acc_ids = sim.acc.ids
        snap = _snapshot(sim)
        answered = {r[0] for r in snap["survey_responses"]}
        accounts = [row[:8] + (sim.customer_since.get(i, row[8]),) for i, row in enumerate(t.accounts)]
        with con:
            ins = lambda table, rows: rows and con.executemany(
                f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
            ins("meta", sorted(meta.items()))
            ins("account_kinds", [(k.id, k.name_zh, k.name_en) for k in s.customer_kinds])
            sources = [(x.id, x.name_zh, x.name_en, round(x.cost_per_lead * money.per_base, 2))
                       for x in s.acquisition.sources]
            if s.acquisition.referrals_per_promoter_year > 0:
                sources.append(("referral", "老客户推荐", "Referral by a customer", 0.0))
            ins("lead_sources", sources)
            ins("products", [(p.id, p.name_zh, p.name_en, p.category, round(p.unit_price * money.per_base, 2),
                              round(p.unit_cost * money.per_base, 2)) for p in s.products])
            ins("campaigns", [(c.id, c.name_zh, c.name_en, c.channel, sim.clock.date(c.start_day * 1440),
                               sim.clock.date((c.start_day + c.days) * 1440), c.offer_zh, c.offer_en, c.discount,
                               round(c.cost_per_contact * money.per_base, 2)) for c in sim.campaigns])
            ins("reps", t.reps)
            sv = s.service
            ins("skills", [("general", "通用坐席", "General agents"), ("escalation", "主管（升级处理）", "Managers (escalations)")]
                + [(x.skill, x.name_zh, x.name_en) for x in sv.teams])
            team_of = {reason: x.skill for x in sv.teams for reason in x.reasons}
            ins("routing", [(reason, team_of.get(reason, "general")) for reason in sv.reasons])
            ins("agents", t.agents)
            ins("accounts", accounts)
            ins("contacts", t.contacts)
            ins("leads", _stamp_cols(sim, sorted(t.leads), (6, 8)))
            ins("opportunities", _stamp_cols(sim, sorted(t.opportunities), (6, 8, 12)))
            ins("stage_history", _stamp_cols(sim, sorted(t.stage_history), (2,)))
            ins("quotes", _stamp_cols(sim, sorted(snap["quotes"]), (2,)))
            ins("activities", _stamp_cols(sim, sorted(snap["activities"]), (5,)))
            ins("commissions", _stamp_cols(sim, sorted(t.commissions), (3,)))
            stamps = sim.clock.stamps(times)
            con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)",
                            zip(ids, [acc_ids[i] for i in owner.tolist()], contact, stamps, src.tolist(),
                                camp.tolist(), opp.tolist()))
            rows, nums, prods, qty, price, cost = t.order_lines
            product_ids = list(sim.products)
            for c in range(0, rows.size, 200_000):
                part = slice(c, c + 200_000)
                con.executemany("INSERT INTO order_lines VALUES (?, ?, ?, ?, ?, ?)",
                                zip([ids[i] for i in rows[part].tolist()], nums[part].tolist(),
                                    [product_ids[i] for i in prods[part].tolist()],
                                    qty[part].tolist(), price[part].tolist(), cost[part].tolist()))
            ins("campaign_members", _stamp_cols(sim, sorted(t.campaign_members), (2, 3)))
            ins("tickets", _stamp_cols(sim, sorted(snap["tickets"]), (5, 6, 7)))
            ins("calls", _stamp_cols(sim, sorted(snap["calls"]), (7, 8, 11)))
            ins("complaints", _stamp_cols(sim, sorted(snap["complaints"]), (7, 8)))
            ins("csat", _stamp_cols(sim, sorted(snap["csat"]), (2,)))
            ins("surveys", _stamp_cols(sim, t.surveys, (2,)))
            ins("survey_items", [(i.id, i.text_zh, i.text_en) for i in s.satisfaction.survey_items])
            ins("survey_responses", _stamp_cols(sim, snap["survey_responses"], (4,)))
            ins("survey_answers", [a for a in t.survey_answers if a[0] in answered])
            for sql in INDEXES:
                con.execute(sql)
        broken = con.execute("PRAGMA foreign_key_check").fetchmany(5)
        if broken:
            raise RuntimeError(f"simulator bug: rows break foreign keys: {broken}")
    finally:
        con.close()


@bulk()
def write_truth(path: Path, sim: Simulation) -> None:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        con.executescript(TRUTH_SCHEMA.read_text(encoding="utf-8"))
        with con:
            con.executemany("INSERT INTO meta VALUES (?, ?)", [("scenario", sim.scenario.scenario.id),
                                                               ("seed", str(sim.seed))])
            cols = list(sim.t.latent)
            cols[8] = sim.clock.stamps(cols[8])
            con.executemany("INSERT INTO latent_accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", zip(*cols))
            con.executemany("INSERT INTO latent_reps VALUES (?, ?)", sorted(getattr(sim, "rep_optimism", {}).items()))
            ids = sim.acc.ids
            con.executemany("INSERT INTO latent_duplicates VALUES (?, ?)",
                            sorted((ids[a], ids[b]) for a, b in sim.duplicates.items()))
            con.executemany("INSERT INTO latent_opportunities VALUES (?, ?)",
                            sorted((o[0], sim.win_probability(o[7])) for o in sim.t.opportunities))
    finally:
        con.close()
