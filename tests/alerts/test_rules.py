"""Saved rules: stored per prefix as percolator queries, validated by Elasticsearch's own parser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from newsflow.alerts.rules import RuleStore
from newsflow.core.errors import AlertError, LeadingWildcardError, QueryError
from newsflow.core.es import make_client


def test_added_rules_are_listed_by_name_counted_and_removed(settings: Any, es_client: Any) -> None:
    store = RuleStore(es_client, settings)
    store.add("rates", "title:rates", ["log:/tmp/rates.jsonl"])
    store.add("merkel", 'persons:"Angela Merkel"',
              ["webhook:http://127.0.0.1:9/hook", "email:desk@example.org"])

    assert [r.name for r in store.list()] == ["merkel", "rates"]
    merkel = store.get("merkel")
    assert merkel is not None
    assert merkel.channels == ("webhook:http://127.0.0.1:9/hook", "email:desk@example.org")
    assert store.count() == 2
    assert store.remove("rates") is True
    assert store.remove("rates") is False
    assert [r.name for r in store.list()] == ["merkel"]


def test_adding_a_rule_under_an_existing_name_replaces_it(settings: Any, es_client: Any) -> None:
    store = RuleStore(es_client, settings)
    store.add("watch", "title:rates", ["log:/tmp/a.jsonl"])
    store.add("watch", "title:inflation", ["log:/tmp/b.jsonl"])

    [rule] = store.list()
    assert (rule.query, rule.channels) == ("title:inflation", ("log:/tmp/b.jsonl",))


def test_an_invalid_query_is_refused_with_the_parsers_message(settings: Any, es_client: Any) -> None:
    store = RuleStore(es_client, settings)
    with pytest.raises(QueryError) as refused:
        store.add("broken", "title:(rates", ["log:/tmp/x.jsonl"])

    assert "Cannot parse 'title:(rates'" in str(refused.value)
    assert "line 1, column 12" in refused.value.detail
    assert store.list() == []


def test_a_rule_with_a_leading_wildcard_is_refused_and_nothing_is_stored(
    settings: Any, es_client: Any
) -> None:
    store = RuleStore(es_client, settings)
    for query in ("*flation", "title:?ates", "rates OR *bank"):
        with pytest.raises(LeadingWildcardError, match="leading wildcard"):
            store.add("wild", query, ["log:/tmp/wild.jsonl"])
    assert store.list() == []
    assert store.add("tame", "infla*", ["log:/tmp/tame.jsonl"]).query == "infla*"


def test_a_query_naming_an_unknown_field_is_refused(settings: Any, es_client: Any) -> None:
    with pytest.raises(QueryError, match=r"no such field \[persn\]"):
        RuleStore(es_client, settings).add("typo", 'persn:"Angela Merkel"', ["log:/tmp/x.jsonl"])


def test_an_invalid_new_version_leaves_the_working_rule_in_place(settings: Any, es_client: Any) -> None:
    store = RuleStore(es_client, settings)
    store.add("watch", "title:rates", ["log:/tmp/a.jsonl"])
    with pytest.raises(QueryError):
        store.add("watch", "title:rates AND", ["log:/tmp/a.jsonl"])

    assert [r.query for r in store.list()] == ["title:rates"]


@pytest.mark.parametrize(("name", "query", "channels", "reason"), [
    ("has space", "x", ["log:/tmp/x"], "invalid rule name"),
    ("ok", "   ", ["log:/tmp/x"], "the query is empty"),
    ("ok", "x", [], "at least one channel"),
    ("ok", "x", ["pager:123"], "invalid channel"),
])
def test_a_bad_name_query_or_channel_is_refused_before_anything_is_stored(
    settings: Any, es_client: Any, name: str, query: str, channels: list[str], reason: str
) -> None:
    store = RuleStore(es_client, settings)
    with pytest.raises(AlertError, match=reason):
        store.add(name, query, channels)
    assert store.count() == 0


def test_two_prefixes_never_see_each_others_rules(make_settings: Callable[..., Any]) -> None:
    first, second = make_settings(), make_settings()
    with make_client(first) as client_a, make_client(second) as client_b:
        RuleStore(client_a, first).add("only-in-first", "title:rates", ["log:/tmp/a.jsonl"])
        RuleStore(client_b, second).add("only-in-second", "title:rates", ["log:/tmp/b.jsonl"])

        assert [r.name for r in RuleStore(client_a, first).list()] == ["only-in-first"]
        assert [r.name for r in RuleStore(client_b, second).list()] == ["only-in-second"]


def test_a_rule_saved_with_a_leading_wildcard_before_they_were_refused_survives_setup(
        settings: Any, es_client: Any) -> None:
    from newsflow.alerts.rules import rules_index

    store = RuleStore(es_client, settings)
    store.add("inflation", "title:moscow", ["log:/tmp/inflation.jsonl"])
    # As an earlier version stored it: a leading wildcard, allowed then, and an older query form.
    index = rules_index(settings)
    old = {"query": {"query_string": {"query": "title:*cow"}},
           "rule": {**store.get("inflation").to_source()["rule"], "query": "title:*cow"}}  # type: ignore[union-attr]
    es_client.index(index=index, id="inflation", document=old, refresh=True)
    es_client.indices.put_mapping(index=index, meta={"rule_query_version": 1})

    store.ensure()  # saves every rule again in the current form: this one cannot be, and must not fail

    [rule] = store.list()
    assert rule.query == "title:*cow"
    matched = es_client.search(index=index, query={"percolate": {
        "field": "query", "document": {"title": "Moscow talks"}}})
    assert [hit["_id"] for hit in matched["hits"]["hits"]] == ["inflation"]
    meta = next(iter(es_client.indices.get_mapping(index=index).values()))["mappings"]["_meta"]
    from newsflow.alerts.rules import RULE_QUERY_VERSION

    assert meta["rule_query_version"] == RULE_QUERY_VERSION
