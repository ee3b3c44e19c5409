"""Fingerprints of simulated data: every table's rows hashed, for every built-in scenario in both languages.

    python benchmarks/fingerprint.py --out before.json            # on the old code
    python benchmarks/fingerprint.py --compare before.json        # on the new code: exit 1 on any difference

A storage or engine change must leave the data as it was (or come with a new simulator version): this
is the check. Each case is simulated in a fresh process, with its ground truth; for every table of
both files the row count and two sha256 digests are kept — of the rows in the order the table gives
them (``SELECT *``, what ``.dump`` writes) and of the rows sorted (the content whatever the storage
order). Cases: each scenario × zh_CN/en_US at its own size; each scenario at 3,000 customers; a
stepped run with policy changes (airline_service); ``--big`` adds the m06 student's 30,000 passengers.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def digest(path: Path) -> dict[str, list]:
    con = sqlite3.connect(path)
    try:
        out = {}
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for name in names:
            rows = con.execute(f'SELECT * FROM "{name}"').fetchall()
            as_given = hashlib.sha256(repr(rows).encode()).hexdigest()
            ordered = hashlib.sha256(repr(sorted(rows, key=repr)).encode()).hexdigest()
            out[name] = [len(rows), as_given[:16], ordered[:16]]
        return out
    finally:
        con.close()


def case(spec: dict, tmp: str) -> dict:
    from crmlab.simulator import api
    db, truth = Path(tmp) / "crm.db", Path(tmp) / "truth.db"
    if spec.get("stepped"):
        sim = api.open_run(spec["scenario"], spec["seed"], customers=spec.get("customers"), locale=spec.get("locale"))
        sim.run(until_day=60)
        sim.set_policy(staffing=[min(x + 1, sim.scenario.service.agents) for x in sim.policy.staffing],
                       recovery={"high": "refund"})
        sim.run(until_day=200)
        sim.set_policy(priority={k.id: 9 - k.priority for k in sim.scenario.customer_kinds})
        api.save(sim, db, truth)
    else:
        api.simulate(spec["scenario"], spec["seed"], db, truth, customers=spec.get("customers"),
                     locale=spec.get("locale"))
    return {"crm": digest(db), "truth": digest(truth)}


def cases(big: bool) -> dict[str, dict]:
    from crmlab.simulator import builtin_scenarios
    out = {}
    for name in builtin_scenarios():
        for loc in ("zh_CN", "en_US"):
            out[f"{name}/{loc}"] = {"scenario": name, "seed": 7, "locale": loc}
        out[f"{name}/3000"] = {"scenario": name, "seed": 11, "customers": 3000}
    out["airline_service/stepped"] = {"scenario": "airline_service", "seed": 5, "customers": 3000, "stepped": True}
    if big:
        out["airline_service/30000"] = {"scenario": "airline_service", "seed": 3, "customers": 30000}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="write the fingerprints here (JSON)")
    p.add_argument("--compare", type=Path, help="compare with fingerprints written before")
    p.add_argument("--big", action="store_true", help="also the 30,000-passenger airline (m06's size)")
    p.add_argument("--only", help="only the cases whose name contains this")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(case(json.loads(a.child), tmp)))
        return
    result, failed = {}, 0
    before = json.loads(a.compare.read_text()) if a.compare else {}
    for name, spec in cases(a.big or any("30000" in k for k in before)).items():
        if a.only and a.only not in name:
            continue
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"{name} failed:\n{proc.stderr}")
        result[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        note = ""
        if a.compare:
            old = before.get(name)
            if old is None:
                note = "(not in the earlier fingerprints)"
            else:
                diffs = [f"{db}.{t}" for db in ("crm", "truth")
                         for t in sorted(set(old[db]) | set(result[name][db]))
                         if old[db].get(t, [None, None, None])[::2] != result[name][db].get(t, [None, None, None])[::2]]
                order = [f"{db}.{t}" for db in ("crm", "truth") for t in sorted(set(old[db]) & set(result[name][db]))
                         if old[db][t][1] != result[name][db][t][1] and f"{db}.{t}" not in diffs]
                failed += bool(diffs)
                note = ("identical" if not diffs and not order else
                        f"DIFFERENT: {', '.join(diffs)}" if diffs else f"same rows, other order: {', '.join(order)}")
        print(f"{name:36s} {time.perf_counter() - t:6.1f} s  {note}", flush=True)
    if a.out:
        a.out.write_text(json.dumps(result, indent=1, sort_keys=True))
    if a.compare:
        print(f"\n{len(result) - failed} of {len(result)} cases with the same rows in every table" +
              (f"; {failed} differ" if failed else ""))
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
