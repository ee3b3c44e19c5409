"""Benchmark: the market simulator at scale, against a raw SimPy loop of the same event mix.

    python benchmarks/simulate_scale.py [--scenario hotpot_chain] [--customers 100000] [--years 2]

Targets (issue 24): 100k customers × 2 years (≈18 orders and ≈1.7 service contacts each in hotpot_chain):
the whole simulate() ≤ 10 s and ≤ 1 GiB peak memory on a quiet machine; writing the database ≤ 1.5 × the
storage floor measured in the same run (the same rows into a plain SQLite file); the engine processing
SimPy events at ≥ 0.6 × the rate of a raw SimPy loop of the same event mix. Printed, not asserted.

Fresh subprocesses, so that each peak memory (ru_maxrss) is that run's alone:
1. the timed run — ``crmlab.simulator.api.simulate`` taken apart (``open_run``, ``run``, ``finish``,
   ``save``) to time setup, the SimPy run, building the orders and writing the database separately;
2. the same run with an Environment that counts scheduled events by type (same seed, so the same
   events; it also checks the total) — the counting would slow the timed run down;
3. a raw SimPy model with those numbers of processes, timeouts, requests with patience
   (``request | timeout``), grants and releases, and no business logic;
4. ``--repeat`` − 1 more SimPy runs (setup + run), alternating with as many runs of the raw model:
   the ratio compares the best SimPy run with the best raw run (on a shared virtual machine one run of
   either can be 15 % slow; every time is printed).

The first run also writes the database, then measures the storage floor on the same rows and writes
again, alternately (``--repeat`` times), and writes the tables as Parquet once.
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import simpy

MIN_PER_DAY = 24 * 60


def timed_run(scenario: str, seed: int, customers: int, days: int, out: str, floors: int = 1) -> dict:
    from crmlab.simulator import api, store
    t0 = time.perf_counter()
    sim = api.open_run(scenario, seed, customers=customers, days=days)  # accounts, people, draws
    t1, m1 = time.perf_counter(), _peak_mib()
    sim.run()                                                           # the SimPy part
    t2, m2 = time.perf_counter(), _peak_mib()
    sim.finish()                                                        # orders, lines, latent
    t3, m3 = time.perf_counter(), _peak_mib()
    steps: dict = {}
    store.write_database(Path(out), sim, timings=steps)                 # = the rest of simulate() (api.save)
    t4, peak = time.perf_counter(), _peak_mib()
    db_mib = Path(out).stat().st_size / 2**20
    # the storage floor, in the same process on the same rows, after the peak was taken; then our writer again,
    # alternating, so that both see the same load of the machine
    floor, again = [], [t4 - t3]
    for k in range(floors):
        floor.append(storage_floor(sim, Path(out).with_name("floor.db")))
        if k < floors - 1:
            t = time.perf_counter()
            store.write_database(Path(out), sim)
            again.append(time.perf_counter() - t)
    t = time.perf_counter()
    store.write_parquet(Path(out).with_name("parquet"), sim)
    parquet = time.perf_counter() - t
    parquet_mib = sum(p.stat().st_size for p in Path(out).with_name("parquet").glob("*.parquet")) / 2**20
    a = sim.acc
    started = int((a.since < math.inf).sum())
    calls = sim.t.calls
    return {"parquet": parquet, "parquet_mib": parquet_mib,"setup": t1 - t0, "run": t2 - t1, "finish": t3 - t2, "write": t4 - t3, "total": t4 - t0,
            "steps": steps, "floor": [f["seconds"] for f in floor], "writes": again,
            "floor_mib": floor[0]["mib"], "prepare": [f["prepare"] for f in floor],
            # every event ever scheduled (SimPy's tie-breaking counter) minus those left at the snapshot
            "events": next(sim.env._eid) - len(sim.env._queue),
            "orders": len(sim.t.orders), "lines": len(sim.t.order_lines),
            "tickets": len(sim.t.tickets), "calls": len(calls),
            "abandoned": sum(1 for c in calls if c[10]), "accounts": a.n, "customers_ever": started,
            "db_mib": db_mib, "peak_mib": peak, "peaks": [m1, m2, m3]}


def storage_floor(sim, path: Path) -> dict:
    """The plainest bulk load of the same rows into the same kind of file: every table without types, keys,
    constraints or indexes, one ``executemany`` per chunk of rows already made (what making them costs is
    timed apart, as ``prepare``), one transaction, no journal, no syncing, the garbage collector paused
    as in the writer."""
    from crmlab.simulator import store
    from crmlab.simulator.engine import bulk
    con = store._connect_fresh(path)      # the writer's own settings: no journal, no syncing, its page cache
    rows, seconds, prepare = store.Rows(sim), 0.0, 0.0
    with con, bulk():
        for name, table in store.layout().items():
            con.execute(f"CREATE TABLE {name} ({', '.join(c for c, _ in table.columns)})")
            sql = f"INSERT INTO {name} VALUES ({', '.join('?' * len(table.columns))})"
            chunks = rows(name)
            while True:
                t = time.perf_counter()
                cols = next(chunks, None)
                batch = None if cols is None else list(zip(*cols))
                prepare += time.perf_counter() - t
                if batch is None:
                    break
                t = time.perf_counter()
                con.executemany(sql, batch)
                seconds += time.perf_counter() - t
    con.close()
    mib = path.stat().st_size / 2**20
    path.unlink()
    return {"seconds": seconds, "prepare": prepare, "mib": mib}


class CountingEnvironment(simpy.Environment):
    """Tallies every scheduled event by type (Timeout, Initialize = a process started, Process = a
    process ended, PriorityRequest/Request = a request granted, Release, Condition, Event)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tally = collections.Counter()

    def schedule(self, event, priority=simpy.core.NORMAL, delay=0):
        self.tally[type(event).__name__] += 1
        super().schedule(event, priority, delay)

    def processed(self) -> dict:
        left = collections.Counter(type(entry[3]).__name__ for entry in self._queue)
        return dict(self.tally - left)


