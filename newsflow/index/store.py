"""The articles in Elasticsearch: idempotent bulk writes, dead-lettering, and the alert-pending flag.

Writes go through `helpers.streaming_bulk` in bounded batches (IndexSettings.bulk_chunk_size documents,
bulk_max_bytes bytes). Backpressure never loses an article:

- Items refused with 429 or 5xx, and requests that fail on the wire (connection reset, no answer
  within the request timeout), are retried with exponential backoff. Items still refused after the
  last retry are *deferred*: returned in `BulkResult.deferred` for the caller to spool, never
  dead-lettered (Elasticsearch was busy, the document is fine). Once one write of a store ran out of
  retries, later writes of the same store try once and defer at once, so an overloaded cluster
  costs one retry schedule per cycle, not one per group.
- Any other refusal (a 4xx: mapping conflicts, unparseable values) is permanent and the document goes
  to the dead-letter index `<prefix>-deadletter` with the reason. A dead-letter record that cannot be
  written either defers its document too.
- An article whose alert-queue entry could not be written is deferred as well (never indexed without
  it: no rule would see it).

The document `_id` is the article id, and an article that is already stored is rewritten in the
concrete index that holds it (it may have rolled over), so re-runs never duplicate.

Before an article whose content changed is rewritten, its stored version is kept in
`<prefix>-revisions` (newsflow.index.revisions): one mget per write for the ids being updated only
(the store remembers the content hashes its lookups saw, so unchanged rewrites cost nothing). An
article whose previous version could not be kept is deferred like the others: never overwritten
without its revision.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import elastic_transport
import elasticsearch
from elasticsearch import Elasticsearch, helpers

from ingest.dedupe import StoredArticle
from newsflow.core.errors import IndexError_
from newsflow.core.es import translate_errors
from newsflow.core.models import Article, format_utc, parse_utc, utc_now
from newsflow.core.settings import Settings
from newsflow.index.documents import index_documents
from newsflow.index.entity_query import rewrite_entity_fields
from newsflow.index.revisions import RevisionWriter
from newsflow.index.setup import ensure_indices, names_for

log = logging.getLogger(__name__)

LOOKUP_CHUNK = 1_000  # ids per lookup search
MAX_RESULT_WINDOW = 10_000  # Elasticsearch's default index.max_result_window


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What one write did."""

    indexed: int = 0  # documents Elasticsearch accepted (new or rewritten)
    dead_lettered: int = 0  # documents refused for good, now in the dead-letter index
    retried: int = 0  # item retries after 429/5xx or a failed request
    errors: tuple[str, ...] = ()  # one line per refused document (and per dead-letter failure)
    deferred: tuple[str, ...] = ()  # ids neither indexed nor dead-lettered: the caller must spool them
    deferred_reason: str = ""  # why (the last refusal), for the cycle's report
    revisions: int = 0  # previous versions of updated articles kept in <prefix>-revisions

    def __add__(self, other: BulkResult) -> BulkResult:
        """Both writes together (a cycle writes group by group)."""
        return BulkResult(self.indexed + other.indexed, self.dead_lettered + other.dead_lettered,
                          self.retried + other.retried, self.errors + other.errors,
                          self.deferred + other.deferred, other.deferred_reason or self.deferred_reason,
                          self.revisions + other.revisions)


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """One document Elasticsearch refused."""

    doc_id: str
    index: str
    status: int
    error_type: str
    reason: str
    document: Mapping[str, Any]

    @property
    def retryable(self) -> bool:
        # 0: the request itself failed (reset, timeout): Elasticsearch never judged the document.
        return self.status == 429 or self.status >= 500 or self.status == 0

    def describe(self) -> str:
        if self.status == 0:
            return f"article {self.doc_id}: no answer ({self.error_type}: {self.reason})"
        return f"article {self.doc_id}: HTTP {self.status} {self.error_type}: {self.reason}"


