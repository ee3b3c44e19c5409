"""The operational CRM API: every rule refuses what it should, with a clear message in both
languages, and leaves the database unchanged; every change is one audited transaction; the same
calls give the same database. Expected values are recomputed here with plain SQL, never copied
from the API's own output."""
from __future__ import annotations

import json
import re
import shutil
import sqlite3

import pytest
from dbutil import dump, one, sql

from crmlab.crm import (CRM, ClockError, Conflict, DomainError, IllegalTransition, InvalidValue, MergedAway, NotFound)
from crmlab.crm.messages import LABELS, MESSAGES
from crmlab.crm.migrate import referencing

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="session")
def base_db(tmp_path_factory):
    """A small education-services run, simulated once; tests work on copies."""
    from crmlab.simulator import simulate
    path = tmp_path_factory.mktemp("crm") / "base.db"
    simulate("education_services", 11, path, customers=300)
    return path


@pytest.fixture
def db(base_db, tmp_path):
    path = tmp_path / "crm.db"
    shutil.copy(base_db, path)
    return path


@pytest.fixture
def crm(db):
    with CRM.open(db, user="student01", lang="zh_CN") as c:
        yield c


def refused(crm, db, exc_type, call):
    """Run ``call``; it must raise ``exc_type`` and leave the database content unchanged."""
    before = dump(db)
    with pytest.raises(exc_type) as info:
        call()
    assert dump(db) == before
    return info.value


def both(err: DomainError) -> tuple[str, str]:
    zh, en = err.message("zh_CN"), err.message("en_US")
    assert HAN.search(zh) and zh != en
    assert "{" not in zh and "{" not in en
    return zh, en


def a_contact(db):
    """An active account with at least one contact: (account, contact)."""
    return sql(db, "SELECT account_id, contact_id FROM contacts ORDER BY contact_id LIMIT 1")[0]


# -- migration, clock, ids ------------------------------------------------------------------
def test_migration_adds_what_the_crm_needs_keeps_every_row_and_runs_once(db):
    counts = {t: one(db, f"SELECT count(*) FROM {t}") for t in ("accounts", "orders", "tickets", "contacts")}
    CRM.open(db).close()
    after_first = dump(db)
    CRM.open(db).close()
    assert dump(db) == after_first  # idempotent
    cols = {t: {r[1] for r in sql(db, f"PRAGMA table_info({t})")} for t in ("accounts", "contacts", "tickets")}
    assert {"merged_into", "merged_at", "grade", "segment"} <= cols["accounts"]
    assert {"priority", "assigned_to", "closed_at"} <= cols["tickets"]
    tables = {r[0] for r in sql(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"audit_log", "followups", "sla_policy", "ops_settings", "complaint_causes"} <= tables
    assert {t: one(db, f"SELECT count(*) FROM {t}") for t in counts} == counts
    assert sql(db, "PRAGMA integrity_check") == [("ok",)]
    con = sqlite3.connect(db)
    con.execute("PRAGMA foreign_keys = ON")
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    with pytest.raises(sqlite3.IntegrityError):  # CHECK added by the migration
        con.execute("UPDATE accounts SET grade = 'CC' WHERE account_id = 'A0001'")
    con.close()
    with CRM.open(db, user="u") as crm:   # an open ticket, whatever the snapshot holds
        ticket = crm.open_ticket(*a_contact(db), "inquiry")
    con = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError):  # a ticket cannot be closed while open, even by SQL
        con.execute("UPDATE tickets SET closed_at = '2026-01-02 00:00:00' WHERE ticket_id = ?", (ticket,))
    con.close()


def test_clock_starts_at_the_horizon_never_runs_back_and_resumes_after_the_last_change(db):
    horizon = one(db, "SELECT value FROM meta WHERE key = 'snapshot_date'")
    with CRM.open(db, user="u") as crm:
        assert crm.now == f"{horizon} 00:00:00"
        crm.advance(hours=30)
        acc, contact = a_contact(db)
        crm.open_ticket(acc, contact, "inquiry")
        err = refused(crm, db, ClockError, lambda: crm.set_clock(f"{horizon} 12:00:00"))
        assert "12:00:00" in err.message("en_US")
    with CRM.open(db, user="u") as crm:  # a new session continues where the data left off
        assert crm.now == one(db, "SELECT max(at) FROM audit_log") > f"{horizon} 00:00:00"


def test_new_ids_are_the_next_number_in_the_databases_own_style(crm, db):
    acc, contact = a_contact(db)
    last = one(db, "SELECT max(ticket_id) FROM tickets")
    t = crm.open_ticket(acc, contact, "inquiry")
    assert len(t) == len(last) and t[0] == "T" and int(t[1:]) == int(last[1:]) + 1
    last_acc = one(db, "SELECT max(account_id) FROM accounts")
    a = crm.create_account("测试培训中心", "training", "广州")
    assert a == f"A{int(last_acc[1:]) + 1:0{len(last_acc) - 1}d}"


