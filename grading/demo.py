"""`crmlab demo`: a whole class in one command — roster, per-student data, submissions, grades.

The synthetic submissions are a realistic mix: correct, partly wrong, blank, broken JSON, a
loop, deleted test cells, numbers copied from a classmate, and students who submit nothing.
"""
from __future__ import annotations

import contextlib
import io
from collections import Counter
import json
import linecache
import os
import re
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
from faker import Faker

from crmlab.grading.classroom.assign import assign
from crmlab.grading.run.autograde import RunSummary, autograde
from crmlab.grading.classroom.course import SHIPPED_COURSE, Course, CourseError
from crmlab.grading.classroom.groupplay import GroupPlay, play_as_group, transcript_name

SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*\n?", re.S | re.M)

# kind of synthetic submission → how many students of a class of 30 hand it in
MIX = {"correct": 13, "partly_wrong": 8, "blank": 3, "broken_json": 1, "infinite_loop": 1,
       "tests_deleted": 1, "copied_numbers": 1, "no_submission": 2}


def roster(n: int, seed: int, locale: str = "zh_CN") -> list[dict]:
    fake = Faker(locale)
    fake.seed_instance(seed)
    people = []
    for i in range(1, n + 1):
        last, first = fake.last_name(), fake.first_name()
        people.append({"id": f"s{i:03d}", "first_name": first, "last_name": last, "email": f"s{i:03d}@example.edu"})
    return people


