"""The kernel sandbox on its own: a real kernel in bubblewrap, probed by hostile cells."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_code_cell, new_notebook

from grading import sandbox

pytestmark = pytest.mark.skipif(sandbox.available() is not None, reason=f"no sandbox here: {sandbox.available()}")


def run(workdir: Path, *cells: str, timeout: int = 15) -> list[str]:
    """Execute ``cells`` in a sandboxed kernel working in ``workdir``; one text per cell (its
    printed output, or 'ErrorName: message')."""
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    client = NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(workdir)}},
                            kernel_manager_class=sandbox.SandboxedKernelManager, timeout=timeout,
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
    if os.geteuid() == 0:
        assert out[3] == str(sandbox.SANDBOX_UID)


def test_the_data_cannot_be_changed_replaced_or_deleted_but_new_files_can_be_written(work):
    out = run(work,
              "import os\nfor op in (lambda: open('crm.db', 'w'), lambda: os.unlink('crm.db'), "
              "lambda: os.rename('crm.db', 'x')):\n    try:\n        op(); print('done')\n"
              "    except OSError as e:\n        print('refused')",
              "open('notes.txt', 'w').write('mine'); print(open('crm.db').read())")
    assert out == ["refused\nrefused\nrefused", "the student's data"]
    assert (work / "crm.db").read_text() == "the student's data"


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


def test_the_disk_watch_stops_a_kernel_that_writes_many_files(work):
    with sandbox.DiskWatch(work, disk_mb=20, every=0.2) as watch:
        with pytest.raises(DeadKernelError):
            run(work, "for i in range(100000):\n    open(f'f{i}', 'wb').write(b'x' * 100_000)", timeout=60)
    assert watch.hit and "limit is 20 MB" in watch.hit
    assert watch.usage()[0] < 200 * 2**20
