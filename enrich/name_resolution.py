"""Short names resolved to the full entity: within an article, and from another copy of its story.

Within an article (`resolve_short_names`, before canonical.py picks the fullest form): a part of a
person's name that the table does not know ("Zelensky", "Respers") is that person when it is a run
of the words of the full name, or of one of the article's own spellings of it: "Volodymyr
Zelensky ... Zelensky" is the table's "Volodymyr Zelenskyy" once, though the table lists only the
full spellings. canonical.py already resolves a part of the canonical name itself ("Putin" of
"Vladimir Putin", whatever label the model gave the part).

Across a story (`resolve_from_copy`, when the story is known, after enrichment): a later copy of a
story whose text says only "Putin" or "NSC" (a summary, a trimmed wire copy) takes the full names of
the copy it joins: a bare surname contained in exactly one of the copy's full person names, and an
abbreviation the copy's long form spells (a `best_long_form` of the short form, as in
enrich/abbreviations.py) and lists among its spellings. Pure functions over the facet fields.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from enrich.abbreviations import best_long_form
from newsflow.core.models import Article

if TYPE_CHECKING:
    from enrich.canonical import CleanMention

__all__ = ["COPY_FIELDS", "fuller_names_in_text", "resolve_from_copy", "resolve_short_names", "story_names"]


def _run_of(longer: Sequence[str], shorter: Sequence[str]) -> bool:
    """True when `shorter` is a contiguous run of `longer`'s words, and shorter than it."""
    n = len(shorter)
    return 0 < n < len(longer) and any(tuple(longer[i:i + n]) == tuple(shorter)
                                       for i in range(len(longer) - n + 1))


def resolve_short_names(cleaned: Sequence[CleanMention]) -> list[CleanMention]:
    """`cleaned` with every short name (no table entry of its own, a run of words of exactly one
    person's name or the article's spellings of that name) set to that person; the surface is kept."""
    spelled: dict[str, tuple[CleanMention, list[tuple[str, ...]]]] = {}
    for m in cleaned:
        if m.facet == "persons" and " " in m.name:
            _, forms = spelled.setdefault(m.name, (m, [tuple(m.name.split())]))
            if " " in m.surface and tuple(m.surface.split()) not in forms:
                forms.append(tuple(m.surface.split()))
    if not spelled:
        return list(cleaned)
    out = []
    for m in cleaned:
        tokens = tuple(m.name.split())
        if m.entry is None and (m.facet == "persons" or len(tokens) == 1) and m.name not in spelled:
            owners = [full for full, (_, forms) in spelled.items() if any(_run_of(f, tokens) for f in forms)]
            if len(owners) == 1:
                person, _ = spelled[owners[0]]
                m = dataclasses.replace(m, facet="persons", name=person.name, entry=person.entry)
        out.append(m)
    return out


# Capitalised words before a surname that are not given names: sentence openers and function words.
_NOT_GIVEN = frozenset("""a an the this that these those his her their its our my your in on at for
from by with of to and but or nor so yet if as when while after before since until because though
although where whether then than also even only just not no yes all both each every some many most
more much such what which who whom whose why how said says told asked is are was were be been
will would can could should shall might must do does did has had have meet meets dear
january february march april may june july august september october november december monday
tuesday wednesday thursday friday saturday sunday""".split())
_CAPITALISED = r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
_SENTENCE_END = re.compile(r"(?:[\n.!?:;|—–]|\s[-–—])\s*$")


def _starts_sentence(text: str, start: int) -> bool:
    """True when text[start:] begins the text, a line or a sentence, where every word is capitalised."""
    return start == 0 or _SENTENCE_END.search(text[max(0, start - 4):start]) is not None


