"""What the grader takes from a student: regular files only, bounded in number and size, never a link.

Every path into the grader passes here — collecting from the exchange (``crmlab collect``), a
``submitted/<student>/<module>/`` folder before grading, the digest that decides whether a submission
changed. A student (or an archive they unpacked) can put anything into such a folder: symbolic links to
the course's checks or a classmate's data, pipes that block a reader forever, a sparse file of a
terabyte, a million files, names that are not UTF-8. The grader often runs as root, so nothing here
follows a link: folders are opened with ``O_NOFOLLOW`` one component at a time, files with
``O_NOFOLLOW | O_NONBLOCK`` and checked with ``fstat`` to be the regular file that was listed. What is
not taken is recorded (name and why) and reported with the submission's status.

Notebooks are put right for nbgrader here too (:func:`normalise_notebook`): an old format is upgraded,
duplicated or foreign nbgrader marks are removed — nbgrader itself stops on these with a ``KeyError``.
"""
from __future__ import annotations

import copy
import errno
import fnmatch
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from crmlab.grading.classroom.reasons import Reason, printable
from crmlab.grading.classroom.settings import GradingSection

# never taken, never reported: what Jupyter and Python leave beside a notebook (nbgrader ignores them too)
IGNORED = (".ipynb_checkpoints", "__pycache__", "*.pyc", "feedback", ".sandbox")
BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
_OPEN_DIR = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)
CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """How much of a submission is taken (``[grading] max_files``, ``max_file_mb``, ``max_submission_mb``)."""
    max_files: int = GradingSection.model_fields["max_files"].default
    max_file_mb: float = GradingSection.model_fields["max_file_mb"].default
    max_total_mb: float = GradingSection.model_fields["max_submission_mb"].default
    max_depth: int = 4

    @classmethod
    def of(cls, grading) -> "Limits":
        """The limits of a course's ``[grading]`` (grading/classroom/settings.py)."""
        return cls(grading.max_files, grading.max_file_mb, grading.max_submission_mb)


@dataclass
class Intake:
    """What was taken from a folder (relative paths), what was left out and why, and a digest of both."""
    taken: list[str] = field(default_factory=list)
    left_out: list[dict] = field(default_factory=list)    # {"name", "why", "params"}
    digest: str = ""
    problem: dict | None = None   # the folder itself could not be taken: {"why": …}
    latest_change: float = 0.0    # the latest status change (ctime) of what was taken: no user can set it back

    def reasons(self) -> list[Reason]:
        return [Reason("left_out", {"files": self.left_out})] if self.left_out else []

    def refused(self, name: str) -> dict | None:
        return next((x for x in self.left_out if x["name"] == printable(name)), None)


class NotAFolder(OSError):
    """The submission folder is a link or not a folder at all."""


def open_folder(base: Path, *parts: str) -> int:
    """A descriptor of ``base/parts…``, opened one component at a time without following a link.
    ``base`` is the grader's own (the course's ``submitted/``, the exchange's inbound folder)."""
    fd = os.open(base, _OPEN_DIR)
    for part in parts:
        try:
            nxt = os.open(part, _OPEN_DIR, dir_fd=fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                st = os.lstat(part, dir_fd=fd)
                raise NotAFolder(errno.ENOTDIR, "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a folder") \
                    from None
            raise
        finally:
            os.close(fd)
        fd = nxt
    return fd


def name_problem(name: str) -> str | None:
    """Why a file name cannot be taken, or None. (``name`` as the OS gives it: undecodable bytes as surrogates.)"""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "bad_name"
    if any(ord(c) < 32 or ord(c) == 127 or c in BIDI for c in name):
        return "bad_name"
    return None


def ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED)


def take(base: Path, parts: tuple[str, ...], dest: Path | None, limits: Limits = Limits(),
         reserved: frozenset[str] = frozenset()) -> Intake:
    """Take the folder ``base/parts…``: copy what may be taken into ``dest`` (a new folder; None: only
    look, for the digest), record what may not. ``reserved`` names at the top are the grader's to place
    (the student's database, its journal, the group file): neither taken nor reported."""
    got = Intake()
    digest = hashlib.sha256()
    try:
        top = open_folder(base, *parts)
    except NotAFolder as exc:
        got.problem = {"why": "symlink" if "link" in exc.strerror else "special"}
        got.digest = hashlib.sha256(b"\0not a folder").hexdigest()
        return got
    except FileNotFoundError:
        got.problem = {"why": "missing"}
        return got
    budget = {"files": 0, "bytes": 0}
    if dest is not None:
        dest.mkdir(parents=True)
    try:
        _take_dir(top, (), dest, limits, reserved, got, digest, budget)
    finally:
        os.close(top)
    got.digest = digest.hexdigest()
    return got


LISTED = 20   # left-out files named one by one; the rest are counted


