"""Canonical entity names within one article: pure rules over (text, label) mentions, no model.

One entry per entity, in its fullest form: "Vladimir Putin" absorbs a later "Putin"; "the U.S.
National Security Council" becomes "National Security Council"; possessives, leading articles and
titles are stripped; obvious false positives (numbers, lone lowercase words, single characters) are
dropped; the entity table (enrich/entity_table.py: the curated entries of enrich/data/entities.yaml
and the generated gazetteer) maps every known spelling to one canonical name across articles.

Besides the names, each article keeps every spelling of its entities (`*_alias`: the table's and the
article's own), so a query on any spelling finds it, and the coordinates of the places the gazetteer
knows (`geo`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from enrich.abbreviations import resolve_abbreviations
from enrich.entity_table import (
    DEFAULT_GAZETTEER_FILE,
    FACETS,
    EntityTable,
    Facet,
    GazetteerRow,
    KnownEntity,
    load_gazetteer,
    normalise_spelling,
)
from enrich.name_resolution import fuller_names_in_text, resolve_short_names
from enrich.span_splits import known_possessor, split_joined
from newsflow.core.errors import EnrichError

__all__ = ["FACETS", "Facet"]

DEFAULT_RULES_FILE = Path(str(resources.files("enrich") / "data" / "entities.yaml"))  # package data

# spaCy (OntoNotes) labels that feed a facet; FAC only when it names a place (see EntityRules).
LABEL_FACETS: Mapping[str, Facet] = {
    "PERSON": "persons", "ORG": "organizations", "GPE": "locations", "LOC": "locations",
    "FAC": "locations",
}

_POSSESSIVE = re.compile(r"(?:'s|'|’s|’)$")
# Not ".": it ends abbreviations ("U.S.", "Inc."), and the model leaves a sentence's full stop out.
_EDGE_JUNK = " \t\"'“”‘’«»()[]{}<>,;:!?-–—|*•/\\&+"
_MAX_WORDS = 8  # longer "entities" are mis-segmented spans, not names
_NOT_A_NAME = re.compile(r":|https?|www\.|[a-z]{2}\.\s+[A-Z]|\s@|^@")  # "@realDonaldTrump": a handle
# Photo and staff credits the model reads as names ("Jane Doe/Getty Images", "AFP via Getty").
_PHOTO_CREDIT = re.compile(r"Getty|Shutterstock|Alamy|EPA-EFE|\bvia\b|/(?:AP|AFP|Reuters|EPA)\b|Photo")
# A name ending in a bare number, a version or a year is a product, pipeline, mission or an edition of
# an event ("Power of Siberia 2", "Nord Stream 2", "GNOME 3.8", "CES 2017", "Euro 2024"), not an
# organisation or place; organisations with a number in their name are in the table.
_NUMBER_TAIL = re.compile(r"\s(?:\d{1,3}|v?\d+(?:\.\d+)+|(?:19|20)\d\d)$")


@dataclass(frozen=True, slots=True)
class Mention:
    """One entity span as the model found it."""

    text: str
    label: str  # spaCy label: PERSON, ORG, GPE, LOC, FAC, ...
    # The article puts a place preposition before it ("in Lyon", "from the Tigray"): see `_known`.
    after_place_word: bool = False
    # Outside a sports story a lone town's name tagged ORG is read as the town (see `_known`).
    town_as_place: bool = False
    # Context cues of enrich/type_cues.py (see `_retyped`): a kind of organisation before or in an
    # apposition after it, an age after it or a person's role before it, a region after a comma.
    org_cue: bool = False
    person_cue: bool = False
    region_after: bool = False
    # The article is a sports story (`about_sport`): a lone word tagged GPE the table does not know
    # is a player's surname ("Giroud", "Aubameyang"), a place being known to the gazetteer.
    in_sport_story: bool = False


@dataclass(frozen=True, slots=True)
class Entities:
    """The canonical names of one article, per facet, in order of first mention."""

    persons: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    # Every spelling of those entities: the canonical names, the table's aliases and the forms the
    # article uses (what queries on persons/organizations/locations search, see
    # newsflow/index/entity_query.py).
    persons_alias: tuple[str, ...] = ()
    organizations_alias: tuple[str, ...] = ()
    locations_alias: tuple[str, ...] = ()
    geo: tuple[tuple[float, float], ...] = ()  # (lat, lon) of the locations the gazetteer places


@dataclass(frozen=True, slots=True)
class EntityRules:
    """The data-driven part of canonicalisation (loaded from entities.yaml)."""

    table: EntityTable
    leading_words: frozenset[str]  # lowercase
    name_particles: frozenset[str]  # lowercase words that may start a name: de, van, al, bin
    person_titles: tuple[tuple[str, ...], ...]  # token sequences, longest first
    honorifics: tuple[tuple[str, ...], ...]  # titles only ever borne by people: King, Mrs., Sen.
    org_location_prefixes: tuple[tuple[str, ...], ...]  # token sequences, longest first
    facility_place_words: frozenset[str]
    stop_entities: frozenset[str]
    nationality_words: frozenset[str] = frozenset()  # demonyms and religious adjectives, plurals too
    non_entity_last_words: frozenset[str] = frozenset()  # last words of events, holidays, laws, works
    non_entity_first_words: tuple[tuple[str, ...], ...] = ()  # storms, battles, operations: first words
    products: frozenset[str] = frozenset()  # products, platforms, software, standards (also stopped)
    platforms: frozenset[str] = frozenset()  # companies named like their service (used_as_a_product)
    product_nouns: frozenset[str] = frozenset()  # lowercase: "Facebook timelines", "Twitter account"
    wire_agencies: frozenset[str] = frozenset()  # named in credits as often as in prose (names_a_credit)
    facility_not_surnames: frozenset[str] = frozenset()  # "Hart Building" tagged PERSON is a place
    facilities_used_as_places: frozenset[str] = frozenset()  # "at Middlemore Hospital" tagged ORG: a place
    place_only_facilities: frozenset[str] = frozenset()  # "the Crossroads Hotel" tagged ORG: a place
    product_kind_nouns: frozenset[str] = frozenset()  # lowercase: "the Orion capsule" is a product
    place_first_words: frozenset[str] = frozenset()  # "Lake Berryessa" tagged FAC is a place
    given_names: frozenset[str] = frozenset()  # "Heath Ledger" tagged ORG is a person
    org_words: frozenset[str] = frozenset()  # words that make a name an organisation's: Associates, Group
    headline_lead_words: frozenset[str] = frozenset()  # "Will", "How" before a name in a headline
    org_kind_nouns: frozenset[str] = frozenset()  # lowercase: "shipbuilder Cardama", "X, a firm that"
    person_role_nouns: frozenset[str] = frozenset()  # lowercase: "reporter Hiba Morgan"
    # Plurals of products and technical terms: "iPhones", "Macs", "Xboxes" are the products too.
    product_plurals: frozenset[str] = frozenset()
    # The first word of each product in several words -> those products ("Sling" -> "Sling TV").
    product_heads: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], gazetteer: Iterable[GazetteerRow] = ()) -> EntityRules:
        """The rules of an entities.yaml mapping; `gazetteer`: the generated places (none by default,
        so a test's table holds only what it names)."""
        table = EntityTable.build(data.get("entities") or data.get("aliases") or {}, gazetteer)

        def sequences(key: str) -> tuple[tuple[str, ...], ...]:
            seqs = {tuple(str(item).split()) for item in data.get(key) or []}
            return tuple(sorted(seqs, key=len, reverse=True))

        return cls(
            table=table,
            leading_words=frozenset(str(w).lower() for w in data.get("leading_words") or []),
            name_particles=frozenset(str(w) for w in data.get("name_particles") or []),
            person_titles=sequences("person_titles"),
            honorifics=sequences("honorifics"),
            org_location_prefixes=sequences("org_location_prefixes"),
            facility_place_words=frozenset(str(w) for w in data.get("facility_place_words") or []),
            # Products, events and lone generic words are never entities, like the stop entities.
            stop_entities=frozenset(str(w) for key in (
                "stop_entities", "products", "technical_terms", "events", "generic_words")
                for w in data.get(key) or []),
            products=frozenset(str(w) for w in data.get("products") or []),
            nationality_words=frozenset(
                form for w in data.get("nationality_words") or [] for form in (str(w), f"{w}s")),
            non_entity_last_words=frozenset(str(w) for w in data.get("non_entity_last_words") or []),
            non_entity_first_words=tuple(
                tuple(str(entry).split()) for entry in data.get("non_entity_first_words") or []),
            platforms=frozenset(str(w) for w in data.get("platforms") or []),
            product_nouns=frozenset(str(w).lower() for w in data.get("product_nouns") or []),
            wire_agencies=frozenset(str(w) for w in data.get("wire_agencies") or []),
            facility_not_surnames=frozenset(str(w) for w in data.get("facility_not_surnames") or []),
            facilities_used_as_places=frozenset(
                str(w) for w in data.get("facilities_used_as_places") or []),
            place_only_facilities=frozenset(str(w) for w in data.get("place_only_facilities") or []),
            product_kind_nouns=frozenset(str(w).lower() for w in data.get("product_kind_nouns") or []),
            place_first_words=frozenset(str(w) for w in data.get("place_first_words") or []),
            product_heads=_heads(str(w) for w in data.get("products") or []),
            product_plurals=_plurals(str(w) for key in ("products", "technical_terms")
                                     for w in data.get(key) or []),
            given_names=frozenset(str(w) for w in data.get("given_names") or []),
            org_words=frozenset(str(w) for w in data.get("org_words") or []),
            headline_lead_words=frozenset(str(w) for w in data.get("headline_lead_words") or []),
            org_kind_nouns=frozenset(str(w).lower() for w in data.get("org_kind_nouns") or []),
            person_role_nouns=frozenset(str(w).lower() for w in data.get("person_role_nouns") or []),
        )

    @classmethod
    def from_file(cls, path: str | Path, gazetteer_path: str | Path = DEFAULT_GAZETTEER_FILE) -> EntityRules:
        try:
            # The C loader when PyYAML has it: the table is read once per process, before forking.
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader)
        except (OSError, yaml.YAMLError) as exc:
            raise EnrichError(f"cannot read the entity rules {path}: {exc} (check the file)") from exc
        if not isinstance(data, dict):
            raise EnrichError(f"entity rules {path}: expected a mapping at the top level")
        return cls.from_mapping(data, load_gazetteer(gazetteer_path))


