"""Properties of the CRM API under random sequences of operations, valid and invalid mixed:

- no sequence breaks a constraint (integrity check, foreign keys) or our own invariants
  (nothing points at a merged record, closed tickets were resolved, stage history matches the
  stage, every change is audited);
- an operation that is refused leaves the database content exactly as it was (``iterdump``);
- every operation that changes the database writes to the audit log;
- an operation either succeeds or raises a DomainError that is not a constraint the API failed
  to check first (ConstraintViolation would mean a missing rule);
- the same sequence on two copies gives the same database.

A small simulated run (60 customers, half a year) is built once and copied for every example.
"""
from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmlab.crm import CRM, ConstraintViolation, DomainError
from crmlab.crm.migrate import referencing


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    return build_small_db(tmp_path_factory.mktemp("props") / "small.db")


def build_small_db(path: Path):
    """Simulate, migrate, and put a few records in every state; returns (path, pools of ids)."""
    from crmlab.simulator import simulate
    simulate("education_services", 5, path, customers=60, days=180)
    with CRM.open(path, user="setup") as crm:  # migrated once, with records in every state to work on
        accounts = [r[0] for r in crm._con.execute("SELECT account_id FROM contacts GROUP BY account_id "
                                                   "ORDER BY account_id LIMIT 6")]
        for k, acc in enumerate(accounts):
            contact = crm._con.execute("SELECT min(contact_id) FROM contacts WHERE account_id = ?", (acc,)).fetchone()[0]
            t = crm.open_ticket(acc, contact, ("complaint", "inquiry")[k % 2], priority=("urgent", "normal")[k % 2])
            if k % 3:
                crm.assign_ticket(t, "G01")
            if k % 3 == 2:
                crm.escalate_ticket(t)
            crm.schedule_followup(acc, "S01", "2026-01-10", "回访")
        for k in range(3):
            crm.qualify_lead(crm.create_lead("website", "k12", f"待转化学校{k}", "联系人", "13800002222"))
        crm.create_campaign("CNEW", "新活动", "New campaign", "email", "2025-06-01", "2026-03-31")
        crm.enrol("CNEW", accounts[:2])
    con = sqlite3.connect(path)
    pools = {
        # few accounts, so that random steps meet each other's records (merge chains, work on merged ones)
        "accounts": [r[0] for r in con.execute("SELECT account_id FROM contacts GROUP BY account_id "
                                               "ORDER BY account_id LIMIT 6")],
        "contacts": [r[0] for r in con.execute("SELECT contact_id FROM contacts ORDER BY contact_id LIMIT 12")],
        "tickets": [r[0] for r in con.execute("SELECT ticket_id FROM tickets ORDER BY ticket_id DESC LIMIT 10")],
        "opportunities": [r[0] for r in con.execute(
            "SELECT opportunity_id FROM opportunities ORDER BY stage IN ('won', 'lost'), opportunity_id LIMIT 8")],
        "followups": [r[0] for r in con.execute("SELECT followup_id FROM followups ORDER BY followup_id")],
        "leads": [r[0] for r in con.execute("SELECT * FROM (SELECT lead_id FROM leads WHERE status = 'open' LIMIT 3) "
                                            "UNION ALL SELECT * FROM (SELECT lead_id FROM leads WHERE status = "
                                            "'qualified' ORDER BY account_id IS NULL DESC, lead_id LIMIT 4)")],
        "causes": [r[0] for r in con.execute("SELECT cause FROM complaint_causes ORDER BY cause")],
    }
    con.close()
    return path, pools


# Ids a sequence can refer to: existing ones from the pools, ones created during the sequence
# (by position: "new ticket #k"), and ids that do not exist.
GHOST = {"accounts": "A9999", "contacts": "C99999", "tickets": "T999999", "opportunities": "Q99999",
         "leads": "L99999", "followups": "F99999", "complaints": "Y99999"}


def ref(kind, new=3):
    """Mostly existing records, some made earlier in the sequence, a few that do not exist."""
    return st.tuples(st.sampled_from(["pool"] * (9 - new) + ["new"] * new + ["ghost"]), st.just(kind),
                     st.integers(0, 11))


CONTACT = st.one_of(st.just("own"), st.just("own"), ref("contacts"))  # "own": the account's first active contact


# valid values are drawn more often than invalid ones, so that long sequences reach deep states
STAFF = st.sampled_from(["G01", "G02", "M01", "G01", "M01", "G77"])
REPS = st.sampled_from(["S01", "S02", "S01", "S99"])
TEXT = st.sampled_from(["", "价格", "competitor", "回访", "客户要求"])
AMOUNT = st.one_of(st.sampled_from([0, -5, 1000, 25000.5]), st.floats(1, 1e6))
DISCOUNT = st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.99, -0.1])
STAGE = st.sampled_from(["qualified", "proposal", "negotiation", "won", "lost", "proposal", "negotiation", "closing"])

