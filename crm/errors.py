"""Business-rule violations. Each carries a message code and its parameters, so the same error can
be shown in either language (``err.message("en_US")``); ``str(err)`` is in the learner's language.

The subclasses say *what kind* of rule was broken, so a notebook or a test can catch one kind
without parsing text.
"""
from __future__ import annotations

from .messages import check_lang, render


class DomainError(Exception):
    """A CRM operation refused because it breaks a business rule; the database is unchanged."""

    def __init__(self, code: str, lang: str = "zh_CN", **params):
        self.code, self.lang, self.params = code, check_lang(lang), params
        super().__init__(self.message(lang))

    def message(self, lang: str | None = None) -> str:
        return render(self.code, check_lang(lang or self.lang), self.params)


class NotFound(DomainError):
    """The record named does not exist."""


class InvalidValue(DomainError):
    """A field value is missing, malformed or not among the allowed values."""


class IllegalTransition(DomainError):
    """The record's current state does not allow this step (stage jump, closing an open ticket …)."""


class Conflict(DomainError):
    """The change would duplicate something that must be unique (double enrolment, duplicate account …)."""


class MergedAway(DomainError):
    """The record was merged into another one and is kept only as history."""


class ClockError(DomainError):
    """The CRM's clock would run backwards."""


class ConstraintViolation(DomainError):
    """SQLite refused the change. The API checks its rules first, so this means a rule is missing."""