def _plurals(names: Iterable[str]) -> frozenset[str]:
    """The English plurals of product names, so the table need not list them ("iPhones", "Xboxes")."""
    return frozenset(f"{n}es" if n.endswith(("s", "x", "ch", "sh")) else f"{n}s" for n in names)


def _heads(products: Iterable[str]) -> dict[str, tuple[str, ...]]:
    heads: dict[str, list[str]] = {}
    for product in products:
        if " " in product:
            heads.setdefault(product.split()[0], []).append(product)
    return {head: tuple(names) for head, names in heads.items()}


@cache
def default_rules() -> EntityRules:
    return EntityRules.from_file(DEFAULT_RULES_FILE)


_normalise = normalise_spelling


def _strip_leading(tokens: list[str], sequences: Iterable[tuple[str, ...]], keep: int) -> list[str]:
    """Remove one leading token sequence when at least `keep` tokens remain after it."""
    for seq in sequences:
        if len(tokens) - len(seq) >= keep and tuple(tokens[: len(seq)]) == seq:
            return tokens[len(seq):]
    return tokens


# Labels under which the model itself calls a mention a place: a minor gazetteer place is trusted only then.
PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})


@dataclass(frozen=True, slots=True)
class CleanMention:
    """One mention after clean-up: its facet and name, the table entry it names (if any) and the
    article's own form of it."""

    facet: Facet
    name: str
    entry: KnownEntity | None
    surface: str
    # A minor place in one word the model called a person: the place only when the article confirms it
    # (see _confirm_places); otherwise the person it was tagged.
    tentative: bool = False


# Labels the model gives a place name by mistake: a place the gazetteer knows is none of them.
_MISTAKEN_FOR_A_PLACE = frozenset({"PERSON", "NORP"})


def _known(text: str, label: str, rules: EntityRules, after_place_word: bool = False) -> KnownEntity | None:
    """The table's entry for a cleaned mention, when it decides the mention's type.

    Curated entries, countries and major places decide it whatever the label. A minor gazetteer
    place ("Sylhet", "Goma") decides it when the model calls the mention a place, a person or a
    nationality (a place name is none of those; a surname that is also a town goes back to its
    person in canonical_entities), when it is tagged an organisation in more than one word
    ("White Plains"), and when the article writes it after a place preposition ("in Lyon", "from
    Mangaluru"); otherwise a lone word tagged ORG stays an organisation ("Reading" the club)."""
    entry = rules.table.lookup(text)
    if entry is None:
        return None
    if entry.overrides_label or label in PLACE_LABELS:
        return entry
    if after_place_word and entry.facet == "locations" and text not in rules.nationality_words:
        return entry
    if label in _MISTAKEN_FOR_A_PLACE and text not in rules.nationality_words:
        return entry  # not "Western" (NORP), a province of Fiji
    if label == "ORG" and entry.facet == "locations" and " " in text:
        return entry
    return None


# Words before a name that make it a place ("in", "near"), with "the" between allowed ("in the Tigray").
_PLACE_WORD_BEFORE = re.compile(r"(?:^|[^\w])(?:in|at|from|near|outside|around|across|towards?|into)"
                                r"(?:\s+the)?\s+$", re.IGNORECASE)


def after_place_word(text: str, start: int) -> bool:
    """True when text[start:] follows a place preposition: "in Lyon", "from the Tigray"."""
    return start > 0 and _PLACE_WORD_BEFORE.search(text, max(0, start - 16), start) is not None


_SPORT_WORDS = re.compile(
    r"\b(?:match(?:es)?|goals?|coach|season|league|striker|midfielder|defender|goalkeeper|club|clubs|"
    r"tournament|semi-finals?|finals?|cup|champions(?:hip)?|innings|wickets?|scored|fixtures?|derby|"
    r"premiership|football|soccer|rugby|cricket|basketball|baseball|hockey|squad|transfer|fans|"
    r"playoffs?|quarterbacks?|touchdowns?|defeat(?:ed)?|beat|win|won|draw|victory)\b", re.IGNORECASE)


