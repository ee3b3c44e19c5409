"""The grading state: one row per (module, student) with a status and a reason.

nbgrader's gradebook records scores but not *why* a submission has none; this table does, and it
is what makes a grading run resumable (a finished row with the same submission digest is skipped).
Only the coordinating process writes it.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from crmlab.grading.classroom import reasons as reason_codes
from crmlab.grading.classroom.course import CourseError
from crmlab.grading.classroom.reasons import Reason

# limit: the submission hit a resource limit of the sandbox (memory, disk, file size, processes)
# tampered: read-only or test cells were edited or deleted, or links handed in; graded with the originals restored
# late: graded, submitted after the module's due time
# retry: not graded because of the grader or the host (a kernel that could not start, a full disk, a
#        worker that died): the next run grades it again, unlike the student's own failures (error, timeout…)
STATUSES = ("graded", "late", "tampered", "error", "timeout", "limit", "missing", "retry")
FINAL = frozenset(STATUSES) - {"retry"}
COLUMNS = ("module", "student", "status", "reason", "digest", "score", "max_score", "seconds", "finished_at", "reasons")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS results (
    module      TEXT NOT NULL,
    student     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ({", ".join(repr(s) for s in STATUSES)})),
    reason      TEXT NOT NULL DEFAULT '',              -- the reasons in English (for scripts and old readers)
    digest      TEXT NOT NULL DEFAULT '',
    score       REAL,
    max_score   REAL,
    seconds     REAL NOT NULL DEFAULT 0,
    finished_at REAL NOT NULL,
    reasons     TEXT NOT NULL DEFAULT '[]',            -- [{{"code", "params"}}]: grading/classroom/reasons.py
    PRIMARY KEY (module, student)
);
-- each checkpoint verified in the grader's process (grading/run/verify.py): points and what was wrong
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
class Verdict:
    """The grader's verdict on one checkpoint (grading/run/verify.py gives it; the state's ``checks`` table keeps
    it; grading/outputs/results.py reads it back for feedback, reports and exports)."""
    check: str
    points: float
    max_points: float
    status: str       # right, partly, wrong, no_answer
    message: str = ""


@dataclass
class Outcome:
    module: str
    student: str
    status: str
    reasons: list[Reason] = field(default_factory=list)   # why, as codes (grading/classroom/reasons.py)
    digest: str = ""
    score: float | None = None
    max_score: float | None = None
    seconds: float = 0.0
    checks: list[Verdict] = field(default_factory=list)   # each checkpoint the grader checked
    text: str = ""                                # the reason as stored by a grader from before reason codes

    @property
    def reason(self) -> str:
        """The reasons in English."""
        return reason_codes.render(self.reasons) if self.reasons else self.text

    def reason_in(self, lang: str) -> str:
        return reason_codes.render(self.reasons, lang) if self.reasons else self.text


def submission_digest(folder: Path, limits=None) -> str:
    """A digest of what a submission holds (each regular file's path and content, and what would be left
    out): a changed resubmission is graded again. Reads no link and no more than the intake limits."""
    from crmlab.grading.classroom.intake import Limits, take

    folder = Path(folder)
    return take(folder.parent, (folder.name,), None, limits or Limits()).digest


class StateDamaged(CourseError):
    """The grading state cannot be read: said in one line naming the file."""


class StateStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self.con = sqlite3.connect(path, timeout=60)
            self.con.execute("PRAGMA journal_mode=WAL")
            self._migrate()
            self.con.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StateDamaged(f"the grading state {path} is damaged ({exc}): move it aside and run `crmlab autograde` "
                               "again with --force (every submission is graded again; the gradebook keeps the scores)") \
                from None

    def _migrate(self) -> None:
        """A state file from before a status or a column existed: rebuilt with its rows kept."""
        old = self.con.execute("SELECT sql FROM sqlite_master WHERE name = 'results'").fetchone()
        if not old:
            return
        have = [r[1] for r in self.con.execute("PRAGMA table_info(results)")]
        if all(f"'{s}'" in old[0] for s in STATUSES) and list(COLUMNS) == have:
            return
        kept = [c for c in COLUMNS if c in have]
        with self.con:
            self.con.execute("ALTER TABLE results RENAME TO results_old")
            self.con.executescript(SCHEMA)
            self.con.execute(f"INSERT INTO results ({', '.join(kept)}) SELECT {', '.join(kept)} FROM results_old")
            self.con.execute("DROP TABLE results_old")

    def close(self) -> None:
        self.con.close()

    _SELECT = "SELECT module, student, status, reason, digest, score, max_score, seconds, reasons FROM results"

    @staticmethod
    def _outcome(row) -> Outcome:
        module, student, status, text, digest, score, max_score, seconds, coded = row
        found = reason_codes.loads(coded)
        return Outcome(module, student, status, found, digest, score, max_score, seconds, text="" if found else text)

    def get(self, module: str, student: str) -> Outcome | None:
        row = self.con.execute(self._SELECT + " WHERE module = ? AND student = ?", (module, student)).fetchone()
        return self._outcome(row) if row else None

    def all(self, module: str | None = None) -> list[Outcome]:
        rows = self.con.execute(self._SELECT + (" WHERE module = ?" if module else "") + " ORDER BY module, student",
                                (module,) if module else ())
        return [self._outcome(r) for r in rows]

    def put(self, outcome: Outcome) -> None:
        with self.con:
            d = {"module": outcome.module, "student": outcome.student, "status": outcome.status,
                 "reason": outcome.reason, "digest": outcome.digest, "score": outcome.score,
                 "max_score": outcome.max_score, "seconds": outcome.seconds, "finished_at": time.time(),
                 "reasons": reason_codes.dumps(outcome.reasons)}
            self.con.execute(f"INSERT OR REPLACE INTO results ({', '.join(COLUMNS)}) VALUES "
                             f"({', '.join(':' + c for c in COLUMNS)})", d)
            self.con.execute("DELETE FROM checks WHERE module = ? AND student = ?", (outcome.module, outcome.student))
            self.con.executemany("INSERT INTO checks VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 [(outcome.module, outcome.student, v.check, v.points, v.max_points, v.status,
                                   v.message) for v in outcome.checks])

    def checks(self, module: str, student: str) -> list[tuple]:
        """(checkpoint, points, max_points, status, message) of one submission's verified checkpoints."""
        return self.con.execute("SELECT checkpoint, points, max_points, status, message FROM checks "
                                "WHERE module = ? AND student = ? ORDER BY checkpoint", (module, student)).fetchall()
