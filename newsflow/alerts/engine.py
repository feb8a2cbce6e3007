"""Matching new articles against every saved rule, in batches, and recording one alert per (rule, story).

One percolate request carries many article documents (`percolate_batch_size`); each matching rule
comes back with `_percolator_document_slot`, the positions of the documents it matched. Matching
rules are paged through (sorted by name, `search_after`) if a batch matches more than 10,000 of them.
A few batches are percolated at once (`percolate_concurrency`), each on its own search thread.
Recording is idempotent (see newsflow.alerts.store): copies of a story and re-runs are counted as duplicates
and never alert again. A rule with `on_edit` also gets one record per edit of a matching article: the
revision its current content replaced (newsflow/index/revisions.py, looked up once per call and only
when such a rule matched), recorded under (rule, story, revision). Every run records under the
prefix's recording lock (newsflow.alerts.lock).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from newsflow.alerts.delivery import DeliveryResult, MergeStories, Recorded, deliver_then_record
from newsflow.alerts.lock import RecordingLock
from newsflow.alerts.records import AlertRecord, AlertRevision, NewRecords, merged_records
from newsflow.alerts.rules import Rule, rules_index
from newsflow.alerts.store import AlertStore, Versioned
from newsflow.core.es import translate_errors
from newsflow.core.models import Article, utc_now
from newsflow.core.settings import Settings
from newsflow.index.documents import index_document
from newsflow.index.revisions import Revision, replaced_revisions
from newsflow.index.timeline import StoryCopy, compare

log = logging.getLogger(__name__)

# Matching rules per page. Every page runs the whole percolation again (the query phase cannot resume),
# so one page should hold them all: 10,000 is Elasticsearch's default max_result_window.
_RULES_PAGE = 10_000
# Internal fields no rule can usefully query; left out to keep percolate requests small.
_NOT_MATCHED = ("story_signature", "story_bands")

# Article id -> its index document, as `newsflow.index.documents.index_documents` built it for the
# write: matched as it is instead of being built again.
Documents = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class MatchResult:
    matched: int = 0  # rule × article hits
    created: int = 0  # new alert records (each will be delivered)
    duplicates: int = 0  # hits on a story the rule had already alerted on
    # With claim_until: the new records, held for this run to deliver
    # (newsflow.alerts.delivery.deliver_claimed).
    claimed: tuple[Versioned, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    rule: Rule
    article: Article


def match_articles(
    client: Elasticsearch, settings: Settings, articles: Sequence[Article], *,
    now: datetime | None = None, claim_until: datetime | None = None, documents: Documents | None = None,
    merge_stories: MergeStories | None = None,
) -> MatchResult:
    """Match articles against all rules of the prefix and record the new alerts (pending delivery).

    With `claim_until`, the new records are created already held for delivery by the caller until
    then, and returned in `MatchResult.claimed` for `deliver_claimed`. Two writes per alert (this
    one and the delivery status); `match_and_deliver` needs one, where delivery can happen at once.
    `documents`: the articles' index documents, when the caller built them already (see find_alerts).
    `merge_stories`: called under the recording lock before anything is recorded, it merges stories
    founded at the same moment as a copy elsewhere (newsflow.alerts.story_merge); the records move
    with their stories, and one whose story has a record under another of its ids is a duplicate."""
    now = now or utc_now()
    found = find_alerts(client, settings, articles, now, documents=documents)
    if not found.records and merge_stories is None:
        return MatchResult(matched=found.matched, duplicates=found.duplicates)
    store = AlertStore(client, settings)
    store.ensure_exists()
    with RecordingLock(client, settings).held():
        records = found.records
        if merge_stories is not None:
            records, aliases = merged_records(records, merge_stories())
            if aliases:
                recorded = store.existing([i for ids in aliases.values() for i in ids])
                records = [r for r in records if recorded.isdisjoint(aliases.get(r.id, ()))]
        new, existing = store.create_claimed(records, until=claim_until)
    duplicates = found.duplicates + existing + len(found.records) - len(records)
    if found.matched:
        log.info("alerts: %d articles matched %d times: %d new alerts, %d already alerted stories",
                 found.articles, found.matched, len(new), duplicates)
    return MatchResult(matched=found.matched, created=len(new), duplicates=duplicates,
                       claimed=tuple(new) if claim_until is not None else ())


def match_and_deliver(
    client: Elasticsearch, settings: Settings, articles: Sequence[Article], *,
    now: datetime | None = None, down: dict[str, str] | None = None,
    timer: Callable[[str], AbstractContextManager[object]] | None = None,
    documents: Documents | None = None, merge_stories: MergeStories | None = None,
) -> tuple[MatchResult, DeliveryResult]:
    """Match articles against all rules, deliver the new alerts at once, then record them: one write
    per alert, with its delivery status (newsflow.alerts.delivery.deliver_then_record).

    `down`: receivers found down earlier in this run, as for `deliver_claimed`. `timer`: times the
    "match" and "deliver" parts (a cycle's stage clock). Raises AlertsBusy if another run keeps the
    recording lock past `alerts.lock_wait`: nothing was delivered then.
    `documents`: the articles' index documents, when the caller built them already (see find_alerts).
    `merge_stories`: as for match_articles."""
    now = now or utc_now()
    timed = timer or _untimed
    with timed("match"):
        found = find_alerts(client, settings, articles, now, documents=documents)
    with timed("deliver"):
        recorded = deliver_then_record(client, settings, found.records, now=now,
                                       down={} if down is None else down, merge_stories=merge_stories)
    return recorded_result(found, recorded), recorded.delivery


def _untimed(_name: str) -> AbstractContextManager[object]:
    return nullcontext()


def recorded_result(found: FoundAlerts, recorded: Recorded) -> MatchResult:
    """The counts of `find_alerts` then `deliver_then_record` (logged when anything matched)."""
    duplicates = found.duplicates + recorded.already_recorded
    if found.matched:
        log.info("alerts: %d articles matched %d times: %d new alerts, %d already alerted stories",
                 found.articles, found.matched, recorded.created, duplicates)
    return MatchResult(matched=found.matched, created=recorded.created, duplicates=duplicates)


@dataclass(frozen=True, slots=True)
class FoundAlerts:
    articles: int  # distinct articles matched
    matched: int  # rule × article hits
    duplicates: int  # hits on a story another article of the same call already alerted for the rule
    records: list[AlertRecord]  # one per (rule, story): the first copy in article order


def find_alerts(
    client: Elasticsearch, settings: Settings, articles: Sequence[Article], now: datetime, *,
    documents: Documents | None = None,
) -> FoundAlerts:
    """Percolate the articles in batches and make one alert record per (rule, story). Writes nothing.

    `documents` (article id -> index document): the documents the store wrote for these articles,
    matched as they are; an article without one gets its document built here."""
    unique = list({article.id: article for article in articles}.values())
    if not unique:
        return FoundAlerts(0, 0, 0, [])
    matched = duplicates = 0
    records: dict[str, AlertRecord] = {}
    edits: list[Match] = []  # the matches of `on_edit` rules
    new_records = NewRecords(now)
    size = max(1, settings.alerts.percolate_batch_size)
    batches = [unique[start:start + size] for start in range(0, len(unique), size)]
    # Percolation is Elasticsearch's work, one search thread per request: a few requests in flight
    # use its other cores. Results are taken in batch order, so the first copy of a story wins.
    with ThreadPoolExecutor(max(1, settings.alerts.percolate_concurrency)) as pool:
        for found in pool.map(lambda batch: list(percolate(client, settings, batch, documents=documents)),
                              batches):
            matched += len(found)
            for match in found:
                record = new_records.make(match.rule, match.article)
                if record.id in records:
                    duplicates += 1
                else:
                    records[record.id] = record
                if match.rule.on_edit:
                    edits.append(match)
    if edits:
        replaced = replaced_revisions(client, settings,
                                      {m.article.id: m.article.content_hash for m in edits})
        for match in edits:
            revision = replaced.get(match.article.id)
            if revision is None:
                continue  # a new article (or one unchanged since): no edit to alert on
            record = new_records.make(match.rule, match.article, alert_revision(revision, match.article))
            records.setdefault(record.id, record)
    return FoundAlerts(len(unique), matched, duplicates, list(records.values()))


def alert_revision(revision: Revision, article: Article) -> AlertRevision:
    """What an `--on-edit` alert says about the edit: the previous version and what changed. Pure."""
    before = StoryCopy(id=revision.article_id, title=revision.title, summary=revision.summary,
                       body=revision.body, url=revision.url, source=revision.source, feed_url="",
                       credit=(), distributor=(), authors=(), published_at="", ingested_at="")
    after = StoryCopy(id=article.id, title=article.title, summary=article.summary, body=article.body,
                      url=article.url, source=article.source, feed_url="", credit=(), distributor=(),
                      authors=(), published_at="", ingested_at="")
    changes = compare(before, after)
    return AlertRevision(id=revision.id, number=revision.number, previous_title=revision.title,
                         previous_ingested_at=revision.ingested_at, replaced_at=revision.replaced_at,
                         title_changed=changes.title is not None,
                         paragraphs_added=len(changes.added), paragraphs_removed=len(changes.removed),
                         paragraphs_edited=len(changes.edited))


def percolate(
    client: Elasticsearch, settings: Settings, articles: Sequence[Article], *,
    page_size: int = _RULES_PAGE, documents: Documents | None = None,
) -> Iterator[Match]:
    """Every (rule, article) pair of one batch; a rule's articles come in batch order. `documents`:
    as for find_alerts."""
    if not articles:
        return
    prepared = documents or {}
    matched = [matched_fields(prepared[article.id]) if article.id in prepared
               else match_document(article, settings) for article in articles]
    index = rules_index(settings)
    search_after: list[Any] | None = None
    while True:
        with translate_errors(settings.es_url_redacted):
            response = client.options(ignore_status=404).search(
                index=index,
                # Filter context: no scoring, and the percolator can skip rules whose terms are absent.
                query={"constant_score": {"filter": {
                    "percolate": {"field": "query", "documents": matched}}}},
                size=page_size,
                sort=[{"rule.name": "asc"}],
                search_after=search_after,
                # Ids and versions only (hits carry _percolator_document_slot in "fields"): the rules
                # come from a cache, so Elasticsearch need not load and send each matching rule's
                # source for every batch.
                source=False,
                version=True,
                track_total_hits=False,
            )
        if response.get("status") == 404 or "hits" not in response:
            return  # no rules index: nothing to match
        hits = response["hits"]["hits"]
        rules = _RULES.get(client, settings, index, [(hit["_id"], hit["_version"]) for hit in hits])
        for hit in hits:
            rule = rules.get(hit["_id"])
            if rule is None:
                continue  # removed since it matched
            slots = (hit.get("fields") or {}).get("_percolator_document_slot") or []
            for slot in sorted(int(s) for s in slots):
                yield Match(rule, articles[slot])
        if len(hits) < page_size:
            return
        search_after = hits[-1]["sort"]


class _RuleCache:
    """Rules by (index, name), with the document version they were read at. A rule saved again
    (a new query or channels under the same name) has a new version and is read again."""

    def __init__(self) -> None:
        self._rules: dict[tuple[str, str], tuple[int, Rule]] = {}
        self._lock = threading.Lock()

    def get(self, client: Elasticsearch, settings: Settings, index: str,
            wanted: Sequence[tuple[str, int]]) -> dict[str, Rule]:
        found: dict[str, Rule] = {}
        missing: list[str] = []
        with self._lock:
            for name, version in wanted:
                cached = self._rules.get((index, name))
                if cached is not None and cached[0] == version:
                    found[name] = cached[1]
                else:
                    missing.append(name)
        for start in range(0, len(missing), _RULES_PAGE):
            with translate_errors(settings.es_url_redacted):
                response = client.mget(index=index, ids=missing[start:start + _RULES_PAGE],
                                       source_includes=["rule"], filter_path="docs._id,docs._version,"
                                       "docs.found,docs._source")
            with self._lock:
                for doc in response.get("docs") or ():
                    if doc.get("found"):
                        rule = Rule.from_source(doc["_source"])
                        self._rules[(index, doc["_id"])] = (doc["_version"], rule)
                        found[doc["_id"]] = rule
        return found


_RULES = _RuleCache()


def match_document(article: Article, settings: Settings) -> dict[str, Any]:
    """The article as it is indexed (truncation, language copies), so rules match what search finds."""
    return matched_fields(index_document(article, settings.index))


def matched_fields(document: Mapping[str, Any]) -> dict[str, Any]:
    """An index document without the fields no rule matches (the document itself is left as it is)."""
    return {name: value for name, value in document.items() if name not in _NOT_MATCHED}
