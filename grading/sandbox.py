"""Each student's kernel in a sandbox of its own: bubblewrap namespaces, its own user id and cgroup, its
own working space, resource limits.

nbgrader's Execute step starts the kernel through a jupyter_client kernel manager; the course's
nbgrader configuration names :class:`SandboxedKernelManager` instead of the default one. It
launches the kernel as

    sh (into the submission's cgroup: memory, processes and CPU share of the whole submission)
      → prlimit (per process: address space, CPU time, processes, file size, open files)
        → bwrap (new mount, pid, network, ipc and uts namespaces; a clean environment)
          → setpriv (as root: a user id of its own, leased for this kernel only)
            → python -I -m ipykernel_launcher

**The working space is the kernel's alone.** nbgrader's working copy (``autograded/<student>/<module>``)
holds what the grader put there: the notebook, the student's data, the files taken from the submission.
The kernel never writes into it. It sees, at the same path, a scratch folder of its own (:class:`Workspace`:
as root a tmpfs of ``disk_mb``, so the disk limit is exact; otherwise a plain folder the grading worker
watches) into which the working copy's files are bound read-only — except those a module names as
writable (an operational module's CRM database and action log), which are copied in. What the grader
reads back afterwards (those writable files) is copied out by :meth:`Workspace.read_back`, which follows no
link; then the scratch is removed. So nothing the grader does later as root (nbgrader's permission step,
the clean-up) can be steered by a path the kernel made.

**Limits are per submission.** Processes are counted per user id, so each kernel runs as a uid leased
from a range for as long as it lives (a lock file per uid); where cgroups are available (v1 or v2, as
root) the whole submission also gets its own memory cap (kernel memory plus its tmpfs), process cap and
an equal CPU share, so one student's fork storm or busy loop cannot starve a classmate's kernel.

**Decided once.** :func:`decide` checks, once at the start of a run, that the tools are there, owned by
root and work (a real sandboxed ``/bin/true``); the workers then run with ``required``: a sandbox that
stops working during a run stops the run (``SandboxUnavailable``), it never degrades to none.

The kernel starts in ``/`` and changes to its working folder in a start-up file the grader wrote
(Python in isolated mode), so no file a student handed in (a ``json.py``, an ``ipython_kernel_config.py``)
runs before the kernel is up: a kernel that cannot start is the grader's or the host's fault.

What it does not protect against is written in docs/design.md ("Sandbox").
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

from jupyter_client import AsyncKernelManager
from traitlets import Dict, Integer, List, Unicode

TOOLS = {"bwrap": "/usr/bin/bwrap", "prlimit": "/usr/bin/prlimit", "setpriv": "/usr/bin/setpriv", "sh": "/bin/sh"}
UID_BASE, UID_SLOTS = 64400, 1024    # the unprivileged users a root grader runs kernels as, one per kernel
SANDBOX_DIRS = ("home", "tmp", "ipython")   # in the working space: HOME, TMPDIR, IPYTHONDIR
DEFAULT_LIMITS = {"memory_mb": 3072, "cpu_seconds": 600, "processes": 64, "file_mb": 200, "open_files": 256,
                  "disk_mb": 500, "max_written_files": 20000}
PRLIMIT_KEYS = ("memory_mb", "cpu_seconds", "processes", "file_mb", "open_files")


class SandboxUnavailable(RuntimeError):
    pass


# -- the tools, checked once ----------------------------------------------------------------------
def _untrusted(path: str) -> str | None:
    """Why ``path`` may not be run as root's sandbox tool: missing, or it or a folder above it can be
    changed by someone other than root (a replaced bwrap would be no sandbox at all)."""
    p = Path(path)
    if not p.exists():
        return "is not installed"
    for q in [p.resolve(), *p.resolve().parents]:
        st = q.stat()
        if os.geteuid() == 0 and (st.st_uid != 0 or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)) \
                and not (q.is_dir() and st.st_mode & stat.S_ISVTX):
            return f"can be changed by others than root ({q})"
    return None


def available() -> str | None:
    """Why kernels cannot be sandboxed here, or None if the tools are in place."""
    for name in ("bwrap", "prlimit") + (("setpriv",) if os.geteuid() == 0 else ()):
        why = _untrusted(TOOLS[name])
        if why:
            return f"'{TOOLS[name]}' {why} (Debian: apt-get install bubblewrap util-linux)"
    return None


def probe() -> str | None:
    """Why a sandboxed process cannot run here, trying one for real; None if it can."""
    why = available()
    if why:
        return why
    with tempfile.TemporaryDirectory(prefix="crmlab-probe-") as tmp:
        work, private = Path(tmp, "work"), Path(tmp, "private")
        work.mkdir()
        private.mkdir()
        os.chmod(tmp, 0o755)
        with UidLease() as uid:
            cmd = wrap(["/bin/true"], workdir=str(work), private=str(private), limits={}, env={"PATH": "/usr/bin"},
                       uid=uid)
            try:
                done = subprocess.run(cmd, capture_output=True, timeout=30)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f"a sandboxed test process could not run ({exc})"
    if done.returncode:
        return f"a sandboxed test process failed: {done.stderr.decode(errors='replace').strip()[-200:]}"
    return None


def decide(mode: str) -> tuple[str, str | None]:
    """Once per run: the mode the workers use (``required`` or ``off``) and, for ``off``, why."""
    if mode == "off":
        return "off", 'sandbox = "off" in crmlab.toml'
    why = probe()
    if why is None:
        return "required", None
    if mode == "required":
        raise SandboxUnavailable(f'[grading] sandbox = "required", but {why}; nothing was graded')
    return "off", why


# -- a user id per kernel ------------------------------------------------------------------------
def _lock_dir() -> Path:
    """Where the uid leases live: root's own folder, the same for every course on this host."""
    for base in ("/run", tempfile.gettempdir()):
        d = Path(base, "crmlab-uids")
        try:
            d.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            continue
        st = d.lstat()
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o077:
            return d
    raise SandboxUnavailable("no private folder for the sandbox's user-id leases (/run/crmlab-uids)")