def about_sport(text: str, hits: int = 3) -> bool:
    """True when `text` uses at least `hits` words of sport: a club may then bear its town's name."""
    return sum(1 for _ in zip(range(hits), _SPORT_WORDS.finditer(text), strict=False)) >= hits


def _from_entry(entry: KnownEntity, surface: str) -> CleanMention:
    return CleanMention(entry.facet, entry.name, entry, surface)


def clean_mention(mention: Mention, rules: EntityRules) -> CleanMention | None:
    """One mention cleaned and looked up in the entity table, or None when it is dropped; its facet
    changed where the article's words around it say what it is (`_retyped`)."""
    cleaned = _clean_mention(mention, rules)
    return None if cleaned is None else _retyped(cleaned, mention, rules)


# Names of more words than this are not retyped by a context cue: long spans have words that type them.
MAX_CUED_WORDS = 3


# Words of `org_words` that end places' names too: "Quezon City", "Vatican City".
_PLACE_ORG_WORDS = frozenset({"City"})


def _retyped(cleaned: CleanMention, mention: Mention, rules: EntityRules) -> CleanMention:
    """`cleaned` in the facet the article's words give it, when the table does not decide it (no
    entry, or a minor place that does not override the label). In this order:
    - a kind of organisation before it, heading an apposition after it, or what only organisations
      have after it (enrich/type_cues.py) makes a person- or place-tagged name an organisation
      ("shipbuilder Cardama", "Logica, a Swedish IT firm", "the Tisza party");
    - an age after it or a person's role before it makes an organisation-tagged name of capitalised
      words (initials allowed) a person ("Duana W, 22,", "reporter Jane Doe");
    - a region after a comma makes a name tagged organisation or person a place ("Dilley, Texas");
    - a name tagged a place that ends in an organisation's word is an organisation ("Dundee
      United", "Philippine Red Cross"): places are not named so (a city's "City" and a facility's
      word aside);
    - a lone unknown word tagged a person after a place preposition is a place ("nabbed in Ohakune");
      a full name is not ("a stake in Jane Doe's firm");
    - in a sports story, a lone unknown word tagged GPE is a player's surname ("Giroud"): the
      gazetteer knows the places such stories name, not the players."""
    entry = cleaned.entry
    if (entry is not None and entry.overrides_label) or len(cleaned.surface.split()) > MAX_CUED_WORDS:
        return cleaned
    name = cleaned.surface if entry is not None else cleaned.name
    if mention.org_cue and mention.label != "ORG" and cleaned.facet != "organizations":
        return CleanMention("organizations", name, None, cleaned.surface)
    if (mention.person_cue and mention.label == "ORG" and cleaned.facet == "organizations" and entry is None
            and all(w[:1].isupper() and not (w.isupper() and len(w) > 1) for w in name.split())):
        return CleanMention("persons", name, None, cleaned.surface)
    if mention.region_after and mention.label in ("ORG", "PERSON") and cleaned.facet != "locations":
        place = rules.table.lookup(name)
        if place is not None and place.facet == "locations":
            return _from_entry(place, cleaned.surface)
        return CleanMention("locations", name, None, cleaned.surface)
    words = name.split()
    if (mention.label in ("GPE", "LOC") and entry is None and len(words) > 1 and words[-1] in rules.org_words
            and words[-1] not in rules.facility_place_words and words[-1] not in _PLACE_ORG_WORDS):
        return CleanMention("organizations", name, None, cleaned.surface)
    if (mention.label == "PERSON" and mention.after_place_word and entry is None
            and cleaned.facet == "persons" and " " not in name):
        return CleanMention("locations", name, None, cleaned.surface)
    if mention.in_sport_story and mention.label == "GPE" and entry is None and " " not in name:
        return CleanMention("persons", name, None, cleaned.surface)
    return cleaned


def _clean_mention(mention: Mention, rules: EntityRules) -> CleanMention | None:
    raw = mention.text
    if "\n" in raw:
        # A span across a line break joins a heading or label to the next line ("ROCKSTAR GAMES\n\n
        # Company"): the name is the part on its first line.
        raw = next((part for part in raw.split("\n") if part.strip(_EDGE_JUNK)), "")
    if "â€" in raw:
        raw = raw.split("â€")[0]  # a curly quote decoded as Latin-1 ("Huluâ€™s"): the name ends there
    if "(" in raw and ")" not in raw:
        raw = _OPEN_ABBREVIATION.sub("", raw)  # "Department of Health (DOH": the span ran into a bracket
    if mention.label == "PERSON" and _SPACED_DASH.search(raw):
        raw = _SPACED_DASH.split(raw)[0]  # "Haidar Al Yousuf - Director": the name before its job title
    text = _normalise(raw).strip(_EDGE_JUNK).lstrip(".")  # ".ByteDance" after a full stop
    text = _without_possessor(text, mention.label, rules)
    text = _uncap(_POSSESSIVE.sub("", text).strip(_EDGE_JUNK))
    if mention.label == "ORG" and "Dept" in text:
        text = _DEPT.sub("Department", text)  # "the U.S. Labor Dept." is the Labor Department
    entry = _known(text, mention.label, rules, mention.after_place_word or mention.town_as_place)
    if entry is None:
        tokens = text.split()
        # Leading articles and determiners, and any lowercase word ("prophet Muhammad") that is not a
        # name particle ("de Gaulle", "al-Assad"): names start with a capital.
        while len(tokens) > 1 and (tokens[0].lower() in rules.leading_words or (
                tokens[0].islower() and tokens[0].split("-")[0] not in rules.name_particles)):
            tokens = tokens[1:]
        text = " ".join(tokens).strip(_EDGE_JUNK)  # 'the "Islamic State"': the quote follows the article
        entry = _known(text, mention.label, rules, mention.after_place_word or mention.town_as_place)
    if entry is not None:
        tentative = (mention.label == "PERSON" and not entry.overrides_label and " " not in text
                     and not mention.after_place_word)
        return CleanMention(entry.facet, entry.name, entry, text, tentative)
    facet = LABEL_FACETS.get(mention.label)
    if facet is not None and text in rules.products:
        known_maker = _known_maker(text, rules)
        if known_maker is not None:
            return known_maker  # "Amazon Echo", "Google Chrome": the maker named counts (gold README)
    if facet is None or not _plausible_name(text, rules):
        return None
    tokens = text.split()
    maker = _maker(tokens, rules)
    if maker:
        # "Adobe Flash", "Google Chrome": a product after its maker's name gives the maker, an
        # organisation (one the table knows when the model took the whole for a person's name).
        entry = rules.table.lookup(maker)
        if entry is not None and entry.facet == "organizations":
            return _from_entry(entry, maker)
        if entry is None and mention.label != "PERSON":
            return CleanMention("organizations", maker, None, maker)
        return None
    products = rules.products
    if _starts_with_product(tokens, rules) or (len(tokens) == 1 and tokens[0].partition("-")[0] in products):
        return None  # a product and its edition or part: "Windows XP", "Apple Pay Cash", "LXDE-Qt"
    if facet == "organizations" and _given_and_surname(tokens, rules):
        facet = "persons"  # "Heath Ledger" tagged ORG: a given name and a surname
    if facet == "organizations" and facility_as_place(tokens, mention, rules):
        facet = "locations"  # "died at Middlemore Hospital": a facility where something happened
    if facet == "persons" and len(tokens) > 1 and tokens[-1] in rules.facility_not_surnames:
        facet = "locations"  # "Hart Building" tagged PERSON: a facility, which is a place
    elif mention.label == "FAC" and tokens[-1] not in rules.facility_place_words and not (
            len(tokens) > 1 and tokens[0] in rules.place_first_words):
        return None
    if facet != "locations" and _COMMA_INSIDE.search(text):
        return None  # "Fly, Wild Swans": a list or a title run together, not one name ("Inc." aside)
    if any(len(tokens) > len(first) and tuple(tokens[:len(first)]) == first
           for first in rules.non_entity_first_words):
        return None  # a storm, a battle or an operation: "Hurricane Helene", "Siege of Boston"
    if facet != "persons" and _non_entity_tail(tokens, rules):
        return None  # events, laws, works, machines: "Paris Olympics", "International Space Station"
    if facet != "persons" and _place_tournament(tokens, mention, rules):
        return None  # "Brisbane International" in a tennis story, whatever its label: a tournament
    if facet == "organizations" and _people_by_role(tokens, rules):
        return None  # "General Managers", "Regional Heads of Karnataka Bank": people, not a body
    if facet == "organizations" and _titled_person(tokens, rules):
        facet = "persons"  # "King Felipe VI" tagged ORG: an honorific before a short name is a person
    if facet == "persons":
        tokens = _strip_leading(tokens, rules.person_titles, keep=1)
    elif facet == "organizations" and not _national_institution(tokens, rules):
        tokens = _strip_leading(tokens, rules.org_location_prefixes, keep=2)
        if len(tokens) > 2 and tokens[0] in rules.nationality_words:
            tokens = tokens[1:]  # "the Chinese Red Guard" -> "Red Guard", as "U.S." is cut above
    text = " ".join(tokens)
    entry = _known(text, mention.label, rules, mention.after_place_word or mention.town_as_place)
    if entry is not None:
        return _from_entry(entry, text)
    if not _plausible_name(text, rules):
        return None
    return CleanMention(facet, text, None, text)


