"""The term's company: each student's own, living through the term (docs/design.md "The company track").

A course's ``[company]`` names an industry (a built-in scenario); each student's company is simulated from a
seed of (course, student) — not of a module — and every module on the company track (``track = "company"``)
hands out that company as of its ``day``. What a student decided in an earlier company module (its checks
file's ``decisions(ctx)``, read by the grader from the graded hand-in) is applied to their company from that
module's day on, so the next module's data shows its consequences:

- ``policy`` — a manager's policy the simulator runs with (staffing, priority, recovery, campaign targets:
  ``Simulation.set_policy``), from the decision's day;
- ``crm`` — changes the student made in their CRM (merges, conversions, follow-ups …: rows of the database's
  ``operations``), done again through the CRM API on the later data (``crm.actions.redo``), as the student.

**What was handed out never changes.** A module's hand-out is planned once per student, in a record
(``.crmlab/company/<student>/<module>.json``): the company, its day and the history — for each earlier company
module, whether the student had handed it in and the decisions applied. The next module's history is this
module's plus this module's decisions as they stand when the next one is planned; a later regrade or a late
submission of an earlier module changes no record already made. Building the data again (a lost cache, a
grading machine) follows the record, and the database's digest, kept in it, must come out the same.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from pathlib import Path

from crmlab.crm.migrate import has_table
from crmlab.grading.classroom.course import Course, CourseError

RECORD_FORMAT, RECORD_VERSION = "crmlab company hand-out", 1
DECISION_KINDS = ("policy", "crm")                  # what a module's decisions(ctx) may hand on
POLICY_FIELDS = ("staffing", "priority", "recovery", "campaign_targets")   # Simulation.set_policy's
MAX_CALLS = 2000                                    # CRM operations carried from one module (a student's database)
MAX_CALL_CHARS = 4000                               # the recorded arguments of one of them
SEED_KEY = "[company]"                              # in place of a module id in the seed: one company per student


class DecisionError(CourseError):
    """What a module's ``decisions(ctx)`` returned is not a list of decisions of the declared kinds."""


# -- where things are --------------------------------------------------------------------------------------
def record_path(course: Course, module_id: str, student: str) -> Path:
    from crmlab.grading.classroom.data import check_student_id
    return course.private / "company" / check_student_id(student) / f"{module_id}.json"


def decisions_path(course: Course, module_id: str, student: str) -> Path:
    from crmlab.grading.classroom.data import check_student_id
    return course.private / "decisions" / module_id / f"{check_student_id(student)}.json"


def company_seed(course: Course, student: str) -> int:
    from crmlab.simulator import student_seed
    return student_seed(course.course_id, SEED_KEY, student, course.secret)


# -- decisions, as the grader read them from a graded hand-in ------------------------------------------------
def checked_decisions(decisions) -> list[dict]:
    """``decisions(ctx)``'s result as plain, bounded data of the declared kinds (a :class:`DecisionError` names
    what is wrong): it carries a student's data, so nothing of it is taken on trust."""
    if not isinstance(decisions, list):
        raise DecisionError(f"decisions(ctx) returns a list of decisions, not {type(decisions).__name__}")
    out = []
    for n, d in enumerate(decisions, 1):
        kind = d.get("kind") if isinstance(d, dict) else None
        if kind not in DECISION_KINDS:
            raise DecisionError(f"decision {n}: kind must be one of {', '.join(DECISION_KINDS)}, not {kind!r}")
        if kind == "policy":
            extra = set(d) - {"kind", *POLICY_FIELDS}
            if extra:
                raise DecisionError(f"decision {n}: a policy sets {', '.join(POLICY_FIELDS)}, not {', '.join(sorted(extra))}")
            out.append(json.loads(json.dumps(d)))
            continue
        calls = d.get("calls")
        if not isinstance(calls, list) or len(calls) > MAX_CALLS:
            raise DecisionError(f"decision {n}: calls must be a list of at most {MAX_CALLS} CRM operations")
        kept = []
        for c in calls:
            if not (isinstance(c, dict) and isinstance(c.get("operation"), str) and isinstance(c.get("at"), str)):
                raise DecisionError(f"decision {n}: each call names its operation and time")
            call = {"operation": c["operation"], "at": c["at"], "args": c.get("args"), "kwargs": c.get("kwargs")}
            if len(json.dumps(call, ensure_ascii=False)) > MAX_CALL_CHARS:
                call["args"] = call["kwargs"] = None     # kept, said not recordable when it is done again
            kept.append(call)
        out.append({"kind": "crm", "calls": kept})
    return out


def keep_decisions(course: Course, module_id: str, student: str, decisions) -> Path:
    """What the grader read as the student's decisions in ``module_id`` (from their graded hand-in), for the
    term's next company module; a regrade replaces it until that module is planned."""
    path = decisions_path(course, module_id, student)
    _write_json(path, {"module": module_id, "student": student, "decisions": checked_decisions(decisions)})
    return path


