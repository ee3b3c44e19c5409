"""State checkpoints: a condition fails with an explanation on the untouched database and passes
after the right operations; partial states earn partial points; conditions load from TOML and
bad ones are refused naming the condition."""
from __future__ import annotations

import shutil
import sqlite3

import pytest
from dbutil import one
from paths import REPO

from crmlab.crm import CRM, KINDS, check_state, load_conditions
from crmlab.crm.checks import reference


@pytest.fixture(scope="module")
def base_db(tmp_path_factory):
    from crmlab.simulator import simulate
    path = tmp_path_factory.mktemp("checks") / "base.db"
    simulate("education_services", 13, path, customers=200)
    return path


@pytest.fixture
def db(base_db, tmp_path):
    path = tmp_path / "crm.db"
    shutil.copy(base_db, path)
    return path


def test_ticket_target_fails_on_the_untouched_database_and_passes_after_the_work(db):
    ticket = one(db, "SELECT ticket_id FROM tickets WHERE status = 'open' ORDER BY ticket_id LIMIT 1")
    target = [{"id": "t1", "kind": "ticket_status", "ticket": ticket, "status": "resolved",
               "assigned_role": "manager", "points": 2}]
    before = check_state(db, target)  # read-only on a database the API never opened
    assert not before.passed and before.score == 0 and before.max_score == 2
    zh, en = before["t1"].explain("zh_CN"), before["t1"].explain("en_US")
    assert ticket in zh and "已解决" in zh and "主管" in zh
    assert ticket in en and "'resolved'" in en and "'manager'" in en
    assert one(db, "SELECT count(*) FROM meta WHERE key = 'ops_schema_version'") == 0  # the checker did not migrate

    with CRM.open(db, user="student01") as crm:
        agent = one(db, "SELECT agent_id FROM agents WHERE role = 'agent' LIMIT 1")
        crm.assign_ticket(ticket, agent)
    half = check_state(db, target)["t1"]  # assigned to an agent, still open: nothing met yet
    assert half.score == 0
    with CRM.open(db, user="student01") as crm:
        crm.escalate_ticket(ticket)
    half = check_state(db, target)["t1"]
    assert half.score == 1 and not half.passed  # the role is right, the status not yet
    assert "resolved" in half.explain("en_US") and "manager" not in half.explain("en_US")
    with CRM.open(db, user="student01") as crm:
        crm.resolve_ticket(ticket)
    done = check_state(db, target)
    assert done.passed and done.score == 2 and done["t1"].explain("en_US") == "Done."


def test_merge_target_counts_orders_independently(db):
    keep, gone = [r for r in sqlite3.connect(db).execute(
        "SELECT account_id FROM orders GROUP BY account_id ORDER BY count(*) DESC, account_id LIMIT 2")]
    keep, gone = keep[0], gone[0]
    total = one(db, "SELECT count(*) FROM orders WHERE account_id IN (?, ?)", (keep, gone))
    target = [{"kind": "accounts_merged", "accounts": [keep, gone], "orders_kept": total}]
    before = check_state(db, target)
    assert not before.passed
    assert gone in before.items[0].explain("en_US") and str(total) in before.items[0].explain("en_US")
    with CRM.open(db, user="s") as crm:
        crm.merge_accounts(keep, gone)
    assert check_state(db, target).passed
    wrong = check_state(db, [{"kind": "accounts_merged", "accounts": [keep, gone], "orders_kept": total + 1}])
    assert wrong.items[0].score == 0.5  # merged, but the count asked for is not what the survivor holds


def test_opportunity_target_with_quote_and_audit(db):
    opp = one(db, "SELECT opportunity_id FROM opportunities WHERE stage = 'proposal' ORDER BY opportunity_id LIMIT 1")
    target = [{"kind": "opportunity_stage", "opportunity": opp, "stage": "negotiation", "min_quote": 50000,
               "max_discount": 0.15},
              {"kind": "audited", "operation": "opportunity.quote", "record": opp}]
    before = check_state(db, target)
    assert [i.passed for i in before.items] == [False, False]
    assert "谈判" in before.items[0].explain("zh_CN")
    with CRM.open(db, user="s") as crm:
        crm.add_quote(opp, 60000, 0.1)
        crm.move_stage(opp, "negotiation")
    after = check_state(db, target)
    assert after.passed, after.to_frame("en_US").to_dict("records")
    with CRM.open(db, user="s") as crm:
        crm.add_quote(opp, 52000, 0.2)  # the latest quote now has too large a discount and is too low
    latest = check_state(db, target).items[0]
    assert latest.score == pytest.approx(1 / 3, abs=1e-3)
    assert "20.0%" in latest.explain("en_US")