class ArticleStore:
    """Reads and writes articles through the `<prefix>-articles` alias."""

    def __init__(
        self, client: Elasticsearch, settings: Settings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.client = client
        self.settings = settings
        self.names = names_for(settings)
        self._sleep = sleep
        self._ready = False
        # Where this store last saw each id (None: not stored). A cycle looks its batch up once to
        # classify it; writing the same batch then needs no second lookup. Ids written through the
        # alias are forgotten, since the alias decides their concrete index.
        self._seen: dict[str, str | None] = {}
        # Set once a write ran out of retries: later writes try once (see the module docstring).
        self._overloaded = False
        # The stored content hash of each id a lookup (or a write) saw: a write of the same content
        # keeps no revision and reads nothing back.
        self._hashes: dict[str, str] = {}
        self._revisions = RevisionWriter(client, settings)

    # --- reads ---
    def locate(self, ids: Sequence[str]) -> dict[str, str]:
        """id -> the concrete index that holds it, for the ids that are stored."""
        unknown = [doc_id for doc_id in dict.fromkeys(ids) if doc_id not in self._seen]
        if unknown:
            self._lookup(unknown, fields=())
        return {doc_id: index for doc_id in ids if (index := self._seen.get(doc_id))}

    def stored_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """id -> stored content_hash, for the ids that exist."""
        found = self._lookup(ids, fields=("content_hash",))
        return {doc_id: str(hit["_source"].get("content_hash") or "") for doc_id, hit in found.items()}

    def stored_articles(self, ids: Sequence[str]) -> dict[str, StoredArticle]:
        """id -> what ingest's dedupe decides on (content hash, owning feed, stored date), for the
        ids that exist."""
        found = self._lookup(ids, fields=("content_hash", "feed_url", "published_at"))
        stored: dict[str, StoredArticle] = {}
        for doc_id, hit in found.items():
            source = hit["_source"]
            published = source.get("published_at")
            stored[doc_id] = StoredArticle(
                content_hash=str(source.get("content_hash") or ""),
                feed_url=str(source.get("feed_url") or ""),
                published_at=parse_utc(published) if published else None,
            )
        return stored

    def _lookup(self, ids: Sequence[str], fields: Sequence[str] | None) -> dict[str, dict[str, Any]]:
        """Hits by id; `fields` () for no source, None for the whole document."""
        # mget cannot span the indices behind an alias; an ids query over the alias can.
        unique = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        with translate_errors(self.settings.es_url_redacted):
            for start in range(0, len(unique), LOOKUP_CHUNK):
                chunk = unique[start:start + LOOKUP_CHUNK]
                source: dict[str, Any] = {}  # None: the whole document
                if fields is not None:
                    source = {"source_includes": list(fields)} if fields else {"source": False}
                response = self.client.search(
                    index=self.names.alias, query={"ids": {"values": chunk}}, size=len(chunk),
                    ignore_unavailable=True, allow_no_indices=True, **source,
                )
                for hit in response["hits"]["hits"]:
                    found[hit["_id"]] = hit
                    stored_hash = (hit.get("_source") or {}).get("content_hash")
                    if stored_hash:
                        self._hashes[hit["_id"]] = str(stored_hash)
                for doc_id in chunk:
                    self._seen[doc_id] = found[doc_id]["_index"] if doc_id in found else None
        return found

    def alert_pending(self, limit: int = MAX_RESULT_WINDOW) -> list[Article]:
        """The stored articles not yet matched against the alert rules, in the order they were queued.

        Queue entries whose article is not (yet) stored are left for a later cycle: the article was
        queued just before a crash, and its feed will bring it again. Entries older than a week with
        no article (dead-lettered) are dropped.
        """
        with translate_errors(self.settings.es_url_redacted):
            self.client.indices.refresh(index=self.names.alert_queue, ignore_unavailable=True)
            response = self.client.search(
                index=self.names.alert_queue, size=min(limit, MAX_RESULT_WINDOW),
                sort=[{"queued_at": "asc"}, {"_doc": "asc"}], ignore_unavailable=True,
                allow_no_indices=True,
            )
        queued = {hit["_id"]: hit["_source"]["queued_at"] for hit in response["hits"]["hits"]}
        stored = self._lookup(list(queued), fields=None)
        stale_before = utc_now() - timedelta(days=7)
        abandoned = [doc_id for doc_id, queued_at in queued.items()
                     if doc_id not in stored and parse_utc(queued_at) < stale_before]
        if abandoned:
            log.warning("dropping %d alert-queue entries whose article was never stored", len(abandoned))
            self.clear_alert_pending(abandoned)
        return [Article.from_document(doc_id, stored[doc_id]["_source"])
                for doc_id in queued if doc_id in stored]

    def _queue_for_alerts(self, ids: Sequence[str]) -> BulkResult:
        """Record ids as not yet matched against the alert rules (before the articles are written).
        The ids whose entry could not be written come back deferred: their articles wait too."""
        now = format_utc(utc_now())
        actions = [{"_op_type": "index", "_index": self.names.alert_queue, "_id": doc_id,
                    "_source": {"queued_at": now}} for doc_id in ids]
        with translate_errors(self.settings.es_url_redacted):
            outcome = self._bulk_with_retries(actions)
        failed = [*outcome.permanent, *outcome.deferred]
        for failure in outcome.permanent:  # a queue entry is tiny and fixed: this is not the article's fault
            log.error("alert queue refused %s; the article waits in the spool", failure.describe())
        return BulkResult(
            retried=outcome.retried, errors=tuple(f"alert queue: {f.describe()}" for f in failed),
            deferred=tuple(f.doc_id for f in failed),
            deferred_reason=f"alert queue: {failed[-1].describe()}" if failed else "",
        )

    def count(self, query: str = "*") -> int:
        """How many articles match a Lucene query string (entity fields: every spelling)."""
        body = {"match_all": {}} if query.strip() in ("", "*") else {
            "query_string": {"query": rewrite_entity_fields(query)}}
        with translate_errors(self.settings.es_url_redacted, query=query):
            response = self.client.count(
                index=self.names.alias, query=body, ignore_unavailable=True, allow_no_indices=True,
            )
        return int(response["count"])

    def dead_letters(self, size: int = 100) -> list[dict[str, Any]]:
        """The newest dead-letter records (for inspection and tests)."""
        with translate_errors(self.settings.es_url_redacted):
            response = self.client.search(
                index=self.names.deadletter, size=size, sort=[{"failed_at": "desc"}],
                ignore_unavailable=True, allow_no_indices=True,
            )
        return [hit["_source"] for hit in response["hits"]["hits"]]

    def refresh(self) -> None:
        """Make every write so far visible to searches (and to the alert rules' matching)."""
        with translate_errors(self.settings.es_url_redacted):
            self.client.indices.refresh(index=[self.names.alias, self.names.deadletter, self.names.revisions],
                                        ignore_unavailable=True, allow_no_indices=True)

    # --- writes ---
    def write(self, articles: Sequence[Article], *, alert_pending: bool = True) -> BulkResult:
        """Index articles (new ones through the alias, stored ones where they live).

        Raises ElasticsearchUnavailable when the cluster cannot be reached: the caller spools.
        """
        return self.write_prepared(index_documents(articles, self.settings.index),
                                   alert_pending=alert_pending)

    def write_prepared(self, prepared: Mapping[str, Mapping[str, Any]], *,
                       alert_pending: bool = True) -> BulkResult:
        """Index the documents `newsflow.index.documents.index_documents` built (id -> document), as
        `write` does; the caller keeps them for the alert rules' matching."""
        documents = dict(prepared)
        if not (alert_pending and documents):
            return self.write_documents(documents)
        self._ensure_ready_translated()
        # The previous versions first, then the queue: an article is rewritten only once both are kept.
        kept = self._keep_revisions(documents)
        for doc_id in kept.deferred:
            documents.pop(doc_id, None)
        # Queued first: a crash between the two writes leaves a queue entry and no article (the
        # feed brings the article again), never an article that no rule will see.
        queued = self._queue_for_alerts(list(documents))
        for doc_id in queued.deferred:
            documents.pop(doc_id, None)
        written = self._write_articles(documents)
        return written + kept + BulkResult(retried=queued.retried, errors=queued.errors,
                                           deferred=queued.deferred, deferred_reason=queued.deferred_reason)

    def write_documents(self, documents: Mapping[str, Mapping[str, Any]]) -> BulkResult:
        """Index ready-made documents by id (keeping the previous version of each updated one);
        `write` is the way for Articles."""
        if not documents:
            return BulkResult()
        self._ensure_ready_translated()
        remaining = dict(documents)
        kept = self._keep_revisions(remaining)
        for doc_id in kept.deferred:
            remaining.pop(doc_id, None)
        return self._write_articles(remaining) + kept

    def _keep_revisions(self, documents: Mapping[str, Mapping[str, Any]]) -> BulkResult:
        """Write the stored versions that `documents` replace with other content to the revisions
        index; the articles whose revision could not be written come back deferred."""
        if not documents:
            return BulkResult()
        with translate_errors(self.settings.es_url_redacted):
            located = self.locate(list(documents))
            # An id whose stored hash is known and the same is rewritten unchanged: nothing to keep.
            updating = {doc_id: index for doc_id, index in located.items()
                        if self._hashes.get(doc_id) != documents[doc_id].get("content_hash")}
            if not updating:
                return BulkResult()
            previous = self._revisions.previous_versions(updating)
            revisions = self._revisions.numbered(previous, documents, utc_now())
            if not revisions:
                return BulkResult()
            actions = [{"_op_type": "index", "_index": self._revisions.names.alias, "_id": revision_id,
                        "_source": document} for revision_id, document in revisions.items()]
            outcome = self._bulk_with_retries(actions)
            failed = {f.doc_id: f for f in (*outcome.permanent, *outcome.deferred)}
            self._revisions.prune({rid: doc for rid, doc in revisions.items() if rid not in failed})
        deferred = tuple(str(revisions[rid]["article_id"]) for rid in failed)
        messages = tuple(f"revisions index refused the previous version of article "
                         f"{revisions[rid]['article_id']}, the article waits in the spool: {f.describe()}"
                         for rid, f in failed.items())
        for message in messages:
            log.warning(message)
        return BulkResult(retried=outcome.retried, errors=messages, deferred=deferred,
                          deferred_reason=messages[-1] if messages else "", revisions=outcome.indexed)

    def _write_articles(self, documents: Mapping[str, Mapping[str, Any]]) -> BulkResult:
        if not documents:
            return BulkResult()
        with translate_errors(self.settings.es_url_redacted):
            self._ensure_ready()
            located = self.locate(list(documents))
            actions = [
                {"_op_type": "index", "_index": located.get(doc_id, self.names.alias), "_id": doc_id,
                 "_source": document}
                for doc_id, document in documents.items()
            ]
            for doc_id in documents:
                if doc_id not in located:
                    self._seen.pop(doc_id, None)
            outcome = self._bulk_with_retries(actions)
            letters = self._dead_letter(outcome.permanent)
        for failure in outcome.permanent:
            if failure.doc_id not in letters.deferred:
                log.warning("dead-lettered %s", failure.describe())
        for failure in outcome.deferred:
            log.warning("deferred (to be spooled) %s", failure.describe())
        deferred = tuple(f.doc_id for f in outcome.deferred) + letters.deferred
        unwritten = {*deferred, *(f.doc_id for f in outcome.permanent)}
        for doc_id, document in documents.items():
            if doc_id not in unwritten and document.get("content_hash"):
                self._hashes[doc_id] = str(document["content_hash"])
        reason = letters.deferred_reason or (outcome.deferred[-1].describe() if outcome.deferred else "")
        return BulkResult(
            indexed=outcome.indexed, dead_lettered=letters.dead_lettered,
            retried=outcome.retried + letters.retried,
            errors=tuple(f.describe() for f in (*outcome.permanent, *outcome.deferred)) + letters.errors,
            deferred=deferred, deferred_reason=reason,
        )

    def clear_alert_pending(self, ids: Sequence[str]) -> None:
        """Mark articles as matched against the alert rules: their queue entries are deleted."""
        actions = [{"_op_type": "delete", "_index": self.names.alert_queue, "_id": doc_id}
                   for doc_id in dict.fromkeys(ids)]
        if not actions:
            return
        with translate_errors(self.settings.es_url_redacted):
            _, outcome = helpers.bulk(self.client, actions, raise_on_error=False, stats_only=False,
                                      chunk_size=self.settings.index.bulk_chunk_size)
        errors = [e for e in outcome if not _is_not_found(e)] if isinstance(outcome, list) else []
        if errors:
            raise IndexError_(
                f"could not clear the alert queue for {len(errors)} article(s), first: {errors[0]!r}; "
                "they will be matched again next cycle (alerts are sent once per story regardless)"
            )

    def _ensure_ready(self) -> None:
        # Writing through a missing alias would create nothing (auto_create_index is off) and fail
        # every item: set the indices up first.
        if not self._ready:
            if not (self.client.indices.exists_alias(name=self.names.alias)
                    and self.client.indices.exists(index=[self.names.alert_queue, self.names.revisions])):
                ensure_indices(self.client, self.settings)
            self._ready = True

    def _ensure_ready_translated(self) -> None:
        with translate_errors(self.settings.es_url_redacted):
            self._ensure_ready()

    def _bulk_with_retries(self, actions: list[dict[str, Any]]) -> _Outcome:
        """Send actions, retrying 429/5xx items and failed requests with exponential backoff.

        Index operations by id are idempotent, so resending an action whose request failed on the
        wire (it may or may not have been applied) is safe.
        """
        by_id = {action["_id"]: action for action in actions}
        index_settings = self.settings.index
        retries = 0 if self._overloaded else index_settings.bulk_retries
        indexed = retried = 0
        pending = actions
        permanent: list[ItemFailure] = []
        for attempt in range(retries + 1):
            last = attempt == retries
            to_retry: list[ItemFailure] = []
            answered: set[str] = set()
            try:
                for ok, item in helpers.streaming_bulk(
                    self.client, pending, chunk_size=index_settings.bulk_chunk_size,
                    max_chunk_bytes=index_settings.bulk_max_bytes, raise_on_error=False,
                    raise_on_exception=False, max_retries=0, yield_ok=True,
                ):
                    if ok:
                        indexed += 1
                        answered.add(str(next(iter(item.values())).get("_id")))
                        continue
                    failure = _failure(item, by_id)
                    answered.add(failure.doc_id)
                    (to_retry if failure.retryable else permanent).append(failure)
            except elastic_transport.TlsError:
                raise  # a configuration problem, not load: translate_errors explains it
            except (elasticsearch.ConnectionError, elasticsearch.ConnectionTimeout) as exc:
                # The request in flight (and those not sent yet) got no answer: resend them.
                to_retry.extend(
                    _request_failure(action, exc) for action in pending if action["_id"] not in answered)
            if not to_retry:
                break
            if last:
                self._overloaded = True
                return _Outcome(indexed, retried, permanent, to_retry)
            retried += len(to_retry)
            delay = min(index_settings.bulk_backoff * 2 ** attempt, index_settings.bulk_max_backoff)
            log.info("retrying %d document(s) refused with 429/5xx or a failed request in %.1f s",
                     len(to_retry), delay)
            self._sleep(delay)
            pending = [by_id[failure.doc_id] for failure in to_retry]
        return _Outcome(indexed, retried, permanent, [])

    def _dead_letter(self, failures: Sequence[ItemFailure]) -> BulkResult:
        """Record permanent refusals in the dead-letter index; those it cannot take come back deferred."""
        if not failures:
            return BulkResult()
        failed_at = format_utc(utc_now())
        actions = [
            {"_op_type": "index", "_index": self.names.deadletter, "_id": failure.doc_id,
             "_source": {
                 "article_id": failure.doc_id, "failed_at": failed_at, "reason": failure.reason,
                 "error_type": failure.error_type, "status": failure.status, "index": failure.index,
                 "url": str(failure.document.get("url") or ""),
                 "document": json.dumps(failure.document, ensure_ascii=False, default=str),
             }}
            for failure in failures
        ]
        outcome = self._bulk_with_retries(actions)
        refused = [*outcome.permanent, *outcome.deferred]
        messages = tuple(f"dead-letter index refused a record too, its article is spooled: {f.describe()}"
                         for f in refused)
        for message in messages:
            log.error(message)
        return BulkResult(
            dead_lettered=outcome.indexed, retried=outcome.retried, errors=messages,
            deferred=tuple(f.doc_id for f in refused), deferred_reason=messages[-1] if messages else "",
        )


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What `_bulk_with_retries` did: accepted count, retries, refusals for good, and the items
    still refused with 429/5xx (or never answered) after the last retry."""

    indexed: int
    retried: int
    permanent: list[ItemFailure]
    deferred: list[ItemFailure]


def _request_failure(action: Mapping[str, Any], exc: Exception) -> ItemFailure:
    """An action whose bulk request failed on the wire (status 0: never judged by Elasticsearch)."""
    return ItemFailure(doc_id=str(action["_id"]), index=str(action.get("_index") or ""), status=0,
                       error_type=type(exc).__name__, reason=str(exc) or "no answer",
                       document=action.get("_source") or {})


def _failure(item: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> ItemFailure:
    """One failed bulk item (either an item error or a whole-request error spread over its items)."""
    info = next(iter(item.values()))
    doc_id = str(info.get("_id"))
    error = info.get("error")
    if isinstance(error, dict):
        error_type = str(error.get("type") or "error")
        reason = str(error.get("reason") or "")
        caused_by = error.get("caused_by")
        if isinstance(caused_by, dict) and caused_by.get("reason"):
            reason = f"{reason}: {caused_by['reason']}"
    else:
        exception = info.get("exception")
        error_type = type(exception).__name__ if exception is not None else "error"
        reason = str(error or "")
    action = by_id.get(doc_id, {})
    return ItemFailure(
        doc_id=doc_id, index=str(info.get("_index") or action.get("_index") or ""),
        status=int(info.get("status") or 0), error_type=error_type, reason=reason,
        document=action.get("_source") or {},
    )


def _is_not_found(error: Any) -> bool:
    # Deleting a queue entry that is already gone (another run cleared it) is success.
    return isinstance(error, dict) and error.get("delete", {}).get("status") == 404
