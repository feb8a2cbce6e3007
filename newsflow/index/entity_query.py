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

import re
from typing import Any

from enrich.spellings import query_spellings

ENTITY_FIELDS: tuple[str, ...] = ("persons", "organizations", "locations")
ALIAS_SUFFIX = "_alias"
# Characters after which a field name may start in Lucene query-string syntax.
_FIELD_START = frozenset(" \t\r\n(+-!{[&|")


def alias_field(name: str) -> str:
    """The field a query on `name` searches: `persons` -> `persons_alias`; other fields unchanged."""
    return name + ALIAS_SUFFIX if name in ENTITY_FIELDS else name


def rewrite_entity_fields(query: str) -> str:
    """`persons:X` -> `persons_alias:(X OR ...)` (likewise organizations, locations) wherever a field
    name stands in a Lucene query string: the value as written, as the enrichment would name it and
    its spelling key (`enrich.spellings.query_spellings`). Quoted phrases and escaped characters
    elsewhere are left alone, and so are wildcards, regular expressions and ranges."""
    out: list[str] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char == "\\":
            out.append(query[i:i + 2])
            i += 2
            continue
        if char == '"':
            end = _phrase_end(query, i)
            out.append(query[i:end])
            i = end
            continue
        if i == 0 or query[i - 1] in _FIELD_START:
            for name in ENTITY_FIELDS:
                after = i + len(name)
                if query.startswith(name, i) and query[after:].lstrip(" ").startswith(":"):
                    colon = query.index(":", after) + 1
                    value, i = _rewrite_value(name, query, colon)
                    out.append(alias_field(name) + query[after:colon] + value)
                    break
            else:
                out.append(char)
                i += 1
            continue
        out.append(char)
        i += 1
    return "".join(out)


_OPERATORS = frozenset({"AND", "OR", "NOT", "&&", "||"})
_TERM_END = frozenset(" \t\r\n()~^")
_SUFFIX = re.compile(r"(?:[~^][0-9.]*)+")


def _phrase_end(query: str, start: int) -> int:
    """The index after the quoted phrase opening at `start` (the end of the query if unclosed)."""
    end = start + 1
    while end < len(query) and query[end] != '"':
        end += 2 if query[end] == "\\" else 1
    return min(end + 1, len(query))


def _rewrite_value(facet: str, query: str, start: int) -> tuple[str, int]:
    """The value of an entity field starting at `start` (after the colon), rewritten, and the index
    after it: a phrase, a term, or a group whose terms and phrases are each rewritten."""
    i = start
    while i < len(query) and query[i] == " ":
        i += 1
    space = query[start:i]
    if i >= len(query):
        return space, i
    if query[i] == "(":
        parts = ["("]
        i += 1
        while i < len(query) and query[i] != ")":
            if query[i] in " \t\r\n":
                parts.append(query[i])
                i += 1
                continue
            if query[i] in "+-!":
                parts.append(query[i])
                i += 1
                continue
            value, i = _one_value(facet, query, i)
            parts.append(value)
        if i < len(query):
            parts.append(")")
            i += 1
        return space + "".join(parts), i
    value, i = _one_value(facet, query, i)
    return space + value, i


def _one_value(facet: str, query: str, i: int) -> tuple[str, int]:
    """One phrase, term or group at `i` (with its `~`/`^` suffix), rewritten; ranges, regular
    expressions, wildcards, fuzzy terms, proximity phrases and operators are copied as they are."""
    char = query[i]
    if char == "(":  # a nested group
        return _rewrite_value(facet, query, i)
    if char in "[{/":
        closing = {"[": "]}", "{": "]}", "/": "/"}[char]
        end = i + 1
        while end < len(query) and query[end] not in closing:
            end += 2 if query[end] == "\\" else 1
        return query[i:end + 1], end + 1
    if char == '"':
        end = _phrase_end(query, i)
        text = query[i + 1:end - 1] if query[end - 1:end] == '"' and end - 1 > i else ""
        value = _unescape(text)
        wildcard = False
    else:
        end = i
        while end < len(query) and query[end] not in _TERM_END:
            end += 2 if query[end] == "\\" else 1
        raw = query[i:end]
        if raw in _OPERATORS:
            return raw, end
        value = _unescape(raw)
        wildcard = any(c in raw.replace("\\*", "").replace("\\?", "") for c in "*?")
    suffix = _SUFFIX.match(query, end)
    after = suffix.end() if suffix else end
    written = query[i:end]
    if wildcard or not value or (suffix and "~" in suffix.group()):
        return query[i:after], after
    forms = query_spellings(facet, value)
    if len(forms) == 1:
        return query[i:after], after
    others = " OR ".join(_quoted(f) for f in forms[1:])
    return f"({written} OR {others}){query[end:after]}", after


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def filter_clause(name: str, value: str) -> dict[str, Any]:
    """The query of one `--filter FIELD=VALUE`: an exact value; on an entity field, any of the forms
    a query on the field searches (the spellings are in the documents)."""
    if name not in ENTITY_FIELDS:
        return {"term": {name: value}}
    forms = query_spellings(name, value)
    return {"term": {alias_field(name): value}} if len(forms) == 1 else {"terms": {alias_field(name): forms}}
