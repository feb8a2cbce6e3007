"""The spelling keys of the articles stored before documents carried them (`newsflow setup`).

Since spelling keys were introduced (enrich/spellings.py), every document stores the key of each of
its entity spellings in `*_alias` beside the spelling ("al assad" beside "al-Assad"), and entity
queries search the keys. Articles indexed before lack them: `add_spelling_keys` adds them to each
articles index not yet marked (`_meta.spelling_keys` in its mapping; new indices are created marked,
from the template), then marks it. Only the alias fields are written, with bulk partial updates
guarded by the version read (an article a cycle rewrites meanwhile is written with its keys anyway),
so it is cheap, idempotent and safe beside a running cycle. No model, no re-enrichment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from elasticsearch import Elasticsearch, helpers

from enrich.spellings import with_keys
from newsflow.index.entity_query import ENTITY_FIELDS, alias_field
from newsflow.index.mappings import LANGUAGE_ANALYZERS

log = logging.getLogger(__name__)

SPELLING_KEYS = 1  # the form of the keys; bumped when spelling_key changes, so setup adds them again
META_KEY = "spelling_keys"
_FIELDS = [*ENTITY_FIELDS, *(alias_field(f) for f in ENTITY_FIELDS), "language"]


def alias_update(source: Mapping[str, Any]) -> dict[str, list[str]]:
    """The alias fields of a stored document that lack a spelling key, with the keys added."""
    update: dict[str, list[str]] = {}
    for facet in ENTITY_FIELDS:
        stored = list(source.get(alias_field(facet)) or [])
        wanted = with_keys((*(source.get(facet) or []), *stored))
        if set(wanted) != set(stored):
            update[alias_field(facet)] = wanted
    return update


def add_spelling_keys(client: Elasticsearch, alias: str) -> int:
    """Add the spelling keys to the documents of every index behind `alias` not marked as having
    them, and mark each; the number of documents updated."""
    updated = 0
    for index, body in client.indices.get_mapping(index=alias).items():
        meta = body["mappings"].get("_meta") or {}
        if meta.get(META_KEY) == SPELLING_KEYS:
            continue
        ok, failed, first_error = 0, 0, ""
        for success, item in helpers.streaming_bulk(client, _updates(client, index), chunk_size=500,
                                                    raise_on_error=False):
            status = next(iter(item.values())).get("status")
            if success:
                ok += 1
            elif status != 409:  # a conflict: a cycle rewrote the article meanwhile, with its keys
                failed += 1
                first_error = first_error or str(item)
        if failed:
            log.warning("spelling keys: %d documents of %s could not be updated (first: %s); "
                        "`newsflow setup` tries again", failed, index, first_error)
            continue
        client.indices.put_mapping(index=index, meta={**meta, META_KEY: SPELLING_KEYS})
        updated += ok
        if ok:
            log.info("spelling keys: %d documents of %s updated", ok, index)
    return updated


def _updates(client: Elasticsearch, index: str) -> Iterator[dict[str, Any]]:
    has_entities = {"bool": {"should": [{"exists": {"field": alias_field(f)}} for f in ENTITY_FIELDS]}}
    hits = helpers.scan(client, index=index, query={"query": has_entities},
                        _source=_FIELDS, seq_no_primary_term=True, size=500)
    for hit in hits:
        source = hit["_source"]
        if str(source.get("language") or "")[:2] in LANGUAGE_ANALYZERS:
            continue  # an update would drop its i18n copy (not in _source); it has no entities anyway
        update = alias_update(source)
        if update:
            yield {"_op_type": "update", "_index": index, "_id": hit["_id"], "doc": update,
                   "if_seq_no": hit["_seq_no"], "if_primary_term": hit["_primary_term"]}
