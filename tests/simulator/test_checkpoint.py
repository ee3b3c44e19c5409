"""A run saved between steps and resumed goes on exactly as the uninterrupted run: the same database and
ground truth byte for byte, whatever its processes were doing when it was saved."""
import collections
import gc
import inspect
import os
import pickle
import sqlite3
import subprocess
import sys

import pytest
import simpy

from crmlab.simulator import checkpoint, open_run, resume, save, simulate

SCENARIO, SEED, CUSTOMERS, DAYS = "education_services", 9, 1500, None
# days (at hours) when, in this run, every kind of process is under way at least once (asserted below)
SAVED_AT = (44.45, 53.45, 104.6)


def _dump(path) -> str:
    with sqlite3.connect(path) as con:
        return "\n".join(con.iterdump())


def _under_way(sim) -> collections.Counter:
    """What the run's processes are doing: function and step of each generator in each process's chain."""
    seen = collections.Counter()
    for p in gc.get_objects():
        if isinstance(p, simpy.events.Process) and p.env is sim.env and \
                inspect.getgeneratorstate(p._generator) == inspect.GEN_SUSPENDED:
            seen[" > ".join(f"{name.split('.')[-1]}:{saved.get('step', '')}"
                            for name, _, saved in checkpoint._chain(p._generator))] += 1
    return seen


def test_a_run_saved_and_resumed_again_and_again_equals_the_uninterrupted_run(tmp_path):
    whole = simulate(SCENARIO, SEED, tmp_path / "whole.db", tmp_path / "whole_truth.db", customers=CUSTOMERS, days=DAYS)
    sim = open_run(SCENARIO, SEED, customers=CUSTOMERS, days=DAYS)
    seen = collections.Counter()
    for day in SAVED_AT:
        sim.run(until_day=day)
        seen.update(_under_way(sim))
        sim.checkpoint(tmp_path / "company.run")
        sim = resume(tmp_path / "company.run")     # a resumed run is saved again at the next step
        assert sim.day == day
    # every kind of process was saved mid-way at least once, so each way of resuming was exercised
    kinds = {k.split(" > ")[0] for k in seen} | {k for k in seen if " > " in k}
    assert kinds >= {"_contact:written", "_contact:callback", "_contact:call > take:", "_contact:manager > take:",
                     "_opportunity:waiting", "_opportunity:stage", "_lead:coming", "_lead:qualifying", "_feed:",
                     "_leads:", "_referrals:", "_upsells:", "_campaign:", "_surveys:", "_shifts:", "_off_duty:"}, seen
    # the last leg in a fresh process, with another hash seed: nothing of this process is needed
    code = ("import sys; from crmlab.simulator import resume, save; "
            "save(resume(sys.argv[1]), sys.argv[2], sys.argv[3])")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "company.run"), str(tmp_path / "resumed.db"),
                           str(tmp_path / "resumed_truth.db")], env=dict(os.environ, PYTHONHASHSEED="7"),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _dump(tmp_path / "resumed.db") == _dump(whole.db_path)
    assert _dump(tmp_path / "resumed_truth.db") == _dump(whole.truth_path)


def test_a_policy_changed_after_resuming_acts_as_in_a_run_never_saved(tmp_path, dump):
    def changed(sim):
        sim.set_policy(staffing=[min(x + 1, sim.scenario.service.agents) for x in sim.policy.staffing],
                       recovery={"high": "refund"})
        return sim

    straight = open_run("airline_service", 4, customers=3000, days=120)
    straight.run(until_day=60.4)
    save(changed(straight), tmp_path / "straight.db")
    saved = open_run("airline_service", 4, customers=3000, days=120)
    saved.run(until_day=60.4)
    saved.checkpoint(tmp_path / "airline.run")
    save(changed(resume(tmp_path / "airline.run")), tmp_path / "resumed.db")
    assert dump(tmp_path / "resumed.db") == dump(tmp_path / "straight.db")


def test_only_a_run_of_this_simulator_version_is_resumed(tmp_path, monkeypatch):
    sim = open_run(SCENARIO, SEED, customers=40)
    sim.run(until_day=10)
    sim.checkpoint(tmp_path / "a.run")
    monkeypatch.setattr(checkpoint, "SIMULATOR_VERSION", "999")
    with pytest.raises(ValueError, match=r"saved by simulator version \d+; this is version 999"):
        resume(tmp_path / "a.run")
    monkeypatch.undo()
    monkeypatch.setattr(checkpoint, "LAYOUT", checkpoint.LAYOUT - 1)   # as an older build of this version saved it
    sim.checkpoint(tmp_path / "old.run")
    monkeypatch.undo()
    with pytest.raises(ValueError, match=rf"saved by an older build .*layout {checkpoint.LAYOUT - 1}, this one reads "
                                         rf"{checkpoint.LAYOUT}\)"):
        resume(tmp_path / "old.run")
    (tmp_path / "b.run").write_bytes(pickle.dumps({"something": "else"}))
    with pytest.raises(ValueError, match="not a saved simulator run"):
        resume(tmp_path / "b.run")
