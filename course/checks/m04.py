"""Checks of module m04 (sales force automation), run by the grader after the notebook has run.

m04 is operational: the student changes their CRM. So most checks read the **database the
executed notebook left** (``ctx.work_db``, a private copy) with :func:`crm.check_state` conditions
and a few queries of their own, and give partial credit per condition met. *Which* records the
student had to work on follows from rules stated in the notebook, applied to the student's own
data; the targets are recomputed here with SQL on the grader's pristine copy (``ctx.db``, the
simulator's schema, never touched by the student), independently of the notebook's pandas code.
The analytical checkpoints (forecast, commission) compare the numbers handed in with SQL on the
pristine copy, like m01 and m06. Grader-only: never released to students.
"""
from __future__ import annotations

import contextlib
import re
import sqlite3

from crmlab.crm import check_state
from crmlab.crm.migrate import SETTINGS
from crmlab.grading.run.verify import Partial, Wrong, close, mapping, within
from crmlab.simulator import load_scenario

OPEN = ("qualified", "proposal", "negotiation")
MAX_DISCOUNT = SETTINGS["max_discount"][0]   # the rep's authority in a fresh CRM (the notebook's MAX_DISCOUNT)
FOLLOWUP_DAYS = 7
LOST_REASON = "no_budget"


# -- the targets, from the pristine database ----------------------------------------------------
def _targets(ctx) -> dict:
    if "targets" in ctx.cache:
        return ctx.cache["targets"]
    db, snapshot = ctx.db, ctx.meta["snapshot_date"]
    (start,) = db.execute("SELECT datetime(?, '+1 day', '+9 hours')", (snapshot,)).fetchone()

    # the school (same name and city, several records) with the most orders; its oldest record survives
    groups = db.execute(
        "SELECT a.name, a.city, COUNT(o.order_id) AS n, MIN(a.account_id) AS first FROM accounts a "
        "LEFT JOIN orders o ON o.account_id = a.account_id "
        "WHERE (SELECT COUNT(*) FROM accounts b WHERE b.name = a.name AND b.city = a.city) > 1 "
        "GROUP BY a.name, a.city ORDER BY n DESC, first LIMIT 1").fetchone()
    school = [r[0] for r in db.execute("SELECT account_id FROM accounts WHERE name = ? AND city = ? "
                                       "ORDER BY created_on, account_id", groups[:2])]
    merge = {"survivor": school[0], "others": school[1:], "orders": groups[2],
             "tickets": db.execute(f"SELECT COUNT(*) FROM tickets WHERE account_id IN ({','.join('?' * len(school))})",
                                   school).fetchone()[0]}

    open_sql = f"FROM opportunities WHERE stage IN {OPEN}"
    key = db.execute(f"SELECT opportunity_id, account_id, rep_id, amount {open_sql} "
                     "ORDER BY amount DESC, opportunity_id LIMIT 1").fetchone()
    (lost,) = db.execute(f"SELECT opportunity_id {open_sql} AND opportunity_id <> ? "
                         "ORDER BY created_at, opportunity_id LIMIT 1", (key[0],)).fetchone()
    still_open = [r[0] for r in db.execute(f"SELECT opportunity_id {open_sql} AND opportunity_id NOT IN (?, ?)",
                                           (key[0], lost))]

    # the newest open lead of a kind the sales team sells to (has won deals with): a 4S dealer's car owners come in
    # by booking, only its fleets through the sales team
    lead = db.execute("SELECT lead_id, kind, company, contact_name FROM leads WHERE status = 'open' AND kind IN "
                      "(SELECT a.kind FROM opportunities o JOIN accounts a ON a.account_id = o.account_id "
                      "WHERE o.stage = 'won') ORDER BY created_at DESC, lead_id DESC LIMIT 1").fetchone()
    won_by_kind = ("FROM opportunities o JOIN accounts a ON a.account_id = o.account_id "
                   "WHERE o.stage = 'won' AND a.kind = ?")
    (rep,) = db.execute(f"SELECT o.rep_id {won_by_kind} GROUP BY o.rep_id ORDER BY COUNT(*) DESC, o.rep_id LIMIT 1",
                        (lead[1],)).fetchone()
    (mean_won,) = db.execute(f"SELECT AVG(o.won_amount) {won_by_kind}", (lead[1],)).fetchone()
    same_name = [r[0] for r in db.execute("SELECT account_id FROM accounts WHERE name = ?", (lead[2],))]

    ctx.cache["targets"] = t = {
        "start": start, "horizon": f"{snapshot} 00:00:00", "merge": merge,
        "key": {"id": key[0], "account": key[1], "rep": key[2], "amount": key[3],
                "quote": round(key[3] * (1 - MAX_DISCOUNT), 2)},
        "lost": lost, "still_open": still_open,
        "lead": {"id": lead[0], "kind": lead[1], "company": lead[2], "contact": lead[3], "rep": rep,
                 "amount": round(mean_won), "existing": same_name},
        "accounts": {r[0] for r in db.execute("SELECT account_id FROM accounts")},
        "contacts": {r[0] for r in db.execute("SELECT contact_id FROM contacts")},
    }
    return t