def crm_calls(work_db: Path | None, handed_out: sqlite3.Connection) -> list[dict]:
    """The CRM operations the student made in this module: the rows of ``operations`` in the database the
    graded notebook left, after those the hand-out already held (carried over from earlier modules)."""
    if work_db is None or not Path(work_db).is_file():
        return []
    with contextlib.closing(sqlite3.connect(f"{Path(work_db).resolve().as_uri()}?mode=ro", uri=True)) as con:
        if not has_table(con, "operations"):
            return []
        first = handed_out.execute("SELECT max(op_no) FROM operations").fetchone()[0] if has_table(handed_out, "operations") \
            else None
        rows = con.execute("SELECT operation, at, args, kwargs FROM operations WHERE op_no > ? ORDER BY op_no LIMIT ?",
                           (first or 0, MAX_CALLS)).fetchall()
    out = []
    for operation, at, args, kwargs in rows:
        with contextlib.suppress(TypeError, ValueError):
            args, kwargs = json.loads(args), json.loads(kwargs)
        out.append({"operation": operation, "at": at, "args": args, "kwargs": kwargs})
    return out


# -- planning and building a hand-out ----------------------------------------------------------------------
def plan(course: Course, module_id: str, student: str) -> dict:
    """The record of ``module_id``'s hand-out for ``student``: made once (the first to make it wins), then read."""
    path = record_path(course, module_id, student)
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    module = course.module(module_id)
    if not module.on_company_track:
        raise CourseError(f"module {module_id} is not on the company track")
    order = course.company_modules
    at = order.index(module_id)
    history = []
    if at:
        prev = order[at - 1]
        handed = _read_json(decisions_path(course, prev, student))
        history = plan(course, prev, student)["history"] + [{
            "module": prev, "day": course.module(prev).day, "handed_in": handed is not None,
            "decisions": handed["decisions"] if handed else []}]
    company = course.settings.company
    record = {"format": RECORD_FORMAT, "version": RECORD_VERSION, "module": module_id, "student": student,
              "day": module.day, "company": {"scenario": company.scenario, "customers": company.customers,
                                             "days": company.days, "locale": course.locale},
              "history": history}
    return _write_once(path, record)


def build(course: Course, module_id: str, student: str, out: Path, truth: Path) -> dict:
    """Write ``student``'s company as of ``module_id``'s day to ``out`` (its ground truth to ``truth``), with the
    decisions of the record applied; returns the record (with what was done of each decision)."""
    from crmlab.crm.actions import redo
    from crmlab.simulator import open_run, save
    from crmlab.simulator.engine import SIMULATOR_VERSION

    record = plan(course, module_id, student)
    c = record["company"]
    sim = open_run(c["scenario"], company_seed(course, student), customers=c["customers"], days=c["days"],
                   locale=c["locale"])
    applied = []
    for step in record["history"]:
        sim.run(until_day=step["day"])
        done = {"module": step["module"], "handed_in": step["handed_in"], "policy": [], "crm_done": 0, "crm_refused": []}
        for d in step["decisions"]:
            if d["kind"] == "policy":
                changes = {k: d[k] for k in POLICY_FIELDS if k in d}
                try:
                    sim.set_policy(**changes)
                    done["policy"].append(sorted(changes))
                except (ValueError, TypeError, KeyError) as exc:   # a student's value the simulator cannot run
                    done["policy_refused"] = f"{exc}"[:200]
        applied.append(done)
    sim.run(until_day=record["day"])
    tmp_out = out.with_name(f"{out.name}.{os.getpid()}.build")
    save(sim.snapshot(), tmp_out, truth, reveal_seed=False, tables=course.module(module_id).tables)
    lang = course.locale
    for step, done in zip(record["history"], applied):
        for d in step["decisions"]:
            if d["kind"] == "crm" and d["calls"]:
                for r in redo(tmp_out, d["calls"], user=student, lang=lang):
                    if r["done"]:
                        done["crm_done"] += 1
                    else:
                        done["crm_refused"].append({"operation": r["operation"], "at": r["at"], "reason": r["reason"]})
    with contextlib.closing(sqlite3.connect(tmp_out)) as con, con:
        con.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                        [("term_day", str(record["day"])),
                         ("term_decisions", json.dumps(applied, ensure_ascii=False, sort_keys=True)),
                         ("term_modules", json.dumps([{"module": s["module"], "day": s["day"]} for s in record["history"]]
                                                     + [{"module": module_id, "day": record["day"]}]))])
    digest = content_digest(tmp_out)
    if "database_sha256" in record and record["database_sha256"] != digest:
        tmp_out.unlink()
        raise CourseError(f"{student}'s data for {module_id} came out different from what was handed out "
                          f"(record {record_path(course, module_id, student)}; simulator version "
                          f"{record.get('simulator_version')} then, {SIMULATOR_VERSION} now): it is not replaced")
    os.replace(tmp_out, out)
    if "database_sha256" not in record:
        record = {**record, "simulator_version": SIMULATOR_VERSION, "applied": applied, "database_sha256": digest}
        _write_json(record_path(course, module_id, student), record)
    return record


def content_digest(path: Path) -> str:
    """sha256 of the database's content (its SQL dump), not of the file's bytes."""
    h = hashlib.sha256()
    with contextlib.closing(sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)) as con:
        for line in con.iterdump():
            h.update(line.encode("utf-8"))
            h.update(b"\n")
    return h.hexdigest()


# -- files -----------------------------------------------------------------------------------------------
def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _write_once(path: Path, data) -> dict:
    """Write ``data`` to ``path`` unless someone was first; either way, what ``path`` holds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    try:
        os.link(tmp, path)                 # fails if the record exists: the first plan stands
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return json.loads(path.read_text(encoding="utf-8"))