def _place_tournament(tokens: list[str], mention: Mention, rules: EntityRules) -> bool:
    """True when a sports story's span is a place the table knows and "International" ("Brisbane
    International", "Dubai International"): a tournament. Companies so named are no city's name and
    word ("Colliers International"), and the table's bodies win ("Amnesty International")."""
    if not mention.in_sport_story or len(tokens) < 2 or tokens[-1] != "International":
        return False
    place = rules.table.lookup(" ".join(tokens[:-1]))
    return place is not None and place.facet == "locations"


def _national_institution(tokens: list[str], rules: EntityRules) -> bool:
    """True when a nationality adjective opens an institution's proper name: "American Enterprise
    Institute", "African Development Bank Group", "Austrian People's Party", "Australian Bureau of
    Statistics". The rest holds an organisation's generic word and names nothing without the
    adjective, so it is no descriptive prefix to cut ("the Chinese Red Guard" -> "Red Guard"; a
    country's name before an agency, "U.S. Food and Drug Administration", is still cut)."""
    if len(tokens) < 2 or tokens[0] not in rules.nationality_words:
        return False
    return any(_POSSESSIVE.sub("", t) in rules.org_words or t in _INSTITUTION_WORDS for t in tokens[1:])


# Plural job titles: a group of people named by their role, never an organisation. Not "Chiefs",
# "Cardinals" or "Bishops", which also name sports teams, nor "Staff" ("Joint Chiefs of Staff").
_ROLE_PLURALS = frozenset({"Heads", "Managers", "Directors", "Officers", "Executives", "Members", "Leaders",
                           "Governors", "Trustees", "Officials", "Employees", "Supervisors"})


def _people_by_role(tokens: list[str], rules: EntityRules) -> bool:
    """True when a name's head is a plural job title ("General Managers", "Departmental Heads",
    "Regional Heads of Karnataka Bank"): the last word, or the word before "of". A body named after
    its members keeps an organisation's word before them ("Association of Chief Police Officers" has
    its head before "of"; "Board of Directors" too)."""
    head = tokens[:tokens.index("of")] if "of" in tokens else tokens
    if len(head) < 2 or head[-1] not in _ROLE_PLURALS:
        return False
    return not any(t in rules.org_words or t in _INSTITUTION_WORDS for t in head)


# Institution words `org_words` lacks, which name a body only with a qualifier.
_INSTITUTION_WORDS = frozenset({"Bureau", "Conference", "Institution", "Tribunal", "Commission", "Assembly",
                                "Board", "Administration", "Court", "Parliament"})


def facility_as_place(tokens: list[str], mention: Mention, rules: EntityRules) -> bool:
    """True when an ORG span the table does not know names a facility used as a place: a kind of
    facility after a place preposition ("died at Middlemore Hospital", "a shooting at Grand Forks Air
    Force Base", `facilities_used_as_places`), or a kind of place no organisation is named for, whatever
    comes before it ("the Crossroads Hotel outbreak", `place_only_facilities`). The last word decides,
    so "Harvard University", "Fairfax County Council" or "Acme Hotels Group" stay organisations."""
    if mention.label != "ORG" or len(tokens) < 2:
        return False
    last = tokens[-1]
    return last in rules.place_only_facilities or (
        mention.after_place_word and last in rules.facilities_used_as_places)


def _non_entity_tail(tokens: list[str], rules: EntityRules) -> bool:
    """True when a name of two words or more ends in a `non_entity_last_words` entry of one word
    ("Paris Olympics", "Large Hadron Collider") or of two ("International Space Station")."""
    if len(tokens) < 2:
        return False
    return tokens[-1] in rules.non_entity_last_words or (
        len(tokens) > 2 and " ".join(tokens[-2:]) in rules.non_entity_last_words)


# The word right after a mention, when it is a lowercase noun: "the Orion capsule", "Snapdragon chips".
_NEXT_LOWER_WORD = re.compile(r"[ \t]+([a-z][a-z-]*)\b")


# Words before a name that make it software: installed, ported or run on ("installed VSCode", "an app
# for Android"), and more loosely used ("via FluidSynth", "using LibreOffice"), which firms are too.
_SOFTWARE_INSTALLED = re.compile(r"\b(?:installed|install|installing|uninstalled|versions? of|ported to|"
                                 r"apps? for)\s+(?:the\s+)?$")
_SOFTWARE_USED = re.compile(r"\b(?:via|using|uses|running|runs)\s+(?:the\s+)?$")


