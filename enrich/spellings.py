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

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from newsflow.core.errors import EnrichError

RULES_FILE = Path(str(resources.files("enrich") / "data" / "entities.yaml"))  # package data

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
def query_rules(path: Path = RULES_FILE) -> QueryRules:
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


def query_spellings(facet: str, value: str) -> list[str]:
    """Every form a query's value on an entity field searches: the value as written, the name the
    enrichment would make of it (`cleaned_name`), and the spelling key of both; forms the index's
    case and accent folding makes equal are given once."""
    forms = [value, cleaned_name(facet, value)]
    forms += [spelling_key(f) for f in forms]
    seen: set[str] = set()
    unique: list[str] = []
    for form in forms:
        if form.strip() and fold(form) not in seen:
            seen.add(fold(form))
            unique.append(form)
    return unique
