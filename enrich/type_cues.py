"""Context cues that decide a mention's type when the model's label and the table disagree with it.

The model often gives a name the wrong one of PERSON / ORG / GPE: a one-word company read as a
person ("Zenefits"), a person with an unusual name read as an organisation ("Duana W"), a small town
read as a company. The words around the mention settle it where the name alone cannot:
- an organisation: a kind of organisation right before it ("shipbuilder Cardama", "the startup called
  Manus"), as the head of an apposition after it ("Logica, a Swedish IT firm that ...", "Hon Hai —
  the parent company of"), or what only organisations have right after it ("the Tisza party",
  "Acme's CEO", "Acme shares");
- a person: an age after it ("Duana W, 22,") or a person's role right before it ("reporter Jane Doe");
- a place: a state, province or country the table knows after a comma ("Dilley, Texas", "Chana,
  Thailand"), the way a town is written with the region it lies in.
A cue found at any occurrence of a name, tagged or not, holds for all its mentions (`article_cues`):
the headline's "Polymarket courts ..." is the text's "prediction site Polymarket". enrich/canonical.py
applies them to mentions the table does not decide (`_retyped`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from enrich.entity_table import EntityTable

_EDGE = " \t\"'“”‘’«»()[]{}<>,;:!?-–—|*•"
_POSSESSIVE = re.compile(r"(?:'s|'|’s|’)$")

# Words that may follow the head noun of an apposition: the apposition goes on ("a firm that
# makes", "a start-up specializing in") or ends; a lowercase noun instead means the head was a
# modifier ("a company spokesman", "a firm believer").
_APPOSITION_GOES_ON = frozenset({
    "that", "which", "whose", "based", "in", "from", "with", "specializing", "specialising", "known",
    "founded", "owned", "run", "backed", "called", "named", "for", "and", "on", "at", "to", "by", "of",
    "behind", "where", "now", "also",
})

# ", a|an|the|X's ...": an apposition after a name, up to the next punctuation.
_APPOSITION = re.compile(r"[’']?s?(?:,|\s+[—–])\s+(?:a|an|the|[A-Z][\w.&-]*[’']s)\s+([^,.;:()\[\]]{1,80})")
_APPOSITION_HEAD_WITHIN = 6  # words: "a high-profile San Francisco start-up"
# What only an organisation has or is, right after its name: "the Tisza party", "Acme's CEO",
# "Acme shares". Not "spokesman" or "staff": people have them too.
_OWNED = re.compile(r"(?:[’']s)?\s+([A-Za-z][A-Za-z-]*(?:\s+executive)?)\b")
_ORG_OWNED = frozenset({"party", "ceo", "chief executive", "shares", "shareholders", "stock", "subsidiary",
                        "headquarters"})
_AGE_AFTER = re.compile(r",\s+(?:aged\s+)?\d{1,3},")


# The word right before a name, with only spaces or quotes between ("lender 'Qualifund'"), and an
# optional "called"/"named" after it ("a startup called Manus").
_WORD_BEFORE = re.compile(r"([\w-]+)(?:\s+(?:called|named))?[\s'\"‘“]+$")


def _last_word_before(text: str, start: int) -> str:
    """The word right before text[start:] (see _WORD_BEFORE), or "" after punctuation."""
    match = _WORD_BEFORE.search(text, max(0, start - 40), start)
    return match.group(1) if match else ""


def org_kind_before_or_after(text: str, start: int, end: int, kinds: frozenset[str]) -> bool:
    """True when text[start:end] follows a lowercase kind of organisation ("shipbuilder Cardama",
    "site Polymarket", "a startup called Manus") or heads an apposition ending in one ("Logica, a
    Swedish IT firm that", "Waymo, Google's autonomous vehicle company,")."""
    if _last_word_before(text, start) in kinds:
        return True
    after = _OWNED.match(text, end)
    if after is not None and after.group(1).lower() in _ORG_OWNED:
        # "Orbán's party" is the party a person leads; "the Tisza party" is the party itself.
        return not (after.group(1).lower() == "party" and text.startswith(("'s", "’s"), end))
    match = _APPOSITION.match(text, end)
    if match is None:
        return False
    words = match.group(1).split()
    # The head is the first word of the apposition that is a kind: what follows it must not be
    # another noun ("a company spokesman", "a firm believer": the kind was a modifier).
    for i, word in enumerate(words[:_APPOSITION_HEAD_WITHIN]):
        if word in _APPOSITION_GOES_ON:
            return False  # "a member of the club": the head came before, and it is no kind
        if word in kinds or (word.endswith("s") and word[:-1] in kinds):
            following = words[i + 1] if i + 1 < len(words) else ""
            return not following[:1].islower() or following in _APPOSITION_GOES_ON
    return False


def person_cue(text: str, start: int, end: int, roles: frozenset[str]) -> bool:
    """True when text[start:end] is followed by an age ("Duana W, 22,") or follows a person's role
    written in lowercase ("reporter Hiba Morgan", "model Duana W", "star Freddie Combs")."""
    return bool(_AGE_AFTER.match(text, end)) or _last_word_before(text, start) in roles


_REGION_AFTER = re.compile(r",\s+([A-Z][\w'’-]*(?:\s[A-Z][\w'’-]*){0,2})")


def before_a_region(text: str, end: int, table: EntityTable) -> bool:
    """True when a comma and a country, state or province the table knows follow text[:end]
    ("Dilley, Texas", "Chana, Thailand"): a town written with the region it lies in. Not before a
    possessive ("Huawei, China's biggest") or a list going on ("Apple, China and Russia")."""
    match = _REGION_AFTER.match(text, end)
    if match is None:
        return False
    words = match.group(1).split()
    for n in range(len(words), 0, -1):  # the longest run of capitalised words the table knows
        region = " ".join(words[:n])
        entry = table.lookup(region)
        if entry is not None and entry.facet == "locations" and entry.kind in ("country", "subdivision"):
            rest = text[match.start(1) + len(region):][:6]
            return not (rest.startswith(("'", "’")) or re.match(r"\s*(?:and|or)\b", rest))
    return False


@dataclass(frozen=True, slots=True)
class TypeCues:
    """The names of an article (as `cue_key` writes them) that a cue types somewhere in it: the cue
    holds for every mention of the name, as a headline's "Polymarket courts ..." is the "prediction
    site Polymarket" of the text."""

    organizations: frozenset[str] = frozenset()
    persons: frozenset[str] = frozenset()
    places: frozenset[str] = frozenset()


def cue_key(span: str) -> str:
    """A mention's text as the cues compare it: no edge punctuation, possessive or leading "the"."""
    name = _POSSESSIVE.sub("", span.strip(_EDGE)).strip(_EDGE)
    return name[4:] if name.startswith(("the ", "The ")) else name


_CUED_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "FAC"})


