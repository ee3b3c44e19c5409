"""Where the repository is, for the tests that read its files (docs, scenarios, datasets, the tests' own helpers):
the folder holding pyproject.toml, found by walking up from here, so a test file's depth under tests/ is no matter."""
from __future__ import annotations

from pathlib import Path

REPO = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
SUPPORT = Path(__file__).resolve().parent      # tests/support: the shared helpers (reactive_policy.py is read as text)
