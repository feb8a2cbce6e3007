"""The alerts index `<prefix>-alerts`: one document per (rule, story), Kibana-friendly.

Writes are conditional so that nothing is sent twice in the normal path:
- a record is created with op_type=create: a second copy of the story, or a re-run, conflicts (409);
- a delivery run claims a due record with if_seq_no/if_primary_term (moving next_attempt_at one
  lease ahead) before sending; a concurrent run loses the claim and skips it; a run that dies after
  claiming leaves the record to be retried once the lease has passed (at-least-once, same alert id).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from newsflow.alerts.records import AlertRecord
from newsflow.core.errors import IndexError_
from newsflow.core.es import create_index, number_of_replicas, translate_errors
from newsflow.core.models import format_utc
from newsflow.core.settings import Settings

log = logging.getLogger(__name__)

_KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}
_DATE: dict[str, Any] = {"type": "date"}
_ERROR: dict[str, Any] = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}}
# Kept in _source (shown by `alerts recent`, the plugin page and Kibana's document view) but not
# indexed: nobody filters alerts by them, and every indexed field is work on each alert written.
# With 10,000 rules a cycle writes ~80,000 alert documents; this saved about a quarter of
# Elasticsearch's time for them (the title, analysed text, another tenth).
_STORED_KEYWORD: dict[str, Any] = {"type": "keyword", "index": False, "doc_values": False}
_STORED_DATE: dict[str, Any] = {"type": "date", "index": False, "doc_values": False}
# The title too: it is searched in the articles index; here it is shown.
_STORED_TEXT: dict[str, Any] = {"type": "text", "index": False}
_STORED_INTEGER: dict[str, Any] = {"type": "integer", "index": False, "doc_values": False}
_PAGE = 500
# What a bulk response item needs to say here; the rest (index, shards, version, result) is left out.
_BULK_ITEM_FIELDS = "items.*._id,items.*.status,items.*._seq_no,items.*._primary_term,items.*.error"
# New alerts become searchable within this; the delivery and listing paths refresh explicitly.
_REFRESH_INTERVAL = "5s"

ALERT_PROPERTIES: dict[str, Any] = {
    "id": _KEYWORD,
    "rule": _KEYWORD,
    "query": _STORED_KEYWORD,
    "story_id": _KEYWORD,
    "matched_at": _DATE,
    "article": {
        "type": "object",
        "dynamic": "strict",
        "properties": {
            "id": _KEYWORD,
            "title": _STORED_TEXT,
            "url": _STORED_KEYWORD,
            "source": _KEYWORD,
            "published_at": _DATE,
        },
    },
    "status": _KEYWORD,  # pending | sent | failed over all channels; digest: see the digests index
    "digest": _KEYWORD,  # a digest rule's alert: the id of the digest it goes out in
    "digest_end": _DATE,  # when that digest's period ends
    "signal": {"type": "object", "enabled": False},  # a volume rule's alert: what it saw (not searched)
    # An `--on-edit` rule's alert of an edit: the revision the article's current content replaced.
    "revision": {
        "type": "object",
        "dynamic": "strict",
        "properties": {
            "id": _KEYWORD,
            "number": _STORED_INTEGER,
            "previous_title": _STORED_TEXT,
            "previous_ingested_at": _STORED_DATE,
            "replaced_at": _DATE,
            "title_changed": {"type": "boolean"},
            "paragraphs_added": _STORED_INTEGER,
            "paragraphs_removed": _STORED_INTEGER,
            "paragraphs_edited": _STORED_INTEGER,
        },
    },
    "attempts": _STORED_INTEGER,
    "next_attempt_at": _DATE,
    "delivered_at": _DATE,
    "last_error": _ERROR,
    "deliveries": {
        "type": "object",
        "dynamic": "strict",
        "properties": {
            "channel": _KEYWORD,
            "kind": _KEYWORD,
            "status": _KEYWORD,
            "attempts": _STORED_INTEGER,
            "next_attempt_at": _STORED_DATE,
            "last_attempt_at": _STORED_DATE,
            "delivered_at": _STORED_DATE,
            "last_error": _ERROR,
        },
    },
}


def missing_properties(existing: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The fields of `wanted` that `existing` (an index's mapped properties) lacks, objects recursed.

    Elasticsearch refuses to change how an existing field is indexed, so an index created by an
    earlier version keeps its fields as they are and only gains the new ones. Pure."""
    missing: dict[str, Any] = {}
    for name, spec in wanted.items():
        if name not in existing:
            missing[name] = spec
        elif "properties" in spec:
            inner = missing_properties(existing[name].get("properties") or {}, spec["properties"])
            if inner:
                missing[name] = {**spec, "properties": inner}
    return missing


def alerts_index(settings: Settings) -> str:
    return settings.index_name("alerts")


@dataclass(frozen=True, slots=True)
class Versioned:
    """A record as read (or last written), with the version a conditional write must match."""

    record: AlertRecord
    seq_no: int
    primary_term: int