def script(crm: CRM, db):
    """A fixed sequence of operations touching every area (used to test reproducibility)."""
    acc, contact = a_contact(db)
    crm.advance(hours=9)
    t = crm.open_ticket(acc, contact, "complaint", priority="high")
    crm.assign_ticket(t, "G01")
    crm.escalate_ticket(t)
    crm.answer_ticket(t)
    crm.advance(hours=3)
    crm.resolve_ticket(t)
    crm.register_complaint(t, sql(db, "SELECT cause FROM complaints LIMIT 1")[0][0], "medium", "apology")
    lead = crm.create_lead("website", "k12", "测试实验小学", "韩梅梅", "13912345678")
    crm.qualify_lead(lead)
    out = crm.convert_lead(lead, rep="S01", amount=30000, email="hmm@example.cn", city="佛山")
    crm.move_stage(out["opportunity"], "proposal")
    crm.add_quote(out["opportunity"], 32000, 0.05)
    crm.schedule_followup(out["account"], "S01", "2026-01-05 10:00:00", "回访报价")
    crm.grade_accounts()
    return t


def test_the_same_calls_on_the_same_database_give_the_same_database(base_db, tmp_path):
    dumps = []
    for name in ("one.db", "two.db"):
        path = tmp_path / name
        shutil.copy(base_db, path)
        with CRM.open(path, user="student01") as crm:
            script(crm, path)
        dumps.append(dump(path))
    assert dumps[0] == dumps[1]


# -- accounts and contacts -------------------------------------------------------------------
def test_create_and_update_account_and_contact_with_validation(crm, db):
    a = crm.create_account("  广州新星培训中心 ", "training", "广州", "天河路 1 号")
    assert sql(db, "SELECT name, kind, city, customer_since FROM accounts WHERE account_id = ?", (a,)) == [
        ("广州新星培训中心", "training", "广州", None)]
    refused(crm, db, InvalidValue, lambda: crm.create_account("", "training", "广州"))
    err = refused(crm, db, InvalidValue, lambda: crm.create_account("某公司", "hospital", "广州"))
    assert "hospital" in err.message("en_US") and "university" in err.message("en_US")
    crm.update_account(a, city="佛山", address="季华路 2 号")
    assert sql(db, "SELECT city, address FROM accounts WHERE account_id = ?", (a,)) == [("佛山", "季华路 2 号")]
    refused(crm, db, InvalidValue, lambda: crm.update_account(a, account_id="A9999"))
    c = crm.create_contact(a, "赵敏", "校长", "+86 139-0000-1111", "zhaomin@example.cn")
    refused(crm, db, InvalidValue, lambda: crm.create_contact(a, "赵敏", "校长", "12", "zm@example.cn"))
    refused(crm, db, InvalidValue, lambda: crm.create_contact(a, "赵敏", "校长", "13900001111", "not-an-email"))
    refused(crm, db, NotFound, lambda: crm.create_contact("A9999", "赵敏", "校长", "13900001111", "z@example.cn"))
    crm.update_contact(c, email="zm2@example.cn")
    assert one(db, "SELECT email FROM contacts WHERE contact_id = ?", (c,)) == "zm2@example.cn"


def test_a_duplicate_account_is_refused_at_creation_unless_allowed(crm, db):
    acc, name, city = sql(db, "SELECT account_id, name, city FROM accounts WHERE name LIKE city || '%' "
                              "ORDER BY account_id LIMIT 1")[0]
    variant = f"{city}市{name[len(city):]}"  # 长沙交通职业学院 → 长沙市交通职业学院
    err = refused(crm, db, Conflict, lambda: crm.create_account(variant, "vocational", city))
    zh, en = both(err)
    assert acc in zh and acc in en and "allow_duplicate" in en
    assert crm.create_account(variant, "vocational", city, allow_duplicate=True)


def test_find_duplicates_sees_name_variants_in_one_city_and_shared_contacts(crm, db):
    acc, name, city, kind = sql(db, "SELECT account_id, name, city, kind FROM accounts WHERE name LIKE city || '%' "
                                    "ORDER BY account_id LIMIT 1")[0]
    variant = crm.create_account(f"{city}市\u3000{name[len(city):]}", kind, city, allow_duplicate=True)  # 长沙市　交通…
    phone = sql(db, "SELECT phone FROM contacts WHERE account_id = ? ORDER BY contact_id LIMIT 1", (acc,))[0][0]
    other = crm.create_account("完全不同的名字学校", kind, "拉萨")
    crm.create_contact(other, "同一人", "主任", phone, "someone-else@example.cn")
    pairs = crm.find_duplicate_accounts()
    by_pair = {(r.account_a, r.account_b): r for r in pairs.itertuples()}
    assert by_pair[(acc, variant)].name_similarity >= 0.99
    assert by_pair[tuple(sorted((acc, other)))].same_phone
    # name similarity alone never pairs accounts of different cities
    named_only = pairs[~pairs.same_phone & ~pairs.same_email]
    assert (named_only.city_a.map(lambda c: c.rstrip("市")) == named_only.city_b.map(lambda c: c.rstrip("市"))).all()
    # a generic word in common does not make two schools of one city duplicates
    rest = name[len(city):]
    sibling = crm.create_account(f"{city}星火{rest[2:]}", kind, city)  # 长沙交通职业学院 → 长沙星火职业学院
    again = crm.find_duplicate_accounts()
    assert (acc, variant) in {(r.account_a, r.account_b) for r in again.itertuples()}
    assert (acc, sibling) not in {(r.account_a, r.account_b) for r in again.itertuples()}