def _used_software(text: str, start: int, span: str) -> bool:
    """True when a one-word name follows a word of installing (`_SOFTWARE_INSTALLED`), or a
    mixed-case word, as software is spelt ("FluidSynth"), a word of use (`_SOFTWARE_USED`): one
    installs software, not a firm, and a firm used "via" or "using" is rarely spelt so."""
    if " " in span.strip():
        return False
    before = max(0, start - 30)
    return bool(_SOFTWARE_INSTALLED.search(text, before, start)) or (
        _product_spelling(span) and bool(_SOFTWARE_USED.search(text, before, start)))


def names_a_product_kind(text: str, start: int, end: int, label: str, rules: EntityRules) -> bool:
    """True when an ORG or GPE mention text[start:end] the entity table does not know is followed by
    a noun naming a kind of product, vehicle, mission or instrument (`product_kind_nouns`): "the Orion
    capsule", "the Artemis II mission", "a PowerPoint presentation", "Snapdragon chips"; or a one-word
    name after a word of installing or use (`_used_software`: "an app for Anroid", "via FluidSynth").
    The name is that product's, not an organisation's; a known maker stays ("Apple software", "a
    SpaceX rocket"), and a possessive is the owner ("the startup's app")."""
    if label not in ("ORG", "GPE"):
        return False
    span = text[start:end]
    if _POSSESSIVE.search(span) or text.startswith(("'s", "’s"), end):
        return False
    match = _NEXT_LOWER_WORD.match(text, end)
    kind_noun_after = match is not None and match.group(1) in rules.product_kind_nouns
    if not (kind_noun_after or _used_software(text, start, span)):
        return False
    cleaned = clean_mention(Mention(span, label), rules)
    return cleaned is not None and cleaned.entry is None


def product_kind_names(text: str, spans: Iterable[tuple[int, int, str]],
                       rules: EntityRules) -> frozenset[str]:
    """The names an article writes before a product-kind noun (`names_a_product_kind`), from its
    (start, end, label) mention spans: every other mention of such a name is that product too ("the
    Planck mission ... Planck data", "the Lucy spacecraft ... Lucy will be")."""
    return frozenset(product_name(text[start:end]) for start, end, label in spans
                     if names_a_product_kind(text, start, end, label, rules))


def product_name(span: str) -> str:
    """A mention's text as `product_kind_names` compares it: no edge punctuation, leading "the"."""
    name = span.strip(_EDGE_JUNK)
    return name[4:] if name.startswith(("the ", "The ")) else name


def _without_possessor(text: str, label: str, rules: EntityRules) -> str:
    """An organisation or place span without a known entity's possessive before it: "Trump's 'Board
    of Peace'" -> "Board of Peace" (enrich/span_splits.py: `known_possessor`; split_joined makes the
    possessor a mention of its own before this; this is for texts cleaned on their own)."""
    split = known_possessor(text, label, rules)
    return split[1] if split is not None else text


_SPACED_DASH = re.compile(r"\s+[-–—]+\s+")
_DEPT = re.compile(r"\bDept\b\.?")
_OPEN_ABBREVIATION = re.compile(r"\s+\([A-Z][A-Za-z.&]{1,9}$")

# A comma inside an organisation's or person's name, but before a legal or generational suffix.
_COMMA_INSIDE = re.compile(r",\s+(?!(?:Inc|Ltd|LLC|L\.?P|Co|Corp|Jr|Sr|II|III|IV|PLC|plc|S\.A|AG|GmbH)\b)")


def used_as_a_product(text: str, start: int, end: int, rules: EntityRules) -> bool:
    """True when the mention text[start:end] names a platform used as a product, not the company
    acting: "posted on Facebook", "logged into TikTok", "via a channel (Facebook)", "Facebook
    timelines", "TikTok-born"; "Facebook's secrecy" and "Twitter allows" are the companies."""
    name = _POSSESSIVE.sub("", text[start:end].strip(_EDGE_JUNK))
    if name not in rules.platforms:
        return False
    after = text[end:end + 30]
    if after.startswith(("'s", "’s")):
        return False
    if after.startswith("-") or after.startswith(")"):
        return True
    next_word = after.split(maxsplit=1)[0].strip(_EDGE_JUNK + ".").lower() if after.strip() else ""
    next_word = _POSSESSIVE.sub("", next_word)  # "one Reddit user's experience", "the YouTube video's"
    if next_word in rules.product_nouns:
        return True
    before = text[max(0, start - 30):start]
    if before.rstrip().endswith("("):
        return True
    words = before.split()
    return bool(words) and words[-1].lower() in _PRODUCT_USE_WORDS


def names_a_credit(text: str, start: int, end: int, rules: EntityRules) -> bool:
    """True when a wire agency's mention text[start:end] is a credit left in the text, not the agency
    acting ("told AFP", "the Associated Press reported" are the agency): "(AP)", "AP Photo", "Jane
    Doe/AFP", "| Reuters", "via Reuters", "Reuters file photo", "AFP/Getty"."""
    name = text[start:end].strip(_EDGE_JUNK)
    if name.startswith("the "):
        name = name[4:]
    if name not in rules.wire_agencies:
        return False
    before = text[max(0, start - 12):start].rstrip()
    after = text[end:end + 16].lstrip()
    if before.endswith(("(", "/", "|", "©", "[")) or after.startswith((")", "/", "|", "]")):
        return True
    if before.split()[-1:] in (["via"], ["Photo:"], ["Source:"], ["Credit:"]):
        return True
    return after.lower().startswith(("photo", "file photo", "pictures", "images", "video"))


# The word before a platform used as a product: "on Facebook", "into TikTok", "using Twitter".
_PRODUCT_USE_WORDS = frozenset({
    "on", "onto", "into", "via", "using", "use", "uses", "used", "through", "across", "joined",
})

# "Minister of State for Finance", "Minister of Fitness and Nutrition": an office's portfolio in a job
# title, not an organisation (the ministry itself is named "Ministry of ...").
_PORTFOLIO = re.compile(r"\b(?:Minister|Ministers|Secretary|Secretaries|Commissioner|Minister of State)\s+"
                        r"(?:of|for)\s+(?:the\s+)?$")


# A version after a name: " 19", " 4.11", " v2"; not an amount ("Acme 30 percent", "Acme 2024").
_VERSION_AFTER = re.compile(r"\s(?:v|V)?\d{1,3}(?:\.\d+)*(?![\d,.]*\d)"
                            r"(?!\s*(?:%|percent|per\b|million|billion|years?|days?|people|of\b))")


def names_a_release(text: str, start: int, end: int, label: str, rules: EntityRules) -> bool:
    """True when an ORG or PERSON mention is followed by a version number: a product release, not a
    company or person ("Korora 19 'Bruce'", "KDE Plasma Workspaces 4.11"); table entries ("Boeing
    737", "Channel 4") are kept."""
    if label not in ("ORG", "PERSON") or not _VERSION_AFTER.match(text, end):
        return False
    return rules.table.lookup(_POSSESSIVE.sub("", text[start:end].strip(_EDGE_JUNK))) is None


# A country's name before its currency ("the US dollar") or in a tournament's name ("US Open", "Qatar
# Open") names neither the place of the story nor the country as an actor.
_CURRENCY_OR_TOURNAMENT_AFTER = re.compile(
    r"[\s-]+(?:dollars?|cents?|euros?|pounds?|sterling|yen|yuan|renminbi|pesos?|rupees?|rupiah|roubles?|"
    r"rubles?|francs?|lira|rand|dinars?|riyals?|rials?|dirhams?|shekels?|kron[aeor]+|ringgit|baht|"
    r"(?:Open|Masters|Grand Prix)\b)(?![\w-])")


