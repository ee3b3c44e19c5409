"""Fixtures of the simulator's tests."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def sim_db(tmp_path_factory):
    """One default education-services run (seed 7), with its ground-truth store."""
    from crmlab.simulator import simulate
    d = tmp_path_factory.mktemp("sim")
    return simulate("education_services", 7, d / "crm.db", truth=d / "truth.db")
