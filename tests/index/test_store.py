"""The article store against the real Elasticsearch: idempotent writes, updates where the article lives,
dead-lettering, truncation, the alert-pending flag, and an unreachable cluster."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from newsflow.core.errors import ElasticsearchUnavailable, QueryError
from newsflow.index.setup import ensure_indices, names_for, rollover
from newsflow.index.store import ArticleStore, BulkResult

pytestmark = pytest.mark.es


@pytest.fixture
def store(es_client: Any, settings: Any) -> ArticleStore:
    return ArticleStore(es_client, settings)


def test_writing_sets_up_the_indices_and_rewriting_never_duplicates(
    store: ArticleStore, make_article: Any
) -> None:
    articles = [make_article(f"a{i}") for i in range(5)]

    first = store.write(articles)
    second = store.write(articles)
    store.refresh()

    assert first == BulkResult(indexed=5)
    assert second.indexed == 5
    assert store.count() == 5


def test_stored_hashes_are_the_content_hashes_of_the_stored_ids(
    store: ArticleStore, make_article: Any
) -> None:
    stored = make_article("stored")
    store.write([stored])
    store.refresh()

    assert store.stored_hashes([stored.id, "no-such-id"]) == {stored.id: stored.content_hash}


def test_lookups_before_any_setup_find_nothing(store: ArticleStore) -> None:
    assert store.stored_hashes(["x"]) == {}
    assert store.alert_pending() == []
    assert store.count() == 0


def test_an_update_after_rollover_lands_in_the_index_holding_the_article(
    es_client: Any, settings: Any, store: ArticleStore, make_article: Any
) -> None:
    original = make_article("rolled", title="First version")
    store.write([original])
    store.refresh()
    new_index = rollover(es_client, settings)
    names = names_for(settings)

    edited = replace(original, title="Second version")
    newcomer = make_article("newcomer")
    result = store.write([edited, newcomer])
    store.refresh()

    assert result.indexed == 2
    assert store.count() == 2
    assert store.locate([original.id, newcomer.id]) == {
        original.id: names.first_index, newcomer.id: new_index}
    assert store.stored_hashes([original.id]) == {original.id: edited.content_hash}


def test_strict_mapping_sends_an_unknown_field_to_the_dead_letter_index(
    store: ArticleStore, make_article: Any
) -> None:
    good = make_article("good")
    bad_document = {**make_article("bad").to_document(), "unexpected_field": "x"}

    result = store.write_documents({good.id: good.to_document(), "bad-id": bad_document})
    store.refresh()

    assert (result.indexed, result.dead_lettered) == (1, 1)
    assert "strict_dynamic_mapping_exception" in result.errors[0]
    assert store.count() == 1
    [record] = store.dead_letters()
    assert record["article_id"] == "bad-id"
    assert record["error_type"] == "strict_dynamic_mapping_exception"
    assert record["status"] == 400
    assert "unexpected_field" in record["reason"]
    assert json.loads(record["document"]) == bad_document


def test_an_unmappable_article_is_dead_lettered_and_the_rest_indexed(
    store: ArticleStore, make_article: Any
) -> None:
    # A 64-bit unsigned MinHash value does not fit Elasticsearch's signed long.
    unmappable = make_article("unmappable", story_signature=(2**64 - 1, 7))
    others = [make_article(f"ok{i}") for i in range(3)]

    result = store.write([*others, unmappable])
    store.refresh()

    assert (result.indexed, result.dead_lettered, result.retried) == (3, 1, 0)
    assert store.count() == 3
    assert store.stored_hashes([unmappable.id]) == {}
    [record] = store.dead_letters()
    assert record["article_id"] == unmappable.id
    assert record["url"] == unmappable.url
    assert record["error_type"] == "document_parsing_exception"
    assert json.loads(record["document"])["story_signature"] == [2**64 - 1, 7]


def test_long_bodies_and_titles_are_truncated_and_marked(
    es_client: Any, make_settings: Any, make_article: Any
) -> None:
    settings = make_settings(index={"max_body_chars": 100, "max_title_chars": 20})
    store = ArticleStore(es_client, settings)
    long_one = make_article("long", title="A title that is much too long", body="word " * 100)
    short_one = make_article("short")

    store.write([long_one, short_one])
    store.refresh()

    assert store.count("truncated:true") == 1
    hit = es_client.get(index=store.locate([long_one.id])[long_one.id], id=long_one.id)["_source"]
    assert len(hit["body"]) <= 100 and len(hit["title"]) <= 20
    assert hit["content_hash"] == long_one.content_hash  # the hash of the full article


def test_a_non_english_article_is_searchable_with_its_own_stemmer(
    store: ArticleStore, make_article: Any
) -> None:
    store.write([make_article("de", language="de", title="Die Regierungen verhandeln", body="")])
    store.refresh()

    assert store.count("i18n.de:regierung") == 1
    assert store.count("title:regierung") == 0  # the English analyzer does not stem German


def test_alert_pending_articles_until_cleared(store: ArticleStore, make_article: Any) -> None:
    pending = [make_article("p1"), make_article("p2")]
    done = make_article("done")
    store.write(pending)
    store.write([done], alert_pending=False)
    store.refresh()

    assert sorted(a.id for a in store.alert_pending()) == sorted(a.id for a in pending)
    assert store.alert_pending()[0] == replace(pending[0])

    store.clear_alert_pending([pending[0].id])
    store.refresh()

    assert [a.id for a in store.alert_pending()] == [pending[1].id]


def test_clearing_alert_pending_after_rollover_updates_the_original_index(
    es_client: Any, settings: Any, store: ArticleStore, make_article: Any
) -> None:
    article = make_article("before-rollover")
    store.write([article])
    store.refresh()
    rollover(es_client, settings)

    store.clear_alert_pending([article.id])
    store.refresh()

    assert store.alert_pending() == []
    assert store.count() == 1


def test_count_rejects_an_invalid_query(store: ArticleStore, es_client: Any, settings: Any) -> None:
    ensure_indices(es_client, settings)
    with pytest.raises(QueryError, match="Cannot parse"):
        store.count("title:(unclosed")


def test_count_matches_every_spelling_of_an_entity_as_search_does(
    store: ArticleStore, make_article: Any
) -> None:
    name = ("Mary-Kate Dunleavy-Smith",)
    store.write([make_article("dunleavy", persons=name, persons_alias=name)])
    store.refresh()
    assert store.count('persons:"Mary Kate Dunleavy Smith"') == 1
    assert store.count("persons:Smith") == 0


def test_an_unreachable_cluster_raises_elasticsearch_unavailable(
    make_settings: Any, make_article: Any
) -> None:
    from newsflow.core.es import make_client

    settings = make_settings(es_url="http://127.0.0.1:9")  # nothing listens on the discard port
    client = make_client(settings, max_retries=0)
    store = ArticleStore(client, settings)

    with pytest.raises(ElasticsearchUnavailable, match=r"127\.0\.0\.1:9 is unreachable"):
        store.write([make_article("nowhere")])
    with pytest.raises(ElasticsearchUnavailable):
        store.stored_hashes(["x"])


def test_items_refused_with_429_are_retried_with_backoff_until_accepted(
    es_client: Any, settings: Any, make_article: Any
) -> None:
    # Elasticsearch answers writes to an index with the read_only_allow_delete block (its disk-full
    # protection) with 429: a real, retryable refusal. The block is lifted during the first backoff.
    names = names_for(settings)
    ensure_indices(es_client, settings)
    es_client.indices.put_settings(
        index=names.first_index, settings={"index.blocks.read_only_allow_delete": True})
    waits: list[float] = []

    def lift_block_while_waiting(seconds: float) -> None:
        waits.append(seconds)
        es_client.indices.put_settings(
            index=names.first_index, settings={"index.blocks.read_only_allow_delete": None})

    store = ArticleStore(es_client, settings, sleep=lift_block_while_waiting)
    result = store.write([make_article("r1"), make_article("r2")])
    store.refresh()

    assert result == BulkResult(indexed=2, dead_lettered=0, retried=2)
    assert waits == [settings.index.bulk_backoff]
    assert store.count() == 2


def test_items_still_refused_after_the_last_retry_are_deferred_not_dead_lettered(
    es_client: Any, make_settings: Any, make_article: Any
) -> None:
    # 429 means "busy", not "bad document": after the last retry the article is handed back to the
    # caller (which spools it), never dead-lettered as if it were unindexable.
    settings = make_settings(index={"bulk_retries": 2, "bulk_backoff": 0.5})
    names = names_for(settings)
    ensure_indices(es_client, settings)
    es_client.indices.put_settings(
        index=names.first_index, settings={"index.blocks.read_only_allow_delete": True})
    waits: list[float] = []
    store = ArticleStore(es_client, settings, sleep=waits.append)

    try:
        result = store.write([make_article("blocked")])
    finally:
        es_client.indices.put_settings(
            index=names.first_index, settings={"index.blocks.read_only_allow_delete": None})
    store.refresh()

    blocked = make_article("blocked")
    assert (result.indexed, result.dead_lettered, result.retried) == (0, 0, 2)
    assert result.deferred == (blocked.id,)
    assert "HTTP 429" in result.deferred_reason
    assert waits == [0.5, 1.0]  # exponential backoff
    assert store.dead_letters() == []
    assert store.count() == 0

    # The store remembers it ran out of retries: the next write of this cycle tries once only.
    es_client.indices.put_settings(
        index=names.first_index, settings={"index.blocks.read_only_allow_delete": True})
    try:
        again = store.write([make_article("blocked-too")])
    finally:
        es_client.indices.put_settings(
            index=names.first_index, settings={"index.blocks.read_only_allow_delete": None})
    assert again.deferred == (make_article("blocked-too").id,) and again.retried == 0
    assert waits == [0.5, 1.0]


def test_articles_spooled_while_unreachable_are_all_indexed_once_by_the_next_write(
    es_client: Any, make_settings: Any, make_article: Any
) -> None:
    from newsflow.core.es import make_client
    from newsflow.index.spool import Spool

    settings = make_settings()
    spool = Spool(settings.spool_dir, settings.index.spool_max_bytes)
    first_cycle = [make_article(f"s{i}") for i in range(4)]
    down = make_settings(es_url="http://127.0.0.1:9", index_prefix=settings.index_prefix)
    try:
        ArticleStore(make_client(down, max_retries=0), down).write(first_cycle)
    except ElasticsearchUnavailable:
        spool.put(first_cycle)
    second_cycle = [make_article("s3"), make_article("s4")]  # s3 seen again

    store = ArticleStore(es_client, settings)
    batch = {a.id: a for a in [*spool.load(), *second_cycle]}
    result = store.write(list(batch.values()))
    spool.discard(batch)
    store.refresh()

    assert result.indexed == 5
    assert store.count() == 5
    assert len(spool) == 0


def test_a_refusal_the_dead_letter_index_cannot_take_is_deferred_not_lost(
    es_client: Any, make_settings: Any, make_article: Any
) -> None:
    # Before: the dead-letter write's failure was only logged and the article was gone.
    from newsflow.core.es import make_client
    from tests.support.esproxy import ElasticsearchProxy

    settings = make_settings(index={"bulk_retries": 1, "bulk_backoff": 0.01})
    ensure_indices(es_client, settings)
    marker = f'"_index":"{settings.index_prefix}-deadletter"'.encode()
    good = make_article("fine")
    bad_document = {**make_article("bad").to_document(), "unexpected_field": "x"}

    with ElasticsearchProxy(settings.es_url, fault=lambda body: "503" if marker in body else None) as proxy:
        proxied = settings.model_copy(update={"es_url": proxy.url})
        client = make_client(proxied, max_retries=0)
        result = ArticleStore(client, proxied, sleep=lambda _s: None).write_documents(
            {good.id: good.to_document(), "bad-id": bad_document})
        client.close()

    assert (result.indexed, result.dead_lettered) == (1, 0)
    assert result.deferred == ("bad-id",)
    assert "dead-letter index refused" in result.deferred_reason
    assert proxy.faults == ["503", "503"]  # the dead-letter write was retried once, then deferred
    store = ArticleStore(es_client, settings)
    store.refresh()
    assert store.dead_letters() == [] and store.count() == 1


def test_a_bulk_request_reset_on_the_wire_is_resent(
    es_client: Any, make_settings: Any, make_article: Any
) -> None:
    from newsflow.core.es import make_client
    from tests.support.esproxy import ElasticsearchProxy

    settings = make_settings(index={"bulk_retries": 2, "bulk_backoff": 0.01})
    ensure_indices(es_client, settings)
    articles = [make_article(f"reset{i}") for i in range(3)]

    with ElasticsearchProxy(settings.es_url, plan=["reset", "reset"]) as proxy:
        proxied = settings.model_copy(update={"es_url": proxy.url})
        client = make_client(proxied, max_retries=0)
        result = ArticleStore(client, proxied, sleep=lambda _s: None).write(articles)
        client.close()

    # The first bulk (the alert queue's) is reset twice, then both bulks pass.
    assert proxy.faults == ["reset", "reset"]
    assert (result.indexed, result.deferred, result.retried) == (3, (), 6)
    store = ArticleStore(es_client, settings)
    store.refresh()
    assert store.count() == 3
