"""Queries on the entity fields match every spelling of the entity.

`persons`, `organizations` and `locations` hold one canonical name per entity (the facet values).
Each article also stores every spelling of its entities in `<field>_alias` (the canonical name, the
entity table's aliases and the forms the article itself uses; keyword, compared case- and
accent-insensitively). A search, a `--filter` or an alert rule naming an entity field is rewritten
to search the alias field instead, so `persons:"Volodymyr Zelensky"` finds an article that says
"Zelenskyy" and is faceted "Volodymyr Zelenskyy".

The spellings live in the documents, not in the queries: a rule saved before an alias was added
matches every article enriched after it (new articles at once; stored ones after `newsflow reenrich`),
without saving the rule again.
"""

from __future__ import annotations

from typing import Any

ENTITY_FIELDS: tuple[str, ...] = ("persons", "organizations", "locations")
ALIAS_SUFFIX = "_alias"
# Characters after which a field name may start in Lucene query-string syntax.
_FIELD_START = frozenset(" \t\r\n(+-!{[&|")


def alias_field(name: str) -> str:
    """The field a query on `name` searches: `persons` -> `persons_alias`; other fields unchanged."""
    return name + ALIAS_SUFFIX if name in ENTITY_FIELDS else name


def rewrite_entity_fields(query: str) -> str:
    """`persons:X` -> `persons_alias:X` (likewise organizations, locations) wherever a field name
    stands in a Lucene query string; quoted phrases and escaped characters are left alone."""
    out: list[str] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char == "\\":
            out.append(query[i:i + 2])
            i += 2
            continue
        if char == '"':
            end = i + 1
            while end < n and query[end] != '"':
                end += 2 if query[end] == "\\" else 1
            out.append(query[i:end + 1])
            i = end + 1
            continue
        if i == 0 or query[i - 1] in _FIELD_START:
            for name in ENTITY_FIELDS:
                after = i + len(name)
                if query.startswith(name, i) and query[after:].lstrip(" ").startswith(":"):
                    out.append(alias_field(name))
                    i = after
                    break
            else:
                out.append(char)
                i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out)


def filter_clause(name: str, value: str) -> dict[str, Any]:
    """The query of one `--filter FIELD=VALUE`: an exact value; every spelling on an entity field."""
    return {"term": {alias_field(name): value}}
