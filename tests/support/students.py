"""Students played on one machine, without a browser: nbgrader's fetch and submit run as a student's
lab runs them (their own nbgrader_config.py written by `crmlab lab --user`, their home as the folder)."""
from __future__ import annotations

import json
from pathlib import Path

from crmlab.grading.classroom.course import Course
from crmlab.grading.classroom.lab import prepare_student_home


def student_app(course: Course, student: str, action: str, module: str = "m01", **config):
    """nbgrader's fetch, submit or fetch_feedback as the student's lab runs it: their own
    nbgrader_config.py, their home (and nbgrader's cache of their submissions inside it)."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeFactory
    from traitlets.config.loader import PyFileConfigLoader

    env = prepare_student_home(course, student) if student in course.students() else None
    config_dir = env["JUPYTER_CONFIG_DIR"] if env else None
    if config_dir is None:   # someone not on the roster, with a config of their own making
        from crmlab.grading.classroom.exchange import student_config
        config_dir = course.root / "elsewhere" / student.replace("/", "_")
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "nbgrader_config.py").write_text(student_config(course, student), encoding="utf-8")
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(config_dir)).load_config()
    home = course.root / "home" / student.replace("/", "_")
    home.mkdir(parents=True, exist_ok=True)
    cfg.CourseDirectory.assignment_id = module
    cfg.Exchange.assignment_dir = str(home)
    cfg.Exchange.cache = str(home / ".local" / "share" / "jupyter" / "nbgrader_cache")   # where their lab keeps it
    for key, value in config.items():
        section, name = key.split("__")
        setattr(getattr(cfg, section), name, value)
    factory = ExchangeFactory(config=cfg)
    make = {"fetch": factory.FetchAssignment, "submit": factory.Submit, "fetch_feedback": factory.FetchFeedback}[action]
    return make(coursedir=CourseDirectory(config=cfg), authenticator=Authenticator(config=cfg), config=cfg), home


def model_answers(course: Course, module: str) -> dict[str, str]:
    """The model answer of every solution cell of a module, by grade id: the source cell without the
    BEGIN/END SOLUTION marker lines (what nbgrader's release replaces with "YOUR CODE HERE")."""
    nb = json.loads((course.root / "modules" / module / f"{module}.ipynb").read_text(encoding="utf-8"))
    out = {}
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            lines = "".join(cell["source"]).splitlines(keepends=True)
            out[meta["grade_id"]] = "".join(x for x in lines if "BEGIN SOLUTION" not in x and "END SOLUTION" not in x)
    return out


def answer(notebook: Path, answers: dict[str, str]) -> None:
    """Write answers into a student's notebook, cell by grade id (what a student would type)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    notebook.write_text(json.dumps(nb, ensure_ascii=False, indent=1), encoding="utf-8")