def _refuse(got: Intake, digest, rel: tuple[str, ...], why: str, **params) -> None:
    name = printable("/".join(rel))
    digest.update(b"\0refused\0" + name.encode("utf-8") + b"\0" + why.encode())
    if len(got.left_out) < LISTED:
        got.left_out.append({"name": name, "why": why, **({"params": params} if params else {})})
    elif len(got.left_out) == LISTED:
        got.left_out.append({"name": "…", "why": "more", "params": {"n": 1}})
    else:
        got.left_out[-1]["params"]["n"] += 1


def _take_dir(dfd: int, rel: tuple[str, ...], dest: Path | None, limits: Limits, reserved, got: Intake, digest,
              budget) -> None:
    for name in sorted(os.listdir(dfd)):
        path = (*rel, name)
        if ignored(name) or (not rel and name in reserved and not name_problem(name)):
            if not rel and name in reserved:   # still part of what the student handed in: in the digest
                _digest_reserved(dfd, name, path, limits, digest)
            continue
        if name_problem(name):
            _refuse(got, digest, path, "bad_name")
            continue
        try:
            st = os.lstat(name, dir_fd=dfd)
        except OSError:
            _refuse(got, digest, path, "unreadable")
            continue
        if stat.S_ISLNK(st.st_mode):
            _refuse(got, digest, path, "symlink")
        elif stat.S_ISDIR(st.st_mode):
            if len(path) > limits.max_depth:
                _refuse(got, digest, path, "too_deep", limit=limits.max_depth)
                continue
            try:
                sub = os.open(name, _OPEN_DIR, dir_fd=dfd)
            except OSError:
                _refuse(got, digest, path, "unreadable")
                continue
            try:
                if dest is not None:
                    (dest / name).mkdir()
                _take_dir(sub, path, dest / name if dest is not None else None, limits, reserved, got, digest, budget)
            finally:
                os.close(sub)
        elif not stat.S_ISREG(st.st_mode):
            _refuse(got, digest, path, "special")
        elif budget["files"] >= limits.max_files:
            _refuse(got, digest, path, "too_many", limit=limits.max_files)
        elif st.st_size > limits.max_file_mb * 2**20:
            _refuse(got, digest, path, "too_large", limit_mb=_mb(limits.max_file_mb))
        elif budget["bytes"] + st.st_size > limits.max_total_mb * 2**20:
            _refuse(got, digest, path, "total_too_large", limit_mb=_mb(limits.max_total_mb))
        else:
            ok = _copy(dfd, name, st, path, dest / name if dest is not None else None, limits, digest)
            if ok is None:
                _refuse(got, digest, path, "unreadable")
                continue
            budget["files"] += 1
            budget["bytes"] += ok
            got.taken.append("/".join(path))
            got.latest_change = max(got.latest_change, st.st_ctime)


def _mb(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def _open_regular(dfd: int, name: str, listed: os.stat_result) -> int | None:
    """The file ``name`` opened for reading if it is still the regular file that was listed."""
    try:
        fd = os.open(name, _OPEN_FILE, dir_fd=dfd)
    except OSError:
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (listed.st_dev, listed.st_ino):
        os.close(fd)
        return None
    return fd


def _copy(dfd: int, name: str, listed: os.stat_result, rel: tuple[str, ...], dest: Path | None, limits: Limits,
          digest) -> int | None:
    """Copy one regular file (at most the size limit), feeding its path and content to the digest: the
    digest of a submission is that of earlier versions (path, then the sha256 of the content)."""
    fd = _open_regular(dfd, name, listed)
    if fd is None:
        return None
    limit, size, h = int(limits.max_file_mb * 2**20), 0, hashlib.sha256()
    out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644) if dest is not None else None
    try:
        while size <= limit:
            chunk = os.read(fd, CHUNK)
            if not chunk:
                break
            size += len(chunk)
            h.update(chunk)
            if out is not None:
                os.write(out, chunk)
    finally:
        os.close(fd)
        if out is not None:
            os.close(out)
    if size > limit:   # it grew while being read
        if dest is not None:
            dest.unlink()
        return None
    digest.update("/".join(rel).encode("utf-8") + b"\0")
    digest.update(h.digest())
    return size


def _digest_reserved(dfd: int, name: str, rel, limits: Limits, digest) -> None:
    try:
        st = os.lstat(name, dir_fd=dfd)
    except OSError:
        return
    if stat.S_ISREG(st.st_mode) and st.st_size <= limits.max_file_mb * 2**20 * 10:
        _copy(dfd, name, st, rel, None, Limits(max_file_mb=limits.max_file_mb * 10), digest)
    else:
        digest.update(f"{name}\0{st.st_mode}\0{st.st_size}".encode("utf-8", "surrogateescape"))


