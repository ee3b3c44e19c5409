"""Each student's kernel in a sandbox of its own: bubblewrap namespaces, its own user id and cgroup, its
own working space, resource limits.

nbgrader's Execute step starts the kernel through a jupyter_client kernel manager; the course's
nbgrader configuration names :class:`SandboxedKernelManager` (``crmlab.grading.run.sandbox.SandboxedKernelManager``)
instead of the default one. It launches the kernel as

    sh (into the submission's cgroup: memory, processes and CPU share of the whole submission)
      → prlimit (per process: address space, CPU time, processes, file size, open files)
        → bwrap (new mount, pid, network, ipc and uts namespaces; a clean environment)
          → setpriv (as root: a user id of its own, leased for this kernel only)
            → python -I -m ipykernel_launcher

One room per part, each explaining its own:

- ``common.py``   the tools' paths, the uid range, the limits' defaults, ``SandboxUnavailable``
- ``tools.py``    the tools checked once; :func:`decide`, once per run
- ``uids.py``     a user id leased per kernel (processes are counted per uid)
- ``cgroups.py``  a cgroup per submission (memory, processes, CPU share)
- ``workspace.py`` the working space, the kernel's alone; the disk watch where it is no tmpfs
- ``command.py``  the command line (prlimit → bwrap → setpriv) and the kernel's environment
- ``kernel.py``   :class:`SandboxedKernelManager`

Every name is also here, as ``crmlab.grading.run.sandbox.X`` (the configuration and the grader use those).
What it does not protect against is written in docs/design.md ("Sandbox").
"""
from __future__ import annotations

from .cgroups import Cgroup, remove_stale_cgroups
from .command import kernel_env, wrap
from .common import (DEFAULT_LIMITS, PRLIMIT_KEYS, SANDBOX_DIRS, TOOLS, UID_BASE, UID_SLOTS, SandboxUnavailable,
                     errno_full)
from .kernel import STARTUP, SandboxedKernelManager
from .tools import available, decide, probe
from .uids import UidLease
from .workspace import DiskWatch, Workspace

__all__ = ["DEFAULT_LIMITS", "PRLIMIT_KEYS", "SANDBOX_DIRS", "STARTUP", "TOOLS", "UID_BASE", "UID_SLOTS", "Cgroup",
           "DiskWatch", "SandboxUnavailable", "SandboxedKernelManager", "UidLease", "Workspace", "available",
           "decide", "errno_full", "kernel_env", "probe", "remove_stale_cgroups", "wrap"]