def names_a_currency_or_tournament(text: str, end: int, label: str) -> bool:
    """True when a GPE mention ending at `end` is followed by a currency ("US dollar") or is the
    first word of a tournament's name ("US Open")."""
    return label == "GPE" and bool(_CURRENCY_OR_TOURNAMENT_AFTER.match(text, end))


def used_as_a_common_word(text: str, start: int, end: int, label: str, rules: EntityRules) -> bool:
    """True when a one-word ORG mention the table does not know is a common word the text itself
    writes in lowercase ("Malaria Claims One" beside "cases of malaria", "Woman accused of ..." beside
    "the woman"): a capital at a title's or a sentence's start, not a name. Companies named by a common
    word ("Apple", "Shell", "Amazon") are the table's, which wins; a name's plural or singular in
    lowercase ("crashes" for "Crash") counts as the word. (The model's vocabulary does not tell them
    apart: en_core_web_md has no word frequencies and its vectors are the same in either case.)"""
    word = text[start:end]
    if label != "ORG" or not word.isalpha() or not word[:1].isupper() or word.isupper() or len(word) < 3:
        return False
    if rules.table.lookup(word) is not None or rules.table.lookup(_normalise(word)) is not None:
        return False
    lower = word.lower()
    stem = lower[:-1] if lower.endswith("s") else lower
    # A word of prose: not a part of an address or a handle ("nokia.com", "@nokia").
    return bool(re.search(rf"(?<![\w./@-]){re.escape(stem)}(?:s|es)?(?![\w@-]|\.\w)", text))


def opens_the_title(text: str, start: int, end: int, label: str, title_end: int, rules: EntityRules,
                    is_word: Callable[[str], bool] = lambda word: True) -> bool:
    """True when a one-word ORG mention the table does not know is the title's first word (or the
    first after a "Place:" or "Section:" label), a word (`is_word`: the model's vocabulary knows its
    lowercase form), and the text after the title never names it: a word capitalised by its place
    ("Woman's labored breathing ...", "Perks will stop if ..."); a company a headline opens with is
    named again in its story, and a rare name alone in its title stays ("Chapecoense plane crash")."""
    word = _POSSESSIVE.sub("", text[start:end])
    if label != "ORG" or end > title_end or " " in word or not word.isalpha() or word.isupper():
        return False
    head = text[:start].rstrip()
    if head and not (head.endswith(":") and ":" not in head[:-1] and len(head.split()) <= 3):
        return False
    if rules.table.lookup(word) is not None or rules.table.lookup(_normalise(word)) is not None:
        return False
    return is_word(word.lower()) and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text[title_end:]) is None


# The noun before a work's title ("the book Finding Freedom", "the show Fox & Friends", "the film
# The Lion King"): what follows is a work, not the organisation the model takes it for.
_WORK_NOUN_BEFORE = re.compile(
    r"\b(?:book|biography|memoir|novel|film|movie|documentary|show|series|sitcom|song|album|musical|"
    r"podcast|journal|episode|opera)s?\s+(?:[\"'‘“])?"
    r"(?:The\s+)?$")


def names_a_work(text: str, start: int, end: int, label: str, rules: EntityRules) -> bool:
    """True when an ORG mention the table does not know follows the noun of a kind of work ("the
    biography Finding Freedom", "published in the journal Physical Review Letters"). A name in quotes
    alone says nothing: captions quote shops as often as shows ("owner of 'Reinke Brothers'")."""
    if label != "ORG" or rules.table.lookup(_normalise(text[start:end])) is not None:
        return False
    return _WORK_NOUN_BEFORE.search(text, max(0, start - 30), start) is not None


def signs_the_title(text: str, start: int, end: int, title_end: int) -> bool:
    """True when a mention ends the title after a bar ("... | Naomi Klein") and the text after the
    title never names it: an author's signature, not a person the story is about."""
    if end > title_end or text[end:title_end].strip(" .!?\"'’”") or not text[:start].rstrip().endswith("|"):
        return False
    return text[start:end] not in text[title_end:]


def names_a_portfolio(text: str, start: int, label: str) -> bool:
    """True when an ORG mention starting at `start` follows "Minister of" / "Secretary for": a job title."""
    return label == "ORG" and bool(_PORTFOLIO.search(text, max(0, start - 40), start))


# A job title after a portfolio: "Transportation Secretary Pete Buttigieg", "Home Affairs Minister
# Peter Dutton" (a capitalised word follows: the holder's name, so "Secretary-General" and
# "Secretary of State" are no such title).
_JOB_TITLE_AFTER = re.compile(r"\s+(?:Secretary|Minister|Commissioner)\s+(?=[A-Z])")


def names_a_job_portfolio(text: str, start: int, end: int, label: str, rules: EntityRules) -> bool:
    """True when an ORG mention text[start:end] is the portfolio of the job title after it ("Home
    Affairs Minister Peter Dutton"): not an organisation. An organisation's own name stays: an
    acronym ("NATO Secretary General" has no holder's name after it anyway), a name with an
    organisation's word ("Interior Ministry Secretary") or one the entity table knows."""
    if label != "ORG" or not _JOB_TITLE_AFTER.match(text, end):
        return False
    name = _POSSESSIVE.sub("", text[start:end].strip(_EDGE_JUNK))
    words = name.split()
    if not words or any(w.isupper() for w in words) or any(w in rules.org_words for w in words):
        return False
    return rules.table.lookup(_normalise(name)) is None


# A clock time right before a zone's abbreviation: "3:30pm GMT", "7 p.m. ET", "(2300 GMT)".
_CLOCK_BEFORE = re.compile(r"(?:\d{1,2}[:.]\d{2}\s*(?:[ap]\.?\s?m\.?)?|\d{1,2}\s*[ap]\.?\s?m\.?|\(\d{4})\s*$",
                           re.IGNORECASE)
_ZONE = re.compile(r"[A-Z]{2,5}(?:[+-]\d{1,2})?$")


def names_a_time_zone(text: str, start: int, end: int) -> bool:
    """True when a mention text[start:end] is a time zone's abbreviation after a clock time ("3:30pm
    GMT", "(2300 GMT)"): never an entity, whatever the model tags it."""
    return bool(_ZONE.match(text[start:end].strip(_EDGE_JUNK))
                and _CLOCK_BEFORE.search(text, max(0, start - 16), start))


# An identifier with a serial number: a vulnerability, a bug or a case ("CVE-2025-9491",
# "ZDI-CAN-25373"): not a name.
_IDENTIFIER = re.compile(r"[A-Za-z]{2,}(?:-[A-Za-z0-9]+)*-\d{4,}")


