"""Canonical entity names within one article: pure rules over (text, label) mentions, no model.

One entry per entity, in its fullest form: "Vladimir Putin" absorbs a later "Putin"; "the U.S.
National Security Council" becomes "National Security Council"; possessives, leading articles and
titles are stripped; obvious false positives (numbers, lone lowercase words, single characters) are
dropped; a curated alias table (enrich/data/entities.yaml) maps common variants across articles.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from newsflow.errors import EnrichError

Facet = Literal["persons", "organizations", "locations"]
FACETS: tuple[Facet, ...] = ("persons", "organizations", "locations")

DEFAULT_RULES_FILE = Path(__file__).resolve().parent / "data" / "entities.yaml"

# spaCy (OntoNotes) labels that feed a facet; FAC only when it names a place (see EntityRules).
LABEL_FACETS: Mapping[str, Facet] = {
    "PERSON": "persons", "ORG": "organizations", "GPE": "locations", "LOC": "locations",
    "FAC": "locations",
}

_SPACES = re.compile(r"\s+")
_POSSESSIVE = re.compile(r"(?:'s|'|’s|’)$")
# Not ".": it ends abbreviations ("U.S.", "Inc."), and the model leaves a sentence's full stop out.
_EDGE_JUNK = " \t\"'“”‘’«»()[]{}<>,;:!?-–—|*•/\\&+"
_MAX_WORDS = 8  # longer "entities" are mis-segmented spans, not names
_NOT_A_NAME = re.compile(r":|https?|www\.|[a-z]{2}\.\s+[A-Z]|\s@")


@dataclass(frozen=True, slots=True)
class Mention:
    """One entity span as the model found it."""

    text: str
    label: str  # spaCy label: PERSON, ORG, GPE, LOC, FAC, ...


@dataclass(frozen=True, slots=True)
class Entities:
    """The canonical names of one article, per facet, in order of first mention."""

    persons: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EntityRules:
    """The data-driven part of canonicalisation (loaded from entities.yaml)."""

    aliases: Mapping[str, tuple[Facet, str]]  # variant (and canonical name) -> (facet, canonical name)
    leading_words: frozenset[str]  # lowercase
    name_particles: frozenset[str]  # lowercase words that may start a name: de, van, al, bin
    person_titles: tuple[tuple[str, ...], ...]  # token sequences, longest first
    honorifics: tuple[tuple[str, ...], ...]  # titles only ever borne by people: King, Mrs., Sen.
    org_location_prefixes: tuple[tuple[str, ...], ...]  # token sequences, longest first
    facility_place_words: frozenset[str]
    stop_entities: frozenset[str]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> EntityRules:
        aliases: dict[str, tuple[Facet, str]] = {}
        for facet, table in (data.get("aliases") or {}).items():
            if facet not in FACETS:
                raise EnrichError(f"entities rules: unknown facet {facet!r} under aliases (use {FACETS})")
            for canonical, variants in (table or {}).items():
                for variant in [canonical, *(variants or [])]:
                    aliases[_normalise(str(variant))] = (facet, str(canonical))

        def sequences(key: str) -> tuple[tuple[str, ...], ...]:
            seqs = {tuple(str(item).split()) for item in data.get(key) or []}
            return tuple(sorted(seqs, key=len, reverse=True))

        return cls(
            aliases=aliases,
            leading_words=frozenset(str(w).lower() for w in data.get("leading_words") or []),
            name_particles=frozenset(str(w) for w in data.get("name_particles") or []),
            person_titles=sequences("person_titles"),
            honorifics=sequences("honorifics"),
            org_location_prefixes=sequences("org_location_prefixes"),
            facility_place_words=frozenset(str(w) for w in data.get("facility_place_words") or []),
            stop_entities=frozenset(str(w) for w in data.get("stop_entities") or []),
        )

    @classmethod
    def from_file(cls, path: str | Path) -> EntityRules:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise EnrichError(f"cannot read the entity rules {path}: {exc} (check the file)") from exc
        if not isinstance(data, dict):
            raise EnrichError(f"entity rules {path}: expected a mapping at the top level")
        return cls.from_mapping(data)


@cache
def default_rules() -> EntityRules:
    return EntityRules.from_file(DEFAULT_RULES_FILE)


def _normalise(text: str) -> str:
    return _SPACES.sub(" ", text.replace("’", "'")).strip()


def _strip_leading(tokens: list[str], sequences: Iterable[tuple[str, ...]], keep: int) -> list[str]:
    """Remove one leading token sequence when at least `keep` tokens remain after it."""
    for seq in sequences:
        if len(tokens) - len(seq) >= keep and tuple(tokens[: len(seq)]) == seq:
            return tokens[len(seq):]
    return tokens


def clean_mention(mention: Mention, rules: EntityRules) -> tuple[Facet, str, bool] | None:
    """(facet, cleaned name, from the alias table) for one mention, or None when it is dropped."""
    text = _normalise(mention.text).strip(_EDGE_JUNK)
    text = _uncap(_POSSESSIVE.sub("", text).strip(_EDGE_JUNK))
    alias = rules.aliases.get(text)
    if alias is None:
        tokens = text.split()
        # Leading articles and determiners, and any lowercase word ("prophet Muhammad") that is not a
        # name particle ("de Gaulle", "al-Assad"): names start with a capital.
        while len(tokens) > 1 and (tokens[0].lower() in rules.leading_words or (
                tokens[0].islower() and tokens[0].split("-")[0] not in rules.name_particles)):
            tokens = tokens[1:]
        text = " ".join(tokens).strip(_EDGE_JUNK)  # 'the "Islamic State"': the quote follows the article
        alias = rules.aliases.get(text)
    if alias is not None:
        return alias[0], alias[1], True
    facet = LABEL_FACETS.get(mention.label)
    if facet is None or not _plausible_name(text, rules):
        return None
    tokens = text.split()
    if mention.label == "FAC" and tokens[-1] not in rules.facility_place_words:
        return None
    if facet == "organizations" and _titled_person(tokens, rules):
        facet = "persons"  # "King Felipe VI" tagged ORG: an honorific before a short name is a person
    if facet == "persons":
        tokens = _strip_leading(tokens, rules.person_titles, keep=1)
    elif facet == "organizations":
        tokens = _strip_leading(tokens, rules.org_location_prefixes, keep=2)
    text = " ".join(tokens)
    alias = rules.aliases.get(text)
    if alias is not None:
        return alias[0], alias[1], True
    if not _plausible_name(text, rules):
        return None
    return facet, text, False


def _plausible_name(text: str, rules: EntityRules) -> bool:
    if len(text) < 2 or text in rules.stop_entities:
        return False
    if not any(c.isalpha() for c in text) or not any(c.isupper() for c in text):
        return False  # numbers, dates written as digits, lone lowercase words
    if _NOT_A_NAME.search(text):
        return False  # spans running over a headline colon, a sentence end or a URL
    words = text.split()
    if not any(c.isupper() or c.isdigit() for c in words[-1]):
        return False  # a name does not end in a lowercase word: "Dermatitis Linked to" is a headline run
    return len(words) <= _MAX_WORDS


def _titled_person(tokens: list[str], rules: EntityRules) -> bool:
    for title in rules.honorifics:
        rest = tokens[len(title):]
        if tuple(tokens[: len(title)]) == title and 1 <= len(rest) <= 3:
            return all(t[:1].isupper() for t in rest) and rest[-1] not in rules.facility_place_words
    return False


def is_headline_case(title: str) -> bool:
    """True for a Title Case Headline, where every word is capitalised and the model cannot tell
    names from other words by their case."""
    words = [w for w in title.split() if w[:1].isalpha() and len(w) > 3]
    return len(words) >= 3 and sum(w[:1].isupper() for w in words) >= 0.8 * len(words)


def confirmed_mentions(mentions: Iterable[tuple[Mention, bool]], title: str, text: str) -> list[Mention]:
    """The mentions to canonicalise: (mention, found in the title) pairs. In a Title Case title only
    mentions the text repeats are kept (the model tags capitalised headline words as names);
    when there is no text beyond the title, all of them are."""
    check = bool(text.strip()) and is_headline_case(title)
    return [m for m, in_title in mentions
            if not (check and in_title) or _POSSESSIVE.sub("", m.text.strip(_EDGE_JUNK)) in text]


def _uncap(text: str) -> str:
    """A name in capitals from a dateline or headline ("SINGAPORE") in its usual case; acronyms
    (up to five letters, or with dots: "NATO", "U.S.") stay as they are."""
    if text.isupper() and "." not in text and len(text.replace(" ", "")) > 5:
        return text.title()
    return text


def _contains(longer: tuple[str, ...], shorter: tuple[str, ...]) -> bool:
    """True when `shorter` is a contiguous run of `longer`'s tokens."""
    n = len(shorter)
    return n < len(longer) and any(longer[i:i + n] == shorter for i in range(len(longer) - n + 1))


