"""The spelling key: one form for the ways outlets and users write the same name.

Outlets and users write one name with or without diacritics ("Erdoğan", "Erdogan"; "Łukaszenka"),
in any case, with dots or without ("U.S.", "US"), with hyphens or spaces ("al-Assad", "al Assad";
"Dunleavy-Smith"), with straight or curly apostrophes ("O’Rourke"), and with spaced initials or not
("J. K. Rowling", "JK Rowling"). `spelling_key` maps all of these to one ASCII, lowercase form:

- letters are folded to ASCII (decomposed accents dropped; Ł, Ø, ß, Æ, Œ, Đ, Þ, ı spelled out);
- apostrophes and dots are deleted (they sit inside a word: "O'Rourke" -> "orourke", "U.S." -> "us");
- any other run of characters that is neither letter nor digit (spaces, hyphens, dashes, commas,
  slashes) is one space; consecutive one-letter words are joined ("j k rowling" -> "jk rowling").

The key changes nothing but writing: it never drops a word, so it cannot make two different names one
("Bashar al-Assad" and "Assad" keep different keys; "Assad" finds him because the entity table lists
it). Transliterations ("Zelenskyy"/"Zelensky", "Gaddafi"/"Qaddafi") are spellings the table lists.

Documents store the key of every spelling beside the spelling (`*_alias`, see
newsflow/index/documents.py and enrich/reenrich.py), and queries on an entity field also search the
key of the value they name (newsflow/index/entity_query.py), so the two sides always agree whatever
the index's normalizer. `query_spellings` also cleans a query's value the way the enrichment cleans a
mention (enrich/canonical.py): a possessive ("Putin's"), a leading article or determiner ("the
Pentagon", "former ..."), a person's title ("President Zelensky", "Mr. Putin"): the name an article
stores for that mention is then among the forms searched.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from enrich.canonical import DEFAULT_RULES_FILE, default_rules
from enrich.entity_table import DEFAULT_GAZETTEER_FILE, KnownEntity, load_gazetteer, normalise_spelling
from newsflow.core.errors import EnrichError

# Letters NFKD does not decompose into ASCII, as Lucene's ASCIIFoldingFilter spells them.
_FOLD = str.maketrans({
    "Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss", "ẞ": "SS", "Æ": "AE", "æ": "ae", "Œ": "OE",
    "œ": "oe", "Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Þ": "TH", "þ": "th", "ı": "i", "Ħ": "H",
    "ħ": "h", "ŀ": "l", "Ŀ": "L", "ŉ": "n",
})
_DELETED = re.compile(r"['’‘ʼ`´.]")  # apostrophes of every kind and dots: inside a word
_SEPARATOR = re.compile(r"[\W_]+")  # any other run of non-letters, non-digits
_INITIALS = re.compile(r"\b(\w)\s(?=\w\b)")  # "j k rowling": one-letter words next to each other
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")  # as enrich/canonical.py strips it


def fold(text: str) -> str:
    """`text` in lowercase ASCII where it has a Latin letter (other scripts are kept as they are)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def spelling_key(text: str) -> str:
    """The spelling key of a name (see the module's docstring): "Al-Assad" and "al Assad" ->
    "al assad", "U.S." and "US" -> "us", "São Paulo" -> "sao paulo", "O’Rourke" -> "orourke"."""
    key = _SEPARATOR.sub(" ", _DELETED.sub("", fold(text))).strip()
    while True:
        joined = _INITIALS.sub(r"\1", key)
        if joined == key:
            return key
        key = joined


def with_keys(spellings: Iterable[str]) -> list[str]:
    """The spellings, then the key of each that Elasticsearch's case and accent folding would not
    reach ("al-Assad" adds "al assad"; "Erdoğan" adds nothing: the index folds it to "erdogan")."""
    values = list(dict.fromkeys(spellings))
    folded = {fold(v) for v in values}
    keys = (spelling_key(v) for v in values)
    return values + [k for k in dict.fromkeys(keys) if k and k not in folded]


