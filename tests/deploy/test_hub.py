"""The multi-user setup for real: JupyterHub with deploy/jupyterhub_config.py, each user an OS account.

Two students and an instructor are created as OS users (only when the test runs as root; removed
afterwards). The instructor makes the course with `crmlab` as their own user, with the exchange
outside it, imports the roster from XLSX and assigns m01; the hub starts everybody's JupyterLab as
their own user (LocalProcessSpawner), and the students work through their servers' REST API as the
lab's assignment list does: fetch (their own data, owned by them; a classmate's folder is refused
by the OS), submit; the instructor collects, autogrades and releases feedback; a student fetches
their feedback and reads `crmlab my-scores`. The instructor's server has the formgrader, the
students' do not. Only the authenticator (a test one, logins through API tokens) and the ports
differ from deploy/jupyterhub_config.py.

Needs root, `useradd`, `setfacl` (Debian: acl), the jupyterhub package and configurable-http-proxy
(npm; .ci/run installs it into .cache/chp/); skipped with the reason otherwise.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser import free_port
from paths import REPO

DEPLOY = REPO / "deploy" / "jupyterhub_config.py"
BIN = Path(sys.executable).parent
TEACHER, STUDENTS = "crmhub-t", ["crmhub-s1", "crmhub-s2"]
COURSE_ID = "crm-hub-test"
TOKEN = "crmlab-hub-test-" + os.urandom(8).hex()


def chp() -> str | None:
    found = os.environ.get("CRMLAB_CHP") or shutil.which("configurable-http-proxy")
    local = REPO / ".cache" / "chp" / "node_modules" / ".bin" / "configurable-http-proxy"
    return found or (str(local) if local.exists() else None)


def _others_can_run(path: Path) -> bool:
    """Every folder on the way to the file is open to other users, and the file is executable by them."""
    path = path.resolve()
    return bool(path.stat().st_mode & 0o001) and all(p.stat().st_mode & 0o001 for p in path.parents)


def _why_not() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root to create the users' OS accounts"
    if not _others_can_run(Path(sys.executable)):
        return (f"this Python ({Path(sys.executable).resolve()}) is not reachable by other users, who must run the "
                "environment's jupyterhub-singleuser and crmlab: make the virtual environment from a system Python "
                "(e.g. /usr/bin/python3 -m venv)")
    for tool, package in (("useradd", "passwd"), ("setfacl", "acl"), ("runuser", "util-linux")):
        if not shutil.which(tool):
            return f"{tool} not found (Debian: apt-get install {package})"
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        return "the jupyterhub package is not installed (pip install -e '.[test]')"
    if not chp():
        return "configurable-http-proxy not found (npm install configurable-http-proxy; .ci/run does it)"
    taken = [u for u in [TEACHER, *STUDENTS] if _user_exists(u)]
    if taken:
        return f"OS user(s) {', '.join(taken)} exist already (left by an interrupted run? userdel -r them)"
    return None


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


WHY_NOT = _why_not()
real_hub = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")


class FakeSpawner:
    """What deploy/jupyterhub_config.py's hook reads and writes of a spawner."""
    def __init__(self, name):
        self.user = type("User", (), {"name": name})()
        self.environment, self.notebook_dir = {"PATH": "/x"}, None


def test_the_deploy_config_loads_and_gives_instructors_the_course_and_students_their_config(tmp_path, monkeypatch):
    """Wherever the real hub cannot start: the file loads with traitlets, as JupyterHub loads it."""
    from traitlets.config.loader import PyFileConfigLoader

    from crmlab.grading.classroom.course import Course

    course = Course.init(tmp_path / "crm2026", "crm-deploy-test", exchange=tmp_path / "exchange")
    course.add_students([{"id": "s01"}, {"id": "s02"}])
    monkeypatch.setenv("CRMLAB_COURSE", str(course.root))
    monkeypatch.setenv("CRMLAB_INSTRUCTORS", "teacher")
    monkeypatch.setenv("CRMLAB_STUDENT_CONFIG", str(tmp_path / "student"))
    c = PyFileConfigLoader(DEPLOY.name, path=str(DEPLOY.parent)).load_config()
    assert c.JupyterHub.spawner_class == "localprocess" and c.JupyterHub.authenticator_class == "pam"
    assert c.Authenticator.allowed_users == {"s01", "s02"} and c.Authenticator.admin_users == {"teacher"}
    assert c.Spawner.cmd == [str(BIN / "jupyterhub-singleuser")]
    teacher, student = FakeSpawner("teacher"), FakeSpawner("s01")
    c.Spawner.pre_spawn_hook(teacher)
    c.Spawner.pre_spawn_hook(student)
    assert teacher.notebook_dir == str(course.root) and teacher.environment["JUPYTER_CONFIG_PATH"] == str(course.root)
    assert student.notebook_dir is None and student.environment["JUPYTER_CONFIG_PATH"] == str(tmp_path / "student")
    assert course.settings.course.exchange == str(tmp_path / "exchange")


