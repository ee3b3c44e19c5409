"""Hostile submissions graded in one batch with honest ones (issue 6's acceptance): every hostile one
gets no automatic points or the status that says what it did, every honest one full marks, and the
batch completes. Each hostile submission is the released notebook (no answers) with an attack in
its first answer cell, or a broken file."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from grading import sandbox
from grading.assign import assign
from grading.autograde import autograde
from grading.course import Course
from grading.demo import write_submission

MODULE, AUTO_POINTS = "m01", 11.0
pytestmark = pytest.mark.skipif(sandbox.available() is not None, reason=f"no sandbox here: {sandbox.available()}")

ROOT = "'/'.join(os.getcwd().split('/')[:-3])"   # the course directory, as seen from the working copy
ATTACKS = {
    # reading what only the grader may read, writing what only the grader may write
    "read_keys": f"""import os, glob
root = {ROOT}
for pattern in ("modules/m01/*.ipynb", "checks/*.py", ".crmlab/secret", ".crmlab/truth/*/*.db", "gradebook.db",
                "submitted/*/m01/*.ipynb", "release/m01/*.ipynb"):
    for path in glob.glob(os.path.join(root, pattern)):
        try:
            open(path, "rb").read(10); print("FOUND", path)
        except OSError:
            pass
print("searched", root)""",
    "write_gradebook": f"""import os, sqlite3
try:
    con = sqlite3.connect(os.path.join({ROOT}, "gradebook.db"))
    con.execute("UPDATE grade SET auto_score = 99"); con.commit(); print("WROTE")
except Exception as e:
    print("refused:", type(e).__name__)""",
    "read_env": """import os
print("LEAK" if any("grader-token" in v for v in os.environ.values()) else "clean", sorted(os.environ))""",
    "kill_parent": """import os, signal
