"""The company as of a day (``Simulation.snapshot``): what a company-track module hands out at its day of the term.

Properties, not values: a snapshot shows nothing that happens after its day; what it shows of the past is what
every later snapshot and the finished run show of it (an order keeps its id and lines, an account its row); and
taking one changes nothing in the run that goes on."""
import datetime as dt
import re
import sqlite3

import pytest

from crmlab.simulator import open_run, save, simulate

SCENARIO, SEED, CUSTOMERS = "education_services", 21, 400
DAYS = (45, 130)      # neither a multiple of the 30-day lead batches nor of a week's step
# columns that may lie after the snapshot by their meaning: a deal's expected close is a forecast, a quote is valid
# until a later day, the campaign calendar is planned ahead (meta holds the scenario's own settings)
AHEAD = {("opportunities", "expected_close"), ("quotes", "valid_until"), ("campaigns", "starts_on"),
         ("campaigns", "ends_on")}
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _tables(path) -> dict[str, tuple[list[str], list[tuple]]]:
    with sqlite3.connect(path) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out = {}
        for name in names:
            cur = con.execute(f'SELECT * FROM "{name}" ORDER BY 1, 2')
            out[name] = ([d[0] for d in cur.description], cur.fetchall())
        return out


def _dump(path) -> str:
    with sqlite3.connect(path) as con:
        return "\n".join(con.iterdump())


@pytest.fixture(scope="module")
def company(tmp_path_factory):
    """The snapshots at DAYS, the finished run and a run never snapshotted, all of one company."""
    d = tmp_path_factory.mktemp("company")
    sim = open_run(SCENARIO, SEED, customers=CUSTOMERS)
    paths = {}
    for day in DAYS:
        sim.run(until_day=day)
        twin = sim.snapshot()
        save(twin, d / f"day{day}.db", d / f"day{day}_truth.db")
        paths[day] = d / f"day{day}.db"
    save(sim, d / "end.db", d / "end_truth.db")
    paths["end"] = d / "end.db"
    simulate(SCENARIO, SEED, d / "plain.db", customers=CUSTOMERS)
    paths["plain"] = d / "plain.db"
    return d, paths, {k: _tables(p) for k, p in paths.items()}


def _snapshot_date(tables) -> str:
    return dict(tables["meta"][1])["snapshot_date"]


def test_taking_a_snapshot_changes_nothing_in_the_run_that_goes_on(company):
    _, paths, _ = company
    assert _dump(paths["end"]) == _dump(paths["plain"])


@pytest.mark.parametrize("day", DAYS)
def test_a_snapshot_shows_nothing_that_happens_after_its_day(company, day):
    _, _, tables = company
    snap = tables[day]
    when = _snapshot_date(snap)
    start = dt.date.fromisoformat(dict(snap["meta"][1])["start_date"])
    assert when == (start + dt.timedelta(days=day)).isoformat()
    late = []
    for name, (cols, rows) in snap.items():
        if name == "meta":
            continue
        for j, col in enumerate(cols):
            if (name, col) in AHEAD:
                continue
            late += [(name, col, r[j]) for r in rows if isinstance(r[j], str) and STAMP.match(r[j]) and r[j] >= when]
    assert not late, late[:10]
    assert dict(snap["meta"][1])["days"] == str(day)


def test_a_snapshot_is_the_start_of_every_later_one(company):
    _, _, tables = company
    days = [*DAYS, "end"]
    for early, later in zip(days, days[1:]):
        a, b = tables[early], tables[later]
        when = _snapshot_date(a)
        # the orders before the day, with their lines: the same ids, contacts, products and quantities
        orders_a = a["orders"][1]
        assert orders_a, "no orders to compare"
        at = a["orders"][0].index("ordered_at")
        assert orders_a == [r for r in b["orders"][1] if r[at] < when]
        kept = {r[0] for r in orders_a}
        assert a["order_lines"][1] == [r for r in b["order_lines"][1] if r[0] in kept]
        # accounts and contacts: every one is still there with the same row (a prospect may have become a customer)
        since = a["accounts"][0].index("customer_since")
        rows_b = {r[0]: r for r in b["accounts"][1]}
        for r in a["accounts"][1]:
            assert r[:since] == rows_b[r[0]][:since]
            assert r[since] is None or r[since] == rows_b[r[0]][since]
        assert set(a["contacts"][1]) <= set(b["contacts"][1])
        # a lead keeps its id, company and arrival; an open one may be decided later, a decided one stays decided
        leads_b = {r[0]: r for r in b["leads"][1]}
        status = a["leads"][0].index("status")
        assert {r[0] for r in a["leads"][1]} <= set(leads_b)
        for r in a["leads"][1]:
            assert r[:status] == leads_b[r[0]][:status]
            assert r[status] == "open" or r == leads_b[r[0]]
        # calls that had ended, CSAT answers given: the same rows
        for name in ("calls", "csat", "stage_history"):
            assert set(a[name][1]) <= set(b[name][1]), name
        # and the company grows
        assert len(a["accounts"][1]) <= len(b["accounts"][1]) and len(orders_a) < len(b["orders"][1])


def test_a_snapshot_holds_leads_decided_later_open_and_their_accounts_not_yet(company):
    _, _, tables = company
    early, end = tables[DAYS[0]], tables["end"]
    cols = early["leads"][0]
    status, account = cols.index("status"), cols.index("account_id")
    later = {r[0]: r for r in end["leads"][1]}
    opened_then_decided = [r for r in early["leads"][1] if r[status] == "open" and later[r[0]][status] != "open"]
    assert opened_then_decided, "the test's days catch no lead under way"
    accounts = {r[0] for r in early["accounts"][1]}
    assert all(r[account] is None for r in opened_then_decided)
    converted_later = [later[r[0]][account] for r in opened_then_decided if later[r[0]][account]]
    assert converted_later and not accounts & set(converted_later)


def test_a_snapshots_ground_truth_covers_exactly_its_accounts(company):
    d, _, tables = company
    for day in DAYS:
        with sqlite3.connect(d / f"day{day}_truth.db") as con:
            truth = {r[0] for r in con.execute("SELECT account_id FROM latent_accounts")}
        assert truth == {r[0] for r in tables[day]["accounts"][1]}


def test_a_snapshot_is_taken_at_the_start_of_a_day():
    sim = open_run(SCENARIO, SEED, customers=50, days=30)
    sim.run(until_day=3.5)
    with pytest.raises(ValueError, match="start of a day"):
        sim.snapshot()