def _plausible_name(text: str, rules: EntityRules) -> bool:
    if len(text) < 2 or text in rules.stop_entities or text in rules.product_plurals:
        return False
    if not any(c.isalpha() for c in text) or not any(c.isupper() for c in text):
        return False  # numbers, dates written as digits, lone lowercase words
    if _NOT_A_NAME.search(text) or _PHOTO_CREDIT.search(text) or _NUMBER_TAIL.search(text):
        return False  # spans running over a headline colon, a sentence end or a URL; credits; products
    if _IDENTIFIER.fullmatch(text):
        return False
    if text in rules.nationality_words:
        return False  # "Ukrainian", "Israelis", "Sunni": a nationality or religion, not a country or group
    words = text.split()
    if not any(c.isupper() or c.isdigit() for c in words[-1]):
        return False  # a name does not end in a lowercase word: "Dermatitis Linked to" is a headline run
    return len(words) <= _MAX_WORDS


def _known_maker(product: str, rules: EntityRules) -> CleanMention | None:
    """The organisation of the table that opens a listed product's name ("Google" of "Google Home",
    "Boeing" of "Boeing 737"), or None."""
    tokens = product.split()
    for n in (2, 1):
        if len(tokens) > n:
            head = " ".join(tokens[:n])
            entry = rules.table.lookup(head)
            if entry is not None and entry.facet == "organizations":
                return _from_entry(entry, head)
    return None


def _maker(tokens: list[str], rules: EntityRules) -> str:
    """The maker's name before a product ("Adobe" in "Adobe Flash", "Google" in "Google Chrome"), or "";
    or a known organisation before a product's model ("AMD Radeon HD 8670D": Radeon's HD 8670D) or
    before a mixed-case word, the way products are spelt ("Apple FaceTime", "AMD FreeSync")."""
    for n in (2, 1):
        tail = " ".join(tokens[-n:])
        if len(tokens) > n and (tail in rules.products or tail in rules.product_plurals):
            # "Apple's iPhones": the maker without its possessive
            maker = _POSSESSIVE.sub("", " ".join(tokens[:-n])).strip(_EDGE_JUNK)
            if _plausible_name(maker, rules) and len(tokens) - n <= 3:
                return maker
    for k in range(1, min(3, len(tokens) - 1) + 1):
        rest = tokens[k:]
        if not (_starts_with_product(rest, rules) or (
                len(rest) == 1 and _product_spelling(rest[0]) and rules.table.lookup(rest[0]) is None)):
            continue
        maker = " ".join(tokens[:k]).strip(_EDGE_JUNK)
        entry = rules.table.lookup(maker)
        if entry is not None and entry.facet == "organizations":
            return maker
    return ""


def _starts_with_product(tokens: list[str], rules: EntityRules) -> bool:
    """True when `tokens` are a product of one or two words and its model or edition of one or two
    words after it ("Windows XP", "Radeon HD 8670D"): longer spans are names of their own."""
    return any(n < len(tokens) <= n + 2 and " ".join(tokens[:n]) in rules.products for n in (1, 2))


# A word with a capital after a lowercase letter and no space: "HomeKit", "iMessage", "FreeSync".
_MIXED_CASE = re.compile(r"[a-z][A-Z]")


def _product_spelling(word: str) -> bool:
    """True for a mixed-case word, as products are spelt ("FaceTime", "iCloud"); the maker before it
    is known, so companies spelt so ("YouTube", "OpenAI") are not taken for products alone."""
    return bool(_MIXED_CASE.search(word)) and word.isalpha()


def _given_and_surname(tokens: list[str], rules: EntityRules) -> bool:
    """True for an ORG span that reads as a person's name: a known given name and one or two
    capitalised words that name no kind of organisation or place ("Heath Ledger", "Diego Rivera";
    not "Charles River Associates", "Victoria Cross"). Companies named after people are in the table."""
    if not 2 <= len(tokens) <= 3 or tokens[0] not in rules.given_names:
        return False
    rest = tokens[1:]
    return all(t[:1].isupper() and t.replace("-", "").replace("'", "").isalpha() and not t.isupper()
               and t not in rules.stop_entities and t not in rules.facility_place_words
               and t not in rules.non_entity_last_words and t not in rules.org_words for t in rest)


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


def confirmed_mentions(mentions: Iterable[tuple[Mention, bool]], title: str, text: str,
                       rules: EntityRules | None = None) -> list[Mention]:
    """The mentions to canonicalise: (mention, found in the title) pairs. In a Title Case title only
    mentions the text repeats, or that the entity table knows whatever the label (`rules`: curated
    entries, countries, major places), are kept: the model tags capitalised headline words as
    names, but "Kim Jong Un" is a name in any case. When there is no text beyond the title, all are."""
    check = bool(text.strip()) and is_headline_case(title)
    kept = []
    for mention, in_title in mentions:
        name = _POSSESSIVE.sub("", mention.text.strip(_EDGE_JUNK)).strip(_EDGE_JUNK)
        if not (check and in_title) or _names_word(text, name) or (
                rules is not None and _known_anyhow(name, rules)):
            kept.append(mention)
    return kept


def _names_word(text: str, name: str) -> bool:
    """True when `text` has `name` as whole words: "View" is not in "Viewers", nor "Sheriff" in
    "Sheriffs"."""
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


def _known_anyhow(name: str, rules: EntityRules) -> bool:
    entry = rules.table.lookup(_normalise(name))
    return entry is not None and entry.overrides_label


def standalone_mention(text: str, start: int, end: int) -> bool:
    """True when the mention text[start:end] is all of its line but for punctuation and dashes: a
    section heading ("Opinion", "Fitness and Nutrition"), a tag, a byline or an author's signature
    ("— Dan Seifert"), not a name the text reports on."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start:line_end if line_end >= 0 else len(text)]
    rest = line[: start - line_start] + line[end - line_start:]
    return not any(c.isalnum() for c in rest.replace("â€", ""))


def lines_of_names(text: str, spans: Sequence[tuple[int, int]]) -> set[int]:
    """The starts of the spans that share their line with other spans only (punctuation and dashes
    aside): an outlet's edition tag ("Medscape News UK"), a list of tags or a signature with its
    place. A line with one span is `standalone_mention`'s case."""
    by_line: dict[int, list[tuple[int, int]]] = {}
    for start, end in spans:
        by_line.setdefault(text.rfind("\n", 0, start) + 1, []).append((start, end))
    found: set[int] = set()
    for line_start, on_line in by_line.items():
        if len(on_line) < 2:
            continue
        line_end = text.find("\n", line_start)
        line_end = len(text) if line_end < 0 else line_end
        rest, cursor = [], line_start
        for start, end in sorted(on_line):
            rest.append(text[cursor:start])
            cursor = max(cursor, end)
        rest.append(text[cursor:line_end])
        if not any(c.isalnum() for c in "".join(rest).replace("â€", "")):
            found.update(start for start, _ in on_line)
    return found


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