def test_english_name_variants_match_word_order_and_legal_form():
    from crmlab.crm.dedupe import name_similarity_table
    names = {"A1": ("University of Springfield", "Springfield"), "A2": ("Springfield University, Inc.", "Springfield"),
             "A3": ("Springfield Medical University", "Springfield"), "A4": ("University of Springfield", "Shelbyville")}
    s = name_similarity_table(names)
    assert s[("A1", "A2")] == 1.0
    assert s[("A1", "A3")] < 0.8
    assert ("A1", "A4") not in s  # another city: never compared by name


def test_merge_accounts_moves_every_related_row_and_loses_nothing(crm, db):
    keep, gone = sql(db, "SELECT o.account_id FROM orders o JOIN tickets t USING (account_id) GROUP BY o.account_id "
                         "ORDER BY count(DISTINCT o.order_id) DESC LIMIT 2")
    keep, gone = keep[0], gone[0]
    # both in one campaign: the memberships must be combined, not duplicated
    crm.create_campaign("C2026TEST", "测试活动", "Test campaign", "email", "2026-01-01", "2026-02-01")
    crm.enrol("C2026TEST", [keep, gone])
    refs = [(t, c) for t, c in referencing(sqlite3.connect(db), "accounts")]
    before = {(t, c): one(db, f"SELECT count(*) FROM {t} WHERE {c} IN (?, ?)", (keep, gone)) for t, c in refs}
    totals = {t: one(db, f"SELECT count(*) FROM {t}") for t, _ in refs if t != "campaign_members"}
    orders_gone = {r[0] for r in sql(db, "SELECT order_id FROM orders WHERE account_id = ?", (gone,))}
    assert orders_gone
    shared = one(db, "SELECT count(*) FROM campaign_members a JOIN campaign_members b USING (campaign_id) "
                     "WHERE a.account_id = ? AND b.account_id = ?", (keep, gone))
    assert shared >= 1

    moved = crm.merge_accounts(keep, gone)

    assert moved["orders"] == len(orders_gone)
    for (t, c), n in before.items():
        expected = n - shared if t == "campaign_members" else n  # a shared membership is combined
        assert one(db, f"SELECT count(*) FROM {t} WHERE {c} = ?", (keep,)) == expected, t
        assert one(db, f"SELECT count(*) FROM {t} WHERE {c} = ?", (gone,)) == 0, t
    assert {t: one(db, f"SELECT count(*) FROM {t}") for t in totals} == totals  # nothing deleted
    assert orders_gone <= {r[0] for r in sql(db, "SELECT order_id FROM orders WHERE account_id = ?", (keep,))}
    assert sql(db, "SELECT merged_into, merged_at IS NOT NULL FROM accounts WHERE account_id = ?", (gone,)) == [(keep, 1)]
    audit = sql(db, "SELECT record_table, before, after FROM audit_log WHERE operation = 'account.merge'")
    orders_row = [json.loads(b) for t, b, a in audit if t == "orders"][0]
    assert set(orders_row["rows"]) == orders_gone
    assert any(t == "campaign_members" and a is None for t, b, a in audit)  # the combined row kept in the log

    err = refused(crm, db, MergedAway, lambda: crm.open_ticket(gone, sql(db, "SELECT contact_id FROM contacts WHERE "
                                                                           "account_id = ? LIMIT 1", (keep,))[0][0],
                                                           "inquiry"))
    zh, en = both(err)
    assert gone in zh and keep in zh and keep in en and "merged" in en
    refused(crm, db, InvalidValue, lambda: crm.merge_accounts(keep, keep))
    refused(crm, db, MergedAway, lambda: crm.merge_accounts(gone, keep))
    profile = crm.customer_360(gone)["profile"]  # the 360° view follows the merge
    assert profile["account_id"] == keep and gone in profile["merged_from"]


def test_merges_never_chain(crm, db):
    a, b, c = [r[0] for r in sql(db, "SELECT account_id FROM accounts ORDER BY account_id LIMIT 3")]
    crm.merge_accounts(b, a)
    crm.merge_accounts(c, b)
    assert dict(sql(db, "SELECT account_id, merged_into FROM accounts WHERE account_id IN (?, ?, ?)", (a, b, c))) == {
        a: c, b: c, c: None}
    assert crm.customer_360(a)["profile"]["merged_from"] == [a, b]


