"""Scale-out: the same autograde on a (local) Dask cluster, with the gradebook in a PostgreSQL server
that the test starts from Debian's package."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from crmlab.grading.classroom.assign import assign
from crmlab.grading.run.autograde import autograde
from crmlab.grading.classroom.course import Course
from crmlab.grading.demo import demo_spec, write_submission

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
pytestmark = pytest.mark.skipif(not PG_BIN, reason="PostgreSQL is not installed (Debian: apt-get install postgresql)")


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its tools as the package's 'postgres' user."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def postgres():
    """A throw-away PostgreSQL server on a Unix socket (no TCP), with an empty database; its URL."""
    bindir = PG_BIN[-1]
    base = Path(tempfile.mkdtemp(prefix="crmlab-pg-", dir="/tmp"))
    base.chmod(0o755)
    data, sock = base / "data", base / "sock"
    data.mkdir()
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
    subprocess.run(_as_postgres([f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "-A", "trust"]),
                   check=True, capture_output=True)
    port = 54000 + os.getpid() % 1000
    subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", str(data), "-w", "-l", str(data / "log"), "-o",
                                 f"-p {port} -k {sock} -c listen_addresses=''", "start"]),
                   check=True, capture_output=True)
    try:
        subprocess.run(_as_postgres([f"{bindir}/createdb", "-h", str(sock), "-p", str(port), "-U", "postgres",
                                     "gradebook"]), check=True, capture_output=True)
        yield f"postgresql://postgres@/gradebook?host={sock}&port={port}"
    finally:
        subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c.scheduler_address


def _wrong_answers(notebook: Path, *cells: str) -> None:
    """Put plausible wrong answers of course/demo/m01.toml into these answer cells."""
    import json
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for c in nb["cells"]:
        if c["metadata"].get("nbgrader", {}).get("grade_id") in cells:
            c["source"] = demo_spec("m01")["wrong"][c["metadata"]["nbgrader"]["grade_id"]]
    notebook.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")


def test_a_class_graded_on_a_dask_cluster_into_a_postgresql_gradebook(tmp_path, postgres, cluster):
    import psycopg

    course = Course.init(tmp_path / "c", "scale-course", db_url=postgres)
    kinds = {"s1": "correct", "s2": "correct", "s3": "blank", "s4": "correct"}
    course.add_students([{"id": s} for s in kinds])
    assign(course, "m01", progress=False)
    rng = np.random.default_rng(3)
    for s, kind in kinds.items():
        write_submission(course, "m01", s, kind, rng)
    _wrong_answers(course.path("submitted", "s2", "m01") / "m01.ipynb", "ans_top10", "ans_wait")
    assert not (course.root / "gradebook.db").exists()   # the gradebook is in the server

    summary = autograde(course, "m01", progress=False, scheduler=cluster)
    scores = {o.student: o.score for o in summary.outcomes}
    assert {o.status for o in summary.outcomes} == {"graded"}
    # s2: the top ten ranked by id and the handle time for the wait, 2 points each: 11 - 4 (test_grading.py)
    assert scores["s1"] == scores["s4"] == 11 and scores["s3"] == 0 and scores["s2"] == 7

    # the scores are in PostgreSQL, where nbgrader put them
    con = psycopg.connect(postgres)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT s.student_id, SUM(g.auto_score) FROM grade g "
                        "JOIN submitted_notebook n ON n.id = g.notebook_id "
                        "JOIN submitted_assignment s ON s.id = n.assignment_id GROUP BY s.student_id")
            stored = dict(cur.fetchall())
    finally:
        con.close()
    assert {k: float(v) for k, v in stored.items()} == scores
    # resumable on the cluster too: nothing left to grade
    again = autograde(course, "m01", progress=False, scheduler=cluster)
    assert sorted(again.skipped) == sorted(kinds) and again.outcomes == []


def test_a_submission_that_overruns_on_a_cluster_worker_is_stopped_there(tmp_path, cluster):
    """No coordinator can kill a Dask task: the grading step stops its own kernel when the time is up, and
    the cluster's workers go on grading."""
    import json

    course = Course.init(tmp_path / "c", "overrun-course")
    course.add_students([{"id": s} for s in ("loops", "honest")])
    toml = course.root / "crmlab.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("cell_timeout = 20", "cell_timeout = 4"), encoding="utf-8")
    course = Course.open(course.root)
    assign(course, "m01", progress=False)
    rng = np.random.default_rng(4)
    write_submission(course, "m01", "honest", "correct", rng)
    write_submission(course, "m01", "loops", "blank", rng)
    path = course.path("submitted", "loops", "m01") / "m01.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    for c in nb["cells"]:   # every answer cell under the cell limit, the notebook far over the submission's
        if c["metadata"].get("nbgrader", {}).get("solution") and c["cell_type"] == "code":
            c["source"] = "import time\ntime.sleep(3.5)"
    path.write_text(json.dumps(nb), encoding="utf-8")
    summary = autograde(course, "m01", progress=False, scheduler=cluster, submission_timeout=10, force=True)
    out = {o.student: o for o in summary.outcomes}
    assert out["loops"].status == "timeout" and "longer than 10 s" in out["loops"].reason, out["loops"].reason
    assert (out["honest"].status, out["honest"].score) == ("graded", 11)
    again = autograde(course, "m01", progress=False, scheduler=cluster, force=True, students=["honest"])
    assert [o.status for o in again.outcomes] == ["graded"]
