"""Spans the model ran together, split back into the mentions they hold: pure rules, no model.

The NER model often returns one span for two entities ("Facebook and Google", "Washington/Geneva",
"Raiders' Connor Cook"), which costs one wrong value and two missed ones; or glues a headline word
or a reporting period to a name ("Will Supreme Court", "ViacomCBS Q1"). `split_joined` runs before
`canonical.clean_mention`, turning one mention into the mentions it holds; a part takes the table's
label when the table knows it (the model labelled the run, not the part), else the span's. Splits
are conservative: a coordination is split only when the table knows every part and not the whole,
so "Procter & Gamble" and "Marks and Spencer" stay whole.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from enrich.abbreviations import is_short_form
from enrich.entity_table import KnownEntity, normalise_spelling

if TYPE_CHECKING:
    from enrich.canonical import EntityRules, Mention

__all__ = ["known_possessor", "split_joined"]

_EDGE = " \t\"'“”‘’«»,;:"
_POSSESSIVE = re.compile(r"(?:'s|'|’s|’)$")
# " and " / " & " between names; a list "A, B and C" also splits at its commas.
_AND = re.compile(r"\s+(?:and|&)\s+")
_LIST_COMMA = re.compile(r",\s+")
# A slash between names: "Washington/Geneva/Dubai", "IronPort/Cisco" (no spaces, or spaced).
_SLASH = re.compile(r"\s*/\s*")
_MIN_SLASH_WORD = 3  # "AC/DC", "TCP/IP", "9/11" stay whole
# A reporting period after a company's name: "ViacomCBS Q1", "Acme H2 2024", "Acme FY25".
_PERIOD_TAIL = re.compile(r"(?:\s+(?:Q[1-4]|[1-4]Q|H[12]|FY\s?(?:\d{4}|\d{2})|FY))+(?:\s+(?:19|20)\d\d)?$")
# A possessor before a person: "Raiders' Connor Cook", "Britain's Boris Johnson".
_POSSESSOR = re.compile(r"([A-Z][\w.\-]*(?: [A-Z][\w.\-]*)?)(?:'s|'|’s|’)\s+(?=[A-Z])")
_MAX_PERSON_WORDS = 4
# "MOA (Microlensing Observations in Astrophysics": an abbreviation, then its expansion cut at the
# span's end before the closing bracket.
_OPEN_EXPANSION = re.compile(r"^(\S+)\s+\(([A-Z][^()]*)$")
# Credits the model reads as one name: "AFP/Getty", "Reuters/Shutterstock" are dropped whole later.
_CREDIT_WORDS = re.compile(r"Getty|Shutterstock|Alamy|EPA|Photo|Images")

_FACET_LABELS = {"persons": "PERSON", "organizations": "ORG", "locations": "GPE"}


def _core(part: str, rules: EntityRules) -> str:
    """A part as the table would spell it: no edge punctuation, possessive or leading article."""
    text = _POSSESSIVE.sub("", normalise_spelling(part).strip(_EDGE)).strip(_EDGE)
    words = text.split()
    while len(words) > 1 and words[0].lower() in rules.leading_words:
        words = words[1:]
    return " ".join(words)


def _lookup(part: str, rules: EntityRules) -> KnownEntity | None:
    """The table's entry for a part, also in its usual case when a dateline or headline writes it in
    capitals ("GENEVA")."""
    core = _core(part, rules)
    entry = rules.table.lookup(core)
    if entry is None and core.isupper() and len(core) > 3:
        entry = rules.table.lookup(core.title())
    return entry


def _parts(mention: Mention, pieces: list[str], rules: EntityRules) -> tuple[Mention, ...]:
    """The pieces as mentions: the table's label for a piece it knows (the model labelled the whole
    span, not the piece: "Washington/Geneva" tagged ORG names two places), else the span's."""
    parts = (p.strip(_EDGE) for p in pieces)
    return tuple(dataclasses.replace(mention, text=p, label=_label_of(_lookup(p, rules), mention.label))
                 for p in parts if p)


def _coordination(mention: Mention, rules: EntityRules) -> tuple[Mention, ...] | None:
    """"Facebook and Google", "the US & China", "Apple, Google and Meta": split when the table knows
    every part (and not the whole: "Bosnia and Herzegovina", "Johnson & Johnson")."""
    text = mention.text
    if not _AND.search(text):
        return None
    pieces = [p for chunk in _AND.split(text) for p in _LIST_COMMA.split(chunk)]
    cores = [_core(p, rules) for p in pieces]
    if len(pieces) < 2 or len(set(cores)) < len(cores):
        return None
    if all(_lookup(p, rules) is not None for p in pieces):
        return _parts(mention, pieces, rules)
    return None


def _slashed(mention: Mention, rules: EntityRules) -> tuple[Mention, ...] | None:
    """"Washington/Geneva/Dubai", "IronPort/Cisco": split when the table knows every part, or every
    part is one capitalised word of three letters or more ("AC/DC", "TCP/IP" stay whole)."""
    text = mention.text.strip(_EDGE)
    if "/" not in text or "//" in text or _CREDIT_WORDS.search(text):
        return None
    pieces = _SLASH.split(text)
    if len(pieces) < 2 or any(_core(p, rules) in rules.wire_agencies for p in pieces):
        return None  # "Jane Doe/AFP": a credit, cut as one
    cores = [_core(p, rules) for p in pieces]
    known = all(_lookup(p, rules) is not None for p in pieces)
    words = all(" " not in c and len(c) >= _MIN_SLASH_WORD and c[:1].isupper() and c.isalpha()
                for c in cores)
    return _parts(mention, pieces, rules) if (known or words) and len(set(cores)) == len(cores) else None


