"""Each student's kernel in a sandbox: bubblewrap namespaces, an unprivileged user, resource limits.

nbgrader's Execute step starts the kernel through a jupyter_client kernel manager; the course's
nbgrader configuration names :class:`SandboxedKernelManager` instead of the default one. It
launches the kernel as

    prlimit (memory, CPU time, processes, file size, open files)
      → setpriv (an unprivileged uid/gid, when the grader runs as root)
        → bwrap (new mount, pid, network, ipc and uts namespaces; a clean environment)
          → python -m ipykernel_launcher

Inside, the kernel sees a read-only system (``/usr``, ``/etc``), the Python it runs on, the
simulator and CRM packages, and one writable folder: the submission's working copy (nbgrader's
``autograded/<student>/<module>``, which holds only that submission and its data). The files the
working copy holds at launch are bound read-only, except those a module names as writable
(``data_writable = true`` in crmlab.toml: an operational module's CRM database and action log). Not there: the
course directory (sources with hidden tests and solutions, the gradebook, other students, the
grader-private store), the grader's home and environment variables, the network. The kernel talks
to the grader over ZeroMQ ``ipc`` sockets in a private folder, since it has no network.

What it does not protect against is written in docs/design.md ("Sandbox"). Where bubblewrap is
missing, grading goes on without a sandbox and says so (``sandbox = "auto"``), or refuses
(``sandbox = "required"``).
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
import weakref
from pathlib import Path

from jupyter_client import AsyncKernelManager
from traitlets import Dict, List, Unicode

SANDBOX_UID = 64000 + 321          # the unprivileged user a root grader runs kernels as
SANDBOX_DIRS = ("home", "tmp")     # created inside the working copy: HOME and TMPDIR
DEFAULT_LIMITS = {"memory_mb": 3072, "cpu_seconds": 600, "processes": 64, "file_mb": 200, "open_files": 256}


class SandboxUnavailable(RuntimeError):
    pass


def available() -> str | None:
    """Why kernels cannot be sandboxed here, or None if they can."""
    for tool in ("bwrap", "prlimit") + (("setpriv",) if os.geteuid() == 0 else ()):
        if not shutil.which(tool):
            return f"'{tool}' is not installed (Debian: apt-get install bubblewrap util-linux)"
    return None


def _readonly_paths() -> list[str]:
    """What the kernel must read: the system, this Python (venv and base), the simulator package, the
    operational CRM package (students of operational modules work through it) and the role-play
    package (its player replays a saved conversation when the notebook runs)."""
    import crm
    import roleplay
    import simulator
    from simulator.scenario import SCENARIO_DIR

    paths = ["/usr", "/etc", sys.prefix, sys.base_prefix, str(Path(simulator.__file__).resolve().parent),
             str(SCENARIO_DIR), str(Path(crm.__file__).resolve().parent), str(Path(roleplay.__file__).resolve().parent)]
    return sorted({os.path.realpath(p) for p in paths if os.path.exists(p)})


def wrap(cmd: list[str], workdir: str, private: str, limits: dict, env: dict[str, str],
         writable: tuple[str, ...] = ()) -> list[str]:
    """The sandboxed command line for a kernel command ``cmd`` that works in ``workdir``; the files
    named in ``writable`` (regular files directly in ``workdir``) are left writable."""
    lim = {**DEFAULT_LIMITS, **limits}
    out = [shutil.which("prlimit"), f"--as={int(lim['memory_mb']) * 2**20}", f"--cpu={int(lim['cpu_seconds'])}",
           f"--nproc={int(lim['processes'])}", f"--fsize={int(lim['file_mb']) * 2**20}",
           f"--nofile={int(lim['open_files'])}", "--core=0"]
    # as root, no user namespace: the kernel then drops to a real unprivileged uid (below)
    unshare = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"] \
        if os.geteuid() == 0 else ["--unshare-all"]
    out += [shutil.which("bwrap"), *unshare, "--die-with-parent", "--new-session", "--clearenv",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm"]
    readonly = _readonly_paths()
    # the folders leading to what is bound: bwrap would make them 0700 (root's), closed to the kernel
    parents = {str(a) for p in (*readonly, workdir, private) for a in Path(p).parents if str(a) != "/"}
    for d in sorted(parents, key=lambda x: (x.count("/"), x)):
        out += ["--perms", "0755", "--dir", d]
    for p in readonly:
        out += ["--ro-bind", p, p]
    for link in ("bin", "lib", "lib64", "sbin"):   # merged /usr: /bin → usr/bin …
        target = f"/{link}"
        if os.path.islink(target):
            out += ["--symlink", os.readlink(target), target]
    out += ["--bind", workdir, workdir, "--bind", private, private, "--chdir", workdir]
    # what the working copy holds at the start (the student's data, the notebook) cannot be
    # changed, replaced or deleted from inside: the checks read the data as the grader put it —
    # except, in an operational module, the CRM database and its action log, which the student's
    # work changes and the grader's checks read afterwards
    for entry in sorted(os.scandir(workdir), key=lambda e: e.name):
        if entry.is_file(follow_symlinks=False) and entry.name not in writable:
            out += ["--ro-bind", entry.path, entry.path]
    for k, v in env.items():
        out += ["--setenv", k, v]
    out += ["--remount-ro", "/", "--"]
    if os.geteuid() == 0:   # root sets the sandbox up, then the kernel runs as a plain user (process
        # limits do not bind root): a real uid, so that it owns nothing of the grader's
        out += ["/usr/bin/setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--"]
    return out + cmd


def kernel_env(workdir: str) -> dict[str, str]:
    """The kernel's whole environment: nothing of the grader's (tokens, paths, course settings)."""
    return {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": f"{workdir}/.sandbox/home",
            "TMPDIR": f"{workdir}/.sandbox/tmp", "LANG": "C.UTF-8", "PYTHONNOUSERSITE": "1",
            "MPLBACKEND": "agg", "NBGRADER_EXECUTION": "autograde", "PYTHONDONTWRITEBYTECODE": "1",
            # one thread per numerical library: threads count against the process limit
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            # ipykernel prints a "Ctrl-C will not work" note into the grader's console unless it has a
            # parent to poll; 1 means "none to poll" (the sandbox's own init is the kernel's parent)
            "JPY_PARENT_PID": "1"}


class DiskWatch:
    """Watches what a kernel writes into its working copy (bytes really used, and the number of
    files) from a thread of the grading worker; over the limit, it kills the worker's kernel
    processes and remembers why. File size alone is capped by the kernel's own limit (``file_mb``);
    this catches many files."""

    def __init__(self, folder: Path, disk_mb: float, max_files: int = 20000, every: float = 0.5):
        import threading

        self.folder, self.limit, self.max_files, self.every = folder, disk_mb * 2**20, max_files, every
        self.hit: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def usage(self) -> tuple[int, int]:
        used = files = 0
        for root, _, names in os.walk(self.folder):
            for n in names:
                try:
                    used += os.lstat(os.path.join(root, n)).st_blocks * 512
                except OSError:
                    continue
                files += 1
        return used, files

    def _run(self):
        import psutil

        while not self._stop.wait(self.every):
            used, files = self.usage()
            if used > self.limit or files > self.max_files:
                self.hit = (f"wrote {used / 2**20:.0f} MB in {files} files into its working copy; "
                            f"the limit is {self.limit / 2**20:.0f} MB and {self.max_files} files")
                for p in psutil.Process().children(recursive=True):
                    try:
                        p.kill()
                    except psutil.Error:
                        pass
                return


def _own(path: Path, uid: int) -> None:
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, uid)
        for name in files:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel in the sandbox described above. ``mode`` is
    ``auto`` (sandbox if possible, else a warning), ``required`` or ``off``."""

    mode = Unicode("auto", help="auto | required | off").tag(config=True)
    limits = Dict({}, help="memory_mb, cpu_seconds, processes, file_mb, open_files").tag(config=True)
    writable = Dict(value_trait=List(Unicode()), default_value={},
                    help="module id → names of files in its working copy the kernel may change (operational "
                         "modules: the CRM database and the action log); every other file present at launch is "
                         "read-only. The module is the working copy's folder name (nbgrader's "
                         "autograded/<student>/<module>).").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sandboxed = False
        if self.mode == "off":
            return
        why = available()
        if why:
            if self.mode == "required":
                raise SandboxUnavailable(f"kernels must run sandboxed, but {why}")
            warnings.warn(f"student code runs WITHOUT a sandbox: {why}", RuntimeWarning, stacklevel=2)
            return
        self.sandboxed = True
        box = tempfile.mkdtemp(prefix="crmlab-kernel-")
        weakref.finalize(self, shutil.rmtree, box, True)
        self._box = box
        self.transport, self.ip = "ipc", os.path.join(box, "kernel")   # no network inside
        self.connection_file = os.path.join(box, "connection.json")

    def writable_here(self, workdir: str) -> tuple[str, ...]:
        """The files of ``workdir`` the kernel may change: those named for its module that are
        regular files there at launch (a symlink never is: its target could be anything)."""
        names = self.writable.get(os.path.basename(workdir), [])
        return tuple(sorted(n for n in names if os.path.basename(n) == n
                            and os.path.isfile(os.path.join(workdir, n))
                            and not os.path.islink(os.path.join(workdir, n))))

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        if self.sandboxed:
            workdir = os.path.realpath(kw.get("cwd") or os.getcwd())
            for d in SANDBOX_DIRS:
                os.makedirs(os.path.join(workdir, ".sandbox", d), exist_ok=True)
            writable = self.writable_here(workdir)
            if os.geteuid() == 0:   # the plain user may add files to its working copy, bind its sockets
                os.chmod(workdir, 0o1777)
                for d in (os.path.join(workdir, ".sandbox"), self._box):
                    _own(Path(d), SANDBOX_UID)
                for name in writable:   # … and change the files it is meant to change
                    os.chown(os.path.join(workdir, name), SANDBOX_UID, SANDBOX_UID, follow_symlinks=False)
            kernel_cmd = wrap(kernel_cmd, workdir, self._box, self.limits, kernel_env(workdir), writable)
            kw["env"] = {}
            # a signal would reach bwrap, not the kernel: interrupt by a message on the control
            # channel instead (ipykernel then interrupts itself)
            self.kernel_spec.interrupt_mode = "message"
        await super()._async_launch_kernel(kernel_cmd, **kw)
