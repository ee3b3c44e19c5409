"""What every room of the sandbox shares: the tools it runs, the uid range, the working space's folders,
the limits' defaults (declared with the other settings in grading/classroom/settings.py), its one error."""
from __future__ import annotations

import errno

from crmlab.grading.classroom.settings import LIMITS, GradingSection

TOOLS = {"bwrap": "/usr/bin/bwrap", "prlimit": "/usr/bin/prlimit", "setpriv": "/usr/bin/setpriv", "sh": "/bin/sh"}
UID_BASE, UID_SLOTS = 64400, 1024    # the unprivileged users a root grader runs kernels as, one per kernel
SANDBOX_DIRS = ("home", "tmp", "ipython")   # in the working space: HOME, TMPDIR, IPYTHONDIR
# the [grading] limits' defaults: what a caller that gives fewer (the policy runner, a test) gets for the rest
DEFAULT_LIMITS = {k: GradingSection.model_fields[k].default for k in LIMITS}
PRLIMIT_KEYS = ("memory_mb", "cpu_seconds", "processes", "file_mb", "open_files")


class SandboxUnavailable(RuntimeError):
    pass


def errno_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