def test_merge_contacts_only_within_one_account(crm, db):
    acc, c1, c2 = sql(db, "SELECT a.account_id, min(a.contact_id), max(a.contact_id) FROM contacts a "
                          "JOIN tickets t ON t.contact_id = a.contact_id GROUP BY a.account_id "
                          "HAVING count(DISTINCT a.contact_id) >= 2 ORDER BY a.account_id LIMIT 1")[0]
    other = one(db, "SELECT contact_id FROM contacts WHERE account_id != ? LIMIT 1", (acc,))
    err = refused(crm, db, IllegalTransition, lambda: crm.merge_contacts(c1, other))
    assert "merge the accounts first" in err.message("en_US")
    tickets = one(db, "SELECT count(*) FROM tickets WHERE contact_id IN (?, ?)", (c1, c2))
    crm.merge_contacts(c1, c2)
    assert one(db, "SELECT count(*) FROM tickets WHERE contact_id = ?", (c1,)) == tickets
    assert one(db, "SELECT merged_into FROM contacts WHERE contact_id = ?", (c2,)) == c1
    refused(crm, db, MergedAway, lambda: crm.update_contact(c2, title="x"))


def test_find_duplicate_contacts_by_phone_within_an_account(crm, db):
    acc, contact = a_contact(db)
    phone = one(db, "SELECT phone FROM contacts WHERE contact_id = ?", (contact,))
    twin = crm.create_contact(acc, "另一个名字", "职员", phone, "other@example.cn")
    pairs = crm.find_duplicate_contacts(acc)
    assert [(r.contact_a, r.contact_b, r.same_phone) for r in pairs.itertuples()
            if twin in (r.contact_a, r.contact_b)] == [(contact, twin, True)]


# -- leads -------------------------------------------------------------------------------------
def test_lead_lifecycle_and_conversion(crm, db):
    cost = one(db, "SELECT cost_per_lead FROM lead_sources WHERE source_id = 'cold_call'")
    lead = crm.create_lead("cold_call", "university", "测试理工大学", "李雷", "13900002222")
    assert sql(db, "SELECT status, cost FROM leads WHERE lead_id = ?", (lead,)) == [("open", cost)]
    err = refused(crm, db, IllegalTransition, lambda: crm.convert_lead(lead, rep="S01", amount=1000,
                                                                       email="l@x.cn", city="广州"))
    zh, en = both(err)
    assert lead in zh and "待跟进" in zh and "qualified before it is converted" in en
    refused(crm, db, InvalidValue, lambda: crm.disqualify_lead(lead, " "))
    crm.qualify_lead(lead)
    refused(crm, db, IllegalTransition, lambda: crm.qualify_lead(lead))
    refused(crm, db, NotFound, lambda: crm.convert_lead(lead, rep="S99", amount=1000, email="l@x.cn", city="广州"))
    out = crm.convert_lead(lead, rep="S02", amount=88000, email="lilei@example.cn", city="广州", title="处长")
    assert sql(db, "SELECT status, account_id FROM leads WHERE lead_id = ?", (lead,)) == [("converted", out["account"])]
    assert sql(db, "SELECT name, kind, source_id, lead_id FROM accounts WHERE account_id = ?", (out["account"],)) == [
        ("测试理工大学", "university", "cold_call", lead)]
    assert sql(db, "SELECT account_id, phone FROM contacts WHERE contact_id = ?", (out["contact"],)) == [
        (out["account"], "13900002222")]
    assert sql(db, "SELECT account_id, lead_id, stage, deal_type, amount FROM opportunities WHERE opportunity_id = ?",
               (out["opportunity"],)) == [(out["account"], lead, "qualified", "new", 88000.0)]
    assert sql(db, "SELECT stage FROM stage_history WHERE opportunity_id = ?", (out["opportunity"],)) == [("qualified",)]
    refused(crm, db, IllegalTransition, lambda: crm.disqualify_lead(lead, "no budget"))
    # the simulator leaves leads that became customers 'qualified' with their account: converted already
    done = one(db, "SELECT lead_id FROM leads WHERE status = 'qualified' AND account_id IS NOT NULL LIMIT 1")
    err = refused(crm, db, IllegalTransition, lambda: crm.convert_lead(done, rep="S01", amount=1, email="a@b.cn",
                                                                       city="广州"))
    assert "已转化" in err.message("zh_CN") and "'converted'" in err.message("en_US")
    other = crm.create_lead("website", "k12", "某小学", "王", "13900003333")
    crm.disqualify_lead(other, "不在服务区域")
    assert sql(db, "SELECT status, disqualified_reason FROM leads WHERE lead_id = ?", (other,)) == [
        ("disqualified", "不在服务区域")]