@pytest.fixture(scope="module")
def base():
    """A folder all the test's users can reach (pytest's own temp folders are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="crmlab-hub-", dir="/tmp"))
    folder.chmod(0o755)
    made = []
    try:
        (folder / "home").mkdir(mode=0o755)
        for user in [TEACHER, *STUDENTS]:
            subprocess.run(["useradd", "-m", "-d", str(folder / "home" / user), "-s", "/bin/bash", user], check=True)
            made.append(user)
            (folder / "home" / user).chmod(0o700)
        yield folder
    finally:
        for user in made:
            stop_processes_of(user)
            subprocess.run(["userdel", "-r", user], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def stop_processes_of(user: str) -> None:
    """Whatever still runs as one of the test's own users (started by this test), stopped by its id."""
    import psutil

    uid = pwd.getpwnam(user).pw_uid
    procs = [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid]
    for p in procs:
        p.terminate()
    for p in psutil.wait_procs(procs, timeout=10)[1]:
        p.kill()


def as_user(user: str, *argv: str, base: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = [f"HOME={base / 'home' / user}", f"PATH={BIN}:/usr/bin:/bin", "LANG=C.UTF-8"]
    r = subprocess.run(["runuser", "-u", user, "--", "env", "-i", *env, *argv], capture_output=True, text=True,
                       timeout=600, cwd=base / "home" / user)
    if check:
        assert r.returncode == 0, f"{user}: {' '.join(argv)}\n{r.stdout}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def course(base):
    """The instructor's side, as the guide's "Many users" steps do it, as the instructor's own user."""
    from openpyxl import Workbook

    exchange = base / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)                        # like /srv/nbgrader/exchange: every user writes, sticky
    root = base / "home" / TEACHER / "crm2026"
    roster = base / "home" / TEACHER / "students.xlsx"
    wb = Workbook()
    wb.active.append(["学号", "姓名", "邮箱"])
    for i, s in enumerate(STUDENTS, 1):
        wb.active.append([s, ["张伟", "欧阳娜娜"][i - 1], f"{s}@example.edu"])
    wb.save(roster)
    shutil.chown(roster, TEACHER)
    crmlab = str(BIN / "crmlab")
    as_user(TEACHER, crmlab, "course", "init", str(root), "--course-id", COURSE_ID, "--exchange", str(exchange), base=base)
    as_user(TEACHER, crmlab, "roster", "import", str(roster), "--course", str(root), base=base)
    as_user(TEACHER, crmlab, "assign", "m01", "--course", str(root), base=base)
    student_config = base / "student-config"
    subprocess.run([crmlab, "student-config", "--course", str(root), "--out", str(student_config)], check=True,
                   capture_output=True)
    return root


def api(url: str, token: str, method: str = "GET", body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        text = r.read().decode()
        return r.status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)


@pytest.fixture(scope="module")
def hub(base, course):
    """deploy/jupyterhub_config.py with a test authenticator and free ports; yields the public URL."""
    port, hub_port, proxy_api = free_port(), free_port(), free_port()
    folder = base / "hub"
    folder.mkdir()
    config = folder / "jupyterhub_config.py"
    config.write_text(f"""
c = get_config()
load_subconfig({str(DEPLOY)!r})
# the test's differences: logins by API token (a test authenticator), its own ports and files
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api}"
c.ConfigurableHTTPProxy.command = [{chp()!r}]
c.JupyterHub.db_url = "sqlite:///{folder}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/cookie_secret"
c.JupyterHub.pid_file = "{folder}/jupyterhub.pid"
c.JupyterHub.services = [{{"name": "crmlab-test", "api_token": {TOKEN!r}}}]
c.JupyterHub.load_roles = [{{"name": "crmlab-test", "services": ["crmlab-test"],
                             "scopes": ["admin:users", "admin:servers", "tokens"]}}]
""", encoding="utf-8")
    env = dict(os.environ, CRMLAB_COURSE=str(course), CRMLAB_INSTRUCTORS=TEACHER,
               CRMLAB_STUDENT_CONFIG=str(base / "student-config"), PATH=f"{BIN}:{os.environ['PATH']}")
    log = open(folder / "hub.log", "wb")
    proc = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(config)], cwd=folder, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                api(f"{url}/hub/api/", TOKEN)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("the hub exited:\n" + (folder / "hub.log").read_text(errors="replace")[-4000:])
                time.sleep(0.25)
        else:
            pytest.fail("the hub did not answer:\n" + (folder / "hub.log").read_text(errors="replace")[-4000:])
        yield url
    finally:
        proc.terminate()   # the hub stops the users' servers and the proxy it started
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def log_in(hub: str, user: str) -> str:
    """Start the user's server through the hub's REST API; the user's own token for it."""
    api(f"{hub}/hub/api/users/{user}/server", TOKEN, "POST")
    for _ in range(240):
        _, info = api(f"{hub}/hub/api/users/{user}", TOKEN)
        if (info.get("servers", {}).get("") or {}).get("ready"):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the server of {user} did not start")
    _, token = api(f"{hub}/hub/api/users/{user}/tokens", TOKEN, "POST", {"note": "crmlab test"})
    return token["token"]