def _cells(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source_code_cells(course: Course, module: str):
    """(nbgrader metadata, code with the solution markers removed) of each code cell of the source."""
    nb = _cells(course.path("modules", module=module) / f"{module}.ipynb")
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            yield c["metadata"].get("nbgrader", {}), SOLUTION.sub(lambda m: m.group(1), "".join(c["source"]))


def solution_code(course: Course, module: str) -> dict[str, str]:
    """grade_id → the instructor's solution code of every solution cell (markers removed)."""
    return {meta["grade_id"]: code for meta, code in _source_code_cells(course, module) if meta.get("solution")}


def demo_spec(module: str) -> dict:
    """``course/demo/<module>.toml``: wrong answers, reflections, and where the hostile kinds strike."""
    path = SHIPPED_COURSE / "demo" / f"{module}.toml"
    if not path.exists():
        raise CourseError(f"module {module} has no synthetic submissions (course/demo/{module}.toml)")
    return tomllib.loads(path.read_text(encoding="utf-8"))


def answers_of(course: Course, module: str, student: str) -> dict:
    """Run the solution in-process on a copy of ``student``'s hand-out, to get the numbers they
    would have (a copy: the solution of an operational module changes the database)."""
    from IPython.display import display   # outside IPython it prints (into the redirected stdout)

    ns: dict = {"display": display}   # what a notebook's cells may call without importing it
    with tempfile.TemporaryDirectory() as tmp:
        folder = str(shutil.copytree(course.path("outbox", student, module), Path(tmp) / module))
        spec = demo_spec(module)
        if "roleplay" in spec:   # what the student's clicks in the player leave in the folder
            _write_roleplay(Path(folder), spec["roleplay"], "good", solution_code(course, module))
        sys.path.insert(0, folder)   # the hand-out's own modules (crmlab_handin), as in a kernel started there
        try:
            with contextlib.chdir(folder), contextlib.redirect_stdout(io.StringIO()):
                for n, (_, code) in enumerate(_source_code_cells(course, module)):
                    # each cell under a name of its own in linecache, as IPython does: inspect.getsource works
                    name = f"<{module}-cell-{n}>"
                    linecache.cache[name] = (len(code), None, code.splitlines(keepends=True), name)
                    exec(compile(code, name, "exec"), ns)  # our own solution code
        finally:
            sys.path.remove(folder)
            for name in ("con", "crm", "console"):   # the notebook's open sessions on the copy
                if hasattr(ns.get(name), "close"):
                    ns[name].close()
    return {k: ns[k] for k in demo_spec(module)["kinds"]["answers"]}


def as_literals(answers: dict) -> str:
    """Python code that re-creates the answers as hard-coded values (what copying numbers looks like)."""
    def lit(v):
        if isinstance(v, pd.Series):
            return f"pd.Series({ {str(k): (x.item() if hasattr(x, 'item') else x) for k, x in v.items()}!r})"
        if isinstance(v, (np.floating, float)):
            return repr(float(v))
        return repr(v)
    return "\n".join(f"{k} = {lit(v)}" for k, v in answers.items())


def write_submission(course: Course, module: str, student: str, kind: str, rng: np.random.Generator,
                     copied_from: str | None = None) -> None:
    """Write ``submitted/<student>/<module>/`` as a student of the given ``kind`` would."""
    if kind == "no_submission":
        return
    handout = course.path("outbox", student, module)
    dest = course.path("submitted", student, module)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(handout, dest)
    nb_path = dest / f"{module}.ipynb"
    if kind == "blank":
        return
    nb = _cells(nb_path)
    demo = demo_spec(module)
    if "roleplay" in demo:
        _write_roleplay(dest, demo["roleplay"], "wrong" if kind == "partly_wrong" else "good", solution_code(course, module))
    solutions = solution_code(course, module)
    wrong_ids = set()
    if kind == "partly_wrong":
        wrong_ids = set(rng.choice(sorted(demo["wrong"]), size=int(rng.integers(1, 4)), replace=False))
    cells = []
    for c in nb["cells"]:
        meta = c["metadata"].get("nbgrader", {})
        gid = meta.get("grade_id")
        if c["cell_type"] == "code" and meta.get("solution"):
            code = demo["wrong"][gid] if gid in wrong_ids else solutions[gid]
            if kind == "infinite_loop" and gid == demo["kinds"]["loop_in"]:
                code = "while True:   # waiting for the call centre…\n    pass\n"
            c["source"] = code
        elif c["cell_type"] == "markdown" and meta.get("solution"):
            c["source"] = demo["reflection"]["good" if kind == "correct" else "short"].strip()
        if kind == "tests_deleted" and meta.get("grade") and c["cell_type"] == "code" \
                and gid in demo["kinds"]["tests_deleted"]:
            continue
        cells.append(c)
    nb["cells"] = cells
    if kind == "copied_numbers":
        literal = as_literals(answers_of(course, module, copied_from))
        first = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("solution")
                     and c["cell_type"] == "code")
        first["source"] = f"# copied from a classmate\n{literal}\n"
        for c in nb["cells"]:
            if c is not first and c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("solution"):
                c["source"] = "pass\n"
    text = json.dumps(nb, ensure_ascii=False, indent=1)
    if kind == "broken_json":
        text = text[: len(text) // 2]  # the upload was cut off half-way
    nb_path.write_text(text, encoding="utf-8")


def _write_roleplay(folder: Path, spec: dict, which: str, solutions: dict | None = None) -> None:
    """What clicking through a module's player leaves in the folder: the transcript of the scene played
    along the steps of ``spec[which]`` — a list of steps, ``"model"``/``"dismissive"`` (the scenario file's
    paths) or ``"policy:<grade id>"``: clicked the way the module's solution policy in that cell reads
    *this* guest (customers differ in temper, so a fixed path is not what a good student clicks)."""
    import sqlite3

    from crmlab.roleplay import Session, load_roleplay, play_seed
    from crmlab.roleplay.player import save_transcript, transcript_path
    from crmlab.roleplay.policy import load_policy, play_policy
    from crmlab.roleplay.scenario import parse_step

    scenario = load_roleplay(spec["scene"])
    steps = spec[which]
    db = folder / "crm.db"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        (data_id,) = con.execute("SELECT value FROM meta WHERE key = 'data_id'").fetchone()
    seed = play_seed(data_id, scenario.id)
    if isinstance(steps, str) and steps.startswith("policy:"):
        session = play_policy(load_policy(solutions[steps.partition(":")[2]]), scenario, spec["role"], seed, db=db)
    else:
        steps = getattr(scenario.paths, steps) if isinstance(steps, str) else steps
        session = Session(scenario, spec["role"], seed, db=db)
        for step in steps:
            if session.end:
                break
            move, args = parse_step(step)
            session.play(move, **args)
    save_transcript(session.transcript, transcript_path(scenario.id, folder))


def run_demo(directory: str | Path, students: int = 30, workers: int = 2, seed: int = 2026,
             progress: bool = True, module: str = "m01") -> tuple[Course, RunSummary]:
    demo_spec(module)   # fail before any work if the module has no synthetic submissions
    directory = Path(directory)
    course = Course.open(directory) if (directory / "crmlab.toml").exists() else Course.init(directory, "crm-demo")
    people = roster(students, seed, course.locale)
    course.add_students(people)
    ids = [p["id"] for p in people]
    play = GroupPlay.of(course, module)
    if play is not None and not play.groups_file.exists():   # the CRM show: groups of three in roster order
        play.groups_file.write_text("student,group\n" + "".join(f"{s},G{k // 3 + 1}\n" for k, s in enumerate(ids)),
                                    encoding="utf-8")
    assign(course, module, ids, workers=workers, progress=progress)
    rng = np.random.default_rng(seed)
    kinds = [k for k, n in MIX.items() for _ in range(round(n * students / 30))]
    kinds = (kinds + ["correct"] * students)[:students]
    kinds = [kinds[i] for i in rng.permutation(students)]
    plan = dict(zip(ids, kinds))
    donor = next(s for s, k in plan.items() if k == "correct")
    for student, kind in plan.items():
        write_submission(course, module, student, kind, rng, copied_from=donor)
    if play is not None:   # each group plays its scene once; the members who did the module well hand it in
        policy = next((c for c in solution_code(course, module).values() if "def policy(" in c), None)
        for group, cast in play.casts(course).items():
            keen = [m for m in cast if plan.get(m) == "correct"]
            if policy and keen:
                transcript = play_as_group(play, course, group, cast, policy)
                for member in keen:
                    (course.path("submitted", member, module) / transcript_name(play.scene)).write_text(
                        json.dumps(transcript, ensure_ascii=False), encoding="utf-8")
    (course.private / f"demo_plan_{module}.json").write_text(json.dumps(plan, indent=1), encoding="utf-8")
    summary = autograde(course, module, workers=workers, progress=progress)
    return course, summary


def open_next(course: Course, module: str) -> dict[str, Path]:
    """What an instructor opens after grading: the class report and the feedback pages (written now)."""
    from crmlab.grading.outputs.feedback import write_feedback
    from crmlab.grading.outputs.report import write_report

    pages = write_feedback(course, module)
    return {"report": write_report(course, module), "feedback": pages[0] if pages else course.path("feedback")}


def print_summary(course: Course, summary: RunSummary, elapsed: float, module: str = "m01",
                  opened: dict[str, Path] | None = None) -> None:
    """The demo's table: every student with their kind of submission, status and score (automatic + by hand
    = total), then why the others are not simply graded (in full), the copied numbers, and what to open next."""
    from crmlab.grading.classroom.labels import fmt, status
    from crmlab.grading.outputs.results import load
    from crmlab.grading.outputs.terminal import table

    data = load(course)
    info = data.module(module)
    plan_file = course.private / f"demo_plan_{module}.json"
    plan = json.loads(plan_file.read_text()) if plan_file.exists() else {}
    names = {s.id: s.name for s in data.students}
    results = data.of(module)
    body = []
    for r in results:
        score = r.score(info)
        body.append([r.student, names.get(r.student, ""), plan.get(r.student, ""), str(status(r.status)),
                     "—" if score is None else score.text("en").replace(" (the hand-graded part is still to grade)", "")])
    print(table(["student", "name 姓名", "submission", "status 状态", "points: automatic + by hand = total"], body))

    counts = Counter(r.status for r in results)
    print("\nstatus: " + ", ".join(f"{status(k)} {v}" for k, v in counts.most_common()))
    manual = [c for c in info.cells if c.manual]
    pending = [r for r in results if r.has_score and r.needs_manual_grade]
    if manual and pending:
        print(f"hand-graded part: {', '.join(f'{c.name} ({fmt(c.max_score)} points)' for c in manual)} — the "
              f"{fmt(sum(c.max_score for c in manual))} points not yet in the totals marked \"by hand —\": "
              f"{len(pending)} submissions wait for the instructor to grade it in the formgrader (crmlab lab, "
              "Nbgrader → Formgrader)")
    done = [r for r in results if r.has_score]
    auto = [c for c in info.cells if not c.manual]
    if done:
        rates = [f"{c.name} {sum((r.scores.get(c.name) or 0) >= c.max_score for r in done) / len(done):.0%}" for c in auto]
        print("full marks per checkpoint (submissions with a score): " + ", ".join(rates))

    others = [r for r in results if r.status != "graded" or r.reason]
    if others:
        print("\nwhy (every submission not simply graded, with the grader's reason):")
        for r in others:
            print(f"  {r.student} {names.get(r.student, '')}: {status(r.status)} — {r.reason}")
    copied = [s for s, kind in plan.items() if kind == "copied_numbers"]
    for student in copied:   # nothing in a status says so: the grader simply finds them wrong for this student
        r = data.results[(module, student)]
        score = r.score(info)
        wrong = [c.name for c in auto if r.verdict(c) not in ("right", None)]
        print(f"\n⚑ copied numbers: {student} {names.get(student, '')} handed in a classmate's numbers as hard-coded "
              f"values. The grader checks every answer against {student}'s own data, so they earn "
              f"{'no score' if score is None else f'{fmt(score.auto)} of {fmt(score.auto_max)} automatic points'}"
              + (f" ({', '.join(wrong)} wrong)" if wrong else "") + ": a copy scores like a wrong answer. The class "
              "report's \"most common mistakes\" and the notebook itself show it.")
    print(f"\nthis run: {len(summary.outcomes) - len(summary.absent)} submissions graded, {len(summary.skipped)} "
          f"already graded (skipped), {len(summary.absent)} without a submission; "
          f"grading {summary.seconds:.1f} s, whole demo {elapsed:.1f} s")
    print(f"course instance: {course.root}")
    if opened:
        print(f"open next — the class report: {opened['report']}\n"
              f"          — a student's feedback page: {opened['feedback']} (one per student in "
              f"{course.path('feedback')}/<student>/{module}/)")
    print(f"then: crmlab export --course {course.root} --format xlsx --out grades.xlsx   (the workbook for Excel/WPS)")


def default_dir() -> Path:
    return Path(os.environ.get("CRMLAB_DEMO_DIR", "crmlab-demo"))
