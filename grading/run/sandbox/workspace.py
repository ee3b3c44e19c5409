"""The working space: the kernel's alone.

nbgrader's working copy (``autograded/<student>/<module>``) holds what the grader put there: the notebook,
the student's data, the files taken from the submission. The kernel never writes into it. It sees, at the
same path, a scratch folder of its own (:class:`Workspace`: as root a tmpfs of ``disk_mb``, so the disk
limit is exact; otherwise a plain folder the grading worker watches, :class:`DiskWatch`) into which the
working copy's files are bound read-only — except those a module names as writable (an operational
module's CRM database and action log), which are copied in. What the grader reads back afterwards (those
writable files) is copied out by :meth:`Workspace.read_back`, which follows no link; then the scratch is
removed. So nothing the grader does later as root (nbgrader's permission step, the clean-up) can be
steered by a path the kernel made.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from .cgroups import Cgroup
from .common import DEFAULT_LIMITS, SANDBOX_DIRS, SandboxUnavailable
from .uids import UidLease, _processes_of


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
