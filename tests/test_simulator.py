"""The simulator: a real relational database, deterministic, truth kept apart, queueing right."""
import math
import sqlite3

import numpy as np
import pandas as pd
import pytest
import simpy

from simulator import simulate, student_seed
from simulator.engine import CallCentre

LATENT = {"value_tier", "churned_at", "campaign_propensity", "order_rate_per_year", "call_rate_per_year"}


def test_same_seed_same_database_other_seed_other_data(tmp_path, sim_db, dump):
    again = simulate("education_services", 7, tmp_path / "again.db")
    other = simulate("education_services", 8, tmp_path / "other.db")
    assert dump(again.db_path) == dump(sim_db.db_path)
    assert dump(other.db_path) != dump(sim_db.db_path)


def test_schema_has_keys_and_constraints_and_data_satisfies_them(sim_db):
    con = sqlite3.connect(sim_db.db_path)
    con.execute("PRAGMA foreign_keys = ON")
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    fks = {t: {r[2] for r in con.execute(f"PRAGMA foreign_key_list({t})")}
           for t in ("contacts", "orders", "order_lines", "calls")}
    assert fks == {"contacts": {"accounts"}, "orders": {"accounts", "contacts"},
                   "order_lines": {"orders", "products"}, "calls": {"accounts", "contacts", "agents"}}
    order_id = con.execute("SELECT order_id FROM orders LIMIT 1").fetchone()[0]
    with pytest.raises(sqlite3.IntegrityError):  # CHECK quantity > 0
        con.execute("INSERT INTO order_lines VALUES (?, 99, 'P01', 0, 10, 5)", (order_id,))
    with pytest.raises(sqlite3.IntegrityError):  # FOREIGN KEY
        con.execute("INSERT INTO orders VALUES ('O99999', 'A9999', 'C00001', '2025-03-01 10:00:00')")
    with pytest.raises(sqlite3.IntegrityError):  # NOT NULL
        con.execute("INSERT INTO accounts VALUES ('A9999', NULL, 'k12', 'x', 'y', '2020-01-01')")
    with pytest.raises(sqlite3.IntegrityError):  # answered before it arrived
        con.execute("INSERT INTO calls VALUES ('K99999', 'A0001', 'C00001', 'G01', 'inquiry', "
                    "'2025-03-01 10:00:00', '2025-03-01 09:00:00', '2025-03-01 10:30:00')")


def test_ground_truth_never_reaches_the_student_database(sim_db):
    student = sim_db.frames()
    columns = {c for df in student.values() for c in df.columns}
    assert not columns & LATENT
    truth = sim_db.frames(truth=True)["latent_accounts"]
    assert set(truth["account_id"]) == set(student["accounts"]["account_id"])


def test_churned_accounts_stop_buying_and_calling(sim_db):
    f, truth = sim_db.frames(), sim_db.frames(truth=True)["latent_accounts"]
    churned = truth.dropna(subset=["churned_at"]).set_index("account_id")["churned_at"]
    assert len(churned) > 0
    for table, col in (("orders", "ordered_at"), ("calls", "arrived_at")):
        events = f[table][f[table]["account_id"].isin(churned.index)]
        assert (events[col].to_numpy() < churned.reindex(events["account_id"]).to_numpy()).all()


def test_call_centre_invariants(sim_db):
    calls = sim_db.frames()["calls"]
    for col in ("arrived_at", "answered_at", "ended_at"):
        calls[col] = pd.to_datetime(calls[col])
    # open hours 09:00–17:30 on weekdays
    t = calls["arrived_at"]
    minutes = t.dt.hour * 60 + t.dt.minute
    assert (t.dt.day_of_week < 5).all() and minutes.between(9 * 60, 17 * 60 + 30).all()
    # an agent talks to one caller at a time
    for _, g in calls.sort_values("answered_at").groupby("agent_id"):
        assert (g["answered_at"].to_numpy()[1:] >= g["ended_at"].to_numpy()[:-1]).all()
    # one queue, first come first served: calls are answered in the order they arrived
    ordered = calls.sort_values(["arrived_at", "call_id"])
    assert ordered["answered_at"].is_monotonic_increasing


