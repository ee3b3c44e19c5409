"""The kernel sandbox on its own: a real kernel in bubblewrap, probed by hostile cells."""
from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_code_cell, new_notebook

from crmlab.grading.run import sandbox

pytestmark = pytest.mark.skipif(sandbox.available() is not None, reason=f"no sandbox here: {sandbox.available()}")


def run(workdir: Path, *cells: str, timeout: int = 15, limits: dict | None = None) -> list[str]:
    """Execute ``cells`` in a sandboxed kernel working in ``workdir``; one text per cell (its
    printed output, or 'ErrorName: message')."""
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    km = sandbox.SandboxedKernelManager(kernel_name="python3", limits=limits or {})
    client = NotebookClient(nb, km=km, resources={"metadata": {"path": str(workdir)}}, timeout=timeout,
                            allow_errors=True, interrupt_on_timeout=True)
    client.execute()
    texts = []
    for cell in nb.cells:
        parts = [o.get("text", "") if o["output_type"] == "stream" else f"{o.get('ename')}: {o.get('evalue')}"
                 for o in cell.outputs if o["output_type"] in ("stream", "error")]
        texts.append("".join(parts).strip())
    return texts


@pytest.fixture
def work(tmp_path):
    d = tmp_path / "course" / "autograded" / "s1" / "m01"
    d.mkdir(parents=True)
    (d / "crm.db").write_text("the student's data")
    (tmp_path / "course" / "gradebook.db").write_text("grades")
    (tmp_path / "course" / "source").mkdir()
    (tmp_path / "course" / "source" / "hidden_tests.py").write_text("ANSWER = 42")
    return d


def test_the_kernel_sees_only_its_working_copy_and_a_clean_environment(work, monkeypatch):
    monkeypatch.setenv("CRMLAB_GRADER_TOKEN", "secret-of-the-grader")
    course = work.parents[2]
    out = run(work,
              "import os; print(sorted(os.listdir('.')))",
              f"print([os.path.exists(p) for p in ({str(course / 'gradebook.db')!r}, "
              f"{str(course / 'source' / 'hidden_tests.py')!r}, {str(Path.home())!r} + '/.bashrc')])",
              "print('CRMLAB_GRADER_TOKEN' in os.environ, os.environ.get('HOME'))",
              "print(os.getuid() if os.getuid() else 'root')")
    assert out[0] == "['.sandbox', 'crm.db']"
    assert out[1] == "[False, False, False]"
    assert out[2].startswith("False ") and str(work) in out[2]
    if os.geteuid() == 0:   # a user of its own, from the sandbox's range
        assert sandbox.UID_BASE <= int(out[3]) < sandbox.UID_BASE + sandbox.UID_SLOTS


def test_the_data_cannot_be_changed_replaced_or_deleted_but_new_files_can_be_written(work):
    out = run(work,
              "import os\nfor op in (lambda: open('crm.db', 'w'), lambda: os.unlink('crm.db'), "
              "lambda: os.rename('crm.db', 'x')):\n    try:\n        op(); print('done')\n"
              "    except OSError as e:\n        print('refused')",
              "open('notes.txt', 'w').write('mine'); print(open('crm.db').read())")
    assert out == ["refused\nrefused\nrefused", "the student's data"]
    assert (work / "crm.db").read_text() == "the student's data"
    assert sorted(os.listdir(work)) == ["crm.db"]   # what the kernel wrote stayed in its own space


def test_links_and_files_the_kernel_leaves_never_reach_the_working_copy(work, tmp_path):
    """nbgrader's permission step runs as root over the working copy after execution and follows links:
    the kernel must not be able to leave any there."""
    victim = tmp_path / "host-secret"
    victim.write_text("root's")
    victim.chmod(0o600)
    out = run(work, f"import os\nos.symlink({str(victim)!r}, 'link'); os.mkdir('sub'); "
                    "os.symlink('/etc/shadow', 'sub/x'); open('left.txt', 'w').write('x'); print(sorted(os.listdir('.')))")
    assert out == ["['.sandbox', 'crm.db', 'left.txt', 'link', 'sub']"]
    assert sorted(os.listdir(work)) == ["crm.db"]
    assert oct(victim.stat().st_mode & 0o777) == "0o600"