# -- opportunities ----------------------------------------------------------------------------
def test_stages_advance_one_at_a_time_and_every_move_is_in_stage_history(crm, db):
    acc = one(db, "SELECT account_id FROM accounts WHERE customer_since IS NULL LIMIT 1") or a_contact(db)[0]
    opp = crm.create_opportunity(acc, "S01", 40000)
    err = refused(crm, db, IllegalTransition, lambda: crm.move_stage(opp, "negotiation"))
    zh, en = both(err)
    assert opp in zh and "已确认" in zh and "谈判" in zh
    assert opp in en and "'qualified' to 'negotiation'" in en
    refused(crm, db, IllegalTransition, lambda: crm.move_stage(opp, "won"))
    refused(crm, db, InvalidValue, lambda: crm.move_stage(opp, "closing"))
    refused(crm, db, IllegalTransition, lambda: crm.add_quote(opp, 40000))  # no quote before a proposal
    crm.advance(days=2)
    crm.move_stage(opp, "proposal")
    err = refused(crm, db, IllegalTransition, lambda: crm.move_stage(opp, "negotiation"))
    assert "no quote" in err.message("en_US")
    err = refused(crm, db, InvalidValue, lambda: crm.add_quote(opp, 40000, 0.4))
    assert "40.0%" in err.message("en_US") and "25.0%" in err.message("zh_CN")
    q = crm.add_quote(opp, 40000, 0.1)
    assert sql(db, "SELECT amount, discount, list_amount FROM quotes WHERE quote_id = ?", (q,)) == [(36000.0, 0.1, 40000.0)]
    crm.advance(days=5)
    crm.move_stage(opp, "negotiation")
    refused(crm, db, IllegalTransition, lambda: crm.move_stage(opp, "proposal"))  # no way back
    crm.advance(days=5)
    crm.close_won(opp)
    assert sql(db, "SELECT stage, won_amount, probability, closed_at IS NOT NULL FROM opportunities "
                   "WHERE opportunity_id = ?", (opp,)) == [("won", 36000.0, 1.0, 1)]
    hist = sql(db, "SELECT stage, entered_at FROM stage_history WHERE opportunity_id = ? ORDER BY entered_at", (opp,))
    assert [s for s, _ in hist] == ["qualified", "proposal", "negotiation", "won"]
    assert [t for _, t in hist] == sorted(t for _, t in hist) and len({t for _, t in hist}) == 4
    assert one(db, "SELECT customer_since FROM accounts WHERE account_id = ?", (acc,)) is not None
    err = refused(crm, db, IllegalTransition, lambda: crm.close_lost(opp, "price"))
    assert "closed" in err.message("en_US")


def test_losing_needs_a_reason(crm, db):
    opp = one(db, "SELECT opportunity_id FROM opportunities WHERE stage IN ('qualified', 'proposal') LIMIT 1")
    for reason in (None, "", "   "):
        err = refused(crm, db, InvalidValue, lambda: crm.move_stage(opp, "lost", reason=reason))
        zh, en = both(err)
        assert opp in zh and "原因" in zh and "reason" in en
    crm.close_lost(opp, "competitor")
    assert sql(db, "SELECT stage, lost_reason, probability FROM opportunities WHERE opportunity_id = ?", (opp,)) == [
        ("lost", "competitor", 0.0)]


# -- activities and follow-ups ------------------------------------------------------------------
def test_activities_and_followups_with_overdue_listing(crm, db):
    acc, contact = a_contact(db)
    foreign_opp = one(db, "SELECT opportunity_id FROM opportunities WHERE account_id != ? LIMIT 1", (acc,))
    refused(crm, db, InvalidValue, lambda: crm.log_activity(acc, "call", "S01", opportunity=foreign_opp))
    refused(crm, db, InvalidValue, lambda: crm.log_activity(acc, "fax", "S01"))
    err = refused(crm, db, InvalidValue, lambda: crm.log_activity(acc, "visit", "S01", done_at="2026-03-01 10:00"))
    assert "2026-03-01 10:00:00" in err.message("en_US")
    v = crm.log_activity(acc, "visit", "S01", note="首次拜访")
    assert sql(db, "SELECT type, note, done_at FROM activities WHERE activity_id = ?", (v,)) == [
        ("visit", "首次拜访", crm.now)]
    refused(crm, db, InvalidValue, lambda: crm.schedule_followup(acc, "S01", "2025-12-01", "太晚了"))
    f1 = crm.schedule_followup(acc, "S01", "2026-01-02 10:00:00", "电话回访", contact=contact)
    f2 = crm.schedule_followup(acc, "S02", "2026-01-10 10:00:00", "寄送方案")
    assert crm.followups(overdue=True).empty
    assert list(crm.followups(within_hours=48)["followup_id"]) == [f1]
    crm.set_clock("2026-01-03 09:00:00")
    assert list(crm.followups(overdue=True)["followup_id"]) == [f1]
    crm.complete_followup(f1, activity_type="call", note="已沟通")
    act = one(db, "SELECT activity_id FROM followups WHERE followup_id = ?", (f1,))
    assert sql(db, "SELECT type, rep_id, account_id FROM activities WHERE activity_id = ?", (act,)) == [
        ("call", "S01", acc)]
    refused(crm, db, IllegalTransition, lambda: crm.complete_followup(f1))
    crm.cancel_followup(f2)
    assert crm.followups().empty