def canonical_entities(
    mentions: Iterable[Mention], rules: EntityRules | None = None, text: str = "",
) -> Entities:
    """Reduce an article's mentions to one canonical name per entity and facet; `text`, the article's
    text, for the abbreviations it defines (enrich/abbreviations.py)."""
    rules = rules or default_rules()
    # Spans running several entities together are split first (enrich/span_splits.py).
    parts = (part for m in mentions for part in split_joined(m, rules))
    cleaned = _confirm_places([c for c in (clean_mention(m, rules) for m in parts) if c is not None])
    cleaned = _without_product_short_forms(cleaned, rules, text)
    cleaned = resolve_abbreviations(  # enrich/abbreviations.py
        cleaned, text, lambda t, label: clean_mention(Mention(t, label), rules))
    cleaned = _people_tagged_organisations(cleaned)
    cleaned = _short_known_organisations(cleaned)
    cleaned = resolve_short_names(cleaned)  # enrich/name_resolution.py
    cleaned = fuller_names_in_text(cleaned, text, _not_given_names(rules), rules.given_names)

    full_people = _unique(c.name for c in cleaned if c.facet == "persons" and " " in c.name)
    free_people = [(name, tuple(name.split())) for name in _unique(
        c.name for c in cleaned if c.facet == "persons" and c.entry is None and " " in c.name)]
    orgs = _unique(c.name for c in cleaned if c.facet == "organizations" and c.entry is None)
    people_tokens = [(name, tuple(name.split())) for name in full_people]
    org_tokens = [(name, tuple(name.split())) for name in orgs]

    votes: dict[str, Counter[Facet]] = {}
    spellings: dict[str, dict[str, None]] = {}
    entries: dict[str, KnownEntity] = {}
    for mention in cleaned:
        facet, name, entry = mention.facet, mention.name, mention.entry
        if entry is None:
            facet, name = _fullest(facet, name, people_tokens, org_tokens)
        elif " " not in mention.surface and entry.kind != "country":
            # A lone word the table knows ("Harris", "Jackson") is the person of this article whose
            # full name contains it ("Tobias Harris"), before the table's entity of that name.
            person = next((full for full, tokens in free_people if mention.surface in tokens), None)
            if person is not None:
                facet, name, entry = "persons", person, None
        if name not in votes:
            votes[name] = Counter()
            spellings[name] = dict.fromkeys(entry.spellings if entry else (name,))
        votes[name][facet] += 1
        spellings[name][mention.surface] = None
        if entry is not None:
            entries.setdefault(name, entry)

    by_facet: dict[Facet, list[str]] = {facet: [] for facet in FACETS}
    for name in votes:
        # The facet most mentions agree on; on a tie the first one seen (Counter keeps insertion order).
        by_facet[votes[name].most_common(1)[0][0]].append(name)

    def aliases(facet: Facet) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for name in by_facet[facet] for s in spellings[name]))

    geo = tuple(dict.fromkeys(
        (entry.lat, entry.lon) for name in by_facet["locations"]
        if (entry := entries.get(name)) is not None and entry.lat is not None and entry.lon is not None
    ))
    return Entities(
        persons=tuple(by_facet["persons"]),
        organizations=tuple(by_facet["organizations"]),
        locations=tuple(by_facet["locations"]),
        persons_alias=aliases("persons"),
        organizations_alias=aliases("organizations"),
        locations_alias=aliases("locations"),
        geo=geo,
    )


_NOT_GIVEN_CACHE: dict[int, tuple[EntityRules, frozenset[str]]] = {}


def _not_given_names(rules: EntityRules) -> frozenset[str]:
    """Lowercase words that never make a person's given name: titles, demonyms, leading words,
    words of organisations and facilities, products and stopped names (once per rules object)."""
    cached = _NOT_GIVEN_CACHE.get(id(rules))
    if cached is not None and cached[0] is rules:
        return cached[1]
    words = {w.lower() for seq in (*rules.person_titles, *rules.honorifics, *rules.non_entity_first_words)
             for w in seq}
    for group in (rules.nationality_words, rules.org_words, rules.facility_place_words,
                  rules.facility_not_surnames, rules.products, rules.stop_entities):
        words.update(w.lower() for w in group)
    found = frozenset(words | rules.leading_words)
    _NOT_GIVEN_CACHE[id(rules)] = (rules, found)
    return found


def _without_product_short_forms(cleaned: list[CleanMention], rules: EntityRules,
                                 text: str) -> list[CleanMention]:
    """Without the one-word short form of a product the article names in full: "Sling" after "Sling
    TV", "Vue" after "PlayStation Vue" is not counted (only the first word: "Sling")."""
    if not text or not rules.product_heads:
        return cleaned
    return [c for c in cleaned if not (
        c.entry is None and " " not in c.surface
        and any(p in text for p in rules.product_heads.get(c.surface, ())))]


def _people_tagged_organisations(cleaned: list[CleanMention]) -> list[CleanMention]:
    """A name the model tags ORG in some places and PERSON in others is a person when the article also
    calls that person by the surname alone ("Stormy Daniels" ORG, "Stormy Daniels" PERSON, "Daniels"
    PERSON): organisations are not referred to by their last word as a person."""
    people = {c.name for c in cleaned if c.facet == "persons" and c.entry is None}
    if not people:
        return cleaned
    lone = {name for name in people if " " not in name}
    out = []
    for c in cleaned:
        words = c.name.split()
        if (c.facet == "organizations" and c.entry is None and c.name in people and 2 <= len(words) <= 3
                and words[-1] in lone):
            c = dataclasses.replace(c, facet="persons")
        out.append(c)
    return out


def _short_known_organisations(cleaned: list[CleanMention]) -> list[CleanMention]:
    """A one-word organisation the table does not know that is the first word of an organisation of
    the article the table knows is that organisation: "Fox" beside "Fox News", "Verizon" beside
    "Verizon Wireless". (A last or inner word is not: "House" beside "White House" is another body.)"""
    known = {c.surface.split()[0]: c for c in cleaned
             if c.facet == "organizations" and c.entry is not None and " " in c.surface}
    if not known:
        return cleaned
    out = []
    for c in cleaned:
        if c.facet == "organizations" and c.entry is None and " " not in c.name and c.name in known:
            target = known[c.name]
            c = dataclasses.replace(c, name=target.name, entry=target.entry)
        out.append(c)
    return out


# How near another place of the article a minor place must lie to confirm it (km).
_CONFIRMING_DISTANCE_KM = 1500.0


def _confirm_places(cleaned: list[CleanMention]) -> list[CleanMention]:
    """Tentative places ("Goma", "Sylhet" tagged PERSON) confirmed by the article: the same place
    named with another label, or another place of the article within _CONFIRMING_DISTANCE_KM. An
    unconfirmed one is the person the model saw ("Bush" in "Bush v. Gore" is not the Egyptian town)."""
    if not any(c.tentative for c in cleaned):
        return cleaned
    sure = [c.entry for c in cleaned if c.entry is not None and not c.tentative and c.facet == "locations"]
    sure_ids = {e.id for e in sure}
    points = [(e.lat, e.lon) for e in sure if e.lat is not None and e.lon is not None]
    out = []
    for c in cleaned:
        entry = c.entry
        if c.tentative and entry is not None and entry.id not in sure_ids and not (
                entry.lat is not None and entry.lon is not None and any(
                    _km(entry.lat, entry.lon, lat, lon) <= _CONFIRMING_DISTANCE_KM for lat, lon in points)):
            c = CleanMention("persons", c.surface, None, c.surface)
        out.append(c)
    return out


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 12742.0 * math.asin(math.sqrt(a))


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