def assignments(hub: str, user: str, token: str, action: str | None = None):
    url = f"{hub}/user/{user}/assignments" + (f"/{action}" if action else f"?course_id={COURSE_ID}")
    body = {"course_id": COURSE_ID, "assignment_id": "m01"} if action else None
    return api(url, token, "POST" if action else "GET", body)[1]


@real_hub
def test_a_class_on_jupyterhub_each_user_their_own_account(base, course, hub):
    from crmlab.grading.classroom.course import Course
    from crmlab.grading.classroom.data import student_database

    tokens = {u: log_in(hub, u) for u in [TEACHER, *STUDENTS]}
    # who runs what: every server as its own OS user
    for user, token in tokens.items():
        _, status = api(f"{hub}/user/{user}/api/status", token)
        assert status["started"]
    with pytest.raises(urllib.error.HTTPError, match="403|404"):   # a student's token opens no classmate's server
        api(f"{hub}/user/{STUDENTS[1]}/api/status", tokens[STUDENTS[0]])

    # students: fetch from the assignment list's API, as the Fetch button does
    for s in STUDENTS:
        released = assignments(hub, s, tokens[s])
        assert [a["assignment_id"] for a in released["value"] if a["status"] == "released"] == ["m01"], released
        assignments(hub, s, tokens[s], "fetch")
        db = base / "home" / s / "m01" / "crm.db"
        assert db.read_bytes() == student_database(Course.open(course), "m01", s).read_bytes()
        assert pwd.getpwuid(db.stat().st_uid).pw_name == s               # fetched by the student's own server
    personal = base / "exchange" / COURSE_ID / "personal"
    mine = as_user(STUDENTS[0], "head", "-c", "15", str(personal / STUDENTS[0] / "m01" / "crm.db"), base=base, check=False)
    theirs = as_user(STUDENTS[0], "head", "-c", "15", str(personal / STUDENTS[1] / "m01" / "crm.db"), base=base, check=False)
    assert mine.returncode == 0 and theirs.returncode != 0 and "Permission denied" in theirs.stderr
    listing = as_user(STUDENTS[0], "ls", str(personal), base=base, check=False)
    assert listing.returncode != 0                                       # nobody lists who is in the class
    gradebook = as_user(STUDENTS[0], "head", "-c", "15", str(course / "gradebook.db"), base=base, check=False)
    assert gradebook.returncode != 0                                     # the course folder is the instructor's

    for s in STUDENTS:
        assignments(hub, s, tokens[s], "submit")

    # the instructor: the formgrader in their server (none in a student's), grading with crmlab as their user
    status, page = api(f"{hub}/user/{TEACHER}/formgrader/", tokens[TEACHER])
    assert status == 200 and "nbgrader formgrade" in page
    _, listed = api(f"{hub}/user/{TEACHER}/formgrader/api/assignments", tokens[TEACHER])   # what its page shows
    assert [a["status"] for a in listed if a["name"] == "m01"] == ["released"], listed
    with pytest.raises(urllib.error.HTTPError, match="404"):
        api(f"{hub}/user/{STUDENTS[0]}/formgrader/", tokens[STUDENTS[0]])
    crmlab = str(BIN / "crmlab")
    assert "new 2" in as_user(TEACHER, crmlab, "collect", "m01", "--course", str(course), base=base).stdout
    assert "graded 2" in as_user(TEACHER, crmlab, "autograde", "m01", "--course", str(course), base=base).stdout
    assert "released to 2" in as_user(TEACHER, crmlab, "release-feedback", "m01", "--course", str(course),
                                      base=base).stdout

    # a student fetches their feedback (the Fetch Feedback button's call) and reads their scores
    s = STUDENTS[0]
    listed = assignments(hub, s, tokens[s], "fetch_feedback")
    submitted = [a for a in listed["value"] if a["status"] == "submitted"]
    assert any(sub["has_local_feedback"] for a in submitted for sub in a["submissions"]), submitted
    [page] = (base / "home" / s / "m01" / "feedback").glob("*/m01.html")
    assert f"({s})" in page.read_text(encoding="utf-8") and STUDENTS[1] not in page.read_text(encoding="utf-8")
    scores = as_user(s, crmlab, "my-scores", base=base)
    assert f"{COURSE_ID} · {s}" in scores.stdout and "/15" in scores.stdout   # automatic + by hand = total, out of 15