class AlertStore:
    def __init__(self, client: Elasticsearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = alerts_index(settings)
        self._url = settings.es_url_redacted

    def ensure(self) -> None:
        """Create the alerts index, or add fields that appeared since it was created."""
        with translate_errors(self._url):
            if self.client.indices.exists(index=self.index):
                mapping = self.client.indices.get_mapping(index=self.index)
                existing = next(iter(mapping.values()))["mappings"].get("properties") or {}
                missing = missing_properties(existing, ALERT_PROPERTIES)
                if missing:
                    self.client.indices.put_mapping(index=self.index, dynamic="strict", properties=missing)
                self.client.indices.put_settings(index=self.index,
                                                 settings={"refresh_interval": _REFRESH_INTERVAL})
                return
        self._create()

    def ensure_exists(self) -> None:
        """Create the alerts index if it is missing (no mapping upgrade: that is `ensure`, at setup)."""
        if not self.exists():
            self._create()
        else:  # perhaps created by another run a moment ago: its shard may not have started yet
            with translate_errors(self._url):
                self.client.cluster.health(index=self.index, wait_for_status="yellow", timeout="30s")

    def _create(self) -> None:
        with translate_errors(self._url):
            create_index(
                self.client, index=self.index,
                settings={"number_of_shards": 1,
                          "number_of_replicas": number_of_replicas(self.settings, self.client),
                          "refresh_interval": _REFRESH_INTERVAL},
                mappings={"dynamic": "strict", "properties": ALERT_PROPERTIES},
            )  # False: created concurrently, which is fine
            # ...but its shard may not have started yet: wait, or the next read gets a 503.
            self.client.cluster.health(index=self.index, wait_for_status="yellow", timeout="30s")

    def exists(self) -> bool:
        with translate_errors(self._url):
            return bool(self.client.indices.exists(index=self.index))

    def create_claimed(
        self, records: Sequence[AlertRecord], until: datetime | None
    ) -> tuple[list[Versioned], int]:
        """Create records that do not exist yet, held for delivery by this run until `until` (as
        `claim` would hold them; None: due at once). The run that raised them can then deliver them
        from memory, without searching for due records and claiming them. Returns (created, already
        existing)."""
        operations: list[dict[str, Any]] = []
        for record in records:
            operations.append({"create": {"_index": self.index, "_id": record.id}})
            source = record.to_source()
            if until is not None:
                source["next_attempt_at"] = format_utc(until)
            operations.append(source)
        created: list[Versioned] = []
        duplicates = 0
        for record, item in zip(records, self._bulk(operations), strict=True):
            status = item["status"]
            if status in (200, 201):
                created.append(Versioned(record, item["_seq_no"], item["_primary_term"]))
            elif status == 409:
                duplicates += 1
            else:
                raise IndexError_(f"could not record alert {item.get('_id')} in {self.index}: "
                                  f"{_item_reason(item)}")
        return created, duplicates

    def existing(self, ids: Sequence[str]) -> set[str]:
        """Which of these alert ids are recorded already. Real-time (no refresh needed): a record
        written a moment ago by another run counts."""
        found: set[str] = set()
        step = max(1, self.settings.index.bulk_chunk_size) * 4
        for start in range(0, len(ids), step):
            with translate_errors(self._url):
                response = self.client.options(ignore_status=404).mget(
                    index=self.index, ids=list(ids[start:start + step]), source=False,
                    filter_path="docs._id,docs.found")
            found.update(doc["_id"] for doc in response.get("docs") or () if doc.get("found"))
        return found

    def due(self, now: datetime) -> Iterator[Versioned]:
        """Records with a pending delivery whose time has come, oldest match first."""
        with translate_errors(self._url):
            self.client.options(ignore_status=404).indices.refresh(index=self.index)
        query = {"bool": {"filter": [
            {"term": {"status": "pending"}},
            {"range": {"next_attempt_at": {"lte": format_utc(now)}}},
        ]}}
        yield from self._scan(query, [{"matched_at": "asc"}, {"id": "asc"}])

    def claim(self, items: Sequence[Versioned], until: datetime) -> list[Versioned]:
        """Hold records for delivery until `until`. Returns those this run won (others are skipped)."""
        operations: list[dict[str, Any]] = []
        for item in items:
            operations.append({"update": {"_index": self.index, "_id": item.record.id,
                                          "if_seq_no": item.seq_no,
                                          "if_primary_term": item.primary_term}})
            operations.append({"doc": {"next_attempt_at": format_utc(until)}})
        won: list[Versioned] = []
        for item, result in zip(items, self._bulk(operations), strict=True):
            if result["status"] == 200:
                won.append(Versioned(item.record, result["_seq_no"], result["_primary_term"]))
            elif result["status"] != 409:
                raise IndexError_(f"could not claim alert {item.record.id}: {_item_reason(result)}")
        return won

    def save(self, items: Sequence[Versioned]) -> None:
        """Write delivery results, if the records are still as this run claimed them."""
        operations: list[dict[str, Any]] = []
        for item in items:
            operations.append({"index": {"_index": self.index, "_id": item.record.id,
                                         "if_seq_no": item.seq_no,
                                         "if_primary_term": item.primary_term}})
            operations.append(item.record.to_source())
        for item, result in zip(items, self._bulk(operations), strict=True):
            if result["status"] == 409:
                # Another run claimed it after our lease ran out; its result stands.
                log.warning("alert %s changed while being delivered; keeping the other run's status",
                            item.record.id)
            elif result["status"] not in (200, 201):
                raise IndexError_(f"could not save the delivery status of alert {item.record.id}: "
                                  f"{_item_reason(result)}")

    def get(self, alert_id: str) -> AlertRecord | None:
        with translate_errors(self._url):
            response = self.client.options(ignore_status=404).get(index=self.index, id=alert_id)
        return AlertRecord.from_source(response["_source"]) if response.get("found") else None

    def recent(self, limit: int = 20, rule: str | None = None) -> list[AlertRecord]:
        """The latest alerts, newest first (optionally of one rule)."""
        query: dict[str, Any] = {"term": {"rule": rule}} if rule else {"match_all": {}}
        with translate_errors(self._url):
            self.client.options(ignore_status=404).indices.refresh(index=self.index)
            response = self.client.options(ignore_status=404).search(
                index=self.index, query=query, size=limit,
                sort=[{"matched_at": "desc"}, {"id": "asc"}])
        hits = (response.get("hits") or {}).get("hits") or []
        return [AlertRecord.from_source(hit["_source"]) for hit in hits]

    def ended_digests(self, now: datetime, since: datetime) -> list[tuple[str, str]]:
        """(rule, digest id) of every digest whose period ended in [since, now], oldest period first."""
        if not self.exists():
            return []
        with translate_errors(self._url):
            self.client.indices.refresh(index=self.index)
        query = {"range": {"digest_end": {"gte": format_utc(since), "lte": format_utc(now)}}}
        found: list[tuple[str, str, str]] = []
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": 1000, "sources": [
                {"end": {"terms": {"field": "digest_end"}}},
                {"rule": {"terms": {"field": "rule"}}},
                {"digest": {"terms": {"field": "digest"}}}]}
            if after is not None:
                composite["after"] = after
            with translate_errors(self._url):
                response = self.client.search(index=self.index, query=query, size=0,
                                              aggs={"digests": {"composite": composite}})
            result = response["aggregations"]["digests"]
            buckets = result.get("buckets") or []
            found += [(b["key"]["end"], b["key"]["rule"], b["key"]["digest"]) for b in buckets]
            after = result.get("after_key")
            if not buckets or after is None:
                return [(rule, digest) for _, rule, digest in found]

    def digest_records(self, digest: str, limit: int) -> tuple[list[AlertRecord], int]:
        """The alerts of one digest, first matched first (at most `limit`), and how many there are."""
        with translate_errors(self._url):
            response = self.client.search(
                index=self.index, query={"term": {"digest": digest}}, size=limit,
                sort=[{"matched_at": "asc"}, {"id": "asc"}], track_total_hits=True)
        hits = response["hits"]
        return [AlertRecord.from_source(hit["_source"]) for hit in hits["hits"]], int(hits["total"]["value"])

    def all(self) -> list[AlertRecord]:
        """Every record, oldest first (tests and small tools)."""
        with translate_errors(self._url):
            self.client.options(ignore_status=404).indices.refresh(index=self.index)
        return [item.record for item in self._scan({"match_all": {}},
                                                   [{"matched_at": "asc"}, {"id": "asc"}])]

    def _scan(self, query: dict[str, Any], sort: list[dict[str, str]]) -> Iterator[Versioned]:
        search_after: list[Any] | None = None
        while True:
            with translate_errors(self._url):
                response = self.client.options(ignore_status=404).search(
                    index=self.index, query=query, size=_PAGE, sort=sort,
                    search_after=search_after, seq_no_primary_term=True)
            hits = (response.get("hits") or {}).get("hits") or []
            for hit in hits:
                yield Versioned(AlertRecord.from_source(hit["_source"]),
                                hit["_seq_no"], hit["_primary_term"])
            if len(hits) < _PAGE:
                return
            search_after = hits[-1]["sort"]

    def _bulk(self, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run action/source pairs in requests of at most 4 × bulk_chunk_size actions; results in order."""
        results: list[dict[str, Any]] = []
        # Alert records are small (~0.5 kB): four times the article chunk per request, which took
        # about a tenth off Elasticsearch's time for 80,000 of them.
        step = 2 * 4 * max(1, self.settings.index.bulk_chunk_size)
        for start in range(0, len(operations), step):
            with translate_errors(self._url):
                response = self.client.bulk(operations=operations[start:start + step],
                                            filter_path=_BULK_ITEM_FIELDS)
            results += [next(iter(item.values())) for item in response["items"]]
        return results


def _item_reason(item: dict[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('reason')}"
    return f"status {item.get('status')}"