STEPS = {
    "advance": st.tuples(st.just("advance"), st.sampled_from([0.5, 3, 30])),
    "create_account": st.tuples(st.just("create_account"), st.sampled_from(["新测试学校", "长沙交通职业学院", ""]),
              st.sampled_from(["k12", "training", "hospital"]), st.sampled_from(["长沙", "广州"]), st.booleans()),
    "create_contact": st.tuples(st.just("create_contact"), ref("accounts"), st.sampled_from(["13900001111", "12", "+86 138 0000 1111"]),
              st.sampled_from(["a@b.cn", "bad"])),
    "update_account": st.tuples(st.just("update_account"), ref("accounts"), st.sampled_from(["name", "city", "kind", "nope"]),
              st.sampled_from(["新名字", "", "university"])),
    "merge_accounts": st.tuples(st.just("merge_accounts"), ref("accounts"), ref("accounts")),
    "merge_contacts": st.tuples(st.just("merge_contacts"), ref("contacts"), ref("contacts")),
    "merge_contacts_of": st.tuples(st.just("merge_contacts_of"), ref("accounts")),  # two contacts of one account
    "open_ticket": st.tuples(st.just("open_ticket"), ref("accounts"), CONTACT,
              st.sampled_from(["complaint", "complaint", "inquiry", "billing", "bogus"]),
              st.sampled_from(["urgent", "normal", "low", "asap"])),
    "assign_ticket": st.tuples(st.just("assign_ticket"), ref("tickets", new=6), STAFF),
    "escalate_ticket": st.tuples(st.just("escalate_ticket"), ref("tickets", new=6), st.sampled_from([None, "M01", "G01"])),
    "answer_ticket": st.tuples(st.just("answer_ticket"), ref("tickets", new=6)),
    "resolve_ticket": st.tuples(st.just("resolve_ticket"), ref("tickets", new=6)),
    "close_ticket": st.tuples(st.just("close_ticket"), ref("tickets", new=6)),
    "register_complaint": st.tuples(st.just("register_complaint"), ref("tickets", new=6), st.integers(0, 5),
              st.sampled_from(["low", "high", "medium", "extreme"]),
              st.sampled_from(["apology", "refund", "compensation", "hug"])),
    "create_lead": st.tuples(st.just("create_lead"), st.sampled_from(["website", "cold_call", "nowhere"]),
              st.sampled_from(["k12", "university", "x"]), st.sampled_from(["某学校", "某大学", ""])),
    "qualify_lead": st.tuples(st.just("qualify_lead"), ref("leads")),
    "disqualify_lead": st.tuples(st.just("disqualify_lead"), ref("leads"), TEXT),
    "convert_lead": st.tuples(st.just("convert_lead"), ref("leads"), REPS, AMOUNT, st.sampled_from(["x@y.cn", "z@y.cn", "nope"])),
    "create_opportunity": st.tuples(st.just("create_opportunity"), ref("accounts"), REPS, AMOUNT),
    "move_stage": st.tuples(st.just("move_stage"), ref("opportunities"), STAGE, TEXT),
    "add_quote": st.tuples(st.just("add_quote"), ref("opportunities"), AMOUNT, DISCOUNT),
    "log_activity": st.tuples(st.just("log_activity"), ref("accounts"), st.sampled_from(["call", "visit", "fax"]), REPS,
              st.one_of(st.none(), st.none(), ref("opportunities"))),
    "schedule_followup": st.tuples(st.just("schedule_followup"), ref("accounts"), REPS, st.sampled_from(["2025-06-01", "2026-08-01", "2026-01-15"]),
              TEXT),
    "complete_followup": st.tuples(st.just("complete_followup"), ref("followups", new=6), st.sampled_from([None, "call", "visit", "fax"])),
    "create_campaign": st.tuples(st.just("create_campaign"), st.sampled_from(["2025-06-01", "2025-06-01", "2026-05-01"]),
              st.sampled_from(["CNEW", "CMORE"])),
    "enrol": st.tuples(st.just("enrol"), st.sampled_from(["CNEW", "CNEW", "CMORE", "C2025SPRING", "CNONE"]),
              st.lists(ref("accounts"), min_size=1, max_size=3)),
    "record_response": st.tuples(st.just("record_response"), st.sampled_from(["CNEW", "CNEW", "C2025SPRING"]), ref("accounts")),
    "set_grade": st.tuples(st.just("set_grade"), ref("accounts"), st.sampled_from(["AA", "BA", "ZZ"])),
    "grade_accounts": st.tuples(st.just("grade_accounts"),),
}
# Hypothesis' one_of favours its first branches; drawing the step's kind uniformly first keeps every
# operation equally likely. Merges count three times: their interactions (chains of merges, work on a
# merged record) are where bugs hide.
WEIGHTED = [name for name in STEPS for _ in range(3 if name.startswith("merge") else 1)]
OPS = st.sampled_from(WEIGHTED).flatmap(lambda name: STEPS[name])


