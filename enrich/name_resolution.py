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
from collections.abc import Sequence
from typing import TYPE_CHECKING

from enrich.abbreviations import best_long_form
from newsflow.models import Article

if TYPE_CHECKING:
    from enrich.canonical import CleanMention

__all__ = ["resolve_from_copy", "resolve_short_names"]


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


_FIELDS = ("persons", "organizations", "locations")


def resolve_from_copy(article: Article, copy: Article) -> Article:
    """`article` with its short names replaced by the full names of `copy`, another copy of its story
    (one value per entity kept): a one-word person, organisation or location value that is a word of
    exactly one of the copy's persons (a word the copy itself spelled as a person, when this article
    put it in another facet), and an abbreviation whose long form is one of the copy's
    organisations and lists the abbreviation among its spellings. The article's own spelling stays
    in its `*_alias` field, and the full name is added there."""
    if not (copy.persons or copy.organizations):
        return article
    full_people = [p for p in copy.persons if " " in p]
    new: dict[str, list[str]] = {f: list(getattr(article, f)) for f in _FIELDS}
    aliases: dict[str, list[str]] = {f: list(getattr(article, f"{f}_alias")) for f in _FIELDS}
    changed = False
    for facet in _FIELDS:
        for value in getattr(article, facet):
            target = _copy_name(value, facet, full_people, copy)
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
    return dataclasses.replace(
        article, **{f: tuple(new[f]) for f in _FIELDS}, **{f"{f}_alias": tuple(aliases[f]) for f in _FIELDS})


def _copy_name(value: str, facet: str, full_people: Sequence[str], copy: Article) -> tuple[str, str] | None:
    """(facet, full name) of the copy's entity that `value` names, or None."""
    # A word the copy spelled as a person ("Putin" tagged ORG here) is that person too.
    if " " not in value and (facet == "persons" or value in copy.persons_alias):
        owners = [p for p in full_people if value in p.split()]
        if len(owners) == 1:
            return "persons", owners[0]
    if facet == "organizations" and " " not in value and value in copy.organizations_alias:
        longs = [o for o in copy.organizations if o != value and best_long_form(value, o) == o]
        if len(longs) == 1:
            return "organizations", longs[0]
    return None