def test_other_kinds_on_the_untouched_and_the_worked_database(db):
    acc = one(db, "SELECT account_id FROM contacts GROUP BY account_id HAVING count(*) = 1 LIMIT 1")
    conditions = load_conditions(f'''
[[conditions]]
id = "grade"
kind = "account_grade"
account = "{acc}"
grade = "AA"
segment = "重点客户"

[[conditions]]
id = "follow"
kind = "followup"
account = "{acc}"
due_before = "2026-01-31 00:00:00"

[[conditions]]
id = "visit"
kind = "activity"
account = "{acc}"
type = "visit"
since = "2026-01-01 00:00:00"

[[conditions]]
id = "members"
kind = "campaign_members"
campaign = "CTEST"
accounts = ["{acc}"]
responded = true

[[conditions]]
id = "contacts"
kind = "rows"
table = "contacts"
where = {{ account_id = "{acc}" }}
min = 2
points = 3
''')
    before = check_state(db, conditions)
    assert [i.passed for i in before.items] == [False] * 5
    assert before.score == 0 and before.max_score == 7
    with CRM.open(db, user="s") as crm:
        crm.set_grade(acc, "AA")
        crm.set_segment(acc, "重点客户")
        crm.schedule_followup(acc, "S01", "2026-01-20 10:00:00", "回访")
        crm.log_activity(acc, "visit", "S01")
        crm.create_campaign("CTEST", "测试", "Test", "email", "2026-01-01", "2026-01-31")
        crm.enrol("CTEST", [acc])
        crm.record_response("CTEST", acc)
        crm.create_contact(acc, "新联系人", "主任", "13700001111", "new@example.cn")
    after = check_state(db, conditions)
    assert after.passed, after.to_frame("en_US").to_dict("records")
    assert after.score == 7


def test_complaint_and_lead_kinds(db):
    lead = one(db, "SELECT lead_id FROM leads WHERE status = 'open' LIMIT 1")
    target = [{"kind": "lead_status", "lead": lead, "status": "converted"}]
    assert not check_state(db, target).passed
    with CRM.open(db, user="s") as crm:
        crm.qualify_lead(lead)
        crm.convert_lead(lead, rep="S01", amount=10000, email="x@example.cn", city="广州", allow_duplicate=True)
        acc, contact = sqlite3.connect(db).execute("SELECT account_id, contact_id FROM contacts LIMIT 1").fetchone()
        t = crm.open_ticket(acc, contact, "complaint")
    assert check_state(db, target).passed
    cause = one(db, "SELECT cause FROM complaint_causes ORDER BY cause LIMIT 1")
    complaint = [{"kind": "complaint", "ticket": t, "cause": cause, "severity": "high", "closed": True}]
    assert check_state(db, complaint).score == 0
    with CRM.open(db, user="s") as crm:
        crm.register_complaint(t, cause, "high", "compensation")
    partial = check_state(db, complaint).items[0]
    # four parts of the condition's 1 point: registered, its cause and its severity are right; not closed (a
    # complaint closes when its ticket is resolved): 3 of 4
    assert partial.score == 0.75 and "结案" in partial.explain("zh_CN")


def test_bad_conditions_are_refused_naming_the_condition():
    with pytest.raises(ValueError, match=r"conditions\[0\].*unknown kind 'ticket'"):
        check_state("unused.db", [{"kind": "ticket"}])
    with pytest.raises(ValueError, match="needs ticket"):
        check_state("unused.db", [{"kind": "ticket_status", "status": "open"}])
    with pytest.raises(ValueError, match="has no field colour"):
        check_state("unused.db", [{"kind": "ticket_status", "ticket": "T1", "status": "open", "colour": 1}])
    with pytest.raises(ValueError, match="at least one of"):
        check_state("unused.db", [{"kind": "ticket_status", "ticket": "T1"}])
    assert set(KINDS) >= {"ticket_status", "accounts_merged", "opportunity_stage", "rows", "audited"}


def test_the_design_notes_list_every_kind_as_declared():
    notes = (REPO / "docs" / "design.md").read_text(encoding="utf-8")
    assert reference() in notes


def test_a_database_path_with_spaces_is_read_only(tmp_path, base_db):
    path = tmp_path / "my course" / "crm 01.db"
    path.parent.mkdir()
    shutil.copy(base_db, path)
    before = path.read_bytes()
    result = check_state(path, [{"kind": "rows", "table": "accounts", "min": 1}])
    assert result.passed and path.read_bytes() == before
    with pytest.raises(FileNotFoundError):
        check_state(tmp_path / "missing.db", [{"kind": "rows", "table": "accounts", "min": 1}])
