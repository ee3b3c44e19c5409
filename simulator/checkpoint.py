"""Saving a run between steps and resuming it: a student's company can live through a term without being
simulated again from day 0 for each module, and a resumed run equals an uninterrupted one byte for byte.

Everything a run holds is pickled as it is — numpy arrays and random generators, the rows so far, and
SimPy's own event queue, resources, queued requests and tie-breaking counter — except Python generators,
which cannot be pickled. So each suspended process is saved as its function and the locals that function
needs to go on (:data:`RESUMABLE`), and on loading the function is called again with them (``_at=…``): it
restores them and stops at a ``yield RESUMED`` standing in for the yield it was suspended at, while the
event it was waiting for — saved with the queue — resumes it as before. A process inside a ``yield from``
(a contact on a call) is saved with the generator it delegates to, and rebuilt the same way.

A saved run is a pickle: load only files you saved (the grader's own), as for any pickle.
"""
from __future__ import annotations

import inspect
import io
import itertools
import os
import pickle
import sys
import types
from pathlib import Path

import simpy

from .callcentre import RESUMED, CallCentre
from .engine import SIMULATOR_VERSION, Simulation

FORMAT = "crmlab saved run"
# bump when what a saved run holds changes shape though the data would not (the processes' functions move to
# another class, a contact's row becomes a record …): such a run cannot be resumed by this code
LAYOUT = 3   # 3: the accounts and leads decided ahead of their time (made_at, lead_decided)

# each process's function → the locals its resume path reads (its parameters are saved too)
RESUMABLE = {
    Simulation._feed: ("j",),
    Simulation._contact: ("step", "ticket", "callback_of", "now", "tid", "contact", "priority", "call_id",
                          "wait_pen", "first_agent", "first_response", "done"),
    Simulation._leads: (),
    Simulation._lead: ("step", "lead_id", "company", "row"),
    Simulation._referrals: (),
    Simulation._upsells: ("business", "n"),
    Simulation._opportunity: ("kind", "opp_id", "amount", "step", "slot", "rep", "row", "outcome", "stage"),
    Simulation._campaign: (),
    Simulation._surveys: ("year",),
    CallCentre._shifts: ("minute",),
    CallCentre._off_duty: ("req", "agent"),
    CallCentre.take: ("req", "agent", "answered"),
}
_BY_CODE = {f.__code__: f for f in RESUMABLE}
_BY_NAME = {f.__qualname__: f for f in RESUMABLE}
_PARAMS = {f: [p for p in inspect.signature(f).parameters if p != "_at"] for f in RESUMABLE}


def save_run(sim: Simulation, path: str | Path) -> Path:
    """Write the run as it stands (between steps) to ``path``, atomically."""
    if sim.env.active_process is not None:
        raise RuntimeError("a run can be saved between steps only, not from inside one of its processes")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(_dumps(sim))
    os.replace(tmp, path)
    return path


def copy_run(sim: Simulation) -> Simulation:
    """An independent copy of the run as it stands (between steps): what is done to one never reaches the other."""
    if sim.env.active_process is not None:
        raise RuntimeError("a run can be copied between steps only, not from inside one of its processes")
    return _loads(io.BytesIO(_dumps(sim)), "the copy")


def _dumps(sim: Simulation) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf).dump({"format": FORMAT, "layout": LAYOUT, "simulator_version": SIMULATOR_VERSION,
                        "python": list(sys.version_info[:2]), "day": sim.day, "run": sim})
    return buf.getvalue()


def load_run(path: str | Path) -> Simulation:
    """The run saved in ``path``, ready to step on (``run``, ``set_policy``, ``save``)."""
    path = Path(path)
    with path.open("rb") as f:
        return _loads(f, path)


def _loads(f, path) -> Simulation:
    global _LOADING
    _LOADING = []
    try:
        saved = pickle.load(f)
        processes = _LOADING
    finally:
        _LOADING = None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"{path} is not a saved simulator run")
    if saved["simulator_version"] != SIMULATOR_VERSION:
        raise ValueError(f"{path} was saved by simulator version {saved['simulator_version']}; this is version "
                         f"{SIMULATOR_VERSION}, which would go on differently: simulate the run again")
    if saved.get("layout", 1) != LAYOUT:
        raise ValueError(f"{path} was saved by an older build of simulator version {SIMULATOR_VERSION} (saved-run "
                         f"layout {saved.get('layout', 1)}, this one reads {LAYOUT}): simulate the run again")
    for process in processes:              # every object is whole now: the processes' generators can be made
        process._generator = _rebuild(process.__dict__.pop("_saved_generator"))
    return saved["run"]


# -- saving ------------------------------------------------------------------------------------------------
class _Pickler(pickle.Pickler):
    def __init__(self, file):
        super().__init__(file, protocol=5)

    def reducer_override(self, obj):
        if isinstance(obj, simpy.events.Process):
            state = dict(obj.__dict__)
            state["_saved_generator"] = _chain(state.pop("_generator"))
            return object.__new__, (simpy.events.Process,), state, None, None, _set_process_state
        if isinstance(obj, types.GeneratorType):
            raise TypeError(f"cannot save the run: a generator outside a process ({obj.__qualname__})")
        if type(obj) is types.MethodType and isinstance(obj.__func__, type):
            # SimPy binds its event classes to an environment or resource (env.timeout, resource.request)
            return _bind, (obj.__func__, obj.__self__)
        if type(obj) is itertools.count:   # (pickling a count goes away in Python 3.14)
            return itertools.count, tuple(int(x) for x in repr(obj)[6:-1].split(", "))
        return NotImplemented


def _bind(cls, obj):
    return types.MethodType(cls, obj)


def _chain(gen) -> list[tuple]:
    """A process's generator and those it delegates to (``yield from``), outermost first, each as
    (function name, state, saved locals)."""
    out = []
    while gen is not None:
        state = inspect.getgeneratorstate(gen)
        if state == inspect.GEN_CLOSED:
            out.append((None, state, {}))
            break
        func = _BY_CODE.get(gen.gi_code)
        if func is None:
            raise TypeError(f"cannot save the run: a process of a kind that cannot be resumed ({gen.__qualname__})")
        f_locals = gen.gi_frame.f_locals
        names = _PARAMS[func] + ([] if state == inspect.GEN_CREATED else list(RESUMABLE[func]))
        out.append((func.__qualname__, state, {k: f_locals[k] for k in names if k in f_locals}))
        gen = gen.gi_yieldfrom
    return out


# -- loading -----------------------------------------------------------------------------------------------
_LOADING: list | None = None


def _set_process_state(process, state) -> None:
    process.__dict__.update(state)
    _LOADING.append(process)


def _rebuild(chain: list[tuple]):
    """The generator of a saved process, suspended where it was: innermost first, each function called with
    its saved locals (``_at``) and handed the generator it delegated to; then brought to its first yield."""
    inner = None
    for name, state, saved in reversed(chain):
        if name is None:                   # a process that had ended
            inner = _ended()
            continue
        func = _BY_NAME[name]
        args = {k: saved[k] for k in _PARAMS[func] if k in saved}
        if state == inspect.GEN_CREATED:   # not started yet: its Initialize event starts it
            inner = func(**args)
            continue
        inner = func(**args, _at={**saved, "_inner": inner})
    if chain and chain[0][1] == inspect.GEN_SUSPENDED:
        first = next(inner)
        assert first is RESUMED, f"{chain[0][0]} did not stop where it was saved"
    return inner


def _ended():
    return
    yield
