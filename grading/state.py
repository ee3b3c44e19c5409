"""The grading state: one row per (module, student) with a status and a reason.

nbgrader's gradebook records scores but not *why* a submission has none; this table does, and it
is what makes a grading run resumable (a finished row with the same submission digest is skipped).
Only the coordinating process writes it.
"""
from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

# limit: the submission hit a resource limit of the sandbox (memory, disk, file size, processes)
# tampered: read-only or test cells were edited or deleted; graded with the originals restored
# late: graded, submitted after the module's due time
STATUSES = ("graded", "late", "tampered", "error", "timeout", "limit", "missing")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS results (
    module      TEXT NOT NULL,
    student     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ({", ".join(repr(s) for s in STATUSES)})),
    reason      TEXT NOT NULL DEFAULT '',
    digest      TEXT NOT NULL DEFAULT '',
    score       REAL,
    max_score   REAL,
    seconds     REAL NOT NULL DEFAULT 0,
    finished_at REAL NOT NULL,
    PRIMARY KEY (module, student)
);
-- each checkpoint verified in the grader's process (grading/verify.py): points and what was wrong
CREATE TABLE IF NOT EXISTS checks (
    module      TEXT NOT NULL,
    student     TEXT NOT NULL,
    checkpoint  TEXT NOT NULL,
    points      REAL NOT NULL,
    max_points  REAL NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('right', 'partly', 'wrong', 'no_answer')),
    message     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (module, student, checkpoint)
);
"""


@dataclass
class Outcome:
    module: str
    student: str
    status: str
    reason: str = ""
    digest: str = ""
    score: float | None = None
    max_score: float | None = None
    seconds: float = 0.0
    checks: list = field(default_factory=list)   # verify.Verdict of each checkpoint checked by the grader


def submission_digest(folder: Path) -> str:
    """A digest of every file of a submission: a changed resubmission is graded again."""
    h = hashlib.sha256()
    if folder.is_dir():
        for p in sorted(folder.rglob("*")):
            if p.is_file() and ".ipynb_checkpoints" not in p.parts:
                h.update(str(p.relative_to(folder)).encode() + b"\0")
                h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


class StateStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(path, timeout=60)
        self.con.execute("PRAGMA journal_mode=WAL")
        old = self.con.execute("SELECT sql FROM sqlite_master WHERE name = 'results'").fetchone()
        if old and any(f"'{s}'" not in old[0] for s in STATUSES):   # from before a status existed: keep its rows
            with self.con:
                self.con.execute("ALTER TABLE results RENAME TO results_old")
                self.con.executescript(SCHEMA)
                self.con.execute("INSERT INTO results SELECT * FROM results_old")
                self.con.execute("DROP TABLE results_old")
        self.con.executescript(SCHEMA)

    def close(self) -> None:
        self.con.close()

    def get(self, module: str, student: str) -> Outcome | None:
        row = self.con.execute("SELECT module, student, status, reason, digest, score, max_score, seconds "
                               "FROM results WHERE module = ? AND student = ?", (module, student)).fetchone()
        return Outcome(*row) if row else None

    def all(self, module: str | None = None) -> list[Outcome]:
        sql = "SELECT module, student, status, reason, digest, score, max_score, seconds FROM results"
        rows = self.con.execute(sql + (" WHERE module = ?" if module else "") + " ORDER BY module, student",
                                (module,) if module else ())
        return [Outcome(*r) for r in rows]

    def put(self, outcome: Outcome) -> None:
        with self.con:
            d = asdict(outcome)
            self.con.execute(
                "INSERT OR REPLACE INTO results VALUES (:module, :student, :status, :reason, :digest, :score, "
                ":max_score, :seconds, :finished_at)", d | {"finished_at": time.time()})
            self.con.execute("DELETE FROM checks WHERE module = ? AND student = ?", (outcome.module, outcome.student))
            self.con.executemany("INSERT INTO checks VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 [(outcome.module, outcome.student, v.check, v.points, v.max_points, v.status,
                                   v.message) for v in outcome.checks])

    def checks(self, module: str, student: str) -> list[tuple]:
        """(checkpoint, points, max_points, status, message) of one submission's verified checkpoints."""
        return self.con.execute("SELECT checkpoint, points, max_points, status, message FROM checks "
                                "WHERE module = ? AND student = ? ORDER BY checkpoint", (module, student)).fetchall()
