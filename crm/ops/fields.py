"""Checking a value a learner typed: a time, a required text, one of the allowed values, a
positive amount, an e-mail address, a phone number, a time not in the past.

Each check returns the value as stored, or raises :class:`~crmlab.crm.errors.InvalidValue` naming the
field, in the session's language (``self.lang``).
"""
from __future__ import annotations

import datetime as dt
import re

from ..errors import DomainError, InvalidValue
from ..messages import Label


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()\-]+$")
TIME = "%Y-%m-%d %H:%M:%S"


class Fields:
    """The value checks of the CRM session (a mixin of :class:`~crmlab.crm.ops.core.Base`)."""

    lang: str
    _now: str

    def _err(self, cls, code: str, **params) -> DomainError:
        return cls(code, self.lang, **params)

    def _time(self, value, field: str) -> str:
        if isinstance(value, dt.datetime):
            return _fmt(value)
        if isinstance(value, dt.date):
            return f"{value.isoformat()} 00:00:00"
        text = str(value).strip()
        for pattern in (TIME, "%Y-%m-%d %H:%M", "%Y-%m-%d"):
            try:
                return _fmt(dt.datetime.strptime(text, pattern))
            except ValueError:
                pass
        raise self._err(InvalidValue, "bad_time", value=value)

    def _text(self, value, field: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self._err(InvalidValue, "required", field=Label("field", field))
        return value.strip()

    def _choice(self, value, allowed, field: str, namespace: str | None = None) -> str:
        if value not in allowed:
            shown = [Label(namespace, a) if namespace else a for a in allowed]
            raise self._err(InvalidValue, "unknown_value", field=Label("field", field), value=value, allowed=shown)
        return value

    def _positive(self, value, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value \
                or value == float("inf"):
            raise self._err(InvalidValue, "not_positive", field=Label("field", field), value=value)
        return float(value)

    def _email(self, value) -> str:
        if not isinstance(value, str) or not _EMAIL.match(value.strip()):
            raise self._err(InvalidValue, "bad_email", value=value)
        return value.strip()

    def _phone(self, value) -> str:
        digits = re.sub(r"\D", "", value) if isinstance(value, str) else ""
        if not isinstance(value, str) or not _PHONE.match(value.strip()) or not 7 <= len(digits) <= 15:
            raise self._err(InvalidValue, "bad_phone", value=value)
        return value.strip()

    def _future(self, value, field: str) -> str:
        when = self._time(value, field)
        if when < self._now:
            raise self._err(InvalidValue, "in_past", field=Label("field", field), value=when, now=self._now)
        return when


def _parse(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, TIME)


def _fmt(when: dt.datetime) -> str:
    return when.replace(microsecond=0).strftime(TIME)