def _label_of(entry: KnownEntity | None, fallback: str) -> str:
    return _FACET_LABELS[entry.facet] if entry is not None else fallback


# A possessor before an organisation or place: "China's Foreign Ministry", "Trump's 'Board of Peace'".
_LEADING_POSSESSOR = re.compile(r"([A-Z][\w.\-]*(?: [A-Z][\w.\-]*)?)(?:'s|'|’s)\s+")
_POSSESSED_LABELS = frozenset({"ORG", "GPE", "LOC", "FAC"})


def known_possessor(text: str, label: str, rules: EntityRules) -> tuple[str, str] | None:
    """(possessor, name) for an organisation or place span after a known entity's possessive:
    "Trump's 'Board of Peace'" -> ("Trump", "Board of Peace"), "China's Foreign Ministry". Only a
    possessor the entity table knows, so "Moody's Investors Service" stays whole; and only before a
    capitalised name of two words or more letters than two, or one the table knows."""
    if label not in _POSSESSED_LABELS:
        return None
    match = _LEADING_POSSESSOR.match(text)
    if match is None or rules.table.lookup(match.group(1)) is None:
        return None
    rest = text[match.end():].strip(_EDGE + "()[]")
    keep = rest[:1].isupper() and (" " in rest or len(rest) > 2)
    return (match.group(1), rest) if keep or rules.table.lookup(rest) else None


def _possessor_and_name(mention: Mention, rules: EntityRules) -> tuple[Mention, ...] | None:
    """An organisation or place span after a known possessor: the possessor and the name, two mentions."""
    split = known_possessor(normalise_spelling(mention.text).strip(_EDGE), mention.label, rules)
    if split is None:
        return None
    owner, name = split
    owner_label = _label_of(rules.table.lookup(owner), mention.label)
    return (dataclasses.replace(mention, text=owner, label=owner_label),
            dataclasses.replace(mention, text=name))


def _possessor_and_person(mention: Mention, rules: EntityRules) -> tuple[Mention, ...] | None:
    """A PERSON span with a possessor before the name: "Raiders' Connor Cook" -> Raiders (an
    organisation unless the table says otherwise) and Connor Cook; "Britain's Boris Johnson" ->
    Britain and Boris Johnson. (Organisation and place spans lose a known possessor in
    canonical._without_possessor.) The name after it must be two to four capitalised words, or one
    when the table knows the possessor ("Britain's Johnson")."""
    if mention.label != "PERSON":
        return None
    text = normalise_spelling(mention.text).strip(_EDGE)
    match = _POSSESSOR.match(text)
    if match is None:
        return None
    owner, person = match.group(1), _POSSESSIVE.sub("", text[match.end():]).strip(_EDGE)
    words = person.split()
    entry = rules.table.lookup(owner)
    if not words or len(words) > _MAX_PERSON_WORDS or not all(w[:1].isupper() for w in words):
        return None
    if len(words) == 1 and entry is None:
        return None
    if entry is not None and entry.facet == "persons" and rules.table.lookup(person) is None:
        return None  # "Trump's Mike": a person's possessive names a thing of theirs, keep the span
    return (dataclasses.replace(mention, text=owner, label=_label_of(entry, "ORG")),
            dataclasses.replace(mention, text=person))


def _without_lead_word(mention: Mention, rules: EntityRules) -> Mention:
    """"Will Supreme Court", "How Apple": a headline's auxiliary or question word before a name is
    not part of it. A person's span keeps it ("Will Smith") unless the rest is a table entry."""
    words = mention.text.split()
    if len(words) < 2 or words[0] not in rules.headline_lead_words or not words[1][:1].isupper():
        return mention
    rest = " ".join(words[1:])
    if mention.label == "PERSON" and _lookup(rest, rules) is None:
        return mention
    return dataclasses.replace(mention, text=rest)


def _without_period(mention: Mention) -> Mention:
    """"ViacomCBS Q1", "Acme FY2025": a company's results for a period are the company."""
    text = _PERIOD_TAIL.sub("", mention.text.rstrip(_EDGE))
    return dataclasses.replace(mention, text=text) if text and text != mention.text.rstrip(_EDGE) else mention


def _expansion(mention: Mention) -> Mention:
    """"MOA (Microlensing Observations in Astrophysics": a short form and its expansion in brackets,
    cut before the closing bracket, is the expansion (enrich/abbreviations.py then maps the short
    form's other mentions to it). One word in the bracket is the other order, "Name (SF", which
    canonical.clean_mention cuts to the name."""
    match = _OPEN_EXPANSION.match(mention.text.strip())
    if match is None or not is_short_form(match.group(1)) or " " not in match.group(2).strip():
        return mention
    return dataclasses.replace(mention, text=match.group(2).strip())


def split_joined(mention: Mention, rules: EntityRules) -> tuple[Mention, ...]:
    """The mentions one span of the model holds: usually the span itself; two or more when it runs
    entities together; the span without a headline word or a reporting period glued to it."""
    whole = _lookup(mention.text, rules)
    if whole is not None:
        return (mention,)  # the table's own name: "Procter & Gamble", "Trinidad and Tobago"
    mention = _without_period(_without_lead_word(_expansion(mention), rules))
    for split in (_possessor_and_person, _possessor_and_name, _slashed, _coordination):
        parts = split(mention, rules)
        if parts:
            return parts
    return (mention,)
