"""`newsflow feeds`: feed health from the state stored in the real Elasticsearch."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ingest.state import FeedStateStore
from ingest.types import FeedState, feed_key
from newsflow.cli import cli

pytestmark = pytest.mark.es

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


def run_cli(settings: Any, *args: str) -> Any:
    env = {"NEWSFLOW_ES_URL": settings.es_url, "NEWSFLOW_INDEX_PREFIX": settings.index_prefix,
           "NEWSFLOW_HOME": str(settings.home)}
    return CliRunner().invoke(cli, ["feeds", *args], env=env, catch_exceptions=False)


def test_feed_health_lists_status_failures_and_errors(settings: Any, es_client: Any, tmp_path: Path) -> None:
    ok_url, bad_url, never_url = "https://e.com/ok.xml", "https://e.com/bad.xml", "https://e.com/new.xml"
    FeedStateStore(es_client, settings).save([
        FeedState(key=feed_key(ok_url), url=ok_url, title="OK News", last_status="fetched",
                  last_success_at=NOW, next_due_at=NOW + timedelta(minutes=30), item_count=4),
        FeedState(key=feed_key(bad_url), url=bad_url, last_status="failed", consecutive_failures=3,
                  last_error="HTTP 404 Not Found: check the feed URL"),
    ])
    FeedStateStore(es_client, settings).record_articles({feed_key(ok_url): 4})

    result = run_cli(settings, "--json")
    assert result.exit_code == 0, result.output
    feeds = {f["url"]: f for f in json.loads(result.output)["feeds"]}
    assert feeds[ok_url]["status"] == "fetched" and feeds[ok_url]["articles"] == 4
    assert feeds[ok_url]["last_success_at"] == "2024-03-10T12:00:00Z"
    assert feeds[bad_url]["consecutive_failures"] == 3
    assert feeds[bad_url]["last_error"] == "HTTP 404 Not Found: check the feed URL"

    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - {ok_url}\n  - url: {never_url}\n    name: Brand New\n")
    listed = json.loads(run_cli(settings, "--feeds", str(feeds_file), "--json").output)["feeds"]
    assert [(f["url"], f["status"]) for f in listed] == [(ok_url, "fetched"), (never_url, "never")]

    table = run_cli(settings)
    assert table.exit_code == 0 and "OK News" in table.output and "2 feed(s), 1 failing" in table.output
