"""JupyterHub for a CRM-lab class (50–500 students) on one server, with nbgrader's exchange.

Each student and each instructor is an operating-system user whose user name is their id on the
roster (学号). The hub starts each one's JupyterLab as that user (LocalProcessSpawner), so the file
system keeps them apart: a student's personal data folder in the exchange is readable by them alone
(grading/classroom/exchange.py gives it to them at `crmlab assign`), the instructor's course folder by nobody
else. Steps: docs/guide-instructor.md, "Many users". Tested by tests/deploy/test_hub.py, which starts this
file (with a test authenticator and ports) with two students and an instructor.

Settings come from the environment, so this file is used as it is:

    CRMLAB_COURSE          the course instance (crmlab course init … --exchange /srv/nbgrader/exchange)
    CRMLAB_INSTRUCTORS     user names of the instructors, comma-separated (default: the course folder's owner)
    CRMLAB_STUDENT_CONFIG  the folder written by `crmlab student-config` (default /etc/crmlab/student)

Start it as root from the environment crmlab is installed in (it starts the users' servers from the
same one): ``CRMLAB_COURSE=/home/teacher/crm2026 /opt/crmlab/.venv/bin/jupyterhub -f deploy/jupyterhub_config.py``
"""
import os
import pwd
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when JupyterHub loads this file

COURSE = Path(os.environ.get("CRMLAB_COURSE", "/home/teacher/crm2026"))
INSTRUCTORS = {u.strip() for u in os.environ.get("CRMLAB_INSTRUCTORS", "").split(",") if u.strip()} or (
    {pwd.getpwuid(COURSE.stat().st_uid).pw_name} if COURSE.exists() else set())
STUDENT_CONFIG = os.environ.get("CRMLAB_STUDENT_CONFIG", "/etc/crmlab/student")
BIN = str(Path(sys.executable).parent)   # the environment with crmlab, nbgrader and JupyterLab


def roster() -> set[str]:
    """Who may log in besides the instructors: the course's roster (restart the hub after an import)."""
    from crmlab.grading.classroom.course import Course

    return set(Course.open(COURSE).students()) if COURSE.exists() else set()


# -- who logs in -------------------------------------------------------------------------------------------
# PAM: the server's own accounts and passwords (one account per student: `useradd -m s01`). A campus
# login (LDAP, CAS, OAuth) is another authenticator here; the user name must still be the student id.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = roster()
c.Authenticator.admin_users = INSTRUCTORS

# -- each user's server ---------------------------------------------------------------------------------
c.JupyterHub.spawner_class = "localprocess"          # as the user's own OS account
c.Spawner.cmd = [os.path.join(BIN, "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin"}   # nbgrader runs `alembic` by name


def pre_spawn_hook(spawner):
    """Instructors open on the course (the formgrader reads its nbgrader_config.py); students get the
    students' configuration: the course, the exchange, nbgrader's instructor parts switched off."""
    env = dict(spawner.environment)
    if spawner.user.name in INSTRUCTORS:
        spawner.notebook_dir = str(COURSE)
        env["JUPYTER_CONFIG_PATH"] = str(COURSE)
    else:
        env["JUPYTER_CONFIG_PATH"] = STUDENT_CONFIG
    spawner.environment = env


c.Spawner.pre_spawn_hook = pre_spawn_hook

# -- a class of 50–500 on one server ------------------------------------------------------------------------
# A whole class logs in at the start of a lesson: let spawns queue instead of failing (each takes ≈3–5 s).
c.JupyterHub.concurrent_spawn_limit = 50
c.JupyterHub.active_server_limit = 0                 # no cap; size the machine instead (below)
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 60
# Memory: an idle JupyterLab with a kernel on a module's data takes ≈150–250 MB; 500 users need ≈100 GB if
# all are active, so stop idle servers (pip install jupyterhub-idle-culler), keeping a lesson's worth:
# c.JupyterHub.services = [{"name": "idle-culler", "command": [sys.executable, "-m", "jupyterhub_idle_culler",
#                           "--timeout=3600"]}]
# c.JupyterHub.load_roles = [{"name": "idle-culler", "services": ["idle-culler"],
#                             "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]}]
# Per-user memory and CPU limits need a spawner that enforces them (SystemdSpawner: c.SystemdSpawner.mem_limit).
# Grading runs on the instructor's side (`crmlab autograde --workers N`, or --scheduler on a Dask cluster).

# -- the hub's own files -------------------------------------------------------------------------------------
c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/srv/jupyterhub/jupyterhub_cookie_secret"
c.JupyterHub.bind_url = "http://:8000"               # put HTTPS in front (nginx) or set ssl_cert / ssl_key