# -- tickets ------------------------------------------------------------------------------------
def test_ticket_cannot_be_closed_before_it_is_resolved(crm, db):
    acc, contact = a_contact(db)
    t = crm.open_ticket(acc, contact, "technical")
    err = refused(crm, db, IllegalTransition, lambda: crm.close_ticket(t))
    zh, en = both(err)
    assert t in zh and "处理中" in zh and "须先解决再关闭" in zh
    assert t in en and "'open'" in en and "must be resolved before it is closed" in en
    with CRM.open(db, user="s", lang="en_US") as en_crm:  # str(err) is in the session's language
        with pytest.raises(IllegalTransition, match="cannot be closed"):
            en_crm.close_ticket(t)


def test_ticket_lifecycle_assignment_escalation_and_roles(crm, db):
    acc, contact = a_contact(db)
    agent = one(db, "SELECT agent_id FROM agents WHERE role = 'agent' ORDER BY agent_id LIMIT 1")
    manager = one(db, "SELECT agent_id FROM agents WHERE role = 'manager' ORDER BY agent_id LIMIT 1")
    t = crm.open_ticket(acc, contact, "billing", channel="email", priority="high")
    other_contact = one(db, "SELECT contact_id FROM contacts WHERE account_id != ? LIMIT 1", (acc,))
    refused(crm, db, InvalidValue, lambda: crm.open_ticket(acc, other_contact, "billing"))
    refused(crm, db, InvalidValue, lambda: crm.open_ticket(acc, contact, "billing", priority="asap"))
    refused(crm, db, IllegalTransition, lambda: crm.answer_ticket(t))  # nobody assigned yet
    refused(crm, db, NotFound, lambda: crm.assign_ticket(t, "G99"))
    crm.assign_ticket(t, agent)
    refused(crm, db, InvalidValue, lambda: crm.escalate_ticket(t, agent))
    crm.escalate_ticket(t)
    assert sql(db, "SELECT escalated, assigned_to, agent_id FROM tickets WHERE ticket_id = ?", (t,)) == [
        (1, manager, agent)]
    err = refused(crm, db, IllegalTransition, lambda: crm.assign_ticket(t, agent))
    assert "manager" in err.message("en_US") and "主管" in err.message("zh_CN")
    refused(crm, db, IllegalTransition, lambda: crm.escalate_ticket(t))  # once only
    crm.advance(hours=1)
    crm.answer_ticket(t)
    crm.advance(hours=2)
    crm.resolve_ticket(t)
    refused(crm, db, IllegalTransition, lambda: crm.resolve_ticket(t))
    refused(crm, db, IllegalTransition, lambda: crm.assign_ticket(t, manager))
    crm.close_ticket(t)
    row = sql(db, "SELECT status, opened_at, first_response_at, resolved_at, closed_at, first_contact_resolution "
                  "FROM tickets WHERE ticket_id = ?", (t,))[0]
    assert row[0] == "resolved" and row[1] < row[2] < row[3] <= row[4] and row[5] == 0
    err = refused(crm, db, IllegalTransition, lambda: crm.close_ticket(t))
    assert "已关闭" in err.message("zh_CN")


def test_sla_status_moves_from_ok_to_due_soon_to_overdue(crm, db):
    acc, contact = a_contact(db)
    respond, resolve = sql(db, "SELECT respond_hours, resolve_hours FROM sla_policy WHERE priority = 'urgent'")[0]
    share = one(db, "SELECT value FROM ops_settings WHERE key = 'due_soon_share'")
    t = crm.open_ticket(acc, contact, "technical", priority="urgent")
    status = lambda: crm.ticket_inbox().set_index("ticket_id").loc[t, "sla_status"]
    assert status() == "ok"
    crm.advance(hours=respond * (1 - share / 2))  # less than `share` of the response window left
    assert status() == "due_soon"
    crm.advance(hours=respond * share)  # response window passed, no answer
    assert status() == "overdue"
    assert t in set(crm.ticket_inbox().query("sla_status == 'overdue'")["ticket_id"])
    crm.assign_ticket(t, "G01")
    crm.answer_ticket(t)
    assert status() == "ok"  # answered; resolution window still open
    crm.advance(hours=resolve)
    assert status() == "overdue"
    inbox = crm.ticket_inbox()
    assert inbox.iloc[0]["sla_status"] == "overdue"  # most urgent first
    assert set(inbox["ticket_id"]) == {r[0] for r in sql(db, "SELECT ticket_id FROM tickets WHERE status = 'open'")}


