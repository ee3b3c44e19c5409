"""Where the project's data folders are, declared once: the scenarios, the shipped course, the datasets, the docs.

They sit beside the packages in the source tree (the project's agreed layout); everything that reads them takes
the path from here. (An installed wheel would need them as package data: issue 20's part.)
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"            # the industry cases (TOML) and the role-play scenes (scenarios/roleplay)
COURSE = ROOT / "course"                  # the shipped course: modules, checks, demo answers, crmlab.toml template
DATASETS = ROOT / "datasets"              # the published sample databases and their data cards
DOCS = ROOT / "docs"
