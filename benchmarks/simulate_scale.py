"""Benchmark: the market simulator at scale, against a raw SimPy loop of the same event mix.

    python benchmarks/simulate_scale.py [--scenario hotpot_chain] [--customers 100000] [--years 2]

Targets (issue 3): 100k customers × 2 years with ≈20 purchases and ≈2 service contacts each in
≤ 60 s and ≤ 2 GiB peak memory; engine events/s ≥ 0.5 × a raw SimPy loop's. Each measurement runs
in a fresh subprocess so that peak memory (ru_maxrss) is that run's alone.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

ENGINE = """
import json, resource, sys, time
from pathlib import Path
from simulator import load_scenario, store
from simulator.engine import Simulation
scenario = load_scenario(sys.argv[1]).with_overrides(customers=int(sys.argv[2]), days=int(sys.argv[3]))
t0 = time.perf_counter()
sim = Simulation(scenario, 1)
sim.finish()
t1 = time.perf_counter()
store.write_database(Path(sys.argv[4]), sim)
t2 = time.perf_counter()
n = scenario.scenario.customers
processed = sim.env._eid  # SimPy's event counter: every event scheduled (and processed) in the run
calls = sum(1 for c in sim.t.calls)
print(json.dumps({"simulate": t1 - t0, "write": t2 - t1, "total": t2 - t0, "events": int(next(processed)),
                  "purchases": len(sim.t.orders[0]) / n, "contacts": (len(sim.t.tickets) + len(sim.open_tickets)) / n,
                  "calls": calls, "processes": len(sim.t.tickets) + len(sim.open_tickets),
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

RAW = """
import json, sys, time
import numpy as np, simpy
# the same mix without business logic: one feeder process, one process per contact, calls that
# queue for agents with patience (request | timeout), timeouts for talking — as many as the engine
events, calls = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
env = simpy.Environment()
agents = simpy.Resource(env, capacity=8)
per_call = 7  # feeder timeout, process start, request, patience timeout, condition, talk, end
n = max(events // per_call, 1)
gaps = rng.exponential(1.0, n)
talk = rng.exponential(5.0, n)

def call(h):
    with agents.request() as req:
        got = yield req | env.timeout(3.0)
        if req in got:
            yield env.timeout(h)

def feeder():
    for g, h in zip(gaps.tolist(), talk.tolist()):
        yield env.timeout(g)
        env.process(call(h))

env.process(feeder())
t = time.perf_counter()
env.run()
dt = time.perf_counter() - t
print(json.dumps({"events": int(next(env._eid)), "seconds": dt}))
"""


def _run(code: str, *args) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="hotpot_chain")
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--years", type=float, default=2)
    a = p.parse_args()
    days = round(a.years * 365)
    with tempfile.TemporaryDirectory() as tmp:
        e = _run(ENGINE, a.scenario, a.customers, days, f"{tmp}/crm.db")
    raw = _run(RAW, e["events"], e["calls"])
    engine_rate = e["events"] / e["simulate"]
    raw_rate = raw["events"] / raw["seconds"]
    ok = lambda b: "PASS" if b else "FAIL"
    print(f"\n{a.scenario}: {a.customers:,} customers × {a.years:g} years")
    print(f"| measure | value | target |\n|---|---|---|")
    print(f"| purchases per customer | {e['purchases']:.1f} | ≈20 |")
    print(f"| service contacts per customer | {e['contacts']:.2f} | ≈2 |")
    print(f"| simulate (SimPy + numpy) | {e['simulate']:.1f} s | |")
    print(f"| write the SQLite database | {e['write']:.1f} s | |")
    print(f"| total | {e['total']:.1f} s | ≤ 60 s {ok(e['total'] <= 60)} |")
    print(f"| peak memory | {e['peak_mib']:.0f} MiB | ≤ 2048 MiB {ok(e['peak_mib'] <= 2048)} |")
    print(f"| engine events/s (whole simulate phase) | {engine_rate:,.0f} | |")
    print(f"| raw SimPy loop events/s (same mix, {raw['events']:,} events) | {raw_rate:,.0f} | |")
    print(f"| ratio | {engine_rate / raw_rate:.2f} | ≥ 0.5 {ok(engine_rate / raw_rate >= 0.5)} |")


if __name__ == "__main__":
    main()
