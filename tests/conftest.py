"""Shared fixtures. The installed package is tested: see pyproject's pytest settings."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest


def _dump(path: Path) -> str:
    """The whole content of an SQLite database as SQL text (like `sqlite3 a.db .dump`)."""
    con = sqlite3.connect(path)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


@pytest.fixture(scope="session")
def dump():
    return _dump


@pytest.fixture(scope="session")
def sim_db(tmp_path_factory):
    """One default education-services run (seed 7), with its ground-truth store."""
    from crmlab.simulator import simulate
    d = tmp_path_factory.mktemp("sim")
    return simulate("education_services", 7, d / "crm.db", truth=d / "truth.db")