@dataclass(frozen=True, slots=True)
class QueryRules:
    """What the enrichment strips from a mention before naming it (the lists of entities.yaml)."""

    leading_words: frozenset[str]  # lowercase: the, former, ...
    person_titles: tuple[tuple[str, ...], ...]  # lowercase token sequences, longest first


@cache
def query_rules(path: Path = DEFAULT_RULES_FILE) -> QueryRules:
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, yaml.YAMLError) as exc:
        raise EnrichError(f"cannot read the entity rules {path}: {exc} (check the file)") from exc
    if not isinstance(data, dict):
        raise EnrichError(f"entity rules {path}: expected a mapping at the top level")
    titles = {tuple(str(t).lower().split()) for t in data.get("person_titles") or []}
    return QueryRules(
        leading_words=frozenset(str(w).lower() for w in data.get("leading_words") or []),
        person_titles=tuple(sorted(titles, key=len, reverse=True)),
    )


def cleaned_name(facet: str, value: str, rules: QueryRules | None = None) -> str:
    """A query's value as the enrichment would name the mention: without a possessive, leading
    articles and determiners, and for persons one leading title ("former President Putin's" ->
    "Putin"). At least one word is always kept."""
    rules = rules or query_rules()
    tokens = _POSSESSIVE.sub("", " ".join(value.split())).split()
    while len(tokens) > 1 and tokens[0].lower() in rules.leading_words:
        tokens = tokens[1:]
    if facet == "persons":
        lowered = tuple(fold(t) for t in tokens)
        for title in rules.person_titles:
            if len(tokens) > len(title) and lowered[:len(title)] == title:
                tokens = tokens[len(title):]
                break
    return " ".join(tokens)


def known_entity(facet: str, value: str) -> KnownEntity | None:
    """The entity of the table a query's value names on `facet`: the value as written or cleaned
    (`cleaned_name`), looked up as the enrichment looks up a mention, else by its spelling key when
    exactly one entity of the table has a spelling with that key ("bashar al assad", "sao-paulo")."""
    table = default_rules().table
    names = dict.fromkeys((value, cleaned_name(facet, value)))
    for name in names:
        entry = table.lookup(normalise_spelling(name))
        if entry is not None and entry.facet == facet:
            return entry
    by_key = _entities_by_key()
    for name in names:
        entry = by_key.get((facet, spelling_key(name)))
        if entry is not None:
            return entry
    return None


@cache
def _entities_by_key() -> dict[tuple[str, str], KnownEntity]:
    """(facet, spelling key) -> the one entity of the table with a spelling of that key (keys two
    entities share are left out: a key alone never decides between them)."""
    table = default_rules().table
    spellings = [s for s, _ in table.curated_spellings()]
    spellings += [s for row in load_gazetteer() for s in (row[1], *row[6])]
    found: dict[tuple[str, str], KnownEntity | None] = {}
    for spelling in spellings:
        entry = table.lookup(spelling)
        if entry is None:
            continue
        key = (entry.facet, spelling_key(spelling))
        other = found.get(key, entry)
        found[key] = entry if other is not None and other.id == entry.id else None
    return {key: entry for key, entry in found.items() if entry is not None}


def table_fingerprint() -> str:
    """A digest of the entity table's data files: rules saved with another one are saved again by
    `newsflow setup` (their queries name the table's spellings)."""
    digest = hashlib.sha256()
    for path in (DEFAULT_RULES_FILE, DEFAULT_GAZETTEER_FILE):
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


def query_spellings(facet: str, value: str) -> list[str]:
    """Every form a query's value on an entity field searches: the value as written, the name the
    enrichment would make of it (`cleaned_name`), every spelling of the table's entity it names
    (`known_entity`), and the spelling key of each; forms the index's case and accent folding makes
    equal are given once."""
    forms = [value, cleaned_name(facet, value)]
    entry = known_entity(facet, value)
    if entry is not None:
        forms += entry.spellings
    forms += [spelling_key(f) for f in forms]
    seen: set[str] = set()
    unique: list[str] = []
    for form in forms:
        if form.strip() and fold(form) not in seen:
            seen.add(fold(form))
            unique.append(form)
    return unique
