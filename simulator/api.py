"""The simulator's public API."""
from __future__ import annotations

import hashlib
import numbers
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import engine, store
from .scenario import Scenario, load_scenario


FORMATS = ("sqlite", "parquet")


@dataclass(frozen=True)
class SimResult:
    db_path: Path                   # the SQLite file, or the folder of Parquet files
    truth_path: Path | None
    scenario: Scenario
    seed: int
    tables: tuple[str, ...] = ()    # the tables written
    format: str = "sqlite"

    def frames(self, truth: bool = False) -> dict[str, pd.DataFrame]:
        """Every table of the CRM database (or of the ground-truth store) as a DataFrame."""
        path = self.truth_path if truth else self.db_path
        if path is None:
            raise ValueError("this run wrote no ground-truth store")
        if self.format == "parquet" and not truth:
            return {p.stem: pd.read_parquet(p) for p in sorted(path.glob("*.parquet"))}
        with sqlite3.connect(path) as con:
            names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
            return {n: pd.read_sql_query(f'SELECT * FROM "{n}"', con) for n in names}


def open_run(scenario: str | Path | Scenario, seed: int, *, customers: int | None = None, days: int | None = None,
             locale: str | None = None, tables=None) -> "engine.Simulation":
    """A run to step through: ``sim.run(until_day=90)``, ``sim.set_policy(staffing=[…])``,
    ``sim.kpis()``, … then ``save(sim, "crm.db")``. ``tables``: the tables it will be saved with (default:
    all; each comes with the tables its keys point at); what only other tables need is not built."""
    return engine.Simulation(_scenario(scenario, customers, days, locale), _seed(seed), tables=_tables(tables))


def resume(path: str | Path, *, progress=None) -> "engine.Simulation":
    """A run saved with ``sim.checkpoint(path)``, to step on from where it was: ``run(until_day)``,
    ``set_policy(…)``, ``save(…)``. It goes on exactly as the saved run would have."""
    from .checkpoint import load_run
    sim = load_run(path)
    sim.progress = progress
    return sim


def _scenario(scenario, customers, days, locale) -> Scenario:
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if customers or days or locale:
        scenario = scenario.with_overrides(customers=customers, days=days, locale=locale)
    return scenario


def _seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**63:
        raise ValueError("seed must be an integer in [0, 2**63)")
    return int(seed)


def _tables(tables) -> frozenset[str] | None:
    if tables is None:
        return None
    if isinstance(tables, str):
        raise ValueError(f"tables is a list of table names, not the text {tables!r}")
    return frozenset(store.with_parents(tables))


def simulate(scenario: str | Path | Scenario, seed: int, out: str | Path, truth: str | Path | None = None, *,
             customers: int | None = None, days: int | None = None, locale: str | None = None,
             progress=None, reveal_seed: bool = True, tables=None, format: str = "sqlite") -> SimResult:
    """Run ``scenario`` with ``seed``; write the CRM database to ``out`` and, if asked, the
    ground truth to ``truth``. Same scenario + seed ⇒ identical database content. ``tables``: the tables
    to write (default: all), each with the tables its keys point at — a table written holds the same rows
    as in the whole database. ``format="parquet"``: ``out`` is a folder with one Parquet file per table."""
    sim = engine.Simulation(_scenario(scenario, customers, days, locale), _seed(seed), progress=progress,
                            tables=_tables(tables))
    sim.finish()
    return save(sim, out, truth, reveal_seed=reveal_seed, format=format)


def save(sim: "engine.Simulation", out: str | Path, truth: str | Path | None = None, *,
         reveal_seed: bool = True, tables=None, format: str = "sqlite") -> SimResult:
    """Write a finished (or stepped) run: the CRM database and, if asked, the ground truth.
    ``reveal_seed=False`` leaves the seed out of the database's ``meta`` (students' data: with the
    seed and the simulator anyone could recompute the ground truth). ``tables`` (default: those the run
    was opened with) and ``format`` as for :func:`simulate`."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    wanted = sim.tables if tables is None else _tables(tables)
    if sim.tables is not None and wanted is not None and not wanted <= sim.tables:
        raise ValueError(f"this run was opened for the tables {', '.join(sorted(sim.tables))}; it cannot save "
                         f"{', '.join(sorted(wanted - sim.tables))}")
    if sim.tables is not None and wanted is None:
        raise ValueError("this run was opened for some tables only: save those (tables=None cannot mean all)")
    sim.finish()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write = store.write_parquet if format == "parquet" else store.write_database
    written = write(out, sim, reveal_seed=reveal_seed, tables=wanted)
    truth_path = None
    if truth is not None:
        truth_path = Path(truth)
        truth_path.parent.mkdir(parents=True, exist_ok=True)
        store.write_truth(truth_path, sim)
    return SimResult(out, truth_path, sim.scenario, sim.seed, tuple(written), format)


def student_seed(course_id: str, module_id: str, student_id: str, secret: str = "") -> int:
    """A stable seed for one student's data in one module: the same on every machine, process
    and Python hash seed (sha256, never ``hash()``). ``secret``, the course's own (kept by the
    grader), makes it impossible to work out from the public ids."""
    key = "\x1f".join((course_id, module_id, student_id) + ((secret,) if secret else ())).encode("utf-8")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") >> 1
