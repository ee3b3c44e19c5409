"""Hostile submissions graded in one batch with honest ones: every hostile one gets no automatic points or a
status that says what it did, every honest one full marks, nothing outside the course changes mode, nothing
in submitted/ changes, and the batch completes — with 4 workers on a 2-core machine.

The attacks are those of a student with a shell in the kernel and a week to spare: code in the first answer
cell of the released notebook (``ATTACKS``), or a submission folder made by hand (``FOLDERS``: links to the
course's keys, pipes, sparse and countless files, names that are not UTF-8, a notebook in an old format or
with copied cells, files that would run at kernel start-up …). Honest work is spread through the batch so
that it runs beside the attacks on the other workers."""
from __future__ import annotations

import copy
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from crmlab.grading.run import sandbox
from crmlab.grading.classroom.assign import assign
from crmlab.grading.run.autograde import autograde
from crmlab.grading.classroom.course import Course
from crmlab.grading.demo import write_submission
from crmlab.grading.outputs.export import export

MODULE, AUTO_POINTS = "m01", 11.0
pytestmark = pytest.mark.skipif(sandbox.available() is not None, reason=f"no sandbox here: {sandbox.available()}")

ROOT = "'/'.join(os.getcwd().split('/')[:-3])"   # the course directory, as seen from the working copy
MIME = "application/vnd.crmlab.answer+json"
ATTACKS = {
    # reading what only the grader may read, writing what only the grader may write
    "read_keys": f"""import os, glob
root = {ROOT}
for pattern in ("modules/m01/*.ipynb", "checks/*.py", ".crmlab/secret", ".crmlab/truth/*/*.db", "gradebook.db",
                "submitted/*/m01/*.ipynb", "release/m01/*.ipynb", ".crmlab/data/m01/*.db", ".crmlab/staged/*/*/*"):
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
    # links left for the root grader to follow afterwards (nbgrader's permission step chmods what it finds)
    "leave_links": """import os
for i, target in enumerate(["/etc/shadow", "/usr/bin/bwrap", "/usr/bin/setpriv", os.environ.get("VICTIM", "/root"),
                            "/", "..", "../../../.crmlab/secret", "../../../checks"]):
    os.symlink(target, f"link{i}")
os.mkdir("sub"); os.symlink("/etc/shadow", "sub/deep")
os.link = None
print(sorted(os.listdir(".")))""",
    "hard_links": """import os
for src in ("/etc/shadow", "/usr/bin/bwrap", "crm.db"):
    try:
        os.link(src, "hard-" + os.path.basename(src)); print("LINKED", src)
    except OSError as e:
        print("refused", src, e.errno)""",
    "leave_daemon": """import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            open("daemon.log", "a").write("still here\\n"); time.sleep(0.2)
    os._exit(0)
time.sleep(1)""",
    # resource attacks
    "os_exit": "import os\nos._exit(0)",
    "fork_storm": "import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(60)\n        os._exit(0)",
    "memory_bomb": "hog = bytearray(16 * 2**30)",
    "memory_fork": """import os, time
for i in range(24):
    if os.fork() == 0:
        block = bytearray(400 * 2**20)
        for j in range(0, len(block), 4096):
            block[j] = 1
        time.sleep(30)
        os._exit(0)
time.sleep(3.5)""",
    "cpu_hog": """import os, time
for i in range(40):
    if os.fork() == 0:
        end = time.time() + 20
        while time.time() < end:
            pass
        os._exit(0)
time.sleep(3.5)""",
    "output_bomb": "for _ in range(200):\n    print('x' * 100_000)",
    "one_huge_message": "from IPython.display import display\ndisplay({'text/plain': 'x' * (200 * 2**20)}, raw=True)",
    "disk_fill": "for i in range(100):\n    open(f'fill{i}', 'wb').write(b'x' * 10 * 2**20)",
    "many_small_files": "import os\nfor i in range(60000):\n    open(f'f{i}', 'w').close()",
    "sparse_file": "f = open('sparse', 'wb')\nf.seek(100 * 2**30)\nf.write(b'x')",
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
    # numbers that are no numbers, handed in by a hand_in of the student's own
    "nan_answers": f"""import pandas as pd
from IPython.display import display
def hand_in(check, value):
    display({{"{MIME}": {{"check": check, "value": float("nan")}}, "text/plain": "nan"}}, raw=True)
active_by_kind = pd.Series({{"university": 0, "k12": 0, "vocational": 0, "training": 0}})
top10 = [str(i) for i in range(10)]
top20_share, mean_wait_s, over_20s_share = 0.5, 1.0, 0.1
grade = pd.Series(["AA"])""",
    "inf_and_huge_answers": f"""import pandas as pd
from IPython.display import display
values = iter([float("inf"), 10 ** 400, float("-inf"), 1e308 * 10, True])
def hand_in(check, value):
    display({{"{MIME}": {{"check": check, "value": next(values)}}, "text/plain": "x"}}, raw=True)
active_by_kind = pd.Series({{"university": 0, "k12": 0, "vocational": 0, "training": 0}})
top10 = [str(i) for i in range(10)]
top20_share, mean_wait_s, over_20s_share = 0.5, 1.0, 0.1
grade = pd.Series(["AA"])""",
    # escaping the sandbox's walls
    "walls": f"""import os, socket
for path in ({ROOT}, "/tmp/x", "/root/x", "/etc/x", "/usr/x"):
    try:
        open(os.path.join(path, "pwned") if path == {ROOT} else path, "w").write("x"); print("WROTE", path)
    except OSError:
        pass
for addr in ("\\0/tmp/.X11-unix/X0", "/run/dbus/system_bus_socket", "/var/run/docker.sock"):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(addr); print("CONNECTED", addr)
    except OSError:
        pass
print(open("/proc/1/cmdline").read()[:40], sorted(os.listdir("/proc"))[:3])""",
    "stdin": "input('your password: ')",
}


def _link(target: str, name: str = "evidence"):
    def make(folder: Path, course: Course):
        (folder / name).symlink_to(target if target.startswith("/") else course.root / target)
    return make


def _notebook_link(folder: Path, course: Course):   # the notebook itself: the source with the solutions
    (folder / "m01.ipynb").unlink()
    (folder / "m01.ipynb").symlink_to(course.root / "modules" / "m01" / "m01.ipynb")


def _folder_link(folder: Path, course: Course):   # the whole submission: a classmate's
    import shutil

    shutil.rmtree(folder)
    folder.symlink_to(course.path("submitted", "honest1", MODULE))


def _fifo(folder: Path, course: Course):
    os.mkfifo(folder / "pipe")


def _bad_names(folder: Path, course: Course):
    for raw in (b"r\xe9sum\xe9.txt", b"\x1b[2J\x1b[31mcleared", b"=HYPERLINK(1)x.txt",
                "\u202egnp.exe".encode()):
        with open(os.path.join(os.fsencode(folder), raw), "wb") as f:
            f.write(b"x")


def _sparse(folder: Path, course: Course):
    with open(folder / "huge.bin", "wb") as f:
        f.truncate(10 * 2**30)


def _many(folder: Path, course: Course):
    d = folder / "notes"
    d.mkdir()
    for i in range(3000):
        (d / f"n{i}.txt").write_text("x")


def _deep(folder: Path, course: Course):
    d = folder
    for i in range(12):
        d = d / f"d{i}"
    d.mkdir(parents=True)
    (d / "bottom.txt").write_text("x")


def _forged_data(folder: Path, course: Course):   # another student's data, a journal to replay, a folder as crm.db
    other = next((course.private / "data" / MODULE).glob("*.db"))
    (folder / "crm.db").write_bytes(other.read_bytes())
    (folder / "crm.db-wal").write_bytes(b"\x37\x7f\x06\x82" + os.urandom(4000))
    (folder / "group.json").write_text('{"group": "G1", "seed": 1}')


def _dir_as_data(folder: Path, course: Course):
    (folder / "crm.db").unlink()
    (folder / "crm.db").mkdir()
    (folder / "crm.db" / "x").write_text("x")


def _startup(folder: Path, course: Course):   # files that would run when a kernel starts in this folder
    for name in ("json.py", "zmq.py", "ipython_kernel_config.py", "ipython_config.py", "sitecustomize.py"):
        (folder / name).write_text("raise SystemExit('hijacked at start-up')\n")


def _edit_nb(edit):
    def make(folder: Path, course: Course):
        path = folder / "m01.ipynb"
        nb = json.loads(path.read_text(encoding="utf-8"))
        edit(nb)
        path.write_text(json.dumps(nb), encoding="utf-8")
    return make


def _cell(nb, gid):
    return next(i for i, c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id") == gid)


def _duplicate(nb):
    for gid in ("chk_active", "ans_top10", "intro"):
        i = _cell(nb, gid)
        nb["cells"].insert(i + 1, copy.deepcopy(nb["cells"][i]))


def _foreign(nb):
    nb["cells"].append({"cell_type": "code", "metadata": {"nbgrader": {
        "grade": True, "grade_id": "evil", "points": 100, "locked": True, "solution": False, "schema_version": 3}},
        "source": "print('free points')", "outputs": [], "execution_count": None})
    nb["cells"][_cell(nb, "chk_top10")]["metadata"]["nbgrader"]["points"] = 1000
    for c in nb["cells"]:
        if "nbgrader" in c["metadata"]:
            c["metadata"]["nbgrader"]["schema_version"] = 99


def _old_format(folder: Path, course: Course):
    path = folder / "m01.ipynb"
    nbformat.write(nbformat.convert(nbformat.read(path, as_version=4), 3), path)


def _write(text: bytes | str):
    def make(folder: Path, course: Course):
        data = text if isinstance(text, bytes) else text.encode()
        (folder / "m01.ipynb").write_bytes(data)
    return make


def _huge_notebook(folder: Path, course: Course):
    path = folder / "m01.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb["metadata"]["padding"] = "x" * (30 * 2**20)
    path.write_text(json.dumps(nb), encoding="utf-8")


def _bad_stamp(folder: Path, course: Course):
    (folder / "timestamp.txt").write_text("the day before yesterday, honestly")


# a folder made by hand: (is it otherwise an honest submission?, how it is made)
FOLDERS = {
    "links_to_keys": (False, [_link("checks/m01.py", "m01_checks.py"), _link("modules/m01/m01.ipynb", "solution.ipynb"),
                              _link("gradebook.db", "gb.db"), _link(".crmlab/secret", "secret"),
                              _link(".crmlab/data/m01", "data"), _link("/etc/shadow", "shadow"), _link("/", "root")]),
    "notebook_is_a_link": (False, [_notebook_link]),
    "submission_is_a_link": (False, [_folder_link]),
    "pipe": (True, [_fifo]),
    "bad_names": (True, [_bad_names]),
    "sparse_terabyte": (True, [_sparse]),
    "thousands_of_files": (True, [_many]),
    "deep_folders": (True, [_deep]),
    "forged_data": (True, [_forged_data]),
    "folder_as_data": (True, [_dir_as_data]),
    "startup_files": (True, [_startup]),
    "old_format": (True, [_old_format]),
    "duplicated_cells": (True, [_edit_nb(_duplicate)]),
    "foreign_marks": (False, [_edit_nb(_foreign)]),
    "deep_json": (False, [_write("[" * 200_000 + "]" * 200_000)]),
    "not_a_notebook": (False, [_write('{"cells": 7, "nbformat": 4}')]),
    "json_list": (False, [_write("[]")]),
    "not_utf8": (False, [_write(b'{"cells": [], "nbformat": 4, "x": "\xff\xfe"}')]),
    "huge_notebook": (False, [_huge_notebook]),
    "bad_timestamp": (True, [_bad_stamp]),
}
EDITED = ["empty_notebook", "stripped_metadata", "deleted_tests", "rewritten_tests", "invalid_json"]
HONEST = [f"honest{i}" for i in range(1, 7)]


def _inject(course, student, code):
    path = course.path("submitted", student, MODULE) / f"{MODULE}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "ans_active")
    cell["source"] = code
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")


def _state_of(path: Path) -> dict:
    """(mode, owner, size, content digest) of every entry under ``path``, links not followed."""
    out = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            p = os.path.join(root, name)
            st = os.lstat(p)
            digest = ""
            if stat.S_ISREG(st.st_mode) and st.st_size < 2**26:
                digest = hashlib.sha256(open(p, "rb").read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                digest = os.readlink(p)
            out[p] = (st.st_mode, st.st_uid, st.st_size, digest)
    return out


def _host_modes(victim: Path) -> dict:
    """The mode of what an attack could aim at outside the course: the sandbox's tools, /etc, the Python."""
    paths = [victim, *Path("/usr/bin").iterdir(), *Path("/etc").iterdir(), *Path(sys.prefix, "bin").iterdir()]
    return {str(p): os.lstat(p).st_mode for p in paths if p.exists() or p.is_symlink()}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    victim = base / "host-secret"
    victim.write_text("the host's own secret")
    victim.chmod(0o600)
    course = Course.init(base / "c", "hostile-course", secret="hostile-test-secret")
    students = [*HONEST, *ATTACKS, *FOLDERS, *EDITED]
    # short cell timeouts: the loops are cut after 4 s. A small working space (64 MB): the disk filler must fill
    # it well within those 4 s even while the batch's CPU hogs share the two cores (measured: a 10 MB write took
    # 0.15-0.27 s then, so the default 500 MB took longer than the cell may run and ended as "timeout")
    toml = course.root / "crmlab.toml"
    text = toml.read_text(encoding="utf-8")
    assert "cell_timeout = 20" in text and "disk_mb = 500" in text
    toml.write_text(text.replace("cell_timeout = 20", "cell_timeout = 4").replace("disk_mb = 500", "disk_mb = 64"),
                    encoding="utf-8")
    course = Course.open(course.root)
    course.add_students([{"id": s} for s in students])
    assign(course, MODULE, progress=False)
    rng = np.random.default_rng(66)
    for s in students:
        honest = s in HONEST or (s in FOLDERS and FOLDERS[s][0])
        write_submission(course, MODULE, s, "correct" if honest else "blank", rng)
    for s, code in ATTACKS.items():
        _inject(course, s, code.replace('os.environ.get("VICTIM", "/root")', repr(str(victim))))
    for s, (_, makers) in FOLDERS.items():
        for make in makers:
            make(course.path("submitted", s, MODULE), course)
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
    submitted_before = _state_of(course.path("submitted"))
    private_before = {p: m for p, m in _state_of(course.root).items()
                      if "/submitted/" not in p and "/autograded/" not in p and "/.crmlab/" not in p
                      and not p.endswith(("gradebook.db", "-wal", "-shm", ".pyc")) and "__pycache__" not in p}
    host_before = _host_modes(victim)
    secret_mode = os.stat(course.private / "secret").st_mode
    os.environ["CRMLAB_HOSTILE_PROBE"] = "grader-token-123"   # the graders' environment holds a secret
    try:
        summary = autograde(course, MODULE, workers=4, progress=False, submission_timeout=120)
    finally:
        del os.environ["CRMLAB_HOSTILE_PROBE"]
    after = {"submitted": _state_of(course.path("submitted")), "host": _host_modes(victim),
             "secret": os.stat(course.private / "secret").st_mode,
             "private": {p: m for p, m in _state_of(course.root).items() if p in private_before}}
    before = {"submitted": submitted_before, "host": host_before, "secret": secret_mode, "private": private_before}
    return course, {o.student: o for o in summary.outcomes}, before, after


def _printed(course, student) -> str:
    nb = json.loads((course.path("autograded", student, MODULE) / f"{MODULE}.ipynb").read_text(encoding="utf-8"))
    return "".join("".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", []))


def test_the_batch_completes_and_the_honest_get_full_marks(batch):
    course, out, _, _ = batch
    assert set(out) == {*HONEST, *ATTACKS, *FOLDERS, *EDITED}
    for s in HONEST:
        assert (out[s].status, out[s].score) == ("graded", AUTO_POINTS), (s, out[s].reason)


def test_nothing_outside_the_course_changed_mode_and_nothing_in_submitted_changed(batch):
    _, _, before, after = batch
    assert after["host"] == before["host"]
    assert after["secret"] == before["secret"] and oct(after["secret"] & 0o777) == "0o600"
    assert after["private"] == before["private"]   # the sources, checks, release, secret: as they were
    assert after["submitted"] == before["submitted"]


def test_nothing_of_the_kernels_is_left_running_or_mounted(batch):
    import psutil

    left = [p.pid for p in psutil.process_iter(["uids"])
            if p.info["uids"] and sandbox.UID_BASE <= p.info["uids"].real < sandbox.UID_BASE + sandbox.UID_SLOTS]
    assert left == []
    assert "crmlab-work" not in Path("/proc/mounts").read_text()
    course = batch[0]
    assert not (course.private / "scratch").exists() and not (course.root / ".crmlab" / "staged").exists()
    assert not list(course.path("autograded").rglob("daemon.log"))
    assert not [p for p in course.path("autograded").rglob("*") if p.is_symlink()]


def test_what_only_the_grader_may_see_or_change_is_out_of_reach(batch):
    course, out, _, _ = batch
    for s in ("read_keys", "write_gradebook", "read_env", "kill_parent", "walls", "hard_links"):
        assert out[s].status == "graded" and out[s].score == 0, (s, out[s].reason)
    assert "FOUND" not in _printed(course, "read_keys") and "searched" in _printed(course, "read_keys")
    assert "WROTE" not in _printed(course, "write_gradebook")
    assert "clean" in _printed(course, "read_env")
    assert "refused" in _printed(course, "kill_parent")
    assert "WROTE" not in _printed(course, "walls") and "CONNECTED" not in _printed(course, "walls")
    assert "LINKED /etc/shadow" not in _printed(course, "hard_links")
    assert "LINKED /usr/bin/bwrap" not in _printed(course, "hard_links")


def test_links_a_kernel_leaves_are_never_followed_by_the_root_grader(batch):
    course, out, _, _ = batch
    assert out["leave_links"].status == "graded" and out["leave_links"].score == 0
    assert "link0" in _printed(course, "leave_links")   # they were made …
    work = course.path("autograded", "leave_links", MODULE)
    assert not any(p.is_symlink() for p in work.rglob("*"))   # … and stayed in the kernel's own space


@pytest.mark.parametrize("student, status, words", [
    ("os_exit", "error", "kernel died"),
    ("fork_storm", "limit", "resource limit"),
    ("memory_bomb", "limit", "resource limit"),
    ("output_bomb", "limit", "KiB"),
    ("disk_fill", "limit", "limit is 64 MB"),
    ("many_small_files", "limit", "files"),
    ("infinite_loop", "timeout", "interrupted"),
    ("swallows_interrupts", "timeout", "ignored the interrupt"),
    ("deleted_tests", "tampered", "deleted"),
    ("rewritten_tests", "tampered", "restored"),
    ("invalid_json", "error", "not valid JSON"),
    ("deep_json", "error", "not valid JSON"),
    ("not_a_notebook", "error", "not valid JSON"),
    ("json_list", "error", "not valid JSON"),
    ("not_utf8", "error", "not valid JSON"),
    ("notebook_is_a_link", "error", "symbolic link"),
    ("submission_is_a_link", "error", "not a plain folder"),
    ("huge_notebook", "error", "larger than"),
])
def test_resource_attacks_loops_tampering_and_broken_files_end_with_their_status_and_no_points(
        batch, student, status, words):
    _, out, _, _ = batch
    assert out[student].status == status and words in out[student].reason, (out[student].status, out[student].reason)
    assert not out[student].score   # no automatic points: blank, or not graded at all


@pytest.mark.parametrize("student", ["memory_fork", "cpu_hog", "one_huge_message", "sparse_file", "leave_daemon",
                                     "stdin"])
def test_attacks_on_the_host_or_the_neighbours_score_nothing_and_are_the_students_own_fault(batch, student):
    _, out, _, _ = batch
    assert out[student].status in ("graded", "limit", "error", "timeout"), (out[student].status, out[student].reason)
    assert not out[student].score, out[student].reason


def test_answers_that_lie_or_are_no_numbers_score_nothing(batch):
    _, out, _, _ = batch
    for s in ("lying_eq", "patched_helpers", "nan_answers", "inf_and_huge_answers"):
        assert out[s].status == "graded" and out[s].score == 0, out[s]


def test_notebooks_emptied_or_stripped_of_their_metadata_are_tampering_and_not_graded(batch):
    _, out, _, _ = batch
    for s in ("empty_notebook", "stripped_metadata"):
        assert out[s].status == "tampered" and not out[s].score, out[s]
        assert "ans_active" in out[s].reason and "resubmit" in out[s].reason


def test_links_to_the_course_keys_are_left_out_and_say_so(batch):
    course, out, _, _ = batch
    o = out["links_to_keys"]
    assert o.status == "tampered" and o.score == 0, o.reason
    for name in ("m01_checks.py", "solution.ipynb", "gb.db", "secret", "data", "shadow", "root"):
        assert f"{name} (a symbolic link)" in o.reason
    assert "符号链接" in o.reason_in("zh_CN")


@pytest.mark.parametrize("student, words", [
    ("pipe", "pipe (not a regular file"),
    ("bad_names", "not valid UTF-8"),
    ("sparse_terabyte", "huge.bin (larger than 20 MB)"),
    ("thousands_of_files", "(more than 200 files)"),
    ("deep_folders", "(folders nested deeper than 4)"),
    ("startup_files", ""),
    ("forged_data", ""),
    ("folder_as_data", ""),
    ("old_format", "upgraded"),
    ("duplicated_cells", "appeared more than once"),
    ("bad_timestamp", "time stamp"),
])
def test_honest_work_in_an_odd_folder_is_graded_in_full_and_what_was_odd_is_said(batch, student, words):
    _, out, _, _ = batch
    o = out[student]
    assert o.score == AUTO_POINTS and o.status in ("graded", "tampered"), (o.status, o.reason)
    assert words in o.reason, o.reason
    assert o.status == ("tampered" if student == "pipe" else "graded")


def test_marks_a_student_adds_or_edits_count_for_nothing(batch):
    course, out, _, _ = batch
    o = out["foreign_marks"]
    assert o.status == "graded" and o.score == 0 and o.max_score == AUTO_POINTS + 4, o   # the module's own points
    assert "evil" in o.reason


def test_names_a_student_chose_reach_reports_and_spreadsheets_harmless(batch):
    course, out, _, _ = batch
    reason = out["bad_names"].reason
    assert "\x1b" not in reason and "\u202e" not in reason and "\\u001b" in reason
    table = export(course, "csv")
    assert "\x1b" not in table
    for line in table.splitlines():   # a cell never starts with what a spreadsheet would run as a formula
        for cell in line.split(","):
            assert not cell.strip('"').startswith(("=", "+", "@")), cell


def test_a_second_grader_is_refused_while_the_first_runs(tmp_path):
    """Two instructors (or a cron job and a person) grading one course at once would wipe each other's work."""
    course = Course.init(tmp_path / "c", "lock-course", secret="s")
    course.add_students([{"id": s} for s in ("a1", "a2")])
    assign(course, MODULE, progress=False)
    rng = np.random.default_rng(3)
    for s in ("a1", "a2"):
        write_submission(course, MODULE, s, "correct", rng)
    crmlab = str(Path(sys.executable).parent / "crmlab")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    first = subprocess.Popen([crmlab, "autograde", MODULE, "--course", str(course.root), "--workers", "1"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import time

    lock = course.private / "locks" / "grading"
    while first.poll() is None and not (lock.exists() and lock.read_text().strip()):
        time.sleep(0.1)
    second = subprocess.run([crmlab, "autograde", MODULE, "--course", str(course.root)], env=env, capture_output=True,
                            text=True)
    out, err = first.communicate()
    assert first.returncode == 0, err
    assert second.returncode == 2 and "is working on this course" in second.stderr and "Traceback" not in second.stderr
    assert "graded 2" in out


def test_a_damaged_gradebook_or_state_gets_one_line_naming_the_file(tmp_path):
    course = Course.init(tmp_path / "c", "damage-course", secret="s")
    assign(course, MODULE, progress=False)
    crmlab = str(Path(sys.executable).parent / "crmlab")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    state = course.private / "state.db"
    state.write_bytes(b"this is not a database either" * 100)
    done = subprocess.run([crmlab, "autograde", MODULE, "--course", str(course.root)], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "state.db" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    state.unlink()   # moved aside, as the message says
    (course.root / "gradebook.db").write_bytes(b"this is not a database" * 100)
    for command in (["export"], ["autograde", MODULE]):
        done = subprocess.run([crmlab, *command, "--course", str(course.root)], capture_output=True, text=True, env=env)
        assert done.returncode == 2 and "Traceback" not in done.stderr and "gradebook.db" in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_collect_follows_no_link_and_takes_no_submission_in_someone_elses_name(tmp_path):
    """On a hub each student is an OS user who writes their own folder in the exchange's inbound: collect (run
    by the instructor, often root) must take only regular files from it, only a student's own folder as
    theirs, and a time stamp no earlier than the last change of the files. Here the OS users 'daemon' and
    'nobody' play two students; s1 has no OS account (one machine: ownership cannot tell)."""
    import pwd
    import shutil

    from crmlab.grading.classroom.exchange import collect, exchange_root

    course = Course.init(tmp_path / "c", "collect-course", secret="s")
    course.add_students([{"id": s} for s in ("s1", "daemon", "nobody")])
    assign(course, MODULE, progress=False)
    inbound = exchange_root(course) / course.course_id / "inbound"
    inbound.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)

    def hand_in(student, name, stamp="2026-12-01 10:00:00.000000 UTC", owner=None):
        write_submission(course, MODULE, student, "correct", rng)
        folder = inbound / name
        shutil.copytree(course.path("submitted", student, MODULE), folder)
        shutil.rmtree(course.path("submitted", student))
        (folder / "timestamp.txt").write_text(stamp)
        if owner:
            uid = pwd.getpwnam(owner).pw_uid
            for p in [folder, *folder.rglob("*")]:
                os.chown(p, uid, uid, follow_symlinks=False)
        return folder

    honest = hand_in("s1", "s1+m01+2026-12-01 10:00:00.000000 UTC+a")
    (honest / "secret").symlink_to(course.private / "secret")
    (honest / "checks").symlink_to(course.root / "checks")
    hand_in("nobody", "nobody+m01+2026-12-01 11:00:00.000000 UTC+b", owner="daemon")    # daemon hands in as nobody
    hand_in("daemon", "daemon+m01+2026-11-01 09:00:00.000000 UTC+c", stamp="2026-11-01 09:00:00.000000 UTC",
            owner="daemon")                                                             # a month back-dated
    (inbound / "s1+m01+yesterday-ish+d").mkdir()
    (inbound / ".hidden+m01+2026-12-01 10:00:00.000000 UTC+e").mkdir()
    (inbound / "nobody+m01+2026-12-01 12:00:00.000000 UTC+f").symlink_to(honest)
    got = collect(course, MODULE)
    assert got["new"] == ["daemon", "s1"]
    refused = "\n".join(got["refused"])
    assert "claims to be nobody's but belongs to daemon" in refused
    assert "time stamp cannot be read" in refused and "no valid student id" in refused
    assert "not a folder" in refused
    s1 = course.path("submitted", "s1", MODULE)
    assert not (s1 / "secret").exists() and not (s1 / "checks").exists() and (s1 / "m01.ipynb").is_file()
    assert not course.path("submitted", "nobody", MODULE).exists()
    stamp = (course.path("submitted", "daemon", MODULE) / "timestamp.txt").read_text()
    assert not stamp.startswith("2026-11-01")   # the time its files really last changed
    out = {o.student: o for o in autograde(course, MODULE, workers=2, progress=False).outcomes}
    assert out["s1"].score == AUTO_POINTS and out["s1"].status == "tampered"
    assert "secret (a symbolic link)" in out["s1"].reason and "checks (a symbolic link)" in out["s1"].reason
    assert out["daemon"].score == AUTO_POINTS and "the later time counts" in out["daemon"].reason
    assert out["nobody"].status == "missing"


def test_the_sandbox_is_decided_once_and_never_degrades(monkeypatch):
    """`auto` without the tools runs without a sandbox, said once; `required` refuses; and a kernel manager told
    that the sandbox is required (what every worker of a sandboxed run is told) refuses to start a kernel
    when the sandbox has gone, instead of starting it bare."""
    monkeypatch.setitem(sandbox.TOOLS, "bwrap", "/nonexistent/bwrap")
    mode, why = sandbox.decide("auto")
    assert mode == "off" and "/nonexistent/bwrap" in why
    with pytest.raises(sandbox.SandboxUnavailable, match="required"):
        sandbox.decide("required")
    with pytest.raises(sandbox.SandboxUnavailable):
        sandbox.SandboxedKernelManager(kernel_name="python3", mode="required")


def test_the_formgrader_shows_a_students_html_and_scripts_as_harmless_text(tmp_path):
    """The formgrader renders students' notebooks in the instructor's browser, on the server's origin: a
    script in a markdown answer or an output would run with the instructor's rights."""
    from nbconvert import HTMLExporter
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
    from traitlets.config.loader import PyFileConfigLoader

    course = Course.init(tmp_path / "c", "html-course", secret="s")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course.root)).load_config()
    nb = new_notebook(cells=[
        new_markdown_cell("My answer <img src=x onerror=\"fetch('/api/contents')\"><script>steal()</script>"),
        new_code_cell("x", outputs=[
            new_output("display_data", data={"text/html": "<script>steal()</script><b onmouseover=steal()>bold</b>"}),
            new_output("display_data", data={"application/javascript": "steal()"})])])
    config.HTMLExporter.template_name = "classic"   # what nbgrader's formgrade template extends
    html, _ = HTMLExporter(config=config).from_notebook_node(nb)
    assert "<script>steal()" not in html and "onerror" not in html and "onmouseover" not in html
    assert "<script>\nsteal()" not in html and "<script type=\"text/javascript\">\nsteal()" not in html
    assert "<p>My answer" in html and "<b>bold</b>" in html   # the answer is shown, formatted


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small file system for the course (root)")
def test_a_full_disk_stops_nothing_for_good_and_the_rerun_grades_everyone(tmp_path):
    """The course's volume fills up mid-run (other users, logs, a kernel elsewhere): no traceback, the
    submissions that could not be graded are `retry` (or the run stops saying the disk is full), and once
    space is freed the next run grades them all."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "crmlab-test-disk", str(disk)], check=True)
    try:
        course = Course.init(disk / "c", "full-course", secret="s")
        students = ["f1", "f2", "f3"]
        course.add_students([{"id": s} for s in students])
        assign(course, MODULE, progress=False)
        rng = np.random.default_rng(8)
        for s in students:
            write_submission(course, MODULE, s, "correct", rng)
        filler = disk / "filler"
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        with open(filler, "wb") as f:
            f.write(b"\0" * (free - 256 * 1024))
        crmlab = str(Path(sys.executable).parent / "crmlab")
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        full = subprocess.run([crmlab, "autograde", MODULE, "--course", str(course.root)], env=env,
                              capture_output=True, text=True)
        assert "Traceback" not in full.stderr, full.stderr
        assert full.returncode in (0, 2)
        if full.returncode == 2:
            assert "full" in full.stderr and len(full.stderr.strip().splitlines()) == 1, full.stderr
        else:
            assert "retry" in full.stdout, full.stdout
        filler.unlink()
        rerun = autograde(course, MODULE, workers=2, progress=False)
        graded = {o.student: (o.status, o.score) for o in rerun.outcomes}
        assert all(graded.get(s, ("skipped", None))[0] in ("graded", "skipped") for s in students), graded
        assert len(rerun.outcomes) + len(rerun.skipped) == len(students)
        assert all(v == ("graded", AUTO_POINTS) for v in graded.values()), graded
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.slow
def test_four_workers_on_two_cores_grade_honest_work_in_full_five_runs_in_a_row(tmp_path):
    """Limits are per submission: beside kernels that fork, spin and allocate up to their limits, every honest
    kernel still runs to full marks — with twice as many workers as cores, five runs in a row."""
    course = Course.init(tmp_path / "c", "four-course", secret="s")
    hogs = ["fork_storm", "cpu_hog", "memory_fork", "disk_fill"]
    honest = [f"h{i}" for i in range(8)]
    course.add_students([{"id": s} for s in honest + hogs])
    assign(course, MODULE, progress=False)
    rng = np.random.default_rng(9)
    for s in honest:
        write_submission(course, MODULE, s, "correct", rng)
    for s in hogs:
        write_submission(course, MODULE, s, "blank", rng)
        _inject(course, s, ATTACKS[s])
    for run in range(5):
        out = {o.student: o for o in autograde(course, MODULE, workers=4, force=True, progress=False).outcomes}
        assert {s: (out[s].status, out[s].score) for s in honest} == {s: ("graded", AUTO_POINTS) for s in honest}, run
        assert all(out[s].status != "retry" and not out[s].score for s in hogs), run
