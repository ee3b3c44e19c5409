"""Shared fixtures. The installed package is tested: see pyproject's pytest settings (which also put
tests/support, the shared helpers, on the import path)."""
from __future__ import annotations

import pytest
from dbutil import dump as _dump


@pytest.fixture(scope="session")
def dump():
    """The whole content of an SQLite database as SQL text (dbutil.dump): equal dumps, equal databases."""
    return _dump