def test_no_network_not_even_the_graders_loopback(work):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        out = run(work, f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                        "    print('connected')\nexcept OSError as e:\n    print('refused')")
    finally:
        server.close()
    assert out == ["refused"]


def test_memory_processes_and_file_size_are_limited_and_the_kernel_survives(work):
    out = run(work,
              "x = bytearray(8 * 2**30)",
              "import os\nn = 0\ntry:\n    while n < 10000:\n        if os.fork() == 0:\n"
              "            import time; time.sleep(20); os._exit(0)\n        n += 1\nexcept OSError:\n    print(n < 100)",
              "f = open('big', 'wb')\nfor i in range(300):\n    f.write(b'x' * 2**20)",
              "print('still here')")
    assert out[0].startswith("MemoryError")
    assert out[1] == "True"
    assert "File too large" in out[2]
    assert out[3] == "still here"


def test_a_kernel_that_exits_dies_alone(work):
    with pytest.raises(DeadKernelError):   # reported as dead, not waited for (how long: no wall-clock bound here)
        run(work, "import os; os._exit(3)", "print('unreachable')")


@pytest.mark.skipif(os.geteuid() != 0, reason="the working space is a size-limited tmpfs only as root")
def test_the_disk_limit_is_exact_however_fast_the_kernel_writes(work):
    """As root the kernel's space is a tmpfs of disk_mb: writing stops at the limit (a sparse file
    counts what it really holds), and the kernel lives on to say so."""
    with sandbox.Workspace(work, {"disk_mb": 20}) as ws:
        out = run(work, "f = open('sparse', 'wb'); f.seek(150 * 2**20); f.write(b'x'); f.close(); print('sparse ok')",
                  "import os\nn = 0\ntry:\n    for i in range(100000):\n"
                  "        open(f'f{i}', 'wb').write(b'x' * 100_000); n += 1\nexcept OSError as e:\n"
                  "    print(e.errno, n)",
                  "print(sum(os.stat(p).st_blocks for p in os.listdir('.') if os.path.isfile(p)) * 512 <= 20 * 2**20)")
        hit = ws.disk_hit()
    errno_, written = out[1].split()
    assert out[0] == "sparse ok"
    assert errno_ == "28" and 150 <= int(written) <= 210   # ENOSPC after ≈20 MB of 100 kB files
    assert out[2] == "True"
    assert hit and json.loads(hit)["limit_mb"] == 20


@pytest.mark.skipif(os.geteuid() != 0, reason="a uid per kernel as root only")
def test_a_fork_storm_in_one_kernel_leaves_another_kernel_its_processes(tmp_path):
    """Processes are limited per submission: a kernel that forks up to its limit does not stop a kernel
    running beside it from starting processes of its own."""
    a, b = tmp_path / "a" / "m01", tmp_path / "b" / "m01"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    results = {}

    def storm():
        results["a"] = run(a, "import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
                              "            time.sleep(30); os._exit(0)\n        n += 1\nexcept OSError:\n    print(n)\n"
                              "time.sleep(8)", timeout=30, limits={"processes": 32})
    t = threading.Thread(target=storm)
    t.start()
    results["b"] = run(b, "import time; time.sleep(3)",
                       "import subprocess\nprint([subprocess.run(['true']).returncode for _ in range(20)])",
                       timeout=30, limits={"processes": 32})
    t.join()
    assert int(results["a"][0]) < 32
    assert results["b"][1] == str([0] * 20)


def test_the_kernel_imports_the_student_packages_but_not_the_grader(work):
    """What a notebook imports is there (the CRM, the simulator, the role-play, the shared vocabulary); the grader's
    code is not: crmlab.grading's folder is not bound into the sandbox, and nor is the course's checks folder."""
    import crmlab.paths

    out = run(work,
              "import crmlab.crm, crmlab.simulator, crmlab.roleplay, crmlab.vocab; print('student packages: ok')",
              "import crmlab.grading",
              "from crmlab.grading.run import verify",
              f"import os; print(os.path.exists({str(crmlab.paths.COURSE / 'checks')!r}))")
    assert out[0] == "student packages: ok"
    assert out[1].startswith("ModuleNotFoundError") and "crmlab.grading" in out[1], out[1]
    assert out[2].startswith("ModuleNotFoundError"), out[2]
    assert out[3] == "False"
