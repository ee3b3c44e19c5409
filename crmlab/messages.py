"""The one bilingual message mechanism of crmlab: catalogues of codes → a text per language, rendered with
named parameters in the reader's language.

A part of crmlab that speaks to people declares its own :class:`Catalogue` in its own file — the CRM's
rule messages and labels (``crm/messages.py``), the role-play's (``roleplay/messages.py``), the grader's
reasons (``grading/classroom/reasons.py``) — with the texts written as a tuple in the order of
:data:`crmlab.vocab.LOCALES` (简体中文, English). Adding a language means adding one column to each table;
:meth:`Catalogue.problems` (run on every catalogue by ``tests/crmlab/test_messages.py``) names any code that lacks a
language or whose placeholders differ between the languages, so a reworded text cannot silently lose a value
or a translation.

What is stored, passed around and exported is the code and its parameters, never a rendered sentence:
each reader gets the text in their own language from the same code (no sentence is ever translated back).
A parameter that is itself a code (a stage, a role, a file's refusal) is passed as something with a
``text(lang)`` method (:class:`Localised`, e.g. ``crm.messages.Label``) and shown in the reader's language;
a list is joined the way the language joins lists; anything else is filled in as it is (so format specs
such as ``{discount:.1%}`` work). A catalogue whose parameters need more (the grader's left-out files) gives
its own ``show``.
"""
from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol, runtime_checkable

from crmlab.vocab import LOCALES

LANGS = LOCALES

# how each language joins a list of values ("a, b, c" / "甲、乙、丙")
LIST_SEPARATOR = {"zh_CN": "、", "en_US": ", "}

# a Chinese text has Chinese in it; an English one has none (a missed translation shows up as either)
HAN = re.compile(r"[\u4e00-\u9fff]")
SCRIPT = {"zh_CN": lambda text: bool(HAN.search(text)), "en_US": lambda text: not HAN.search(text)}


def check_lang(lang: str) -> str:
    """``lang`` if it is one of :data:`LANGS`, else a ValueError naming the choices."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
    return lang


def locale(lang: str) -> str:
    """``lang`` as one of :data:`LANGS`; a bare language (``"zh"``, ``"en"``) means its locale."""
    if lang in LANGS:
        return lang
    for full in LANGS:
        if full.split("_")[0] == lang.split("_")[0]:
            return full
    raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")


def placeholders(template: str) -> set[str]:
    """The named fields of a ``str.format`` template: ``"{what} {id:>3}"`` → {"what", "id"}."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def join(items, lang: str) -> str:
    """Items joined the way ``lang`` writes a list."""
    return LIST_SEPARATOR[lang].join(items)


@runtime_checkable
class Localised(Protocol):
    """A value shown in the reader's language (a code with a label: a stage, a role …)."""

    def text(self, lang: str) -> str: ...


def show(value, lang: str):
    """A parameter as it is filled in: localised values in ``lang``, lists joined, the rest as it is."""
    if isinstance(value, Localised):
        return value.text(lang)
    if isinstance(value, (list, tuple)):
        return join((v.text(lang) if isinstance(v, Localised) else str(v) for v in value), lang)
    return value


_CATALOGUES: dict[str, "Catalogue"] = {}


class Catalogue(Mapping):
    """Codes → one text per language (a tuple in the order of :data:`LANGS`), each a ``str.format`` template
    with named placeholders. Reads as the table it wraps (``catalogue[code]`` is the tuple)."""

    def __init__(self, name: str, texts: Mapping, show: Callable = show, register: bool = True):
        self.name, self.texts, self.show = name, texts, show
        if register:   # listed by catalogues(), so the tests check it; the same name again (a reload) replaces it
            _CATALOGUES[name] = self

    def __getitem__(self, code):
        return self.texts[code]

    def __iter__(self) -> Iterator:
        return iter(self.texts)

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        return f"Catalogue({self.name!r}, {len(self)} codes)"

    def template(self, code, lang: str) -> str:
        """The text of ``code`` in ``lang``, placeholders unfilled (KeyError for an unknown code)."""
        return self.texts[code][LANGS.index(check_lang(lang))]

    def label(self, code, lang: str, default: str | None = None) -> str:
        """A label's text in ``lang``; ``default`` (else the code itself) where the catalogue has none (a
        value newer than the table)."""
        texts = self.texts.get(code)
        if texts is None:
            return str(code) if default is None else default
        return texts[LANGS.index(check_lang(lang))]

    def render(self, code, lang: str, params: Mapping | None = None) -> str:
        """The text of ``code`` in ``lang`` with its parameters filled in, each shown in ``lang``."""
        template = self.template(code, lang)
        return template.format(**{key: self.show(value, lang) for key, value in (params or {}).items()})

    def problems(self) -> list[str]:
        """What is wrong with the table, one line per fault ([] when every code has every language, each
        text in its language's script, with the same placeholders)."""
        out = []
        for code, texts in self.texts.items():
            where = f"{self.name}: {code!r}"
            if not isinstance(texts, tuple) or len(texts) != len(LANGS):
                out.append(f"{where} has {len(texts) if isinstance(texts, tuple) else 'no tuple of'} texts, "
                           f"not one for each of {LANGS}")
                continue
            fields = {}
            for lang, text in zip(LANGS, texts):
                if not isinstance(text, str) or not text.strip():
                    out.append(f"{where} has no {lang} text")
                    continue
                if not SCRIPT[lang](text):
                    out.append(f"{where}: the {lang} text is not written in {lang}: {text!r}")
                try:
                    fields[lang] = placeholders(text)
                except ValueError as exc:
                    out.append(f"{where}: the {lang} text is not a valid template ({exc})")
            if len({frozenset(f) for f in fields.values()}) > 1:
                out.append(f"{where}: the placeholders differ between the languages: "
                           + "; ".join(f"{lang} {sorted(f)}" for lang, f in fields.items()))
        return out


def catalogues() -> dict[str, Catalogue]:
    """Every catalogue declared so far (by the modules imported), by name."""
    return dict(_CATALOGUES)


def split_bilingual(message: str) -> tuple[str, str]:
    """A check's "中文 / English" message as (zh, en) (the slash may follow a full-width bracket);
    ('message', '') when it is in one language.

    The course's checks run inside the student's kernel and hand the grader one string holding both
    languages; this cuts it where the Chinese ends, it translates nothing."""
    m = re.search(r"\s*/\s+(?=[^\s/])", message)
    if m and HAN.search(message[:m.start()]):
        return message[:m.start()].strip(), message[m.end():].strip()
    return message, ""
