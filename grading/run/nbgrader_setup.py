"""Turn a course's crmlab.toml into nbgrader configuration, and the nbgrader steps we add.

nbgrader stays unforked: we only configure it and add one preprocessor to its autograde pass.
"""
from __future__ import annotations

from pathlib import Path

from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbformat.v4 import new_output
from traitlets import Integer, Unicode

# nbgrader 0.9.6's default autograde pass, with the student's own data placed before execution
AUTOGRADE_STEPS = [
    "crmlab.grading.run.nbgrader_setup.StudentData",
    "crmlab.grading.run.nbgrader_setup.LimitedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]


def configure(c, config_file: str) -> None:
    """Fill nbgrader's config object ``c`` for the course whose nbgrader_config.py is ``config_file``."""
    from crmlab.grading.classroom.course import Course, ensure_env_on_path

    ensure_env_on_path()
    course = Course.open(Path(config_file).parent)
    c.CourseDirectory.root = str(course.root)
    c.CourseDirectory.course_id = course.course_id
    c.CourseDirectory.source_directory = "modules"
    c.CourseDirectory.db_url = course.db_url
    c.Execute.timeout = course.grading.cell_timeout
    # the notebook has run and its outputs are saved: kill the kernel instead of waiting for it
    c.Execute.shutdown_kernel = "immediate"
    c.LimitedExecute.max_output_kb = course.grading.max_output_kb
    c.LimitedExecute.max_total_output_kb = course.grading.max_total_output_kb
    # the formgrader shows students' notebooks in the instructor's browser: a student's HTML or script
    # (in a markdown answer or an output) must not run there, with the instructor's rights on the server
    c.HTMLExporter.sanitize_html = True
    c.HTMLExporter.filters = {"clean_html": "crmlab.grading.run.nbgrader_setup.clean_html"}
    # a student who deletes a test cell gets it back and graded, rather than "needs manual grade"
    c.OverwriteCells.add_missing_cells = True
    c.Autograde.autograde_preprocessors = AUTOGRADE_STEPS
    # the release's placeholders in the students' two languages, not a bare "# YOUR CODE HERE"
    from crmlab.grading.classroom.labels import code_stub, text_stub

    c.ClearSolutions.code_stub = {"python": code_stub()}
    c.ClearSolutions.text_stub = text_stub()
    c.StudentData.course_root = str(course.root)
    # every kernel in a sandbox of its own (grading/run/sandbox/)
    from crmlab.grading.run.sandbox import SandboxedKernelManager

    c.Execute.kernel_manager_class = SandboxedKernelManager
    c.SandboxedKernelManager.mode = course.grading.sandbox
    c.SandboxedKernelManager.limits = course.grading.limits
    # operational modules (data_writable = true): the student's CRM database and action log stay writable
    c.SandboxedKernelManager.writable = {m: course.module(m).writable_files for m in course.module_ids
                                         if course.module(m).writable_files}
    # the course's exchange, delivering each student's own data (grading/classroom/exchange.py)
    from crmlab.grading.classroom.exchange import configure_exchange

    configure_exchange(c, course)


# what a student's HTML may keep in the formgrader: text formatting, tables and pictures, no script, no event
# handler, no style, no frame, no form, links only to the web
SAFE_TAGS = frozenset({"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt", "em",
                       "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "span",
                       "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"})


def _safe_attribute(tag: str, name: str, value: str) -> bool:
    if name in ("class", "title", "alt", "colspan", "rowspan", "align", "width", "height"):
        return True
    if tag == "a" and name == "href":
        return value.lower().startswith(("http://", "https://", "mailto:", "#"))
    if tag == "img" and name == "src":
        return value.lower().startswith(("data:image/png", "data:image/jpeg", "data:image/gif", "https://", "http://"))
    return False


def clean_html(element) -> str:
    """nbconvert's ``clean_html`` filter for the formgrader, with the tags markdown makes (paragraphs,
    headings, tables, pictures) kept and everything else removed rather than shown as escaped tags."""
    import bleach

    text = element.decode() if isinstance(element, bytes) else str(element)
    return bleach.clean(text, tags=SAFE_TAGS, attributes=_safe_attribute, protocols=["http", "https", "mailto", "data"],
                        strip=True, strip_comments=True)


class LimitedExecute(Execute):
    """nbgrader's Execute step, keeping at most ``max_output_kb`` of output per cell, and
    ``max_total_output_kb`` per notebook, *while it runs*.

    nbgrader's LimitOutput trims outputs only after the notebook has run; until then every byte a
    cell prints is held in the grader's memory (an output bomb could exhaust it, and so could a notebook
    of ten thousand cells that each print just under the cell limit). Past the limit the cell's further
    outputs are dropped, with one line saying so."""

    max_output_kb = Integer(1024, help="output kept per cell, in KiB").tag(config=True)
    max_total_output_kb = Integer(20 * 1024, help="output kept per notebook, in KiB").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._limit_cell, self._limit_total = None, 0
        return super().preprocess(nb, resources, km)

    def output(self, outs, msg, display_id, cell_index):
        if getattr(self, "_limit_cell", None) != cell_index:
            self._limit_cell, self._limit_used, self._limit_hit = cell_index, 0, False
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in (content.get("data") or {}).values())
        self._limit_used += size
        self._limit_total = getattr(self, "_limit_total", 0) + size
        if self._limit_used <= self.max_output_kb * 1024 and self._limit_total <= self.max_total_output_kb * 1024:
            return super().output(outs, msg, display_id, cell_index)
        if not self._limit_hit:
            self._limit_hit = True
            note = new_output("stream", name="stdout", text=f"\n[… output cut by the grader after "
                              f"{self.max_output_kb} KiB / 输出超过 {self.max_output_kb} KiB，其余部分已截断 …]\n")
            outs.append(note)
        return None


class StudentData(NbGraderPreprocessor):
    """Put the student's own simulated database next to the notebook before it is executed.

    The data is regenerated from (course id, module id, student id), so whatever database the
    student submitted — edited, swapped with a classmate's, or missing — grading uses theirs."""

    course_root = Unicode("", help="root of the course instance").tag(config=True)

    def preprocess(self, nb, resources):
        from crmlab.grading.classroom.course import Course
        from crmlab.grading.classroom.data import place_student_data

        course = Course.open(self.course_root)
        place_student_data(course, resources["nbgrader"]["assignment"], resources["nbgrader"]["student"],
                           Path(resources["metadata"]["path"]))
        return nb, resources