class UidLease:
    """An unprivileged uid for one kernel, held as long as the lease is open (as root only; a normal user's
    kernels run in a user namespace, and their processes count against the grader's own uid)."""

    def __init__(self):
        self.uid: int | None = None
        self._fd: int | None = None

    def __enter__(self) -> int | None:
        if os.geteuid() != 0:
            return None
        folder = _lock_dir()
        busy = _uids_with_processes()
        for uid in range(UID_BASE, UID_BASE + UID_SLOTS):
            if uid in busy or _has_user(uid):
                continue
            fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.uid, self._fd = uid, fd
            return uid
        raise SandboxUnavailable(f"all {UID_SLOTS} sandbox user ids are in use")

    def __exit__(self, *exc):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _has_user(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def _uids_with_processes() -> set[int]:
    import psutil

    found = set()
    for p in psutil.process_iter(["uids"]):
        with contextlib.suppress(psutil.Error, TypeError):
            found.add(p.info["uids"].real)
    return found


def _processes_of(uid: int) -> list:
    import psutil

    out = []
    for p in psutil.process_iter(["uids"]):
        with contextlib.suppress(psutil.Error, TypeError):
            if p.info["uids"].real == uid:
                out.append(p)
    return out


# -- a cgroup per submission ---------------------------------------------------------------------
class Cgroup:
    """The submission's own cgroup: a memory cap for all its processes together (tmpfs pages count),
    a process cap, and the CPU shared equally with the other kernels. cgroup v2 (a ``crmlab.kernels``
    subtree under the root) or v1 (a child of this process's own cgroup in the memory, pids and cpu
    hierarchies). Only as root; :func:`Cgroup.why_not` says why there is none."""

    V2 = Path("/sys/fs/cgroup")
    V1 = {c: Path("/sys/fs/cgroup", c) for c in ("memory", "pids", "cpu")}
    _counter = 0

    def __init__(self, memory_bytes: int, processes: int):
        Cgroup._counter += 1
        name = f"crmlab-{os.getpid()}-{Cgroup._counter}"
        self.dirs: list[Path] = []
        if self.version() == 2:
            parent = self.V2 / "crmlab.kernels"
            parent.mkdir(exist_ok=True)
            with contextlib.suppress(OSError):
                (parent / "cgroup.subtree_control").write_text("+memory +pids +cpu")
            d = parent / name
            d.mkdir()
            self.dirs = [d]
            (d / "memory.max").write_text(str(memory_bytes))
            with contextlib.suppress(OSError):
                (d / "memory.swap.max").write_text("0")
            (d / "pids.max").write_text(str(processes))
        else:
            own = _own_cgroups_v1()
            for controller, root in self.V1.items():
                d = root / own.get(controller, "").lstrip("/") / name
                d.mkdir()
                self.dirs.append(d)
            (self.dirs[0] / "memory.limit_in_bytes").write_text(str(memory_bytes))
            (self.dirs[1] / "pids.max").write_text(str(processes))

    @classmethod
    def version(cls) -> int | None:
        if (cls.V2 / "cgroup.controllers").exists():
            have = set((cls.V2 / "cgroup.controllers").read_text().split())
            return 2 if {"memory", "pids"} <= have else None
        return 1 if all((p / "cgroup.procs").exists() for p in cls.V1.values()) else None

    @classmethod
    def why_not(cls) -> str | None:
        if os.geteuid() != 0:
            return "not root"
        if cls.version() is None:
            return "no memory and pids cgroup controllers"
        try:
            probe = cls(64 * 2**20, 8)
            probe.remove()
        except OSError as exc:
            return f"cgroups cannot be made here ({exc.strerror})"
        return None

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def pids(self) -> set[int]:
        found = set()
        for d in self.dirs:
            with contextlib.suppress(OSError):
                found |= {int(x) for x in (d / "cgroup.procs").read_text().split()}
        return found

    def oom_killed(self) -> bool:
        d = self.dirs[0]
        try:
            if (d / "memory.events").exists():
                events = dict(line.split() for line in (d / "memory.events").read_text().splitlines())
                return int(events.get("oom_kill", 0)) > 0 or int(events.get("max", 0)) > 0
            control = dict(line.split() for line in (d / "memory.oom_control").read_text().splitlines())
            return int(control.get("oom_kill", 0)) > 0 or int((d / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError):
            return False

    def kill(self) -> None:
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, 9)
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill()
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _own_cgroups_v1() -> dict[str, str]:
    out = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(","):
            out[c] = path
    return out


def remove_stale_cgroups() -> None:
    """Cgroups left by grading processes that no longer exist (a worker killed with -9)."""
    import psutil

    roots = [Cgroup.V2 / "crmlab.kernels"] if Cgroup.version() == 2 else [
        root / _own_cgroups_v1().get(c, "").lstrip("/") for c, root in Cgroup.V1.items()]
    for root in roots:
        for d in root.glob("crmlab-*-*") if root.is_dir() else ():
            with contextlib.suppress(ValueError, IndexError):
                if not psutil.pid_exists(int(d.name.split("-")[1])):
                    stale = Cgroup.__new__(Cgroup)
                    stale.dirs = [d]
                    stale.remove()


# -- the working space ---------------------------------------------------------------------------
class Workspace:
    """Where one submission's kernel works: a scratch folder of its own shown at the working copy's path,
    a uid lease, a cgroup. The grading worker opens it around nbgrader's autograde (and registers it
    for the working copy, where the kernel manager finds it); a kernel manager used on its own (the
    formgrader, a test) opens one itself."""

    _open: dict[str, "Workspace"] = {}
    _lock = threading.Lock()

    def __init__(self, workdir: Path, limits: dict | None = None, scratch_root: Path | None = None):
        self.workdir = Path(os.path.realpath(workdir))
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.scratch_root = scratch_root
        self.scratch: Path | None = None
        self.mounted = False
        self.uid: int | None = None
        self.cgroup: Cgroup | None = None
        self.launched: list[int] = []      # pids of the sandbox processes started in it (for kill)
        self._lease = UidLease()
        self._watch: DiskWatch | None = None
        self._tmp: str | None = None

    # the kernel manager looks its workspace up by working folder
    @classmethod
    def find(cls, workdir: str) -> "Workspace | None":
        with cls._lock:
            return cls._open.get(os.path.realpath(workdir))

    def __enter__(self) -> "Workspace":
        root = self.scratch_root
        if root is None:
            self._tmp = tempfile.mkdtemp(prefix="crmlab-work-")
            root = Path(self._tmp)
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        self.scratch = Path(tempfile.mkdtemp(prefix="s-", dir=root))
        try:
            self.uid = self._lease.__enter__()
            if os.geteuid() == 0:
                self._mount_tmpfs()
                if Cgroup.version() is not None:
                    with contextlib.suppress(OSError):
                        memory = (int(self.limits["memory_mb"]) + int(self.limits["disk_mb"])) * 2**20
                        self.cgroup = Cgroup(memory, int(self.limits["processes"]))
            for d in SANDBOX_DIRS:
                (self.scratch / ".sandbox" / d).mkdir(parents=True, exist_ok=True)
            if self.uid is not None:
                for p in [self.scratch, *self.scratch.joinpath(".sandbox").rglob("*"), self.scratch / ".sandbox"]:
                    os.chown(p, self.uid, self.uid, follow_symlinks=False)
            os.chmod(self.scratch, 0o700)
            if not self.mounted:   # no hard cap: watch what the kernel writes
                self._watch = DiskWatch(self.scratch, float(self.limits["disk_mb"]), int(self.limits["max_written_files"]),
                                        kill=self.kill).__enter__()
        except BaseException:
            self.close()
            raise
        with self._lock:
            self._open[str(self.workdir)] = self
        return self

    def _mount_tmpfs(self) -> None:
        size = int(self.limits["disk_mb"]) * 2**20
        inodes = int(self.limits["max_written_files"]) + 100
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},nr_inodes={inodes},mode=0700,nosuid,nodev",
                               "crmlab-work", str(self.scratch)], capture_output=True, text=True)
        if done.returncode:
            raise SandboxUnavailable(f"cannot mount the working space's tmpfs: {done.stderr.strip()}")
        self.mounted = True

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._open.get(str(self.workdir)) is self:
                del self._open[str(self.workdir)]
        if self._watch is not None:
            self._watch.__exit__(None, None, None)
        self.kill()
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self.scratch is not None:
            if self.mounted:
                for _ in range(20):
                    if subprocess.run(["umount", str(self.scratch)], capture_output=True).returncode == 0:
                        break
                    time.sleep(0.1)
                else:
                    subprocess.run(["umount", "-l", str(self.scratch)], capture_output=True)
                self.mounted = False
            shutil.rmtree(self.scratch, ignore_errors=True)
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
        self._lease.__exit__(None, None, None)

    def kill(self) -> None:
        """Stop every process of this submission: its sandboxes, its cgroup, its uid."""
        import psutil

        for pid in self.launched:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                for p in [*proc.children(recursive=True), proc]:
                    with contextlib.suppress(psutil.Error):
                        p.kill()
        if self.cgroup is not None:
            self.cgroup.kill()
        if self.uid is not None:
            for p in _processes_of(self.uid):
                with contextlib.suppress(psutil.Error):
                    p.kill()

    # what the kernel left
    def disk_hit(self) -> str | None:
        """Why the kernel's writing was stopped (its space full, or the watch's limit), or None."""
        if self._watch is not None:
            return self._watch.hit
        if self.scratch is None or not self.mounted:
            return None
        st = os.statvfs(self.scratch)
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        if st.f_bavail * st.f_frsize < max(st.f_blocks * st.f_frsize * 0.01, 2**20) or st.f_favail == 0:
            return json.dumps({"used_mb": round(used / 2**20), "files": st.f_files - st.f_ffree,
                               "limit_mb": int(self.limits["disk_mb"]), "limit_files": int(self.limits["max_written_files"])})
        return None

    def memory_hit(self) -> bool:
        return self.cgroup is not None and self.cgroup.oom_killed()

    def read_back(self, name: str, dest: Path, limit_mb: float = 500.0) -> bool:
        """Copy the regular file ``name`` (directly in the working space) to ``dest``: no link followed,
        at most ``limit_mb``. False if there is no such file."""
        if self.scratch is None or os.path.basename(name) != name:
            return False
        try:
            dfd = os.open(self.scratch, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            return False
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
        except OSError:
            return False
        finally:
            os.close(dfd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > limit_mb * 2**20:
                return False
            with open(dest, "wb") as out:
                while chunk := os.read(fd, 1 << 20):
                    out.write(chunk)
            return True
        finally:
            os.close(fd)

    # what the kernel sees
    def prepare(self, writable: tuple[str, ...]) -> list[str]:
        """Make the working space ready for a kernel: copy the writable files in (once), and return the
        names of the working copy's other entries, to be bound read-only."""
        readonly = []
        for entry in sorted(os.scandir(self.workdir), key=lambda e: e.name):
            if entry.name == ".sandbox" or entry.is_symlink():
                continue
            target = self.scratch / entry.name
            if entry.name in writable and entry.is_file(follow_symlinks=False):
                if not target.exists():
                    shutil.copyfile(entry.path, target)
                    if self.uid is not None:
                        os.chown(target, self.uid, self.uid)
            elif entry.is_dir(follow_symlinks=False):   # folders the student handed in: theirs to write in
                if not target.exists():
                    shutil.copytree(entry.path, target, symlinks=True)
                    if self.uid is not None:
                        for p in [target, *target.rglob("*")]:
                            os.chown(p, self.uid, self.uid, follow_symlinks=False)
            elif entry.is_file(follow_symlinks=False):
                readonly.append(entry.name)
        return readonly


class DiskWatch:
    """Watches what a kernel writes into its working space (bytes really used, and the number of files)
    from a thread of the grading worker; over the limit, it stops the kernel and remembers why. Used
    where the space cannot be a size-limited tmpfs (a grader that is not root)."""

    def __init__(self, folder: Path, disk_mb: float, max_files: int = 20000, every: float = 0.2, kill=None):
        self.folder, self.limit, self.max_files, self.every = folder, disk_mb * 2**20, max_files, every
        self.hit: str | None = None
        self._kill = kill
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
                self.hit = json.dumps({"used_mb": round(used / 2**20), "files": files,
                                       "limit_mb": round(self.limit / 2**20), "limit_files": self.max_files})
                if self._kill is not None:
                    self._kill()
                else:
                    for p in psutil.Process().children(recursive=True):
                        with contextlib.suppress(psutil.Error):
                            p.kill()
                return


# -- the command line ------------------------------------------------------------------------------
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


# the kernel starts in "/" (nothing of the student's can run at start-up), then works in its folder
STARTUP = """import os as _os, sys as _sys
_os.chdir(_os.environ["CRMLAB_WORKDIR"])
if "" not in _sys.path:
    _sys.path.insert(0, "")
del _os, _sys
"""


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel in the sandbox described above. ``mode`` is
    ``auto`` (sandbox if possible, else a warning), ``required`` or ``off``."""

    mode = Unicode("auto", help="auto | required | off").tag(config=True)
    limits = Dict({}, help="memory_mb, cpu_seconds, processes, file_mb, open_files, disk_mb").tag(config=True)
    writable = Dict(value_trait=List(Unicode()), default_value={},
                    help="module id → names of files in its working copy the kernel may change (operational "
                         "modules: the CRM database and the action log); every other file present at launch is "
                         "read-only. The module is the working copy's folder name (nbgrader's "
                         "autograded/<student>/<module>).").tag(config=True)
    max_message_mb = Integer(64, help="largest message a kernel may send (MB)").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sandboxed = False
        self._own_workspace: Workspace | None = None
        if self.mode == "off":
            return
        why = available()
        if why:
            if self.mode == "required":
                raise SandboxUnavailable(f"kernels must run sandboxed, but {why}")
            import warnings
            warnings.warn(f"student code runs WITHOUT a sandbox: {why}", RuntimeWarning, stacklevel=2)
            return
        self.sandboxed = True
        box = tempfile.mkdtemp(prefix="crmlab-kernel-")
        weakref.finalize(self, shutil.rmtree, box, True)
        self._box = box
        self.transport, self.ip = "ipc", os.path.join(box, "kernel")   # no network inside
        self.connection_file = os.path.join(box, "connection.json")

    def client(self, **kwargs):
        """The kernel's client refuses any message larger than ``max_message_mb``: ZeroMQ drops it before it
        is read into the grader's memory (one display of a gigabyte would otherwise be held whole)."""
        import zmq

        kc = super().client(**kwargs)
        kc.context.setsockopt(zmq.MAXMSGSIZE, int(self.max_message_mb) * 2**20)   # for the sockets it makes
        return kc

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
            ws = Workspace.find(workdir)
            if ws is None:   # used on its own (the formgrader's autograde, a test): a workspace of its own
                ws = self._own_workspace = Workspace(Path(workdir), self.limits).__enter__()
                weakref.finalize(self, ws.close)
            writable = self.writable_here(workdir)
            readonly = ws.prepare(writable)
            startup = Path(ws.scratch, ".sandbox", "ipython", "profile_default", "startup")
            startup.mkdir(parents=True, exist_ok=True)
            (startup / "00-crmlab-workdir.py").write_text(STARTUP, encoding="utf-8")
            if ws.uid is not None:
                for p in [startup.parent, startup, *startup.iterdir()]:
                    os.chown(p, ws.uid, ws.uid, follow_symlinks=False)
                for p in [Path(self._box), *Path(self._box).iterdir()]:   # its sockets and connection file
                    os.chown(p, ws.uid, ws.uid, follow_symlinks=False)
            # isolated mode: neither the working folder nor PYTHON* variables on the path at start-up
            python = kernel_cmd[0]
            kernel_cmd = [python, "-I", *kernel_cmd[1:]] if "python" in os.path.basename(python) else kernel_cmd
            kernel_cmd = wrap(kernel_cmd, workdir=workdir, private=self._box, limits=self.limits,
                              env=kernel_env(workdir), uid=ws.uid, scratch=str(ws.scratch), readonly=tuple(readonly),
                              chdir="/", cgroup=ws.cgroup)
            kw["env"] = {}
            # a signal would reach bwrap, not the kernel: interrupt by a message on the control
            # channel instead (ipykernel then interrupts itself)
            self.kernel_spec.interrupt_mode = "message"
            await super()._async_launch_kernel(kernel_cmd, **kw)
            with contextlib.suppress(AttributeError, TypeError):
                ws.launched.append(self.provisioner.process.pid)
            return
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._own_workspace is not None and not restart:
            self._own_workspace.close()
            self._own_workspace = None


def errno_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