def _erlang_c(lam, mu, c):
    a = lam / mu
    top = a**c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait, p_wait / (c * mu - lam)


def _simulate_mmc(lam, mu, c, n, seed):
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    centre = CallCentre(env, [f"G{i}" for i in range(c)])
    waits = []

    def call(service):
        arrived = env.now
        _, answered, _ = yield env.process(centre.serve(service))
        waits.append(answered - arrived)

    def source():
        for gap, service in zip(rng.exponential(1 / lam, n), rng.exponential(1 / mu, n)):
            yield env.timeout(gap)
            env.process(call(service))

    env.process(source())
    env.run()
    w = np.array(waits[n // 20:])  # drop the warm-up
    return (w > 0).mean(), w.mean()


@pytest.mark.parametrize("n, tol", [
    pytest.param(150_000, 0.08, id="fast"),
    pytest.param(1_000_000, 0.03, id="long", marks=pytest.mark.slow),
])
def test_call_centre_matches_erlang_c(n, tol):
    """M/M/3 with λ=2/min, μ=1/min: Erlang C gives P(wait)=4/9 and mean wait 4/9 min."""
    p_want, w_want = _erlang_c(2.0, 1.0, 3)
    assert p_want == pytest.approx(4 / 9) and w_want == pytest.approx(4 / 9)  # hand-computed
    p, w = _simulate_mmc(2.0, 1.0, 3, n, seed=11)
    assert p == pytest.approx(p_want, rel=tol / 2)
    assert w == pytest.approx(w_want, rel=tol)


def test_value_grid_of_the_case_emerges_from_the_data(tmp_path):
    """The brief's case: universities AA, K-12 AB, vocational BA, training BB (majority per kind)."""
    for seed in (1, 2, 3):
        f = simulate("education_services", seed, tmp_path / f"{seed}.db").frames()
        lines = f["order_lines"].merge(f["orders"], on="order_id").merge(f["accounts"], on="account_id")
        lines["revenue"] = lines["quantity"] * lines["unit_price"]
        lines["profit"] = lines["quantity"] * (lines["unit_price"] - lines["unit_cost"])
        acc = lines.groupby(["account_id", "kind"])[["revenue", "profit", "quantity"]].sum().reset_index()
        acc = acc.sort_values(["revenue", "account_id"], ascending=[False, True])
        before = acc["revenue"].cumsum().shift(fill_value=0) / acc["revenue"].sum()
        acc["grade"] = (np.where(before < 0.8, "A", "B").astype(object)
                        + np.where(acc["profit"] / acc["quantity"] > 1500, "A", "B").astype(object))
        majority = acc.groupby("kind")["grade"].agg(lambda g: g.value_counts().idxmax()).to_dict()
        assert majority == {"university": "AA", "k12": "AB", "vocational": "BA", "training": "BB"}


@pytest.mark.parametrize("locale, script", [("zh_CN", "cjk"), ("en_US", "latin")])
def test_names_follow_the_locale(tmp_path, locale, script):
    f = simulate("education_services", 3, tmp_path / "l.db", customers=20, locale=locale).frames()
    names = " ".join(f["contacts"]["name"]) + " ".join(f["accounts"]["name"])
    has_cjk = any("\u4e00" <= ch <= "\u9fff" for ch in names)
    assert has_cjk == (script == "cjk")
    assert f["meta"].set_index("key").loc["locale", "value"] == locale


def test_student_seed_is_stable_and_personal():
    a = student_seed("crm-course", "m01", "s001")
    assert a == student_seed("crm-course", "m01", "s001")
    others = {student_seed("crm-course", "m01", "s002"), student_seed("crm-course", "m02", "s001"),
              student_seed("other-course", "m01", "s001")}
    assert a not in others and len(others) == 3
    assert 0 <= a < 2**63
