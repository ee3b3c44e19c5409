"""The command line: the sandboxed command for a kernel (or any process), and the kernel's environment.

    sh (into the submission's cgroup: memory, processes and CPU share of the whole submission)
      → prlimit (per process: address space, CPU time, processes, file size, open files)
        → bwrap (new mount, pid, network, ipc and uts namespaces; a clean environment)
          → setpriv (as root: a user id of its own, leased for this kernel only)
            → the command (a kernel: python -I -m ipykernel_launcher)
"""
from __future__ import annotations

import contextlib
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import DEFAULT_LIMITS, TOOLS, SandboxUnavailable

if TYPE_CHECKING:
    from .cgroups import Cgroup


def _readonly_paths() -> list[str]:
    """What the kernel must read: the system, this Python (venv and base), crmlab's own folder, the simulator package, the
    operational CRM package (students of operational modules work through it) and the role-play
    package (its player replays a saved conversation when the notebook runs)."""
    import crmlab
    import crmlab.crm
    import crmlab.roleplay
    import crmlab.simulator
    from crmlab.simulator.scenario import SCENARIO_DIR

    def folder(package) -> str:
        return str(Path(package.__file__).resolve().parent)

    # crmlab's own folder (its __init__ and the shared vocabulary, messages) but not crmlab.grading's
    paths = ["/usr", "/etc", sys.prefix, sys.base_prefix, str(SCENARIO_DIR),
             *(folder(p) for p in (crmlab, crmlab.simulator, crmlab.crm, crmlab.roleplay))]
    return sorted({os.path.realpath(p) for p in paths if os.path.exists(p)})


def wrap(cmd: list[str], *, workdir: str, private: str, limits: dict, env: dict[str, str], uid: int | None = None,
         scratch: str | None = None, readonly: tuple[str, ...] = (), chdir: str | None = None,
         cgroup: Cgroup | None = None) -> list[str]:
    """The sandboxed command line for ``cmd``. The process sees ``workdir`` (writable): the folder
    ``scratch`` if given, with the entries ``readonly`` of the real ``workdir`` bound read-only into it;
    else ``workdir`` itself. ``private`` holds its sockets; ``uid`` is its own user (as root)."""
    lim = {**DEFAULT_LIMITS, **limits}
    nproc = int(lim["processes"])
    if os.geteuid() != 0:   # no uid of its own: the limit counts every task of the grader's user, so on top of those
        nproc += _tasks_of(os.getuid())
    out = [TOOLS["prlimit"], f"--as={int(lim['memory_mb']) * 2**20}", f"--cpu={int(lim['cpu_seconds'])}",
           f"--nproc={nproc}", f"--fsize={int(lim['file_mb']) * 2**20}",
           f"--nofile={int(lim['open_files'])}", "--core=0"]
    # as root, no user namespace: the kernel then drops to a real unprivileged uid (below)
    unshare = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"] \
        if os.geteuid() == 0 else ["--unshare-all"]
    out += [TOOLS["bwrap"], *unshare, "--die-with-parent", "--new-session", "--clearenv",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm"]
    paths = _readonly_paths()
    # the folders leading to what is bound: bwrap would make them 0700 (root's), closed to the kernel
    parents = {str(a) for p in (*paths, workdir, private) for a in Path(p).parents if str(a) != "/"}
    for d in sorted(parents, key=lambda x: (x.count("/"), x)):
        out += ["--perms", "0755", "--dir", d]
    for p in paths:
        out += ["--ro-bind", p, p]
    for link in ("bin", "lib", "lib64", "sbin"):   # merged /usr: /bin → usr/bin …
        target = f"/{link}"
        if os.path.islink(target):
            out += ["--symlink", os.readlink(target), target]
    out += ["--bind", scratch or workdir, workdir, "--bind", private, private, "--chdir", chdir or workdir]
    # what the grader put in the working copy cannot be changed, replaced or deleted from inside
    for name in readonly:
        out += ["--ro-bind", os.path.join(workdir, name), os.path.join(workdir, name)]
    for k, v in env.items():
        out += ["--setenv", k, v]
    out += ["--remount-ro", "/", "--"]
    if os.geteuid() == 0:   # root sets the sandbox up, then the process runs as a plain user of its own (process
        # limits do not bind root): a real uid, so that it owns nothing of the grader's
        if uid is None:
            raise SandboxUnavailable("a root grader needs a leased uid for every sandbox")
        out += [TOOLS["setpriv"], f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--"]
    out += cmd
    if cgroup is not None:   # into the submission's cgroup before anything else starts
        enter = " && ".join(f"echo $$ > {shlex.quote(f)}" for f in cgroup.procs_files)
        out = [TOOLS["sh"], "-c", f'{enter} && exec "$@"', "sh", *out]
    return out


def _tasks_of(uid: int) -> int:
    """Processes and threads of ``uid`` now (what RLIMIT_NPROC counts)."""
    import psutil

    n = 0
    for p in psutil.process_iter(["uids", "num_threads"]):
        with contextlib.suppress(psutil.Error, TypeError):
            if p.info["uids"].real == uid:
                n += p.info["num_threads"] or 1
    return n


def kernel_env(workdir: str) -> dict[str, str]:
    """The kernel's whole environment: nothing of the grader's (tokens, paths, course settings)."""
    box = f"{workdir}/.sandbox"
    return {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": f"{box}/home", "TMPDIR": f"{box}/tmp",
            "IPYTHONDIR": f"{box}/ipython", "LANG": "C.UTF-8", "PYTHONNOUSERSITE": "1",
            "MPLBACKEND": "agg", "NBGRADER_EXECUTION": "autograde", "PYTHONDONTWRITEBYTECODE": "1",
            "CRMLAB_WORKDIR": workdir,
            # one thread per numerical library: threads count against the process limit
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            # ipykernel prints a "Ctrl-C will not work" note into the grader's console unless it has a
            # parent to poll; 1 means "none to poll" (the sandbox's own init is the kernel's parent)
            "JPY_PARENT_PID": "1"}