class Runner:
    """Applies decoded operations to a CRM; remembers what each created so later steps can refer to it."""

    def __init__(self, crm: CRM, pools: dict):
        self.crm, self.pools = crm, pools
        self.created: dict[str, list[str]] = {k: [] for k in GHOST}

    def id(self, r):
        if r == "own":
            return None
        how, kind, k = r
        if how == "ghost":
            return GHOST[kind]
        if how == "new":
            made = self.created[kind]
            if made:
                return made[k % len(made)]
        pool = self.pools.get(kind) or [GHOST[kind]]
        return pool[k % len(pool)]

    def own_contact(self, account):
        row = self.crm._con.execute("SELECT contact_id FROM contacts WHERE account_id = ? AND merged_into IS NULL "
                                    "ORDER BY contact_id", (account,)).fetchone()
        return row[0] if row else GHOST["contacts"]

    def keep(self, kind, value):
        if isinstance(value, str):
            self.created[kind].append(value)
        return value

    def apply(self, op):
        c, name, a = self.crm, op[0], op[1:]
        i = self.id
        if name == "advance":
            return c.advance(hours=a[0])
        if name == "create_account":
            return self.keep("accounts", c.create_account(a[0], a[1], a[2], allow_duplicate=a[3]))
        if name == "create_contact":
            return self.keep("contacts", c.create_contact(i(a[0]), "测试人", "主任", a[1], a[2]))
        if name == "update_account":
            return c.update_account(i(a[0]), **{a[1]: a[2]})
        if name == "merge_accounts":
            return c.merge_accounts(i(a[0]), i(a[1]))
        if name == "merge_contacts_of":
            two = self.crm._con.execute("SELECT contact_id FROM contacts WHERE account_id = ? AND merged_into IS NULL "
                                        "ORDER BY contact_id LIMIT 2", (i(a[0]),)).fetchall()
            return c.merge_contacts(two[0][0], two[-1][0]) if two else c.merge_contacts(GHOST["contacts"], "C0")
        if name == "merge_contacts":
            return c.merge_contacts(i(a[0]), i(a[1]))
        if name == "open_ticket":
            account = i(a[0])
            contact = i(a[1]) if a[1] != "own" else self.own_contact(account)
            return self.keep("tickets", c.open_ticket(account, contact, a[2], priority=a[3]))
        if name in ("answer_ticket", "resolve_ticket", "close_ticket"):
            return getattr(c, name)(i(a[0]))
        if name == "assign_ticket":
            return c.assign_ticket(i(a[0]), a[1])
        if name == "escalate_ticket":
            return c.escalate_ticket(i(a[0]), a[1])
        if name == "register_complaint":
            causes = self.pools["causes"] + ["not_a_cause"]
            return self.keep("complaints", c.register_complaint(i(a[0]), causes[a[1] % len(causes)], a[2], a[3]))
        if name == "create_lead":
            return self.keep("leads", c.create_lead(a[0], a[1], a[2], "联系人", "13800001111"))
        if name == "qualify_lead":
            return c.qualify_lead(i(a[0]))
        if name == "disqualify_lead":
            return c.disqualify_lead(i(a[0]), a[1])
        if name == "convert_lead":
            out = c.convert_lead(i(a[0]), rep=a[1], amount=a[2], email=a[3], city="广州", allow_duplicate=True)
            self.keep("accounts", out["account"]), self.keep("contacts", out["contact"])
            return self.keep("opportunities", out["opportunity"])
        if name == "create_opportunity":
            return self.keep("opportunities", c.create_opportunity(i(a[0]), a[1], a[2]))
        if name == "move_stage":
            return c.move_stage(i(a[0]), a[1], reason=a[2], amount=None)
        if name == "add_quote":
            return c.add_quote(i(a[0]), a[1], a[2])
        if name == "log_activity":
            return c.log_activity(i(a[0]), a[1], a[2], opportunity=None if a[3] is None else i(a[3]))
        if name == "schedule_followup":
            return self.keep("followups", c.schedule_followup(i(a[0]), a[1], a[2], a[3]))
        if name == "complete_followup":
            return c.complete_followup(i(a[0]), activity_type=a[1])
        if name == "create_campaign":
            return c.create_campaign(a[1], "新活动", "New campaign", "email", a[0], "2026-03-31")
        if name == "enrol":
            return c.enrol(a[0], [i(x) for x in a[1]])
        if name == "record_response":
            return c.record_response(a[0], i(a[1]))
        if name == "set_grade":
            return c.set_grade(i(a[0]), a[1])
        if name == "grade_accounts":
            return c.grade_accounts()
        raise AssertionError(name)


