"""nbgrader configuration of a CRM-lab course. The course's settings live in crmlab.toml;
this file turns them into nbgrader's (see grading/run/nbgrader_setup.py)."""
from crmlab.grading.run.nbgrader_setup import configure

configure(get_config(), __file__)  # noqa: F821 - get_config is provided by traitlets
