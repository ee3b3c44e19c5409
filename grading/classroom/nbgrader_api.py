"""nbgrader's Python API, configured for one course instance (one place, used by every step)."""
from __future__ import annotations

from crmlab.grading.classroom.course import Course, CourseError, ensure_env_on_path


def nbgrader_api(course: Course, overrides=None):
    """The API on the course's config, with ``overrides`` (a traitlets Config) merged on top."""
    ensure_env_on_path()
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course.root)).load_config()
    if overrides is not None:
        config.merge(overrides)
    return NbGraderAPI(config=config)


def check(result: dict, what: str) -> None:
    """Raise with nbgrader's own log if one of its API calls failed."""
    if not result.get("success"):
        detail = (result.get("error") or result.get("log") or "").strip().splitlines()[-5:]
        raise CourseError(f"nbgrader {what} failed:\n" + "\n".join(detail))
