"""The tools, checked once.

**Decided once.** :func:`decide` checks, once at the start of a run, that the tools are there, owned by
root and work (a real sandboxed ``/bin/true``); the workers then run with ``required``: a sandbox that
stops working during a run stops the run (``SandboxUnavailable``), it never degrades to none.
"""
from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from pathlib import Path

from .command import wrap
from .common import TOOLS, SandboxUnavailable
from .uids import UidLease


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

