"""A user id per kernel.

**Limits are per submission.** Processes are counted per user id, so each kernel runs as a uid leased
from a range for as long as it lives (a lock file per uid); the submission's cgroup (cgroups.py) adds the
caps of the whole submission.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import stat
import tempfile
from pathlib import Path

from .common import UID_BASE, UID_SLOTS, SandboxUnavailable


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
