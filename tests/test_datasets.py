"""Committed sample datasets are exactly what the simulator makes from their stated parameters."""
import sqlite3
from pathlib import Path

import pytest

from simulator import simulate

DATASETS = sorted((Path(__file__).resolve().parent.parent / "datasets").glob("*/*.db"))


@pytest.mark.parametrize("path", DATASETS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_regenerates_identically(path, tmp_path, dump):
    with sqlite3.connect(path) as con:
        meta = dict(con.execute("SELECT key, value FROM meta"))
        customers = con.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]
    again = simulate(meta["scenario"], int(meta["seed"]), tmp_path / "again.db", customers=customers,
                     locale=meta["locale"])
    assert dump(again.db_path) == dump(path)
    assert (path.parent / "README.md").exists(), "every dataset folder has a data card"


def test_there_are_samples_in_both_languages():
    assert {p.stem for p in DATASETS} >= {"crm_zh_CN", "crm_en_US"}