def _acronym(tokens: tuple[str, ...]) -> str:
    return "".join(t[0] for t in tokens if t[:1].isupper())


def canonical_entities(mentions: Iterable[Mention], rules: EntityRules | None = None) -> Entities:
    """Reduce an article's mentions to one canonical name per entity and facet."""
    rules = rules or default_rules()
    cleaned: list[tuple[Facet, str, bool]] = []
    for mention in mentions:
        result = clean_mention(mention, rules)
        if result is not None:
            cleaned.append(result)

    full_people = _unique(name for facet, name, _ in cleaned if facet == "persons" and " " in name)
    orgs = _unique(name for facet, name, aliased in cleaned if facet == "organizations" and not aliased)
    people_tokens = [(name, tuple(name.split())) for name in full_people]
    org_tokens = [(name, tuple(name.split())) for name in orgs]

    votes: dict[str, Counter[Facet]] = {}
    order: list[str] = []
    for facet, name, aliased in cleaned:
        if not aliased:
            facet, name = _fullest(facet, name, people_tokens, org_tokens)
        if name not in votes:
            votes[name] = Counter()
            order.append(name)
        votes[name][facet] += 1

    by_facet: dict[Facet, list[str]] = {facet: [] for facet in FACETS}
    for name in order:
        # The facet most mentions agree on; on a tie the first one seen (Counter keeps insertion order).
        by_facet[votes[name].most_common(1)[0][0]].append(name)
    return Entities(
        persons=tuple(by_facet["persons"]),
        organizations=tuple(by_facet["organizations"]),
        locations=tuple(by_facet["locations"]),
    )


def _fullest(
    facet: Facet,
    name: str,
    people: list[tuple[str, tuple[str, ...]]],
    orgs: list[tuple[str, tuple[str, ...]]],
) -> tuple[Facet, str]:
    tokens = tuple(name.split())
    # A part of a person's full name is that person, whatever label the model gave the part
    # (it often tags a lone surname ORG or GPE).
    if facet == "persons" or len(tokens) == 1:
        for full, full_tokens in people:
            if _contains(full_tokens, tokens):
                return "persons", full
    if facet == "organizations":
        for full, full_tokens in orgs:
            if _contains(full_tokens, tokens) or (
                len(tokens) == 1 and len(name) >= 2 and name.isupper() and _acronym(full_tokens) == name
            ):
                return "organizations", full
    return facet, name


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
