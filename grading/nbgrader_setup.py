"""Turn a course's crmlab.toml into nbgrader configuration, and the nbgrader steps we add.

nbgrader stays unforked: we only configure it and add one preprocessor to its autograde pass.
"""
from __future__ import annotations

from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

# nbgrader 0.9.6's default autograde pass, with the student's own data placed before execution
AUTOGRADE_STEPS = [
    "grading.nbgrader_setup.StudentData",
    "nbgrader.preprocessors.Execute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]


def configure(c, config_file: str) -> None:
    """Fill nbgrader's config object ``c`` for the course whose nbgrader_config.py is ``config_file``."""
    from .course import Course, ensure_env_on_path

    ensure_env_on_path()
    course = Course.open(Path(config_file).parent)
    c.CourseDirectory.root = str(course.root)
    c.CourseDirectory.course_id = course.course_id
    c.CourseDirectory.source_directory = "modules"
    c.CourseDirectory.db_url = course.db_url
    c.Execute.timeout = int(course.grading["cell_timeout"])
    # the notebook has run and its outputs are saved: kill the kernel instead of waiting for it
    c.Execute.shutdown_kernel = "immediate"
    # a student who deletes a test cell gets it back and graded, rather than "needs manual grade"
    c.OverwriteCells.add_missing_cells = True
    c.Autograde.autograde_preprocessors = AUTOGRADE_STEPS
    c.StudentData.course_root = str(course.root)
    # every kernel in a sandbox of its own (grading/sandbox.py)
    from .sandbox import DEFAULT_LIMITS, SandboxedKernelManager

    c.Execute.kernel_manager_class = SandboxedKernelManager
    c.SandboxedKernelManager.mode = str(course.grading.get("sandbox", "auto"))
    c.SandboxedKernelManager.limits = {k: course.grading[k] for k in DEFAULT_LIMITS if k in course.grading}
    # the course's exchange, delivering each student's own data (grading/exchange.py)
    from .exchange import configure_exchange

    configure_exchange(c, course)


class StudentData(NbGraderPreprocessor):
    """Put the student's own simulated database next to the notebook before it is executed.

    The data is regenerated from (course id, module id, student id), so whatever database the
    student submitted — edited, swapped with a classmate's, or missing — grading uses theirs."""

    course_root = Unicode("", help="root of the course instance").tag(config=True)

    def preprocess(self, nb, resources):
        from .course import Course
        from .data import place_student_data

        course = Course.open(self.course_root)
        place_student_data(course, resources["nbgrader"]["assignment"], resources["nbgrader"]["student"],
                           Path(resources["metadata"]["path"]))
        return nb, resources