for pid in (os.getppid(), 1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError as e:
        print("refused", pid, e.errno)""",
    # resource attacks
    "os_exit": "import os\nos._exit(0)",
    "fork_storm": "import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(60)\n        os._exit(0)",
    "memory_bomb": "hog = bytearray(16 * 2**30)",
    "output_bomb": "for _ in range(200):\n    print('x' * 100_000)",
    "disk_fill": "for i in range(100):\n    open(f'fill{i}', 'wb').write(b'x' * 10 * 2**20)",
    # running forever
    "infinite_loop": "while True:\n    pass",
    "swallows_interrupts": "while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n"
                           "        pass",
    # lying to the checks
    "lying_eq": """import pandas as pd
class Liar(pd.Series):
    def __eq__(self, other):
        return True
active_by_kind = Liar({"university": 0, "k12": 0, "vocational": 0, "training": 0})""",
    "patched_helpers": """import math, sqlite3
import numpy as np
import pandas as pd
math.isclose = np.allclose = lambda *a, **k: True          # every comparison says "equal"
pd.Series.equals = pd.DataFrame.equals = lambda *a, **k: True
sqlite3.connect = lambda *a, **k: None                    # and no test in this kernel could read the data
active_by_kind = pd.Series({"university": 0, "k12": 0, "vocational": 0, "training": 0})""",
}


def _inject(course, student, code):
    path = course.path("submitted", student, MODULE) / f"{MODULE}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "ans_active")
    cell["source"] = code
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    course = Course.init(tmp_path_factory.mktemp("hostile") / "c", "hostile-course", secret="hostile-test-secret")
    students = ["honest1", "honest2", *ATTACKS, "empty_notebook", "stripped_metadata", "deleted_tests",
                "rewritten_tests", "invalid_json"]
    toml = course.root / "crmlab.toml"   # short cell timeouts: the loops are cut after 4 s
    toml.write_text(toml.read_text(encoding="utf-8").replace("cell_timeout = 20", "cell_timeout = 4"), encoding="utf-8")
    course = Course.open(course.root)
    course.add_students([{"id": s} for s in students])
    assign(course, MODULE, progress=False)
    rng = np.random.default_rng(66)
    for s in students:
        write_submission(course, MODULE, s, "correct" if s.startswith("honest") else "blank", rng)
    for s, code in ATTACKS.items():
        _inject(course, s, code)
    folder = course.path("submitted", "empty_notebook", MODULE)
    (folder / f"{MODULE}.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4,
                                                         "nbformat_minor": 5}), encoding="utf-8")
    path = course.path("submitted", "stripped_metadata", MODULE) / f"{MODULE}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    for c in nb["cells"]:
        c["metadata"].pop("nbgrader", None)
    path.write_text(json.dumps(nb), encoding="utf-8")
    for student, edit in (("deleted_tests", lambda c: None), ("rewritten_tests", lambda c: dict(
            c, source=f'hand_in("{c["metadata"]["nbgrader"]["grade_id"]}", 1)\n'))):
        path = course.path("submitted", student, MODULE) / f"{MODULE}.ipynb"
        nb = json.loads(path.read_text(encoding="utf-8"))
        nb["cells"] = [c if not c["metadata"].get("nbgrader", {}).get("grade") or c["cell_type"] != "code" else edit(c)
                       for c in nb["cells"]]
        nb["cells"] = [c for c in nb["cells"] if c is not None]
        path.write_text(json.dumps(nb), encoding="utf-8")
    path = course.path("submitted", "invalid_json", MODULE) / f"{MODULE}.ipynb"
    path.write_text(path.read_text(encoding="utf-8")[:5000], encoding="utf-8")   # an upload cut short
    os.environ["CRMLAB_HOSTILE_PROBE"] = "grader-token-123"   # the graders' environment holds a secret
    try:
        summary = autograde(course, MODULE, workers=2, progress=False, submission_timeout=120)
    finally:
        del os.environ["CRMLAB_HOSTILE_PROBE"]
    return course, {o.student: o for o in summary.outcomes}


def _printed(course, student) -> str:
    nb = json.loads((course.path("autograded", student, MODULE) / f"{MODULE}.ipynb").read_text(encoding="utf-8"))
    return "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))


def test_the_batch_completes_and_the_honest_get_full_marks(batch):
    course, out = batch
    assert set(out) == {"honest1", "honest2", *ATTACKS, "empty_notebook", "stripped_metadata", "deleted_tests",
                        "rewritten_tests", "invalid_json"}
    assert out["honest1"].score == out["honest2"].score == AUTO_POINTS
    assert out["honest1"].status == out["honest2"].status == "graded"


def test_what_only_the_grader_may_see_or_change_is_out_of_reach(batch):
    course, out = batch
    for s in ("read_keys", "write_gradebook", "read_env", "kill_parent"):
        assert out[s].status == "graded" and out[s].score == 0, s
    assert "FOUND" not in _printed(course, "read_keys") and "searched" in _printed(course, "read_keys")
    assert "WROTE" not in _printed(course, "write_gradebook")
    assert "clean" in _printed(course, "read_env")
    assert "refused" in _printed(course, "kill_parent")


@pytest.mark.parametrize("student, status, words", [
    ("os_exit", "error", "kernel died"),
    ("fork_storm", "limit", "resource limit"),
    ("memory_bomb", "limit", "resource limit"),
    ("output_bomb", "limit", "KiB"),
    ("disk_fill", "limit", "MB"),
    ("infinite_loop", "timeout", "interrupted"),
    ("swallows_interrupts", "timeout", "ignored the interrupt"),
    ("deleted_tests", "tampered", "deleted"),
    ("rewritten_tests", "tampered", "restored"),
    ("invalid_json", "error", "not valid JSON"),
])
def test_resource_attacks_loops_tampering_and_broken_files_end_with_their_status_and_no_points(
        batch, student, status, words):
    _, out = batch
    assert out[student].status == status and words in out[student].reason, (out[student].status, out[student].reason)
    assert not out[student].score   # no automatic points: blank, or not graded at all


def test_answers_that_lie_or_checks_patched_in_the_kernel_score_nothing(batch):
    _, out = batch
    for s in ("lying_eq", "patched_helpers"):
        assert out[s].status == "graded" and out[s].score == 0, out[s]


def test_notebooks_emptied_or_stripped_of_their_metadata_are_tampering_and_not_graded(batch):
    _, out = batch
    for s in ("empty_notebook", "stripped_metadata"):
        assert out[s].status == "tampered" and not out[s].score, out[s]
        assert "ans_active" in out[s].reason and "resubmit" in out[s].reason
