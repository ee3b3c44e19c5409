"""Committed sample datasets are exactly what the simulator makes from their stated parameters."""
import sqlite3

import pytest
from paths import REPO

from crmlab.simulator import builtin_scenarios, simulate

DATASETS_DIR = REPO / "datasets"
DATASETS = sorted(DATASETS_DIR.glob("*/*.db"))


@pytest.mark.parametrize("path", DATASETS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_regenerates_identically(path, tmp_path, dump):
    with sqlite3.connect(path) as con:
        meta = dict(con.execute("SELECT key, value FROM meta"))
    again = simulate(meta["scenario"], int(meta["seed"]), tmp_path / "again.db", customers=int(meta["customers"]),
                     days=int(meta["days"]), locale=meta["locale"])
    assert dump(again.db_path) == dump(path)
    assert (path.parent / "README.md").exists(), "every dataset folder has a data card"


def test_every_scenario_has_samples_in_both_languages_and_a_current_data_card():
    from crmlab.simulator.samples import card
    for name in builtin_scenarios():
        folder = DATASETS_DIR / name
        assert {p.name for p in folder.glob("*.db")} == {"crm_zh_CN.db", "crm_en_US.db"}, name
        with sqlite3.connect(folder / "crm_zh_CN.db") as con:
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")]
            counts = {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
        assert (folder / "README.md").read_text(encoding="utf-8") == card(name, counts), \
            f"regenerate with: python -m crmlab.simulator.samples ({name})"


def test_data_dictionary_is_current():
    from crmlab.simulator.dictionary import markdown
    assert (DATASETS_DIR / "DATA_DICTIONARY.md").read_text(encoding="utf-8") == markdown(), \
        "regenerate with: python -m crmlab.simulator.samples"