# -- complaints ---------------------------------------------------------------------------------
def test_complaints_use_the_databases_causes_one_per_ticket_and_close_after_the_ticket(crm, db):
    acc, contact = a_contact(db)
    causes = {r[0] for r in sql(db, "SELECT DISTINCT cause FROM complaints")}
    inquiry = crm.open_ticket(acc, contact, "inquiry")
    err = refused(crm, db, IllegalTransition, lambda: crm.register_complaint(inquiry, sorted(causes)[0], "low",
                                                                             "apology"))
    assert "咨询" in err.message("zh_CN") and "inquiry" in err.message("en_US")
    t = crm.open_ticket(acc, contact, "complaint")
    err = refused(crm, db, InvalidValue, lambda: crm.register_complaint(t, "bad_weather", "low", "apology"))
    assert all(c in err.message("en_US") for c in causes)
    refused(crm, db, InvalidValue, lambda: crm.register_complaint(t, sorted(causes)[0], "critical", "apology"))
    refused(crm, db, InvalidValue, lambda: crm.register_complaint(t, sorted(causes)[0], "low", "discount"))
    usual = sql(db, "SELECT recovery_cost, count(*) FROM complaints WHERE recovery_action = 'replacement' "
                    "GROUP BY recovery_cost")
    most = max(usual, key=lambda r: (r[1], -r[0]))[0]
    y = crm.register_complaint(t, sorted(causes)[0], "high", "replacement")
    assert sql(db, "SELECT ticket_id, account_id, recovery_cost, closed_at FROM complaints WHERE complaint_id = ?",
               (y,)) == [(t, acc, most, None)]
    refused(crm, db, Conflict, lambda: crm.register_complaint(t, sorted(causes)[0], "low", "apology"))
    err = refused(crm, db, IllegalTransition, lambda: crm.close_complaint(y))
    assert t in err.message("en_US")
    crm.assign_ticket(t, "G02")
    crm.resolve_ticket(t)
    crm.close_complaint(y)
    assert one(db, "SELECT closed_at FROM complaints WHERE complaint_id = ?", (y,)) == crm.now


# -- campaigns ----------------------------------------------------------------------------------
def test_campaign_enrolment_is_all_or_nothing_without_doubles(crm, db):
    ended = one(db, "SELECT campaign_id FROM campaigns ORDER BY ends_on LIMIT 1")
    accs = [r[0] for r in sql(db, "SELECT account_id FROM accounts ORDER BY account_id LIMIT 3")]
    err = refused(crm, db, IllegalTransition, lambda: crm.enrol(ended, accs[:1]))
    assert ended in err.message("en_US") and "ended" in err.message("en_US")
    crm.create_campaign("C2026NEWYEAR", "新年回访", "New-year call-back", "phone", "2026-01-01", "2026-01-31",
                        discount=0.05, cost_per_contact=20)
    refused(crm, db, Conflict, lambda: crm.create_campaign("C2026NEWYEAR", "x", "x", "phone", "2026-01-01", "2026-01-02"))
    refused(crm, db, InvalidValue, lambda: crm.create_campaign("C2026X", "x", "x", "phone", "2026-02-01", "2026-01-02"))
    crm.enrol("C2026NEWYEAR", accs[:2])
    err = refused(crm, db, Conflict, lambda: crm.enrol("C2026NEWYEAR", [accs[2], accs[1]]))
    assert accs[1] in err.message("zh_CN") and "double" in err.message("en_US")
    assert one(db, "SELECT count(*) FROM campaign_members WHERE campaign_id = 'C2026NEWYEAR'") == 2
    refused(crm, db, IllegalTransition, lambda: crm.record_response("C2026NEWYEAR", accs[2]))
    foreign_order = one(db, "SELECT order_id FROM orders WHERE account_id != ? LIMIT 1", (accs[0],))
    refused(crm, db, InvalidValue, lambda: crm.record_response("C2026NEWYEAR", accs[0], foreign_order))
    crm.advance(days=3)
    crm.record_response("C2026NEWYEAR", accs[0])
    refused(crm, db, Conflict, lambda: crm.record_response("C2026NEWYEAR", accs[0]))
    assert one(db, "SELECT responded_at FROM campaign_members WHERE campaign_id = 'C2026NEWYEAR' AND account_id = ?",
               (accs[0],)) == crm.now
    crm.set_clock("2026-02-01 00:00:00")
    refused(crm, db, IllegalTransition, lambda: crm.record_response("C2026NEWYEAR", accs[1]))


# -- value grades and segments --------------------------------------------------------------------
def test_value_grades_follow_the_briefs_two_by_two_grid(crm, db):
    threshold = float(one(db, "SELECT value FROM meta WHERE key = 'profit_threshold'"))
    rows = sql(db, "SELECT o.account_id, sum(l.quantity * l.unit_price), sum(l.quantity * (l.unit_price - l.unit_cost)),"
                   " sum(l.quantity) FROM orders o JOIN order_lines l USING (order_id) GROUP BY o.account_id")
    total = sum(r[1] for r in rows)
    expected, running = {}, 0.0
    for acc, revenue, profit, units in sorted(rows, key=lambda r: (-r[1], r[0])):
        volume = "A" if running < 0.8 * total else "B"  # in the group that makes up 80 % of revenue
        running += revenue
        expected[acc] = volume + ("A" if profit / units > threshold else "B")
    crm.grade_accounts()
    assert dict(sql(db, "SELECT account_id, grade FROM accounts WHERE grade IS NOT NULL")) == expected
    crm.set_segment("A0001", "重点客户")
    crm.set_grade("A0001", "BB")
    assert sql(db, "SELECT grade, segment FROM accounts WHERE account_id = 'A0001'") == [("BB", "重点客户")]
    err = refused(crm, db, InvalidValue, lambda: crm.set_grade("A0001", "CC"))
    assert "AA" in err.message("en_US") and "价值等级" in err.message("zh_CN")


