"""Every HTML page and fragment of crmlab comes from a Jinja2 template with autoescaping.

A package keeps its templates in a ``templates/`` folder of its own (``crm/templates``,
``grading/templates``) and renders them through :func:`environment`: values are escaped unless a template
marks them safe, and a name the template uses but the caller did not give is an error, not an empty
string (``StrictUndefined``).
"""
from __future__ import annotations

import functools

import jinja2


@functools.cache
def environment(package: str) -> jinja2.Environment:
    """The template environment of ``package`` (e.g. ``"crmlab.crm"``): its ``templates/`` folder."""
    return jinja2.Environment(loader=jinja2.PackageLoader(package, "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def render(package: str, template: str, **values) -> str:
    """``template`` of ``package`` rendered with ``values``."""
    return environment(package).get_template(template).render(**values)
