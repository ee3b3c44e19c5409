"""The kernel manager nbgrader's Execute step starts every kernel through (the course's nbgrader
configuration names it instead of jupyter_client's default one).

The kernel starts in ``/`` and changes to its working folder in a start-up file the grader wrote
(Python in isolated mode), so no file a student handed in (a ``json.py``, an ``ipython_kernel_config.py``)
runs before the kernel is up: a kernel that cannot start is the grader's or the host's fault.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from pathlib import Path

from jupyter_client import AsyncKernelManager
from traitlets import Dict, Integer, List, Unicode

from .command import kernel_env, wrap
from .common import SandboxUnavailable
from .tools import available
from .workspace import Workspace


# the kernel starts in "/" (nothing of the student's can run at start-up), then works in its folder
STARTUP = """import os as _os, sys as _sys
_os.chdir(_os.environ["CRMLAB_WORKDIR"])
if "" not in _sys.path:
    _sys.path.insert(0, "")
del _os, _sys
"""


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel in the sandbox (grading/run/sandbox/__init__.py). ``mode`` is
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