def _owner(t: dict, account: str) -> str:
    """Where an account's records are after the merge the student was asked to do."""
    return t["merge"]["survivor"] if account in t["merge"]["others"] else account


# -- reading the state the notebook left --------------------------------------------------------
class Tally:
    """Points met out of points possible, and what is missing in both languages."""

    def __init__(self, ctx):
        if ctx.work_db is None:
            raise Wrong("评分时运行后的数据库 crm.db 不见了（被删除或替换成了链接）/ the database crm.db was missing "
                        "after the notebook ran (deleted, or replaced by a link)")
        self.path, self.got, self.max, self.missing = ctx.work_db, 0.0, 0.0, []

    def conditions(self, conditions: list[dict]) -> None:
        try:
            result = check_state(self.path, conditions)
        except sqlite3.DatabaseError as exc:
            raise Wrong(f"运行后的 crm.db 无法读取 / crm.db could not be read after the notebook ran ({exc})") from None
        for item in result.items:
            self.got, self.max = self.got + item.score, self.max + item.points
            if not item.passed:
                self.missing.append(f"{item.explain('zh_CN')} / {item.explain('en_US')}")

    def part(self, ok: bool, zh: str, en: str, points: float = 1.0) -> None:
        self.got, self.max = self.got + (points if ok else 0.0), self.max + points
        if not ok:
            self.missing.append(f"{zh} / {en}")

    def query(self, sql: str, args=()) -> list[tuple]:
        try:
            with contextlib.closing(sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)) as con:
                return con.execute(sql, tuple(args)).fetchall()
        except sqlite3.DatabaseError:   # an untouched database lacks the CRM's columns: nothing found
            return []

    def verdict(self):
        if not self.missing:
            return None
        message = " ".join(self.missing)
        if self.got <= 0:
            raise Wrong(message)
        return Partial(self.got / self.max, message)


# -- the checkpoints ----------------------------------------------------------------------------
def chk_merge(answer, ctx):
    t = _targets(ctx)["merge"]
    tally = Tally(ctx)
    tally.conditions([{"kind": "accounts_merged", "accounts": [t["survivor"], *t["others"]], "points": 3,
                       "orders_kept": t["orders"], "tickets_kept": t["tickets"]}]
                     + [{"kind": "audited", "operation": "account.merge", "record": other, "points": 1 / len(t["others"])}
                        for other in t["others"]])
    return tally.verdict()


def _forecast_by_rep(ctx) -> dict[str, tuple[float, float]]:
    """rep → (the rep's own weighted forecast, the forecast from history) over their open deals: Σ amount ×
    probability, and Σ amount × the historical win rate of the deal's stage (among closed deals that entered it)."""
    rates = dict(ctx.db.execute(
        "SELECT h.stage, AVG(o.stage = 'won') FROM stage_history h "
        "JOIN opportunities o ON o.opportunity_id = h.opportunity_id WHERE o.stage IN ('won', 'lost') "
        "GROUP BY h.stage").fetchall())
    out: dict[str, tuple[float, float]] = {}
    for rep, stage, amount, probability in ctx.db.execute(
            f"SELECT rep_id, stage, amount, probability FROM opportunities WHERE stage IN {OPEN}"):
        reps, history = out.get(rep, (0.0, 0.0))
        out[rep] = (reps + amount * probability, history + amount * rates[stage])
    return out


