"""Re-enrichment of stored articles after a model, rule or data change (`newsflow reenrich`).

Scrolls the articles alias with search_after (a point in time keeps the view stable while the
documents are updated), rebuilds each Article from its document, runs the Enricher, and writes back
only the enrichment fields with bulk partial updates to the concrete index each hit came from.
Story ids are left alone: re-clustering would change the ids alerts have already been sent for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from elasticsearch import Elasticsearch, helpers

from enrich.pipeline import Enricher
from enrich.spellings import with_keys
from newsflow.core.errors import IndexError_
from newsflow.core.es import translate_errors
from newsflow.core.models import Article
from newsflow.core.settings import Settings

ENRICHMENT_FIELDS = (
    "language", "persons", "organizations", "locations", "persons_alias", "organizations_alias",
    "locations_alias", "geo", "credit", "distributor", "topics", "topic_scores", "enrichment_version",
)


def enrichment_update(article: Article) -> dict[str, Any]:
    """The partial document holding only the enrichment fields of an article; the entity spellings
    with their keys, as newsflow.index.documents.index_document writes them."""
    document = article.to_document()
    for facet in ("persons", "organizations", "locations"):
        document[f"{facet}_alias"] = with_keys((*document[facet], *document[f"{facet}_alias"]))
    return {name: document[name] for name in ENRICHMENT_FIELDS}


def _hits(
    client: Elasticsearch, settings: Settings, query: str, batch_size: int
) -> Iterator[list[dict[str, Any]]]:
    index = settings.index_name("articles")
    url = settings.es_url_redacted
    with translate_errors(url):
        # A point in time sees what was refreshed: articles indexed a moment ago count too.
        client.indices.refresh(index=index)
        pit = client.open_point_in_time(index=index, keep_alive="5m")["id"]
    try:
        search_after: list[Any] | None = None
        while True:
            with translate_errors(url, query=query):
                response = client.search(
                    pit={"id": pit, "keep_alive": "5m"}, size=batch_size,
                    query={"query_string": {"query": query}}, sort=[{"_shard_doc": "asc"}],
                    search_after=search_after,
                )
            hits = response["hits"]["hits"]
            if not hits:
                return
            yield hits
            search_after = hits[-1]["sort"]
            pit = response.get("pit_id", pit)
    finally:
        with translate_errors(url):
            client.close_point_in_time(id=pit)


def reenrich(
    client: Elasticsearch,
    settings: Settings,
    *,
    query: str = "*",
    batch_size: int = 200,
    on_progress: Callable[[int], None] | None = None,
    enricher: Enricher | None = None,
    kept_outside_source: Callable[[Article], Mapping[str, Any]] | None = None,
) -> int:
    """Re-enrich every stored article matching `query` (Lucene syntax); returns how many were updated.

    `kept_outside_source`: the fields of an article's document that are not in its _source (the
    index's language copy, newsflow.index.documents.language_copy). A partial update rebuilds the
    document from _source, so they are sent again with the enrichment fields or they would be lost."""
    enricher = enricher or Enricher(settings)
    done = 0
    for hits in _hits(client, settings, query, batch_size):
        articles = [Article.from_document(hit["_id"], hit["_source"]) for hit in hits]
        enriched = enricher.enrich(articles)
        actions = [
            {"_op_type": "update", "_index": hit["_index"], "_id": hit["_id"],
             "doc": {**enrichment_update(a), **(kept_outside_source(a) if kept_outside_source else {})}}
            for hit, a in zip(hits, enriched, strict=True)
        ]
        with translate_errors(settings.es_url_redacted):
            _, failed = helpers.bulk(client, actions, raise_on_error=False, refresh=False)
        errors = failed if isinstance(failed, list) else []
        if errors:
            raise IndexError_(
                f"re-enrichment could not update {len(errors)} article(s), first: {errors[0]} "
                "(check the index mapping, then run reenrich again: it is idempotent)"
            )
        done += len(hits)
        if on_progress is not None:
            on_progress(done)
    with translate_errors(settings.es_url_redacted):
        client.indices.refresh(index=settings.index_name("articles"))
    return done
