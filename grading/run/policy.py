"""A student's response policy run by the grader: the student's code in a sandboxed process, the
engine in the grader's.

A role-play module hands in a policy as source code (``def policy(view): …``). The grader must play it
on hidden seeds, so it cannot run inside the student's kernel (which would see the seeds and could
report any score), and it must not run in the grader's process either (student code there could
read the course secret or write the gradebook). So :class:`SandboxedPolicy` starts one small Python
process — under the same bubblewrap sandbox and limits as a student's kernel (``grading/run/sandbox/``):
no network, a read-only system, nothing of the course — that holds only the policy. The grader sends
it a view (plain JSON, one line) and reads back one choice; the session, its seeds and the scoring
stay with the grader. The worst the policy can do is choose badly, fail, or be slow: a failure or a
reply later than ``seconds`` ends that conversation (and the process is started again for the next).
"""
from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from crmlab.roleplay.messages import Refusal

from crmlab.grading.run import sandbox
from crmlab.grading.classroom.intake import BadNotebook, loads_strict
from crmlab.grading.classroom.settings import GradingSection
from crmlab.grading.classroom.reasons import printable

MAX_REPLY = 100_000

# the process the policy lives in: standard library only, the policy's prints go to stderr
HOST = r'''
import json, sys
out = sys.stdout
sys.stdout = sys.stderr
namespace = {"__name__": "student_policy"}
try:
    exec(compile(open("policy.py", encoding="utf-8").read(), "<policy>", "exec"), namespace)
    policy = namespace["policy"]
    assert callable(policy)
    out.write(json.dumps({"ready": True}) + "\n")
except BaseException as exc:
    out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:300]}) + "\n")
    out.flush()
    raise SystemExit(1)
out.flush()
for line in sys.stdin:
    try:
        reply = {"choice": policy(json.loads(line))}
        json.dumps(reply)
    except BaseException as exc:
        reply = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    out.write(json.dumps(reply) + "\n")
    out.flush()
'''
# processes: RLIMIT_NPROC counts every process and thread of the sandbox user; the policy runs as a user of
# its own (a leased uid, grading/run/sandbox/), so 16 are plenty
POLICY_LIMITS = {"memory_mb": 1024, "cpu_seconds": 60, "processes": 16, "file_mb": 10}


class SandboxedPolicy:
    """``with SandboxedPolicy(source, course.grading) as choose: play_policy(choose, …)``."""

    def __init__(self, source: str, settings: GradingSection, seconds: float = 2.0):
        self.source, self.seconds = source, seconds
        self.settings = settings   # the course's [grading]: its sandbox mode and limits (capped below)
        self.proc: subprocess.Popen | None = None
        self.turn = 0

    def __enter__(self):
        self._lease = sandbox.UidLease()
        self._uid = self._lease.__enter__() if os.geteuid() == 0 else None
        self._tmp = tempfile.TemporaryDirectory(prefix="crmlab-policy-")
        root = Path(self._tmp.name)
        self.work, self.private = root / "work", root / "private"
        for d in (self.work, self.private):
            d.mkdir()
        (self.work / "policy.py").write_text(self.source, encoding="utf-8")
        (self.work / "host.py").write_text(HOST, encoding="utf-8")
        if os.geteuid() == 0:   # the sandbox user (its own, leased) must be able to enter and read its folder
            root.chmod(0o711)
            for d in (self.work, self.private):
                os.chown(d, self._uid, self._uid)
                d.chmod(0o700)
        return self

    def __exit__(self, *exc):
        self._stop()
        self._tmp.cleanup()
        self._lease.__exit__(None, None, None)

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-I", "-S", "host.py"]
        mode = self.settings.sandbox
        why = sandbox.available() if mode != "off" else "sandbox = \"off\""
        if why is None:
            limits = {k: min(getattr(self.settings, k), cap) for k, cap in POLICY_LIMITS.items()}
            env = {"PATH": "/usr/bin:/bin", "HOME": str(self.private), "TMPDIR": str(self.private), "LANG": "C.UTF-8",
                   "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
            return sandbox.wrap(cmd, workdir=str(self.work), private=str(self.private), limits=limits, env=env,
                                uid=self._uid)
        if mode == "required":
            raise sandbox.SandboxUnavailable(f"cannot run the student's policy in a sandbox: {why}")
        warnings.warn(f"the student's policy runs without a sandbox: {why}", stacklevel=3)
        return cmd

    def _start(self):
        self.proc = subprocess.Popen(self._command(), cwd=self.work, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, encoding="utf-8",
                                     env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)
        first = self._read(self.seconds + 3.0)   # interpreter start-up, and the policy's own set-up
        if "error" in first:
            raise Refusal("policy_failed", turn=0, error=first["error"])

    def _stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self._selector.close()
            self.proc = None

    def _read(self, seconds: float) -> dict:
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self._selector.select(left):
                self._stop()
                return {"error": f"no answer within {seconds:g} s"}
            line = self.proc.stdout.readline(MAX_REPLY)
            if len(line) >= MAX_REPLY:   # no move is that long: a policy that floods its answer is stopped
                self._stop()
                return {"error": f"an answer longer than {MAX_REPLY} characters"}
            if not line:
                self._stop()
                return {"error": "the policy's process ended"}
            try:
                reply = loads_strict(line)
            except BadNotebook:
                continue
            if isinstance(reply, dict):
                return reply

    def __call__(self, view: dict):
        if self.proc is None:
            self._start()
        try:
            self.proc.stdin.write(json.dumps(view, ensure_ascii=False) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._stop()
            raise Refusal("policy_failed", turn=view["turn"] + 1, error="the policy's process ended") from None
        reply = self._read(self.seconds)
        if "error" in reply or "choice" not in reply:
            raise Refusal("policy_failed", turn=view["turn"] + 1,
                          error=printable(reply.get("error", "an answer without a choice"), 300))
        return reply["choice"]


