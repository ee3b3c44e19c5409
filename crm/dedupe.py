"""Finding the same school or company recorded twice.

The brief's education-services company keeps customer data in several departmental systems, so
one school appears as "长沙交通职业学院" and "长沙市交通职业学院 " or with the same admissions
officer's phone under two account numbers. The reasoning behind the similarity:

1. **Normalise** a name: Unicode NFKC (full-width → half-width), lower case, no spaces or
   punctuation, no legal form (有限公司, Co., Ltd., Inc.), and no city name (with its 市), because
   the city is compared separately. English words are sorted and "of/the/and" dropped, so
   "University of Wuhan" and "Wuhan University" agree.
2. **Block by city**: a school is known by its name *in its city*. "第一中学" exists in every city;
   two of them in different cities are different schools, so names are compared only within one
   (normalised) city.
3. **Compare** the normalised names by the cosine of their character bigrams weighted by inverse
   document frequency over all accounts. Bigrams every school has (学院, 中学, school) weigh
   little; the distinctive part (交通, 第一) decides. Identical names score 1.
4. **Contacts are evidence of their own**: the same phone number (digits only) or e-mail address
   (lower case) at two accounts marks the pair whatever the names say.

A pair is reported when its name similarity reaches the threshold or when it shares a phone or an
e-mail. The result is a list to review, never merged automatically: merging is a decision.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from itertools import combinations

LEGAL_FORMS = ("股份有限公司", "有限责任公司", "有限公司", "集团", "co.,ltd.", "co.,ltd", "co.ltd", "ltd.", "ltd",
               "inc.", "inc", "llc", "limited", "company", "corp.", "corp")
STOPWORDS = {"of", "the", "and", "&"}
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
_LATIN_WORD = re.compile(r"[a-z0-9]+")


def normalise_city(city: str) -> str:
    city = unicodedata.normalize("NFKC", city or "").lower().strip()
    city = _PUNCT.sub("", city)
    return city[:-1] if city.endswith("市") and len(city) > 2 else city


def normalise_name(name: str, city: str = "") -> str:
    """The part of a name that tells one organisation from another in the same city."""
    text = unicodedata.normalize("NFKC", name or "").lower()
    c = normalise_city(city)
    if text.isascii():
        words = [w for w in _LATIN_WORD.findall(text) if w not in STOPWORDS and w not in LEGAL_FORMS]
        city_words = _LATIN_WORD.findall(c) if c else []
        if city_words:  # drop the city's words where they occur as a run, once
            for i in range(len(words) - len(city_words) + 1):
                if words[i:i + len(city_words)] == city_words:
                    del words[i:i + len(city_words)]
                    break
        return " ".join(sorted(words))
    compact = _PUNCT.sub("", text)
    for form in LEGAL_FORMS:
        compact = compact.replace(_PUNCT.sub("", form), "")
    if c and c in compact:
        compact = compact.replace(c + "市", "", 1) if c + "市" in compact else compact.replace(c, "", 1)
    return compact


def grams(key: str) -> Counter:
    """Character bigrams (Chinese) or word-internal trigrams plus whole words (English)."""
    if " " in key or key.isascii():
        out = Counter(key.split())
        for w in key.split():
            padded = f"#{w}#"
            out.update(padded[i:i + 3] for i in range(len(padded) - 2))
        return out
    if len(key) < 2:
        return Counter([key]) if key else Counter()
    return Counter(key[i:i + 2] for i in range(len(key) - 1))


def name_similarity_table(names: dict[str, tuple[str, str]]) -> dict[tuple[str, str], float]:
    """Similarity of every pair of ids within one city: ``{id: (name, city)}`` → ``{(a, b): s}``."""
    keys = {i: normalise_name(n, c) for i, (n, c) in names.items()}
    vectors = {i: grams(k) for i, k in keys.items()}
    df = Counter(g for v in vectors.values() for g in v)
    n = max(len(vectors), 1)
    idf = {g: math.log((1 + n) / (1 + d)) + 1 for g, d in df.items()}
    weighted = {}
    for i, v in vectors.items():
        w = {g: c * idf[g] for g, c in v.items()}
        norm = math.sqrt(sum(x * x for x in w.values())) or 1.0
        weighted[i] = {g: x / norm for g, x in w.items()}
    by_city = defaultdict(list)
    for i, (_, city) in names.items():
        by_city[normalise_city(city)].append(i)
    out = {}
    for ids in by_city.values():
        for a, b in combinations(sorted(ids), 2):
            if keys[a] and keys[a] == keys[b]:
                out[(a, b)] = 1.0
                continue
            wa, wb = weighted[a], weighted[b]
            if len(wa) > len(wb):
                wa, wb = wb, wa
            out[(a, b)] = round(sum(x * wb.get(g, 0.0) for g, x in wa.items()), 4)
    return out


def normalise_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone or "")
    return digits[-11:]  # ignore a country prefix such as +86


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()