def _commission_rate(ctx) -> float:
    """Last year's commissions over the amounts won of their deals."""
    return ctx.db.execute("SELECT SUM(c.amount) / SUM(o.won_amount) FROM commissions c "
                          "JOIN opportunities o ON o.opportunity_id = c.opportunity_id").fetchone()[0]


def chk_forecast(answer, ctx):
    got = mapping(answer)
    by_rep = _forecast_by_rep(ctx).values()
    reps, history = sum(r for r, _ in by_rep), sum(h for _, h in by_rep)
    wrong = []
    if not close(got.get("forecast_reps"), reps, 0.5):
        wrong.append("销售代表的加权预测 / the reps' weighted forecast")
    if not close(got.get("forecast_history"), history, 0.5):
        wrong.append("按历史赢单率的预测（已结束商机中进入过该阶段的赢单比例）/ the forecast from history (the share "
                     "won among closed deals that entered the stage)")
    if len(wrong) == 2:
        raise Wrong("不对 / not right: " + "; ".join(wrong))
    return Partial(0.5, "不对 / not right: " + wrong[0]) if wrong else None


def chk_deal(answer, ctx):
    t = _targets(ctx)
    key, tally = t["key"], Tally(ctx)
    tally.conditions([
        {"kind": "opportunity_stage", "opportunity": key["id"], "stage": "won", "points": 1},
        {"kind": "audited", "operation": "opportunity.quote", "record": key["id"], "points": 0.5},
    ])
    today = tally.query("SELECT discount FROM quotes WHERE opportunity_id = ? AND quoted_at >= ? "
                        "ORDER BY quoted_at, quote_id", (key["id"], t["horizon"]))
    quote = today[-1:]
    # conceded in steps: a first offer below the authority before the final one (not all of it at once)
    tally.part(len(today) >= 2 and today[0][0] is not None and today[0][0] < MAX_DISCOUNT - 1e-9,
               f"商机 {key['id']} 应先报一轮较小的折扣，再报权限内的最大折扣（分步让步）",
               f"deal {key['id']} should get a first offer with a smaller discount before the largest one you may give "
               "(concede in steps)", points=0.5)
    tally.part(bool(quote) and within(quote[0][0], 0, MAX_DISCOUNT + 1e-9),
               f"商机 {key['id']} 应有一张今天的报价，折扣不超过你的权限 {MAX_DISCOUNT:.0%}",
               f"deal {key['id']} should have a quote made today with a discount within your authority "
               f"({MAX_DISCOUNT:.0%})")
    won = tally.query("SELECT won_amount FROM opportunities WHERE opportunity_id = ?", (key["id"],))
    have = won[0][0] if won else None
    tally.part(close(have, key["quote"], 0.01),
               f"商机 {key['id']} 应按权限内最大折扣的报价（标价 = 商机金额）成交，现在的成交金额是 {have}",
               f"deal {key['id']} should be won at the quote with the largest discount you may give (list amount = "
               f"the deal's amount); it was won at {have}", points=0.5)
    return tally.verdict()


def chk_followup(answer, ctx):
    t = _targets(ctx)
    key, tally = t["key"], Tally(ctx)
    (due_by,) = ctx.db.execute(f"SELECT datetime(?, '+{FOLLOWUP_DAYS} days')", (t["start"],)).fetchone()
    account = _owner(t, key["account"])
    tally.conditions([
        {"kind": "activity", "account": account, "type": "visit", "opportunity": key["id"], "rep": key["rep"],
         "since": t["horizon"]},
        {"kind": "followup", "account": account, "rep": key["rep"], "opportunity": key["id"], "due_before": due_by},
    ])
    return tally.verdict()


