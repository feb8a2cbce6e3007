"""Search over the bundled sample corpus (samples/expected.json: the 36 items with their annotated
entities and topics), indexed as Articles: every facet count equals the count in the ground truth."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from newsflow.core.models import Article, article_id_for, parse_utc
from newsflow.index.search import FACET_SIZE, FACETS, search_articles
from newsflow.index.store import ArticleStore
from tests.conftest import SAMPLES

pytestmark = pytest.mark.es

TRUTH = json.loads((SAMPLES / "expected.json").read_text(encoding="utf-8"))


def _articles() -> list[Article]:
    story_of = {url: group[0] for group in TRUTH["syndicated_groups"] for url in group}
    articles = []
    for item in TRUTH["items"]:
        feed = TRUTH["feeds"][item["feed"]]
        articles.append(Article(
            id=article_id_for(item["url"]), url=item["url"], title=item["title"], summary="", body="",
            source=feed["title"], feed_url=item["feed"], published_at=parse_utc(item["published_at"]),
            ingested_at=parse_utc(TRUTH["not_after"]), language="en",
            authors=tuple(item.get("authors") or ()), categories=tuple(item.get("categories") or ()),
            persons=tuple(item["persons"]), organizations=tuple(item["organizations"]),
            locations=tuple(item["locations"]), topics=tuple(item["topics"]),
            story_id=article_id_for(story_of.get(item["url"], item["url"])),
        ))
    return articles


def _expected_facet(
    articles: list[Article], name: str, subset: set[str] | None = None
) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for article in articles:
        if subset is None or article.id in subset:
            values = [article.source] if name == "source" else list(getattr(article, name))
            counts.update(set(values))
    # Elasticsearch's terms order: count descending, then the term ascending.
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_SIZE]


@pytest.fixture(scope="module")
def es_client(module_client: Any) -> Any:
    return module_client


@pytest.fixture(scope="module")
def settings(module_settings: Any) -> Any:
    # The tests only read: the samples are indexed once for the module.
    return module_settings


@pytest.fixture(scope="module")
def samples(es_client: Any, settings: Any) -> list[Article]:
    articles = _articles()
    store = ArticleStore(es_client, settings)
    assert store.write(articles).indexed == TRUTH["total_items"]
    store.refresh()
    return articles


def test_every_facet_over_the_samples_matches_the_ground_truth(
    es_client: Any, settings: Any, samples: list[Article]
) -> None:
    result = search_articles(es_client, settings, "*", size=0)

    assert result.total == TRUTH["total_items"] == 36
    for name in FACETS:
        assert [(f.value, f.count) for f in result.facets[name]] == _expected_facet(samples, name), name


def test_facets_of_a_filtered_search_count_only_its_hits(
    es_client: Any, settings: Any, samples: list[Article]
) -> None:
    wire = TRUTH["feeds"]["feeds/wire.xml"]["title"]
    result = search_articles(es_client, settings, "*", filters=[("source", wire)], size=50)

    hit_ids = {hit.id for hit in result.hits}
    assert hit_ids == {a.id for a in samples if a.source == wire}
    for name in FACETS:
        assert [(f.value, f.count) for f in result.facets[name]] == _expected_facet(samples, name, hit_ids)


def test_syndicated_copies_share_a_story_and_are_found_together(
    es_client: Any, settings: Any, samples: list[Article]
) -> None:
    original, copy = TRUTH["syndicated_groups"][0]
    story_id = article_id_for(original)

    result = search_articles(es_client, settings, f"story_id:{story_id}")

    assert {hit.url for hit in result.hits} == {original, copy}
