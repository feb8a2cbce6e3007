"""Matching new articles against every saved rule, in batches, and recording one alert per (rule, story).

One percolate request carries many article documents (`percolate_batch_size`); each matching rule
comes back with `_percolator_document_slot`, the positions of the documents it matched. Matching
rules are paged through (sorted by name, `search_after`) if a batch matches more than 10,000 of them.
A few batches are percolated at once (`percolate_concurrency`), each on its own search thread.
Recording is idempotent (see alerts.store): copies of a story and re-runs are counted as duplicates
and never alert again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from alerts.records import AlertRecord, new_record
from alerts.rules import Rule, rules_index
from alerts.store import AlertStore, Versioned
from index.client import translate_errors
from index.documents import index_document
from newsflow.models import Article, utc_now
from newsflow.settings import Settings

log = logging.getLogger(__name__)

# Matching rules per page. Every page runs the whole percolation again (the query phase cannot resume),
# so one page should hold them all: 10,000 is Elasticsearch's default max_result_window.
_RULES_PAGE = 10_000
# Internal fields no rule can usefully query; left out to keep percolate requests small.
_NOT_MATCHED = ("story_signature", "story_bands")


@dataclass(frozen=True, slots=True)
class MatchResult:
    matched: int = 0  # rule × article hits
    created: int = 0  # new alert records (each will be delivered)
    duplicates: int = 0  # hits on a story the rule had already alerted on
    # With claim_until: the new records, held for this run to deliver (alerts.delivery.deliver_claimed).
    claimed: tuple[Versioned, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    rule: Rule
    article: Article


def match_articles(
    client: Elasticsearch, settings: Settings, articles: Sequence[Article], *,
    now: datetime | None = None, claim_until: datetime | None = None,
) -> MatchResult:
    """Match articles against all rules of the prefix and record the new alerts (pending delivery).

    With `claim_until`, the new records are created already held for delivery by the caller until
    then, and returned in `MatchResult.claimed` for `deliver_claimed`."""
    unique = list({article.id: article for article in articles}.values())
    if not unique:
        return MatchResult()
    now = now or utc_now()
    store = AlertStore(client, settings)
    matched = created = duplicates = 0
    claimed: list[Versioned] = []
    store_ready = False
    size = max(1, settings.alerts.percolate_batch_size)
    batches = [unique[start:start + size] for start in range(0, len(unique), size)]
    # Percolation is Elasticsearch's work, one search thread per request: a few requests in flight
    # use its other cores. Recording stays in batch order, so the first copy of a story still wins.
    with ThreadPoolExecutor(max(1, settings.alerts.percolate_concurrency)) as pool:
        for found in pool.map(lambda batch: list(percolate(client, settings, batch)), batches):
            records: dict[str, AlertRecord] = {}
            for match in found:
                record = new_record(match.rule, match.article, now)
                # Two copies of one story in the same batch: the first (in article order) is kept.
                if record.id in records:
                    duplicates += 1
                else:
                    records[record.id] = record
            matched += len(found)
            if records:
                if not store_ready:
                    store.ensure_exists()
                    store_ready = True
                new, existing = store.create_claimed(list(records.values()), until=claim_until)
                created += len(new)
                duplicates += existing
                if claim_until is not None:
                    claimed += new
    log.info("alerts: %d articles matched %d times: %d new alerts, %d already alerted stories",
             len(unique), matched, created, duplicates)
    return MatchResult(matched=matched, created=created, duplicates=duplicates, claimed=tuple(claimed))


def percolate(
    client: Elasticsearch, settings: Settings, articles: Sequence[Article], *,
    page_size: int = _RULES_PAGE,
) -> Iterator[Match]:
    """Every (rule, article) pair of one batch; a rule's articles come in batch order."""
    if not articles:
        return
    documents = [match_document(article, settings) for article in articles]
    index = rules_index(settings)
    search_after: list[Any] | None = None
    while True:
        with translate_errors(settings.es_url_redacted):
            response = client.options(ignore_status=404).search(
                index=index,
                # Filter context: no scoring, and the percolator can skip rules whose terms are absent.
                query={"constant_score": {"filter": {
                    "percolate": {"field": "query", "documents": documents}}}},
                size=page_size,
                sort=[{"rule.name": "asc"}],
                search_after=search_after,
                source_includes=["rule"],  # hits carry _percolator_document_slot in "fields"
                track_total_hits=False,
            )
        if response.get("status") == 404 or "hits" not in response:
            return  # no rules index: nothing to match
        hits = response["hits"]["hits"]
        for hit in hits:
            rule = Rule.from_source(hit["_source"])
            slots = (hit.get("fields") or {}).get("_percolator_document_slot") or []
            for slot in sorted(int(s) for s in slots):
                yield Match(rule, articles[slot])
        if len(hits) < page_size:
            return
        search_after = hits[-1]["sort"]


def match_document(article: Article, settings: Settings) -> dict[str, Any]:
    """The article as it is indexed (truncation, language copies), so rules match what search finds."""
    document = index_document(article, settings.index)
    for name in _NOT_MATCHED:
        document.pop(name, None)
    return document