def needs_cues(span: str, label: str, table: EntityTable, max_words: int = 3) -> bool:
    """Whether a mention's type may come from cues: a short name of the three facets' labels that the
    table does not decide (the cues are read only for those: a regex search per occurrence)."""
    key = cue_key(span)
    if label not in _CUED_LABELS or not key or len(key.split()) > max_words:
        return False
    entry = table.lookup(key)
    return entry is None or not entry.overrides_label


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def occurrences(text: str, name: str) -> Iterator[tuple[int, int]]:
    r"""(start, end) of every occurrence of `name` in `text` not inside a longer word: what the
    pattern (?<!\w)name(?!\w) finds, without compiling a pattern per name (thousands per batch)."""
    size, at = len(name), text.find(name)
    while at >= 0:
        end = at + size
        if (at == 0 or not _word_char(text[at - 1])) and (end == len(text) or not _word_char(text[end])):
            yield at, end
        at = text.find(name, at + 1)


def article_cues(text: str, spans: Iterable[tuple[int, int]], org_kinds: frozenset[str],
                 person_roles: frozenset[str], table: EntityTable) -> TypeCues:
    """The cues of the names of an article's (start, end) mention spans, read at every occurrence
    of each name in the text, tagged or not (the model may miss "Waymo" in "Waymo, Google's
    self-driving company" and tag it elsewhere)."""
    orgs, people, places = set(), set(), set()
    for key in dict.fromkeys(cue_key(text[start:end]) for start, end in spans):
        if not key:
            continue
        for start, end in occurrences(text, key):
            if org_kind_before_or_after(text, start, end, org_kinds):
                orgs.add(key)
            if person_cue(text, start, end, person_roles):
                people.add(key)
            if before_a_region(text, end, table):
                places.add(key)
    return TypeCues(frozenset(orgs), frozenset(people), frozenset(places))