def read_file(base: Path, parts: tuple[str, ...], name: str, limit_mb: float = 5.0) -> bytes | None:
    """The regular file ``base/parts…/name`` a student's folder holds (a time stamp, a transcript, a
    submission secret): no link followed anywhere below ``base``, at most ``limit_mb``; None if there is no
    such file or it is larger."""
    try:
        dfd = open_folder(base, *parts)
    except OSError:
        return None
    try:
        listed = os.lstat(name, dir_fd=dfd)
        fd = _open_regular(dfd, name, listed) if stat.S_ISREG(listed.st_mode) else None
    except OSError:
        fd = None
    finally:
        os.close(dfd)
    if fd is None:
        return None
    try:
        data = os.read(fd, int(limit_mb * 2**20) + 1)
    finally:
        os.close(fd)
    return None if len(data) > limit_mb * 2**20 else data


# -- notebooks ------------------------------------------------------------------------------------
class BadNotebook(ValueError):
    pass


def read_json(path: Path, limit_mb: float = 50.0):
    """A JSON file a student wrote: bounded, UTF-8, no NaN or Infinity, no number too long to read."""
    with open(path, "rb") as f:
        data = f.read(int(limit_mb * 2**20) + 1)
    if len(data) > limit_mb * 2**20:
        raise BadNotebook(f"larger than {limit_mb:g} MB")
    try:
        return loads_strict(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadNotebook(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None


def _no_constant(name: str):
    return None   # NaN, Infinity, -Infinity: no number at all


def _float(text: str):
    x = float(text)
    return x if x not in (float("inf"), float("-inf")) else None


def _int(text: str):
    return int(text) if len(text) <= 30 else None


def loads_strict(text: str):
    """``json.loads`` for what a student's code produced: NaN, ±Infinity, overflowing floats and
    integers of more than 30 digits become None (no number); nesting too deep to read is an error."""
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_float, parse_int=_int)
    except (ValueError, RecursionError) as exc:
        raise BadNotebook(str(exc)[:200]) from None


def normalise_notebook(path: Path, release: dict) -> list[Reason]:
    """Put a submitted notebook right for nbgrader, in place, and say what was done. Raises
    :class:`BadNotebook` if it is not a notebook at all.

    - nbformat 3 (or older minor versions) is upgraded to nbformat 4;
    - a cell's nbgrader marks are the released notebook's marks for its grade id (points, flags and
      schema version cannot be edited); marks with an id the release does not have, or without an id, are
      removed (the cell runs as a plain cell); a grade id that appears more than once keeps its marks on
      the last copy only (as nbgrader's DeduplicateIds does, which then fails on the copies)."""
    nb = read_json(path)
    if not isinstance(nb, dict):
        raise BadNotebook("not a notebook (no cells)")
    notes: list[Reason] = []
    major = nb.get("nbformat")
    if major != 4 or not isinstance(nb.get("cells"), list):
        if major not in (3, 4) and not isinstance(nb.get("worksheets"), list):
            raise BadNotebook("not a notebook (no cells)")
        nb = _upgrade(nb)
        if not isinstance(nb.get("cells"), list):
            raise BadNotebook("not a notebook (no cells)")
        notes.append(Reason("nbformat_upgraded", {"version": major}))
    wanted = {}
    for cell in release.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and meta.get("grade_id"):
            wanted[meta["grade_id"]] = meta
    last: dict[str, int] = {}
    for i, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict):
            raise BadNotebook(f"cell {i + 1} is not a cell")
        cell.setdefault("metadata", {})
        meta = cell["metadata"].get("nbgrader") if isinstance(cell["metadata"], dict) else None
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str) and meta["grade_id"] in wanted:
            last[meta["grade_id"]] = i
    duplicated, foreign = set(), set()
    for i, cell in enumerate(nb["cells"]):
        if not isinstance(cell["metadata"], dict):
            cell["metadata"] = {}
        if "nbgrader" not in cell["metadata"]:
            continue
        meta = cell["metadata"]["nbgrader"]
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if isinstance(gid, str) and gid in wanted and last[gid] == i:
            cell["metadata"]["nbgrader"] = copy.deepcopy(wanted[gid])
            continue
        del cell["metadata"]["nbgrader"]
        if isinstance(gid, str) and gid in wanted:
            duplicated.add(gid)
        elif gid and isinstance(meta, dict) and any(meta.get(k) for k in ("grade", "solution", "locked", "task")):
            foreign.add(printable(gid, 40))
    if duplicated:
        notes.append(Reason("duplicate_cells", {"cells": sorted(duplicated)}))
    if foreign:
        notes.append(Reason("foreign_cells", {"cells": sorted(foreign)}))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return notes


def _upgrade(nb: dict) -> dict:
    import nbformat

    try:
        node = nbformat.from_dict(nb)
        return json.loads(json.dumps(nbformat.convert(node, 4)))
    except Exception as exc:   # nbformat's converters assume a well-formed old notebook
        raise BadNotebook(f"an old-format notebook that cannot be upgraded ({type(exc).__name__})") from None


GROUP_FILE = "group.json"   # a group's seed and roles, in each member's hand-out and working copy (groupplay.py)


def reserved_names(data_file: str) -> frozenset[str]:
    """What the grader places in a working copy itself: a student's version of these is not taken."""
    return frozenset({data_file, *(data_file + s for s in ("-journal", "-wal", "-shm")), GROUP_FILE})