def dump(con: sqlite3.Connection) -> str:
    return "\n".join(con.iterdump())


def check_invariants(path: Path) -> None:
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA foreign_keys = ON")
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        for target, key in (("accounts", "account_id"), ("contacts", "contact_id")):
            for table, col in referencing(con, target):
                bad = con.execute(f"SELECT count(*) FROM {table} t JOIN {target} x ON x.{key} = t.{col} "
                                  f"WHERE x.merged_into IS NOT NULL").fetchone()[0]
                assert bad == 0, f"{table}.{col} points at a merged {target}"
            # merges never chain: a survivor is itself active
            assert con.execute(f"SELECT count(*) FROM {target} a JOIN {target} b ON b.{key} = a.merged_into "
                               f"WHERE b.merged_into IS NOT NULL").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM tickets WHERE closed_at IS NOT NULL AND status = 'open'").fetchone()[0] == 0
        # an open opportunity's current stage is the last one it entered; a closed one ends in won/lost
        mismatched = con.execute(
            "SELECT count(*) FROM opportunities o WHERE o.stage != (SELECT h.stage FROM stage_history h WHERE "
            "h.opportunity_id = o.opportunity_id ORDER BY h.entered_at DESC, "
            "CASE h.stage WHEN 'qualified' THEN 0 WHEN 'proposal' THEN 1 WHEN 'negotiation' THEN 2 ELSE 3 END DESC "
            "LIMIT 1)").fetchone()[0]
        assert mismatched == 0
        assert con.execute("SELECT count(*) FROM opportunities WHERE stage = 'lost' AND closed_at >= "
                           "(SELECT value || ' 00:00:00' FROM meta WHERE key = 'snapshot_date') "
                           "AND (lost_reason IS NULL OR trim(lost_reason) = '')").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM campaign_members GROUP BY campaign_id, account_id "
                           "HAVING count(*) > 1").fetchall() == []
    finally:
        con.close()


def run_sequence(path: Path, pools: dict, ops: list, *, check_refusals: bool) -> list[str]:
    outcomes = []
    watcher = sqlite3.connect(path)
    with CRM.open(path, user="prop", lang="en_US") as crm:
        runner = Runner(crm, pools)
        for op in ops:
            before = dump(watcher) if check_refusals else None
            audit_before = watcher.execute("SELECT count(*) FROM audit_log").fetchone()[0]
            try:
                runner.apply(op)
            except ConstraintViolation as exc:  # the database caught what the API should have
                raise AssertionError(f"{op}: rule missing in the API: {exc}") from exc
            except DomainError as exc:
                outcomes.append(type(exc).__name__)
                assert exc.message("zh_CN") and exc.message("en_US")
                if check_refusals:
                    assert dump(watcher) == before, f"{op} was refused but changed the database"
            else:
                outcomes.append("ok")
                if check_refusals and dump(watcher) != before:  # every change leaves an audit row
                    assert watcher.execute("SELECT count(*) FROM audit_log").fetchone()[0] > audit_before, op
    watcher.close()
    return outcomes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=4, max_size=25))
def test_random_operations_keep_every_constraint_and_invariant(small_db, ops):
    """Cheap per step, so many long sequences: merges meet each other and later work."""
    base, pools = small_db
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crm.db"
        shutil.copy(base, path)
        run_sequence(path, pools, ops, check_refusals=False)
        check_invariants(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=1, max_size=14))
def test_refused_operations_change_nothing_and_every_change_is_audited(small_db, ops):
    """The database is dumped around every step, so fewer, shorter sequences."""
    base, pools = small_db
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "crm.db"
        shutil.copy(base, path)
        run_sequence(path, pools, ops, check_refusals=True)
        check_invariants(path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=1, max_size=12))
def test_the_same_sequence_gives_the_same_database(small_db, ops):
    base, pools = small_db
    with tempfile.TemporaryDirectory() as tmp:
        dumps, outcomes = [], []
        for name in ("a.db", "b.db"):
            path = Path(tmp) / name
            shutil.copy(base, path)
            outcomes.append(run_sequence(path, pools, ops, check_refusals=False))
            con = sqlite3.connect(path)
            dumps.append(dump(con))
            con.close()
        assert outcomes[0] == outcomes[1]
        assert dumps[0] == dumps[1]
