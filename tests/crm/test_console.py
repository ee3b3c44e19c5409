"""The CRM console without a browser: every action goes through the API and into the action log,
a refused action shows the rule in the learner's language and changes nothing, the log replays to
an identical database (what grading relies on), and the language switch relabels the console.
Expected effects are read back with plain SQL, not through the console."""
from __future__ import annotations

import html
import json
import re
import shutil

import pytest
from dbutil import dump, sql

from crmlab.crm import CRM
from crmlab.crm.actions import LOG_NAME, ActionLog
from crmlab.crm.console import Console, ConsoleModel, funnel_png, replay, ticket_age_png

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="session")
def base_db(tmp_path_factory):
    """education_services, seed 3, 200 customers: same-name schools in one city, one open ticket."""
    from crmlab.simulator import simulate
    path = tmp_path_factory.mktemp("console") / "base.db"
    simulate("education_services", 3, path, customers=200)
    return path


def fresh(base_db, folder, name="crm.db"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    shutil.copy(base_db, path)
    return path


@pytest.fixture
def db(base_db, tmp_path):
    return fresh(base_db, tmp_path / "student")


def log_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def open_ticket(db):
    return sql(db, "SELECT ticket_id FROM tickets WHERE status = 'open' ORDER BY ticket_id LIMIT 1")[0][0]


def work(m: ConsoleModel, db) -> dict:
    """A morning's work through the console model, touching every action it offers, with time passing."""
    dup = m.crm.find_duplicate_accounts().iloc[0]
    survivor, merged = dup["account_a"], dup["account_b"]
    ticket = open_ticket(db)
    opp = sql(db, "SELECT opportunity_id FROM opportunities WHERE stage = 'proposal' ORDER BY opportunity_id LIMIT 1")[0][0]
    lost = sql(db, "SELECT opportunity_id FROM opportunities WHERE stage = 'qualified' ORDER BY opportunity_id LIMIT 1")[0][0]
    steps = [("account.merge", (survivor, merged), {}), ("account.grade", (survivor, "AA"), {}),
             ("account.segment", (survivor, "重点客户"), {}),
             ("activity.log", (survivor, "visit", "S01"), {"note": "拜访校长"}),
             ("followup.schedule", (survivor, "S01", "2026-01-05 10:00", "回访"), {}),
             ("ticket.assign", (ticket, "G01"), {}), ("ticket.escalate", (ticket,), {}),
             ("ticket.answer", (ticket,), {}), ("ticket.resolve", (ticket,), {}), ("ticket.close", (ticket,), {}),
             ("opportunity.quote", (opp, 50000, 0.1), {}), ("opportunity.stage", (opp, "negotiation"), {}),
             ("opportunity.stage", (opp, "won"), {}), ("opportunity.stage", (lost, "lost"), {"reason": "预算不足"})]
    for op, args, kwargs in steps:
        outcome = m.act(op, *args, **kwargs)
        assert outcome.ok, outcome.text
        assert HAN.search(outcome.text)
        m.advance(hours=1)
    return {"survivor": survivor, "merged": merged, "ticket": ticket, "opp": opp, "lost": lost, "steps": steps}


def test_every_console_action_goes_through_the_api_and_into_the_log(db):
    with ConsoleModel(db, user="student01") as m:
        start = m.crm.now
        w = work(m, db)
    s = w["survivor"]
    assert sql(db, "SELECT merged_into FROM accounts WHERE account_id = ?", (w["merged"],)) == [(s,)]
    assert sql(db, "SELECT grade, segment FROM accounts WHERE account_id = ?", (s,)) == [("AA", "重点客户")]
    assert sql(db, "SELECT type, rep_id, note FROM activities WHERE account_id = ? AND note IS NOT NULL", (s,)) == [
        ("visit", "S01", "拜访校长")]
    assert sql(db, "SELECT due_at, subject FROM followups WHERE account_id = ?", (s,)) == [("2026-01-05 10:00:00", "回访")]
    assert sql(db, "SELECT status, escalated, assigned_to, closed_at IS NOT NULL FROM tickets WHERE ticket_id = ?",
               (w["ticket"],)) == [("resolved", 1, "M01", 1)]
    assert sql(db, "SELECT stage, won_amount FROM opportunities WHERE opportunity_id = ?", (w["opp"],)) == [("won", 45000)]
    assert sql(db, "SELECT stage, lost_reason FROM opportunities WHERE opportunity_id = ?", (w["lost"],)) == [
        ("lost", "预算不足")]
    # one audited operation per action, by the student, in order, an hour apart on the CRM clock
    ops = sql(db, "SELECT operation, min(at), user FROM audit_log GROUP BY op_no ORDER BY op_no")
    assert [o for o, _, _ in ops] == [op for op, _, _ in w["steps"]]
    assert {u for _, _, u in ops} == {"student01"}
    # the log says the same, with the clock of each action and the data it was done on
    lines = log_lines(db.with_name(LOG_NAME))
    assert [(d["op"], d["at"]) for d in lines] == [(o, at) for o, at, _ in ops]
    assert lines[0]["at"] == start and lines[0]["args"] == [s, w["merged"]]
    (data,) = sql(db, "SELECT value FROM meta WHERE key = 'data_id'")[0]
    assert {d["data"] for d in lines} == {f"education_services/{data}/zh_CN/200/2026-01-01"}


def test_the_action_log_replays_to_the_same_database_and_only_once(base_db, db, tmp_path):
    with ConsoleModel(db, user="student01") as m:
        work(m, db)
    log = db.with_name(LOG_NAME)
    graded = fresh(base_db, tmp_path / "grader")            # what nbgrader gets: fresh data + the submitted log
    report = replay(graded, log)
    assert report.ok and len(report.applied) == len(log_lines(log)) and not report.skipped
    assert dump(graded) == dump(db)
    again = replay(graded, log)                               # a second replay finds everything done
    assert again.applied == [] and len(again.skipped) == len(report.applied)
    assert dump(graded) == dump(db)
    with ConsoleModel(db, user="student01") as m:             # reopening on the student's own database: nothing to do
        assert m.replay_report.applied == [] and m.replay_report.ok
    assert dump(graded) == dump(db)
    # the notebook cell itself replays: Console(...) on a fresh database with the submitted log beside it
    cell = fresh(base_db, tmp_path / "cell")
    shutil.copy(log, cell.with_name(LOG_NAME))
    console = Console(cell, user="student01")
    assert "已从操作日志重放 14 步" in console.w["status"].value
    console.close()
    assert dump(cell) == dump(db)


def test_identical_actions_are_replayed_one_for_one(base_db, db, tmp_path):
    acc = sql(db, "SELECT account_id FROM accounts ORDER BY account_id LIMIT 1")[0][0]
    with ConsoleModel(db, user="student01") as m:
        assert m.act("activity.log", acc, "call", "S02").ok
        assert m.act("activity.log", acc, "call", "S02").ok      # same call, same minute: two activities
    graded = fresh(base_db, tmp_path / "grader")
    assert len(replay(graded, db.with_name(LOG_NAME)).applied) == 2
    assert len(replay(graded, db.with_name(LOG_NAME)).skipped) == 2
    count = "SELECT count(*) FROM activities WHERE account_id = ? AND rep_id = 'S02' AND done_at = '2026-01-01 00:00:00'"
    assert sql(graded, count, (acc,)) == sql(db, count, (acc,)) == [(2,)]


def test_a_log_written_on_other_data_is_not_replayed(db, tmp_path):
    from crmlab.simulator import simulate
    with ConsoleModel(db, user="student01") as m:
        assert m.act("ticket.resolve", open_ticket(db)).ok
    other = tmp_path / "classmate" / "crm.db"
    other.parent.mkdir()
    simulate("education_services", 4, other, customers=200)
    CRM.open(other).close()  # migrated, so the comparison below sees only what replay does
    before = dump(other)
    report = replay(other, db.with_name(LOG_NAME), lang="en_US")
    assert not report.ok and report.applied == []
    (data,) = sql(db, "SELECT value FROM meta WHERE key = 'data_id'")[0]
    assert f"written on other data (education_services/{data}/" in report.messages("en_US")[1]
    assert HAN.search(report.messages("zh_CN")[1])
    assert dump(other) == before


def test_refused_actions_show_the_rule_in_the_learners_language_and_change_nothing(db):
    console = Console(db, user="student01", lang="zh_CN")
    ticket = open_ticket(db)
    before = dump(db)
    console.w["ticket_select"].value = ticket
    console.w["close"].click()                                      # open tickets are resolved before closing
    assert "crm-refused" in console.w["status"].value
    assert f"工单 {ticket} 当前为“处理中”，不能关闭" in console.w["status"].value
    console.w["lang"].value = "en_US"
    console.w["close"].click()
    assert f"Ticket {ticket} is 'open' and cannot be closed" in html.unescape(console.w["status"].value)
    console.w["tabs"].selected_index = 2
    console.w["quote_amount"].value = "12000"
    console.w["quote_discount"].value = "0.4"                       # over the 25 % a rep may give
    console.w["add_quote"].click()
    assert "exceeds the limit of 25.0%" in console.w["status"].value
    console.w["quote_amount"].value = "twelve thousand"
    console.w["add_quote"].click()
    assert "should be a number (got 'twelve thousand')" in html.unescape(console.w["status"].value)
    console.w["lost_reason"].value = " "
    console.w["close_lost"].click()
    assert "can only be marked lost with a reason" in console.w["status"].value
    console.close()
    assert dump(db) == before
    assert not db.with_name(LOG_NAME).exists()                      # refused actions are not logged


def test_nothing_is_done_when_the_log_cannot_be_written(db, tmp_path):
    with ConsoleModel(db, user="student01", log=tmp_path / "no-such-folder" / LOG_NAME) as m:
        before = dump(db)
        outcome = m.act("ticket.resolve", open_ticket(db))
    assert not outcome.ok and "无法写入" in outcome.text
    assert dump(db) == before


def test_customer_360_by_clicking_search_pick_merge_and_log(db):
    console = Console(db, user="student01")
    pair = console.model.crm.find_duplicate_accounts().iloc[0]
    console.w["search"].value = pair["name_a"]
    assert [v for _, v in console.w["results"].options][:2] == sorted([pair["account_a"], pair["account_b"]])
    console.w["results"].value = pair["account_a"]
    assert pair["account_a"] in console.w["profile"].value
    assert console.w["merge_pick"].value == pair["account_b"]
    console.w["merge"].click()
    assert "已完成：合并客户" in console.w["status"].value
    assert pair["account_b"] in console.w["profile"].value          # shown as merged in
    assert console.w["merge_pick"].value == ""                      # no more suggestions for it
    console.w["activity_note"].value = "电话回访"
    console.w["log_activity"].click()
    assert "电话回访" in console.w["detail_timeline"].value or "call" in console.w["detail_timeline"].value
    console.close()
    assert [d["op"] for d in log_lines(db.with_name(LOG_NAME))] == ["account.merge", "activity.log"]
    assert sql(db, "SELECT type, note FROM activities WHERE account_id = ? AND note IS NOT NULL",
               (pair["account_a"],)) == [("call", "电话回访")]


def test_what_was_typed_is_shown_as_text_not_markup(db):
    with CRM.open(db, user="teacher") as crm:                      # a name that is also HTML
        kind = crm._con.execute("SELECT kind FROM account_kinds ORDER BY kind LIMIT 1").fetchone()[0]
        acc = crm.create_account("<b>Bold</b> & Co", kind, "北京")
    console = Console(db, user="student01")
    console.w["search"].value = "bold"
    console.w["results"].value = acc
    profile = console.w["profile"].value
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; Co" in profile and "<b>Bold</b>" not in profile
    console.close()

def test_the_inbox_filters_and_colours_by_sla(db):
    with CRM.open(db, user="teacher") as crm:                      # an urgent ticket left for 10 hours: overdue
        acc, contact = sql(db, "SELECT account_id, contact_id FROM contacts ORDER BY contact_id LIMIT 1")[0]
        late = crm.open_ticket(acc, contact, "complaint", priority="urgent")
        crm.advance(hours=10)
        fine = crm.open_ticket(acc, contact, "inquiry", priority="low")
    console = Console(db, user="student01")
    table = console.w["inbox_table"].value
    assert re.search(rf"<tr style='background:#fde2e1[^']*'><td>{late}</td>", table)   # red
    assert re.search(rf"<tr style='background:#e3f3e3[^']*'><td>{fine}</td>", table)   # green
    console.w["f_sla"].value = "overdue"
    shown = [v for _, v in console.w["ticket_select"].options]
    assert late in shown and fine not in shown
    assert console.w["age_chart"].value[:8] == b"\x89PNG\r\n\x1a\n"
    console.close()


def test_the_language_switch_relabels_everything_and_keeps_the_selection(db):
    console = Console(db, user="student01", lang="zh_CN")
    acc, name = sql(db, "SELECT account_id, name FROM accounts ORDER BY account_id LIMIT 1")[0]
    console.w["search"].value = name
    console.w["results"].value = acc
    zh = {k: console.w[k].description for k in ("resolve", "merge", "add_quote", "search_go")}
    assert all(HAN.search(v) for v in zh.values()) and console.w["tabs"].titles[1] == "工单收件箱"
    console.w["lang"].value = "en_US"
    en = {k: console.w[k].description for k in zh}
    assert en == {"resolve": "Resolve", "merge": "Merge into this account", "add_quote": "Add quote",
                  "search_go": "Search"}
    assert console.w["tabs"].titles == ("Customer 360°", "Ticket inbox", "Pipeline")
    assert acc in console.w["profile"].value and "Revenue" in console.w["profile"].value
    console.close()


def test_charts_are_deterministic_pngs(db):
    with ConsoleModel(db) as m:
        inbox, _ = m.inbox()
        for lang in ("zh_CN", "en_US"):
            a = funnel_png(m.funnel_counts(), m.crm.pipeline(), lang, "¥")
            assert a[:8] == b"\x89PNG\r\n\x1a\n" and a == funnel_png(m.funnel_counts(), m.crm.pipeline(), lang, "¥")
            assert ticket_age_png(inbox, m.crm.now, lang) == ticket_age_png(inbox, m.crm.now, lang)
        assert m.funnel_counts().is_monotonic_decreasing


def test_unknown_operations_are_a_programming_error_not_a_learner_message(db):
    with ConsoleModel(db) as m:
        with pytest.raises(ValueError):
            m.act("ticket.delete", "T000001")
    bad = db.with_name(LOG_NAME)
    bad.write_text('{"v": 1, "op": "ticket.delete"}\nnot json\n', encoding="utf-8")
    actions, problems = ActionLog(bad).read()
    assert actions == [] and [p.line for p in problems] == [1, 2]