def run_only(scenario: str, seed: int, customers: int, days: int) -> dict:
    """Setup and the SimPy run again, timed as in :func:`timed_run`."""
    from crmlab.simulator import api
    sim = api.open_run(scenario, seed, customers=customers, days=days)
    t = time.perf_counter()
    sim.run()
    return {"run": time.perf_counter() - t, "events": next(sim.env._eid) - len(sim.env._queue)}


def counted_run(scenario: str, seed: int, customers: int, days: int) -> dict:
    simpy.Environment = CountingEnvironment   # the engine builds its own: count without editing it
    from crmlab.simulator import api
    sim = api.open_run(scenario, seed, customers=customers, days=days)
    sim.run()
    return sim.env.processed()


def raw_run(mix: dict, abandoned: int, horizon: float, agents: int, repeat: int = 1) -> dict:
    """The engine's event mix without business logic: a feeder starts top-level processes spread
    over the horizon; each waits a few timeouts, and some then place a call in the same process (as
    the engine does, ``yield from``): ``request | timeout(patience)`` or a plain request, a talking
    timeout, a release; ``abandoned`` of them queue for a line that is never free and hang up."""
    granted = mix.get("PriorityRequest", 0) + mix.get("Request", 0)
    patient = mix.get("Condition", 0)                      # requests with patience
    calls = granted + abandoned
    plain = max(granted - (patient - abandoned), 0)        # requests without patience
    tops = max(mix.get("Initialize", 0) - 2, calls)        # processes the feeder starts (+ feeder, holder)
    # timeouts left once the feeder's, the patience and the talking ones are counted
    waits = max(mix.get("Timeout", 0) - tops - patient - granted, 0)
    extra = [waits // tops + (j < waits % tops) for j in range(tops)] if tops else []
    gap = horizon / max(tops, 1)
    steps = max(mix.get("Event", 0) // 2, 1)               # the engine runs in weekly steps

    def model(env):
        lines = simpy.PriorityResource(env, capacity=max(agents, 1))
        blocked = simpy.PriorityResource(env, capacity=1)  # held all run: its callers hang up

        def hold():
            with blocked.request(priority=0) as r:
                yield r
                yield env.timeout(2 * horizon)

        def call(j):
            line = blocked if j < abandoned else lines
            req = line.request(priority=1)
            if j < abandoned or j >= abandoned + plain:
                yield req | env.timeout(2.0)
                if not req.triggered:
                    req.cancel()
                    return
            else:
                yield req
            yield env.timeout(5.0)
            line.release(req)

        def contact(j, k):
            for _ in range(k):
                yield env.timeout(gap * 0.5 / k)
            if j < calls:
                yield from call(j)

        def feeder():
            for j in range(tops):
                yield env.timeout(gap)
                env.process(contact(j, extra[j]))

        env.process(hold())
        env.process(feeder())
        return env

    def run(env):
        for k in range(1, steps + 1):
            env.run(until=horizon * k / steps)

    counting = model(CountingEnvironment())   # first counted, then timed without the counting
    run(counting)
    seconds = []
    for _ in range(repeat):
        env = model(simpy.Environment())
        t = time.perf_counter()
        run(env)
        seconds.append(time.perf_counter() - t)
    return {"seconds": seconds, "events": next(env._eid) - len(env._queue), "mix": counting.processed()}


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux


def _child(kind: str, *args) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, json.dumps(args)],
                          capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"the {kind} run failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


KINDS = ("Initialize", "Process", "Timeout", "PriorityRequest", "Request", "Release", "Condition", "Event")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="hotpot_chain")
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--years", type=float, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=5, help="SimPy runs, raw runs, writes and floors timed (best counts)")
    p.add_argument("--quick", action="store_true", help="10,000 customers × 1 year, 2 runs each (CI)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:   # inside a fresh subprocess
        print(json.dumps({"timed": timed_run, "counted": counted_run, "raw": raw_run,
                          "run": run_only}[a.child](*json.loads(a.args))))
        return
    if a.quick:
        a.customers, a.years, a.repeat = 10_000, 1, 2
    days = round(a.years * 365)
    load_before = _uptime()
    with tempfile.TemporaryDirectory() as tmp:
        e = _child("timed", a.scenario, a.seed, a.customers, days, f"{tmp}/crm.db", max(a.repeat, 1))
    mix = _child("counted", a.scenario, a.seed, a.customers, days)
    from crmlab.simulator import load_scenario
    agents = load_scenario(a.scenario).service.agents
    # the SimPy runs and the raw loop alternate, each in a fresh process, so that both see the same load
    runs, raw = [e["run"]], None
    for k in range(max(a.repeat, 1)):
        if k:
            again = _child("run", a.scenario, a.seed, a.customers, days)
            assert again["events"] == e["events"], "the same seed should give the same run"
            runs.append(again["run"])
        one = _child("raw", mix, e["abandoned"], days * MIN_PER_DAY, agents, 1)
        raw = one if raw is None else {**raw, "seconds": raw["seconds"] + one["seconds"]}
    raw_events = raw["events"]
    raw_rate = raw_events / min(raw["seconds"])
    run_rate, sim_rate = e["events"] / min(runs), e["events"] / (e["setup"] + e["run"] + e["finish"])
    n = a.customers
    best = lambda xs: f"{min(xs):.2f} s (runs {', '.join(f'{x:.2f}' for x in xs)})"
    write, floor = min(e["writes"]), min(e["floor"])
    whole = e["setup"] + min(runs) + e["finish"] + write
    st = e["steps"]
    print(f"\n{a.scenario}, seed {a.seed}: {n:,} customers × {a.years:g} years ({days} days)")
    print(f"load before: {load_before}\nload after:  {_uptime()}\n")
    print("| measure | value | target |\n|---|---|---|")
    print(f"| orders per customer (repeat, first, campaign, deal) | {e['orders'] / n:.1f} | |")
    print(f"| service contacts (tickets) per customer | {e['tickets'] / n:.2f} | |")
    print(f"| calls per customer (abandoned) | {e['calls'] / n:.2f} ({e['abandoned']:,}) | |")
    print(f"| accounts at the end (customers ever) | {e['accounts']:,} ({e['customers_ever']:,}) | |")
    print(f"| setup: accounts, people, purchase draws | {e['setup']:.1f} s | |")
    print(f"| SimPy run | {best(runs)} | |")
    print(f"| orders and lines ({e['lines']:,} lines) | {e['finish']:.1f} s | |")
    print(f"| write the SQLite database ({e['db_mib']:.0f} MiB) | {best(e['writes'])} | |")
    print(f"| … first write: load {st['load']:.1f} s, CHECKs {st['checks']:.1f} s, indexes {st['indexes']:.1f} s, "
          f"foreign keys {st['foreign_keys']:.1f} s | | |")
    print(f"| storage floor: the same rows, plain tables, executemany ({e['floor_mib']:.0f} MiB; making the rows "
          f"{min(e['prepare']):.1f} s more) | {best(e['floor'])} | |")
    print(f"| write ÷ floor (best of each) | {write / floor:.2f} | ≤ 1.5 |")
    print(f"| write ÷ (floor + making its rows): what keys, checks and indexes add | "
          f"{write / (floor + min(e['prepare'])):.2f} | |")
    print(f"| whole simulate() (setup + best run + orders + best write) | {whole:.1f} s | ≤ 10 s |")
    print(f"| the same tables as Parquet instead (zstd, {e['parquet_mib']:.0f} MiB) | {e['parquet']:.1f} s "
          f"(whole: {whole - write + e['parquet']:.1f} s) | |")
    print(f"| peak memory (RSS; so far after setup, run, orders: {', '.join(f'{m:,.0f}' for m in e['peaks'])}) "
          f"| {e['peak_mib']:,.0f} MiB | ≤ 1024 MiB |")
    print(f"| SimPy events processed | {e['events']:,} ({e['events'] / n:.1f} per customer) | |")
    print(f"| engine events/s, SimPy run only (best run) | {run_rate:,.0f} | |")
    print(f"| engine events/s, whole simulation (setup + run + orders) | {sim_rate:,.0f} | |")
    print(f"| raw SimPy loop events/s ({raw_events:,} events; {best(raw['seconds'])}) | {raw_rate:,.0f} | |")
    print(f"| ratio, SimPy run only | {run_rate / raw_rate:.2f} | ≥ 0.6 |")
    print(f"| ratio, whole simulation (setup and orders are numpy work, no SimPy events) | {sim_rate / raw_rate:.2f} | |")
    if (n, days) != (100_000, 730):
        print("\n(the targets are for 100,000 customers × 2 years on a quiet machine)")
    counted = sum(mix.values())
    print(f"\nevent mix (processed) | engine | raw loop\n---|---|---")
    for k in KINDS:
        if mix.get(k) or raw["mix"].get(k):
            print(f"{k} | {mix.get(k, 0):,} | {raw['mix'].get(k, 0):,}")
    print(f"total | {counted:,} | {sum(raw['mix'].values()):,}")
    if counted != e["events"]:
        print(f"\nwarning: the counted run processed {counted:,} events, the timed run {e['events']:,}: "
              "the same seed should give the same run")


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
