"""A cgroup per submission: where cgroups are available (v1 or v2, as root) the whole submission gets its
own memory cap (kernel memory plus its tmpfs), process cap and an equal CPU share, so one student's fork
storm or busy loop cannot starve a classmate's kernel."""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path


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
