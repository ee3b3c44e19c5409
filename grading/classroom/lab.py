"""`crmlab lab`: JupyterLab configured for a course, as its instructor or as one of its students.

As the instructor (no ``--user``) the lab opens on the course instance itself: its
``nbgrader_config.py`` is in the working directory, so the Nbgrader menu's formgrader, the exchange
and the gradebook just work.

As a student (``--user s01``) the lab opens on that student's home, ``DIR/home/<student>/``, with
Jupyter's configuration, data and runtime folders inside it (``.jupyter/``, ``.local/``). Their
``nbgrader_config.py`` there names the course, the exchange and who they are (nbgrader otherwise
takes the OS user), and the instructor's parts of nbgrader (formgrader, create assignment, course
list) are switched off. So several students can be played on one machine for a demo or a test; on a
multi-user JupyterHub the same files go into each user's real home (docs/guide-instructor.md).
"""
from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from crmlab.grading.classroom.course import Course, CourseError
from crmlab.grading.classroom.data import check_student_id
from crmlab.grading.classroom.exchange import student_config

# the instructor's parts of nbgrader, hidden from students: lab plugins and server extensions
STUDENT_HIDDEN_PLUGINS = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                          "@jupyter/nbgrader:course-list"]
STUDENT_OFF_EXTENSIONS = ["nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list"]


@dataclass(frozen=True)
class LabLaunch:
    """Everything needed to start the server: what to run, where, with which environment."""
    argv: list[str]
    cwd: Path
    env: dict
    url: str          # what to open in the browser (with the token)
    who: str          # "instructor" or the student id


def student_home(course: Course, student: str) -> Path:
    return course.root / "home" / check_student_id(student)


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_student_config(course: Course, folder: Path, student: str | None = None) -> Path:
    """The Jupyter configuration of a student's server, in ``folder``: nbgrader's (course, exchange,
    and ``student`` if given, else nbgrader takes the OS user), and the instructor's parts off.

    For one student played on one machine (``crmlab lab --user``) or, without ``student``, for every
    student of a hub (``crmlab student-config``, put on their servers' JUPYTER_CONFIG_PATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nbgrader_config.py").write_text(student_config(course, student), encoding="utf-8")
    _write_json(folder / "jupyter_server_config.json",
                {"ServerApp": {"jpserver_extensions": {name: False for name in STUDENT_OFF_EXTENSIONS}}})
    _write_json(folder / "labconfig" / "page_config.json",
                {"disabledExtensions": {name: True for name in STUDENT_HIDDEN_PLUGINS}})
    return folder


def prepare_student_home(course: Course, student: str) -> dict:
    """Create or refresh one student's home and return the environment that points Jupyter at it."""
    if student not in course.students():
        raise CourseError(f"{student} is not on the roster of {course.course_id}: add them with "
                          f"`crmlab roster import`")
    home = student_home(course, student)
    config = home / ".jupyter"
    write_student_config(course, config, student)
    settings = config / "lab" / "user-settings"
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    if not news.exists():   # classrooms are often offline: no "news" pop-up asking to go online
        _write_json(news, {"fetchNews": "false", "checkForUpdates": False})
    data = home / ".local" / "share" / "jupyter"
    return {"JUPYTER_CONFIG_DIR": str(config), "JUPYTER_DATA_DIR": str(data),
            "JUPYTER_RUNTIME_DIR": str(data / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(config / "lab" / "workspaces"), "IPYTHONDIR": str(home / ".ipython")}


def lab_launch(course: Course, user: str | None = None, port: int = 8888, ip: str = "127.0.0.1",
               token: str | None = None) -> LabLaunch:
    """The JupyterLab command for the course's instructor (``user`` None) or one student."""
    token = token or secrets.token_hex(16)
    bindir = str(Path(sys.executable).parent)
    # nbgrader runs `alembic` by name, and kernels should be this environment's python
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    if user:
        env.update(prepare_student_home(course, user))
        root = student_home(course, user)
    else:
        root = course.root
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.ip={ip}", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--ServerApp.allow_root=True")
    host = "127.0.0.1" if ip in ("0.0.0.0", "") else ip
    return LabLaunch(argv, root, env, f"http://{host}:{port}/lab?token={token}", user or "instructor")