def chk_commission(answer, ctx):
    got = mapping(answer)
    t = _targets(ctx)["key"]
    rate = _commission_rate(ctx)
    right_rate = close(got.get("commission_rate"), rate, 5e-4)
    # right for the deal as it should have been won, or as this student actually won it
    won = [t["quote"]]
    if ctx.work_db is not None:
        won += [w for (w,) in Tally(ctx).query("SELECT won_amount FROM opportunities WHERE opportunity_id = ? "
                                               "AND won_amount IS NOT NULL", (t["id"],))]
    if not any(close(got.get("commission"), rate * w, 1.0) for w in won):
        # the rate alone is the same for every student: no points without the key deal's commission
        raise Wrong("关键商机的提成不对（比例 × 成交金额）/ the key deal's commission is not right (rate × amount won)"
                    + ("" if right_rate else "；提成比例也不对 / the commission rate is not right either"))
    if not right_rate:
        return Partial(0.5, "提成比例不对（去年提成总额 ÷ 对应赢单金额）/ the commission rate is not right (last year's "
                            "commissions over the amounts won)")
    return None


def chk_lost(answer, ctx):
    t = _targets(ctx)
    tally = Tally(ctx)
    tally.conditions([{"kind": "opportunity_stage", "opportunity": t["lost"], "stage": "lost", "points": 1}])
    if tally.missing:   # nothing else counts before the deal is closed (the other deals are open anyway)
        raise Wrong(tally.missing[0])
    tally.conditions([
        {"kind": "opportunity_stage", "opportunity": t["lost"], "lost_reason": LOST_REASON, "points": 1},
        {"kind": "audited", "operation": "opportunity.stage", "record": t["lost"], "points": 0.5},
    ])
    marks = ",".join("?" * len(t["still_open"]))
    closed = [r[0] for r in tally.query(f"SELECT opportunity_id FROM opportunities WHERE opportunity_id IN ({marks}) "
                                        f"AND stage NOT IN {OPEN} ORDER BY opportunity_id", t["still_open"])]
    tally.part(not closed, f"这些商机本应保持未结束：{', '.join(closed)}",
               f"these deals should have stayed open: {', '.join(closed)}")
    return tally.verdict()


def chk_lead(answer, ctx):
    t = _targets(ctx)
    lead, tally = t["lead"], Tally(ctx)
    tally.conditions([
        {"kind": "lead_status", "lead": lead["id"], "status": "converted", "points": 1},
        {"kind": "audited", "operation": "lead.convert", "record": lead["id"], "points": 0.5},
    ])
    opp = tally.query("SELECT rep_id, amount FROM opportunities WHERE lead_id = ? ORDER BY opportunity_id",
                      (lead["id"],))
    tally.part(bool(opp) and opp[-1][0] == lead["rep"],
               f"线索 {lead['id']} 的商机应交给去年与同类客户赢单最多的销售代表",
               f"the deal from lead {lead['id']} should go to the rep with the most wins with that kind of customer")
    tally.part(bool(opp) and close(opp[-1][1], lead["amount"], 1.0),
               f"线索 {lead['id']} 的商机金额应为同类客户的平均成交金额",
               f"the deal from lead {lead['id']} should be worth the average amount won with that kind of customer")
    row = tally.query("SELECT l.account_id, a.name, a.kind FROM leads l JOIN accounts a ON a.account_id = l.account_id "
                      "WHERE l.lead_id = ?", (lead["id"],))
    account = row[0][0] if row else None
    if lead["existing"]:
        ok = account in {_owner(t, a) for a in lead["existing"]}
        tally.part(ok, f"“{lead['company']}”已经是客户：线索应挂到现有客户上，而不是新建重复客户",
                   f"'{lead['company']}' is already an account: attach the lead to it instead of creating a duplicate")
    else:
        ok = bool(row) and account not in t["accounts"] and row[0][1:] == (lead["company"], lead["kind"])
        tally.part(ok, f"线索 {lead['id']} 应转化为一个新客户（名称、类型与线索相同）",
                   f"lead {lead['id']} should become a new account (its name and kind as in the lead)")
        city = tally.query("SELECT city FROM accounts WHERE account_id = ?", (account,)) if ok else []
        tally.part(bool(city) and _city_of_name(ctx, lead, city[0][0]),
                   f"新客户的城市应是学校名称里的城市（“{lead['company']}”）",
                   f"the new account's city should be the city in the school's name ('{lead['company']}')", points=0.5)
    contacts = tally.query("SELECT contact_id, email FROM contacts WHERE account_id = ? AND name = ?",
                           (account, lead["contact"])) if account else []
    new = [(c, email) for c, email in contacts if c not in t["contacts"]]
    tally.part(bool(new), f"客户上应有线索的联系人 {lead['contact']}",
               f"the account should have the lead's contact {lead['contact']}")
    tally.part(any(isinstance(e, str) and EMAIL.fullmatch(e.strip()) for _, e in new),
               f"联系人 {lead['contact']} 应有电话里给的邮箱", f"the contact {lead['contact']} should have the e-mail "
               "address given on the phone", points=0.5)
    return tally.verdict()


EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def _city_of_name(ctx, lead: dict, city) -> bool:
    """Whether ``city`` is the city in the lead's school name: the name is one of the kind's name templates
    (the scenario's, in any language) filled with that city — or with the city and a district or compass
    point after it (the simulator's way out when a city has every name already, e.g. 昆明高新区优才教育咨询:
    the city is 昆明)."""
    if not isinstance(city, str) or len(city.strip()) < 2:
        return False
    city = city.strip()
    kinds = {k.id: k for k in load_scenario(ctx.meta["scenario"]).customer_kinds}
    templates = [t for names in kinds[lead["kind"]].name_templates.values() for t in names]
    filled = [m.group(1) for t in templates
              if (m := re.fullmatch(re.escape(t).replace(re.escape("{city}"), "(.+)"), lead["company"]))]
    if not filled:   # a name no template makes: the city only has to be in it
        return city in lead["company"]
    return any(g == city or g.startswith(city) for g in filled)


# -- the grader's notes: each student's own numbers for the reflection's rubric (the class report) -------------
def notes(ctx) -> list[tuple[str, str, str]]:
    """What this student's note to the director should cite, from their own data: the two forecasts, the rep
    whose forecast runs furthest above history (the reps' biases are drawn anew for every student), what the
    key deal's discount costs the company and the rep."""
    t, by_rep = _targets(ctx), _forecast_by_rep(ctx)
    reps, history = sum(r for r, _ in by_rep.values()), sum(h for _, h in by_rep.values())
    ratio = {rep: r / h for rep, (r, h) in by_rep.items() if h > 0}
    optimist = max(sorted(ratio), key=ratio.get)
    rate = _commission_rate(ctx)
    key, cut = t["key"], t["key"]["amount"] * MAX_DISCOUNT
    return [
        ("销售代表的预测", "the reps' forecast", f"{reps:,.0f}"),
        ("按历史赢单率的预测", "the forecast from history", f"{history:,.0f}"),
        ("两者之比", "their ratio", f"{reps / history:.2f}"),
        ("最乐观的销售代表（预测 ÷ 历史）", "the most optimistic rep (forecast ÷ history)",
         f"{optimist} ({ratio[optimist]:.2f})"),
        ("关键商机的折扣让公司少收", "what the key deal's discount costs the company",
         f"{key['id']}: {cut:,.0f} ({MAX_DISCOUNT:.0%})"),
        ("其中销售代表少拿的提成", "of which the rep's commission", f"{rate * cut:,.0f} ({rate:.1%})"),
        ("合并的重复客户", "the duplicate school merged",
         f"{t['merge']['survivor']} ← {', '.join(t['merge']['others'])}"),
    ]


def decisions(ctx):
    """What carries over to the term's next company module (grading/classroom/company.py): the CRM changes the
    student made here — merges, the lead's conversion, the follow-up, the deal's stage and quote — done again
    through the CRM API on the company's later data."""
    from crmlab.grading.classroom.company import crm_calls
    return [{"kind": "crm", "calls": crm_calls(ctx.work_db, ctx.db)}]
