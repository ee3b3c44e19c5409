"""The company dashboard (crm/dashboard.py): its figures on a database made by hand, where each one can be worked out
on paper, and on a student's company-track hand-out, where it shows the term's modules and renders in Chinese."""
from __future__ import annotations

import math
import sqlite3

import pandas as pd
import pytest

from crmlab.crm import company_dashboard, company_kpis

SCHEMA = __import__("crmlab.simulator.store", fromlist=["SCHEMA"]).SCHEMA


@pytest.fixture()
def tiny(tmp_path):
    """Two accounts, three orders, five calls (one a manager's escalation), three CSAT answers; the data runs to
    14 August 2025 (snapshot 15 August), so its third quarter is partial."""
    path = tmp_path / "crm.db"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA.read_text(encoding="utf-8"))
    con.executemany("INSERT INTO meta VALUES (?, ?)", [("snapshot_date", "2025-08-15"), ("start_date", "2025-01-01"),
                                                      ("sla_seconds", "20"), ("days", "226")])
    orders = [("O000001", "A0001", "2025-01-10 10:00:00"), ("O000002", "A0002", "2025-02-01 11:00:00"),
              ("O000003", "A0001", "2025-05-01 09:30:00")]
    con.executemany("INSERT INTO orders VALUES (?, ?, 'C00001', ?, 'repeat', NULL, NULL)", orders)
    con.executemany("INSERT INTO order_lines VALUES (?, ?, 'P1', ?, ?, 1)",
                    [("O000001", 1, 2, 100.0), ("O000002", 1, 1, 50.0), ("O000003", 1, 1, 30.0)])
    calls = [  # (id, arrived, answered or None, callback_of): waits 0 s, 10 s, 30 s, one hung up, one escalation
        ("K000001", "2025-02-03 09:00:00", "2025-02-03 09:00:00", None),
        ("K000002", "2025-02-03 09:05:00", "2025-02-03 09:05:10", None),
        ("K000003", "2025-03-03 09:00:00", "2025-03-03 09:00:30", None),
        ("K000004", "2025-03-04 09:00:00", None, None),
        ("K000005", "2025-03-04 22:00:00", "2025-03-05 08:00:00", "escalation"),
    ]
    con.executemany("INSERT INTO calls VALUES (?, 'T000001', 'A0001', 'C00001', ?, 'inquiry', 1, ?, ?, ?, ?, ?)",
                    [(k, None if ans is None else "G01", arr, ans, cb, int(ans is None), ans or arr)
                     for k, arr, ans, cb in calls])
    con.executemany("INSERT INTO csat VALUES (?, 'A0001', ?, ?)",
                    [("T000001", "2025-02-04 10:00:00", 4), ("T000002", "2025-03-10 10:00:00", 5),
                     ("T000003", "2025-06-01 10:00:00", 2)])
    con.commit()
    con.close()
    return path


def test_the_figures_are_those_worked_out_by_hand(tiny):
    k = company_kpis(tiny)
    assert [f"{q.year}Q{q.quarter}" for q in k.index] == ["2025Q1", "2025Q2", "2025Q3"]
    assert k["partial"].tolist() == [False, False, True]
    assert k["end"].iloc[-1] == pd.Timestamp("2025-08-14")
    # revenue: 2 × 100 + 50 in Q1, 30 in Q2, nothing in Q3
    assert k["revenue"].tolist() == [250.0, 30.0, 0.0]
    # active at 1 April: both ordered within 180 days; at 1 July: both (A2's 1 February is 150 days before);
    # at 15 August: only A1 (A2's last order 195 days before) — so one lost in Q3
    assert k["active_customers"].tolist() == [2, 2, 1]
    assert k["lost_customers"].tolist() == [0, 0, 1]
    # service level in Q1: of four calls to the agents, two answered within 20 s (the escalation is not counted)
    assert k["service_level"].iloc[0] == 0.5 and math.isnan(k["service_level"].iloc[1])
    # satisfaction: (4 + 5) / 2 in Q1, 2 in Q2, none in Q3
    assert k["satisfaction"].iloc[0] == 4.5 and k["satisfaction"].iloc[1] == 2.0 and math.isnan(k["satisfaction"].iloc[2])


def test_the_page_names_each_quarter_and_marks_the_partial_one_in_both_languages(tiny):
    zh, en = company_dashboard(tiny).html(), company_dashboard(tiny, lang="en_US").html()
    assert "我的公司 · 截至 2025-08-15" in zh and "2025Q3（未满）" in zh and "50%" in zh and "服务水平" in zh
    assert "My company · as of 2025-08-15" in en and "2025Q3 (so far)" in en and "Service level" in en
    assert "data:image/png;base64," in zh


def test_a_database_without_orders_or_calls_says_so(tmp_path):
    path = tmp_path / "empty.db"
    with sqlite3.connect(path) as con:
        con.executescript(SCHEMA.read_text(encoding="utf-8"))
        con.executemany("INSERT INTO meta VALUES (?, ?)", [("snapshot_date", "2025-02-01"), ("start_date", "2025-01-01")])
    assert company_kpis(path).empty
    assert "还没有订单或来电" in company_dashboard(path).html()


def test_a_database_without_some_tables_shows_the_rest(tiny):
    """A module's database holds the tables it needs (m04's has no calls): their figures are left empty."""
    with sqlite3.connect(tiny) as con:
        con.execute("DROP TABLE calls")
        con.execute("DROP TABLE csat")
    k = company_kpis(tiny)
    assert k["revenue"].tolist() == [250.0, 30.0, 0.0] and k["service_level"].isna().all() and k["satisfaction"].isna().all()
    assert "2025Q1" in company_dashboard(tiny).html()