def fuller_names_in_text(cleaned: Sequence[CleanMention], text: str,
                         not_given: frozenset[str] = frozenset(),
                         given_names: frozenset[str] = frozenset()) -> list[CleanMention]:
    """`cleaned` with a one-word person the table does not know ("Fresco", "Weiwei") set to the
    fuller name the text writes it in when the model tagged only the short form: the one
    capitalised word the text puts right before it ("Jacque Fresco", "Ai Weiwei"), when there is
    exactly one such word and it is no function word, title or other known word (`not_given`,
    lowercase). At the start of a line or sentence, where any word is capitalised ("Startup
    Agari"), only a known given name counts (`given_names`). The surface is kept, so the
    article's spelling still finds the person."""
    full_tokens = {t for m in cleaned if m.facet == "persons" and " " in m.name for t in m.name.split()}
    out = []
    for m in cleaned:
        if (m.facet == "persons" and m.entry is None and " " not in m.name and len(m.name) >= 3
                and m.name not in full_tokens):
            pattern = rf"(?<![\w.'’-])({_CAPITALISED}) {re.escape(m.name)}(?![\w-])"
            before: dict[str, bool] = {}  # word -> seen inside a sentence
            for match in re.finditer(pattern, text):
                word = match.group(1)
                if word.lower() not in _NOT_GIVEN and word.lower() not in not_given:
                    before[word] = before.get(word, False) or not _starts_sentence(text, match.start())
            if len(before) == 1:
                (word, inside), = before.items()
                if inside or word in given_names:
                    m = dataclasses.replace(m, name=f"{word} {m.name}")
        out.append(m)
    return out


_FIELDS = ("persons", "organizations", "locations")
# What a copy of a story lends the others: its names and spellings (fields of the stored document).
COPY_FIELDS = ("persons", "organizations", "persons_alias", "organizations_alias")

StoryNames = Mapping[str, Sequence[str]]  # COPY_FIELDS -> values


def story_names(article: Article) -> dict[str, tuple[str, ...]]:
    """The names a copy lends the other copies of its story (`resolve_from_copy`)."""
    return {f: tuple(getattr(article, f)) for f in COPY_FIELDS}


def resolve_from_copy(article: Article, copy: StoryNames) -> Article:
    """`article` with its short names replaced by the full names of another copy of its story (`copy`:
    that copy's `story_names`), one value per entity kept: a one-word person value, or a one-word
    value in another facet that the copy spelled as a person ("Putin" tagged ORG here), that is a
    word of exactly one of the copy's persons; and an abbreviation whose long form is one of the
    copy's organisations and lists it among its spellings. The article's own spelling stays in its
    `*_alias` field, and the full name is added there."""
    persons, organizations = tuple(copy.get("persons", ())), tuple(copy.get("organizations", ()))
    if not (persons or organizations):
        return article
    new: dict[str, list[str]] = {f: list(getattr(article, f)) for f in _FIELDS}
    aliases: dict[str, list[str]] = {f: list(getattr(article, f"{f}_alias")) for f in _FIELDS}
    changed = False
    for facet in _FIELDS:
        for value in getattr(article, facet):
            target = _copy_name(value, facet, copy)
            if target is None:
                continue
            to_facet, name = target
            new[facet].remove(value)
            if name not in new[to_facet]:
                new[to_facet].append(name)
            for spelling in (name, value):
                if spelling not in aliases[to_facet]:
                    aliases[to_facet].append(spelling)
            changed = True
    if not changed:
        return article
    changes: dict[str, Any] = {f: tuple(new[f]) for f in _FIELDS}
    changes.update({f"{f}_alias": tuple(aliases[f]) for f in _FIELDS})
    return dataclasses.replace(article, **changes)


def _copy_name(value: str, facet: str, copy: StoryNames) -> tuple[str, str] | None:
    """(facet, full name) of the copy's entity that `value` names, or None."""
    if " " not in value and (facet == "persons" or value in copy.get("persons_alias", ())):
        owners = [p for p in copy.get("persons", ()) if " " in p and value in p.split()]
        if len(owners) == 1:
            return "persons", owners[0]
    if facet == "organizations" and " " not in value and value in copy.get("organizations_alias", ()):
        longs = [o for o in copy.get("organizations", ()) if o != value and best_long_form(value, o) == o]
        if len(longs) == 1:
            return "organizations", longs[0]
    return None
