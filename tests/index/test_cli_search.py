"""`newsflow search` end to end through the CLI, against the real Elasticsearch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from newsflow.cli import cli
from newsflow.index.store import ArticleStore

pytestmark = pytest.mark.es


@pytest.fixture
def env(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("NEWSFLOW_ES_URL", settings.es_url)
    monkeypatch.setenv("NEWSFLOW_INDEX_PREFIX", settings.index_prefix)
    monkeypatch.setenv("NEWSFLOW_HOME", str(settings.home))
    return settings


@pytest.fixture
def indexed(env: Any, es_client: Any, make_article: Any) -> Any:
    store = ArticleStore(es_client, env)
    articles = [
        make_article("pipeline", title="Gas pipeline talks resume", source="BBC",
                     persons=("Olaf Scholz",), topics=("energy",), story_id="s1"),
        make_article("cup", title="Cup final tonight", source="Guardian", topics=("sport",), story_id="s2"),
    ]
    store.write(articles)
    store.refresh()
    return articles


def test_json_output_is_the_contract_object(indexed: Any) -> None:
    outcome = CliRunner().invoke(cli, ["search", "pipeline", "--filter", "source=BBC", "--json"])

    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    assert data["total"] == 1
    assert data["hits"][0]["url"] == indexed[0].url
    assert data["hits"][0]["story_id"] == "s1"
    assert data["facets"]["persons"] == [{"value": "Olaf Scholz", "count": 1}]
    assert data["facets"]["source"] == [{"value": "BBC", "count": 1}]


def test_human_output_shows_hits_highlights_and_facets(indexed: Any) -> None:
    outcome = CliRunner().invoke(cli, ["search", "*", "--size", "5", "--since", "3650d"])

    assert outcome.exit_code == 0, outcome.output
    assert "2 article(s) match" in outcome.stdout
    assert "Cup final tonight" in outcome.stdout
    assert "topics: " in outcome.stdout and "energy (1)" in outcome.stdout


def test_an_invalid_query_exits_non_zero_with_a_clear_message(indexed: Any) -> None:
    outcome = CliRunner().invoke(cli, ["search", 'title:"unclosed'])

    assert outcome.exit_code == 2
    assert "invalid query" in outcome.stderr and "Cannot parse" in outcome.stderr
    assert "Traceback" not in outcome.output


def test_a_leading_wildcard_exits_non_zero_saying_what_to_write_instead(indexed: Any) -> None:
    refused = CliRunner().invoke(cli, ["search", "*peline"])
    trailing = CliRunner().invoke(cli, ["search", "pipel*", "--json"])

    assert refused.exit_code == 2
    assert "may not start with '*' or '?'" in refused.stderr and "'infla*'" in refused.stderr
    assert "Traceback" not in refused.output
    assert trailing.exit_code == 0 and json.loads(trailing.stdout)["total"] == 1


def test_a_bad_filter_or_duration_exits_non_zero(env: Any) -> None:
    bad_filter = CliRunner().invoke(cli, ["search", "*", "--filter", "colour=red"])
    bad_since = CliRunner().invoke(cli, ["search", "*", "--since", "soon"])

    assert bad_filter.exit_code == 2 and "cannot filter on 'colour'" in bad_filter.stderr
    assert bad_since.exit_code == 2 and "duration" in bad_since.stderr
