"""Abbreviations defined in a text, and the mentions they resolve: pure rules, no model.

Definitions are found the way Schwartz and Hearst describe ("A simple algorithm for identifying
abbreviation definitions in biomedical text", PSB 2003), written here for news:

- "National Security Council (NSC)": a short form in brackets after its long form;
- "NSC (National Security Council)": the reverse, a long form in brackets after its short form.

The short form is one token of 2-10 characters, beginning with a capital and holding at least two
(letters and digits, with "." "&" "-" inside: "NSC", "U.N.", "AT&T", "M23"). The long form is looked
for in at most min(|SF| + 5, 2 × |SF|) words before the bracket, within the clause (a sentence end,
";" or another bracket stops it). Its shortest tail is taken in which every character of the short
form appears in order, the first at the start of a word ("the ruling National Security Council" →
"National Security Council"). It must begin with a capital: "non-governmental organisation (NGO)"
defines nothing a facet wants.

`resolve_abbreviations` then rewrites an article's cleaned mentions: every mention of a defined short
form, and every fragment of its long form the model tagged on its own ("National Fula Security" of
"National Fula Security of Liberia (NFSL)"), becomes the long form's entity, with the long form's
facet and canonical name (the entity table's when it knows the long form). The article's own
spelling stays the mention's `surface`, so the short form is one of the entity's searchable aliases.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from enrich.canonical import CleanMention, Facet

__all__ = ["best_long_form", "definitions", "implicit_definitions", "is_short_form", "resolve_abbreviations"]

# A short form: one token, a capital first, at least two capitals or digits in all.
_SHORT = re.compile(r"[A-Z][A-Za-z0-9.&\-]{1,9}")
_MIN_CAPITALS = 2
# A long form this close to the table's name of the short form is that entity, misspelt.
_SAME_NAME_RATIO = 0.85
# "(...)" holding no brackets; the text before it is searched for a long form.
_BRACKETS = re.compile(r"\(([^()\n]{2,120})\)")
# Where a long form cannot reach over: a sentence end, a clause break, another bracket, a line end.
_CLAUSE_BREAK = re.compile(r"(?:[.!?](?=\s+[A-Z\"“])|[;:()\[\]\n—–]|\s-\s)")
_WORD = re.compile(r"\S+")
_LEADING_JUNK = "\"'“”‘’«»,"
_TRAILING_JUNK = "\"'“”‘’«»,"
# Small words a long form may hold in lowercase ("Council on Foreign Relations").
_FUNCTION_WORDS = frozenset({
    "of", "and", "for", "the", "on", "in", "de", "du", "des", "la", "le", "al", "el", "to", "at",
    "&", "y", "et", "für", "und", "di", "da", "van", "von",
})

Labelled = Callable[[str, str], "CleanMention | None"]  # (text, spaCy label) -> cleaned mention


def is_short_form(token: str) -> bool:
    """True for a token that can be a short form: "NSC", "U.N.", "AT&T", "M23"."""
    return bool(_SHORT.fullmatch(token)) and sum(c.isupper() or c.isdigit() for c in token) >= _MIN_CAPITALS


def _letters(short: str) -> str:
    return "".join(c.lower() for c in short if c.isalnum())


def best_long_form(short: str, candidate: str) -> str | None:
    """The shortest tail of `candidate` holding every character of `short` in order, its first at the
    start of a word (Schwartz and Hearst's findBestLongForm); None when there is none."""
    s = len(short) - 1
    i = len(candidate) - 1
    while s >= 0:
        c = short[s].lower()
        if not c.isalnum():
            s -= 1
            continue
        while i >= 0 and (candidate[i].lower() != c or (s == 0 and i > 0 and candidate[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        i -= 1
        s -= 1
    start = candidate.rfind(" ", 0, i + 1) + 1
    return candidate[start:]


def _window(before: str, short: str) -> str:
    """The words before a bracket a long form may use: the clause, at most min(|SF|+5, 2|SF|) words."""
    breaks = list(_CLAUSE_BREAK.finditer(before))
    clause = before[breaks[-1].end():] if breaks else before
    n = len(_letters(short))
    words = _WORD.findall(clause)[-min(n + 5, 2 * n):]
    return " ".join(words)


def _valid_long_form(long: str, short: str) -> str | None:
    long = long.strip(_TRAILING_JUNK + " ").lstrip(_LEADING_JUNK)
    words = long.split()
    if not words or len(long) <= len(short) or not words[0][:1].isupper():
        return None
    if short in words or len(words) > min(len(_letters(short)) + 5, 2 * len(_letters(short))):
        return None  # "NSC said NSC" is no definition; a run longer than the window is a clause
    if any(w[:1].islower() and w.lower() not in _FUNCTION_WORDS for w in words):
        return None  # "International relations expert (IRE)": a description, not a name
    return long


def translated_long_form(short: str, candidate: str) -> str | None:
    """The tail of `candidate` whose capitalised words' initials are the letters of `short` in another
    order: a name translated, its short form kept from the original language ("Bolivarian National
    Police (PNB)", Policía Nacional Bolivariana). Letters-only short forms of three to five capitals:
    two letters in either order match too much by chance ("the Prime Minister (MP)")."""
    if not (short.isalpha() and short.isupper() and 3 <= len(short) <= 5):
        return None
    words = candidate.split()
    content = 0
    for start in range(len(words) - 1, -1, -1):
        word = words[start]
        if word.lower() in _FUNCTION_WORDS:
            continue
        if not word[:1].isupper():
            return None
        content += 1
        if content == len(short):
            tail = words[start:]
            initials = sorted(w[0] for w in tail if w.lower() not in _FUNCTION_WORDS)
            return " ".join(tail) if initials == sorted(short) else None
    return None


def _define(short: str, candidate: str) -> str | None:
    if not is_short_form(short):
        return None
    window = _window(candidate, short)
    found = best_long_form(short, window) or translated_long_form(short, window)
    return _valid_long_form(found, short) if found else None


def definitions(text: str) -> dict[str, str]:
    """Short form -> long form for every abbreviation `text` defines; the first definition of a short
    form wins (a later "(NSC)" after another name does not redefine it)."""
    found: dict[str, str] = {}
    for match in _BRACKETS.finditer(text):
        inside = match.group(1).strip()
        before = text[:match.start()].rstrip()
        inner = inside.split()
        if len(inner) == 1:
            short = inner[0].strip(_LEADING_JUNK)
            long = _define(short, before)
        else:
            # "NSC (National Security Council)": the word before the bracket is the short form.
            words = before.split()
            short = words[-1].strip(_LEADING_JUNK) if words else ""
            long = _define(short, inside) if is_short_form(short) else None
            if long is not None and long != inside.strip(_TRAILING_JUNK + " "):
                long = None  # the whole bracket must be the long form, not a tail of a remark
        if long is not None:
            found.setdefault(short, long)
    return found


def _same_name(a: str, b: str) -> bool:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio() >= _SAME_NAME_RATIO


def _label(facet: Facet) -> str:
    return {"persons": "PERSON", "organizations": "ORG", "locations": "GPE"}[facet]


def _contains(longer: Sequence[str], shorter: Sequence[str]) -> bool:
    n = len(shorter)
    return 0 < n < len(longer) and any(tuple(longer[i:i + n]) == tuple(shorter)
                                       for i in range(len(longer) - n + 1))


def _long_form_mention(long: str, uses: Iterable[CleanMention], clean: Labelled) -> CleanMention | None:
    """The entity a long form names: as the article's own mention of it cleans, else cleaned as a
    facility place when it reads as one ("Ninoy Aquino International Airport"), else under the facet
    the model gave its short form or fragments."""
    uses = list(uses)
    for facet in dict.fromkeys(u.facet for u in uses):
        resolved = clean(long, _label(facet))
        if resolved is not None and any(u.name == resolved.name for u in uses):
            return resolved
    place = clean(long, "FAC")
    if place is not None:
        return place
    for facet in dict.fromkeys(u.facet for u in uses):
        resolved = clean(long, _label(facet))
        if resolved is not None:
            return resolved
    return None


def _initials(short: str) -> re.Pattern[str] | None:
    """A run of capitalised words whose initials spell an all-capitals short form of 3-6 letters,
    small words allowed between them ("Ninoy Aquino International Airport" for "NAIA")."""
    if not (short.isalpha() and short.isupper() and 3 <= len(short) <= 6):
        return None
    small = r"(?:\s+(?:of|and|for|the|on|&))?"
    words = small.join(rf"\s+{c}[\w'’\-]*" for c in short)
    return re.compile(rf"(?<![\w-]){words[3:]}(?![\w-])")


def implicit_definitions(text: str, shorts: Iterable[str], defined: Mapping[str, str]) -> dict[str, str]:
    """Long forms of the short forms a text uses without a bracket, when it spells out their initials
    once as one run of capitalised words: "NAIA ... the Ninoy Aquino International Airport"."""
    found = {}
    for short in dict.fromkeys(shorts):
        pattern = None if short in defined else _initials(short)
        runs = set(pattern.findall(text)) if pattern is not None else set()
        if len(runs) == 1:
            found[short] = runs.pop()
    return found


def resolve_abbreviations(cleaned: Sequence[CleanMention], text: str, clean: Labelled) -> list[CleanMention]:
    """`cleaned` with every mention of a short form `text` defines, and every fragment of its long
    form, set to the long form's entity (facet, canonical name, table entry); the surface is kept.

    `clean(text, label)` cleans a text as a mention with that spaCy label (canonical.clean_mention).
    A fragment is a run of the long form's words that is no entity of the table ("National Fula
    Security"), of two words or more, or of one word the model put in the long form's facet. Short
    forms the text never defines in brackets may be spelled out by their initials
    (`implicit_definitions`), when the table does not know them.
    """
    defined = definitions(text)
    defined |= implicit_definitions(text, (m.name for m in cleaned if m.entry is None), defined)
    if not defined:
        return list(cleaned)
    out = list(cleaned)
    for short, long in defined.items():
        long_tokens = long.split()
        # A short form may come back from cleaning as the long form's canonical name already (the
        # table's "WHO"); those mentions are the entity too.
        uses = [i for i, m in enumerate(out) if short in (m.surface, m.name) or m.name == long]
        fragments = [i for i, m in enumerate(out) if i not in uses and m.entry is None
                     and _contains(long_tokens, m.name.split())]
        if not uses and not fragments:
            continue
        target = _long_form_mention(long, [out[i] for i in (*uses, *fragments)], clean)
        if target is None:
            if uses:  # the text defines it as no entity ("Inflation Reduction Act (IRA)")
                out = [m for i, m in enumerate(out) if i not in uses]
            continue
        known = next((out[i].entry for i in uses if out[i].entry is not None), None)
        if target.entry is None and known is not None and _same_name(long, known.name):
            # The table's entity, spelled a little differently ("Immigrations and Customs Enforcement").
            target = dataclasses.replace(target, facet=known.facet, name=known.name, entry=known)
        chosen = [*uses, *(i for i in fragments
                           if len(out[i].name.split()) >= 2 or out[i].facet == target.facet)]
        for i in chosen:
            out[i] = dataclasses.replace(out[i], facet=target.facet, name=target.name, entry=target.entry)
        if chosen and not any(m.surface == target.surface for m in out):
            # The long form itself may not be a mention (the model tagged only "NFSL"): its spelling
            # is one of the entity's too.
            out.append(target)
    return out
