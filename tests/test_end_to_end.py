"""End to end through the CLI, as a user runs it: one cycle over the bundled sample feeds into the
real Elasticsearch, a search with facets, and a second cycle that finds nothing new."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from click.testing import CliRunner

from newsflow.cli import cli
from tests.conftest import SAMPLES

EXPECTED = json.loads((SAMPLES / "expected.json").read_text())


def invoke(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(cli, ["-q", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def env(settings: Any) -> dict[str, str]:
    return {
        "NEWSFLOW_ES_URL": settings.es_url,
        "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
        "NEWSFLOW_HOME": str(settings.home),
    }


def run_json(env: dict[str, str], feeds_file: str) -> dict[str, Any]:
    return json.loads(invoke(env, "run", "--feeds", feeds_file, "--json").stdout)


def test_a_cycle_over_the_samples_indexes_every_item_once(env: dict[str, str]) -> None:
    first = run_json(env, str(SAMPLES / "feeds.yaml"))
    total = EXPECTED["total_items"]
    assert first["feeds"] == {"total": 5, "fetched": 5, "not_modified": 0, "failed": 0}
    assert first["articles"] == {"new": total, "updated": 0, "unchanged": 0}
    assert first["indexed"] == total
    assert first["alerts"] == {"sent": 0, "failed": 0}

    second = run_json(env, str(SAMPLES / "feeds.yaml"))
    assert second["articles"]["new"] == 0 and second["articles"]["updated"] == 0
    assert second["indexed"] == 0
    assert second["feeds"]["failed"] == 0

    everything = json.loads(invoke(env, "search", "*", "--size", "100", "--json").stdout)
    assert everything["total"] == total
    assert {hit["url"] for hit in everything["hits"]} == {item["url"] for item in EXPECTED["items"]}
    by_source = {f["value"]: f["count"] for f in everything["facets"]["source"]}
    expected_sources = Counter(
        EXPECTED["feeds"][item["feed"]]["title"] for item in EXPECTED["items"])
    assert by_source == dict(expected_sources)


def test_syndicated_copies_share_a_story_and_distinct_stories_do_not(env: dict[str, str]) -> None:
    run_json(env, str(SAMPLES / "feeds.yaml"))
    hits = json.loads(invoke(env, "search", "*", "--size", "100", "--json").stdout)["hits"]
    story_of = {hit["url"]: hit["story_id"] for hit in hits}
    for group in EXPECTED["syndicated_groups"]:
        assert len({story_of[url] for url in group}) == 1, group
    for first, second in EXPECTED["same_subject_different_story"]:
        assert story_of[first] != story_of[second], (first, second)


def test_the_opml_file_lists_the_same_feeds(env: dict[str, str]) -> None:
    report = run_json(env, str(SAMPLES / "feeds.opml"))
    assert report["feeds"]["total"] == 5 and report["feeds"]["failed"] == 0
    assert report["articles"]["new"] == EXPECTED["total_items"]


def test_search_finds_the_story_and_reports_entity_facets(env: dict[str, str]) -> None:
    run_json(env, str(SAMPLES / "feeds.yaml"))
    result = json.loads(invoke(env, "search", '"European Central Bank"', "--json").stdout)
    assert result["total"] >= 3
    organizations = {f["value"] for f in result["facets"]["organizations"]}
    assert "European Central Bank" in organizations
    human = invoke(env, "search", '"European Central Bank"').stdout
    assert "European Central Bank" in human