# -- audit log, transactions ----------------------------------------------------------------------
def test_every_change_is_audited_with_before_and_after_and_the_log_is_append_only(crm, db):
    acc, contact = a_contact(db)
    t = crm.open_ticket(acc, contact, "order")
    crm.assign_ticket(t, "G01")
    rows = sql(db, "SELECT op_no, at, user, operation, record_table, record_id, before, after FROM audit_log "
                   "ORDER BY seq")
    assert [(r[3], r[4], r[5]) for r in rows] == [("ticket.open", "tickets", t), ("ticket.assign", "tickets", t)]
    assert rows[0][0] < rows[1][0] and {r[2] for r in rows} == {"student01"} and rows[0][1] == crm.now
    assert rows[0][6] is None and json.loads(rows[0][7])["status"] == "open"
    before, after = json.loads(rows[1][6]), json.loads(rows[1][7])
    assert before["assigned_to"] is None and after["assigned_to"] == "G01"
    refused(crm, db, IllegalTransition, lambda: crm.close_ticket(t))
    assert one(db, "SELECT count(*) FROM audit_log") == 2  # a refused operation writes nothing
    con = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("UPDATE audit_log SET user = 'someone else'")
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("DELETE FROM audit_log")
    con.close()


def test_an_operation_failing_halfway_is_rolled_back_entirely(crm, db, monkeypatch):
    """convert_lead writes an account and a contact before the opportunity; if the last step
    fails, the first ones must not stay."""
    lead = crm.create_lead("website", "k12", "回滚测试学校", "测试", "13900009999")
    crm.qualify_lead(lead)
    before = dump(db)
    refused(crm, db, NotFound, lambda: crm.convert_lead(lead, rep="S404", amount=1, email="x@y.cn", city="广州"))
    assert dump(db) == before


def test_error_messages_exist_in_both_languages_with_the_same_placeholders():
    for code, (zh, en) in MESSAGES.items():
        assert HAN.search(zh), code
        assert not HAN.search(en), code
        assert set(re.findall(r"{(\w+)", zh)) == set(re.findall(r"{(\w+)", en)), code
    for key, (zh, en) in LABELS.items():
        assert zh and en and not HAN.search(en), key


# -- read-only views ----------------------------------------------------------------------------------
def test_customer_360_brings_every_record_of_the_account_and_one_timeline(crm, db):
    acc = one(db, "SELECT account_id FROM tickets GROUP BY account_id ORDER BY count(*) DESC LIMIT 1")
    view = crm.customer_360(acc)
    for part, table in (("orders", "orders"), ("tickets", "tickets"), ("complaints", "complaints"),
                        ("contacts", "contacts"), ("csat", "csat"), ("opportunities", "opportunities")):
        assert len(view[part]) == one(db, f"SELECT count(*) FROM {table} WHERE account_id = ?", (acc,)), part
    revenue = one(db, "SELECT sum(l.quantity * l.unit_price) FROM orders o JOIN order_lines l USING (order_id) "
                      "WHERE o.account_id = ?", (acc,))
    assert view["profile"]["revenue"] == pytest.approx(revenue, abs=0.01)
    responses = one(db, "SELECT count(*) FROM survey_responses WHERE account_id = ?", (acc,))
    assert view["surveys"]["response_id"].nunique() == responses
    tl = view["timeline"]
    assert tl["at"].notna().all() and list(tl["at"]) == sorted(tl["at"])
    assert set(tl.query("kind == 'orders'")["record_id"]) == {r[0] for r in sql(
        db, "SELECT order_id FROM orders WHERE account_id = ?", (acc,))}
    assert len(tl.query("kind == 'tickets'")) == one(
        db, "SELECT count(*) + count(resolved_at) FROM tickets WHERE account_id = ?", (acc,))


def test_search_pipeline_and_inbox(crm, db):
    acc, name, phone, email = sql(db, "SELECT a.account_id, a.name, c.phone, c.email FROM accounts a "
                                      "JOIN contacts c USING (account_id) ORDER BY c.contact_id LIMIT 1")[0]
    assert acc in set(crm.search(name[1:4])["account_id"])
    digits = re.sub(r"\D", "", phone)
    spaced = f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    hits = crm.search(spaced)
    assert acc in set(hits.query("matched_on == 'phone'")["account_id"])
    assert acc in set(crm.search(email.upper())["account_id"])
    assert crm.search("").empty
    pipe = crm.pipeline()
    expected = dict(sql(db, "SELECT stage, count(*) FROM opportunities GROUP BY stage"))
    assert {s: n for s, n in pipe["opportunities"].items() if n} == expected
    open_amount = one(db, "SELECT sum(amount) FROM opportunities WHERE stage = 'proposal'") or 0
    assert pipe.loc["proposal", "amount"] == pytest.approx(open_amount, abs=0.01)
    assert list(pipe.index) == ["qualified", "proposal", "negotiation", "won", "lost"]
