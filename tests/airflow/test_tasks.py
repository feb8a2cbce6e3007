"""newsflow.app.tasks (what the DAG tasks run) and newsflow.app.airflow_settings, without a DAG: against the
real Elasticsearch and feeds served by a real local HTTP server."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from newsflow.app import tasks
from newsflow.app.airflow_settings import connection_overrides, settings_from_airflow
from newsflow.core.errors import ConfigError, IndexError_


def write_feeds(folder: Path, *urls: str) -> str:
    path = folder / "feeds.yaml"
    path.write_text("feeds:\n" + "".join(f"  - url: {url}\n" for url in urls), encoding="utf-8")
    return str(path)


# --- the Airflow connection ---------------------------------------------------------------------

class FakeConnection:
    """The fields of an Airflow connection (a value object; the lookup itself is tested below)."""

    def __init__(self, **fields: Any) -> None:
        self.conn_id = "newsflow_elasticsearch"
        self.host = fields.get("host")
        self.port = fields.get("port")
        self.schema = fields.get("schema")
        self.login = fields.get("login")
        self.password = fields.get("password")
        self.extra_dejson = fields.get("extra", {})


def test_connection_fields_make_the_elasticsearch_url_with_quoted_credentials() -> None:
    values = connection_overrides(FakeConnection(
        host="es.example.com", port=9243, schema="https", login="ops", password="p@ss:word",
        extra={"api_key": "abc", "ca_certs": "/etc/ca.pem", "verify_certs": "false", "index_prefix": "prod"}))
    assert values == {"es_url": "https://ops:p%40ss%3Aword@es.example.com:9243", "es_api_key": "abc",
                      "es_ca_certs": "/etc/ca.pem", "es_verify_certs": False, "index_prefix": "prod"}


def test_a_url_in_the_host_field_and_defaults() -> None:
    assert connection_overrides(FakeConnection(host="https://es.example.com:9243"))["es_url"] == \
        "https://es.example.com:9243"
    assert connection_overrides(FakeConnection(host="127.0.0.1"))["es_url"] == "http://127.0.0.1:9200"


@pytest.mark.parametrize("fields, problem", [
    ({"host": ""}, "has no host"),
    ({"host": "h", "schema": "ftp"}, "not http or https"),
    ({"host": "h", "extra": {"apikey": "x"}}, "unknown extra field"),
    ({"host": "h", "extra": {"verify_certs": "maybe"}}, "not true or false"),
])
def test_a_bad_connection_is_refused_with_what_to_fix(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        connection_overrides(FakeConnection(**fields))


def test_settings_come_from_the_airflow_connection_when_it_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_INDEX_PREFIX", "from-env")
    monkeypatch.setenv("AIRFLOW_CONN_NEWSFLOW_ELASTICSEARCH", json.dumps({
        "conn_type": "http", "host": "10.1.2.3", "port": 9201, "login": "reader", "password": "s3cret-pw",
        "extra": {"index_prefix": "from-conn"}}))
    settings = settings_from_airflow()
    assert settings.index_prefix == "from-conn"
    assert settings.es_url == "http://reader:s3cret-pw@10.1.2.3:9201"
    assert "s3cret-pw" not in repr(settings)


def test_settings_fall_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_NEWSFLOW_ELASTICSEARCH", raising=False)
    monkeypatch.setenv("NEWSFLOW_INDEX_PREFIX", "from-env")
    monkeypatch.setenv("NEWSFLOW_ES_URL", "http://127.0.0.1:9299")
    settings = settings_from_airflow()
    assert (settings.index_prefix, settings.es_url) == ("from-env", "http://127.0.0.1:9299")


# --- pure decisions -------------------------------------------------------------------------------

def test_shards_keep_one_hosts_feeds_together_and_respect_the_size() -> None:
    urls = ["http://b.example/1", "http://a.example/1", "http://b.example/2", "http://a.example/2",
            "http://c.example/1", "http://a.example/1"]
    assert tasks.shard_by_host(urls, 2) == [
        ["http://a.example/1", "http://a.example/2"],
        ["http://b.example/1", "http://b.example/2"],
        ["http://c.example/1"],
    ]
    assert tasks.shard_by_host([], 50) == []
    with pytest.raises(ConfigError):
        tasks.shard_by_host(urls, 0)


def test_a_run_without_any_feeds_file_says_how_to_give_one(offline_settings: Any) -> None:
    with pytest.raises(ConfigError, match="feeds_file"):
        tasks.feeds_path(None, offline_settings)
    assert tasks.feeds_path("/x/feeds.yaml", offline_settings) == Path("/x/feeds.yaml")


def test_feed_health_lists_failing_feeds_first_and_unpolled_feeds_too() -> None:
    from ingest.types import FeedSpec, FeedState, feed_key
    from newsflow.app.feed_health import feed_health

    when = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    good, bad, new = "http://x/good.xml", "http://x/bad.xml", "http://x/new.xml"
    states = [
        FeedState(key=feed_key(good), url=good, title="Good", last_status="fetched", last_fetched_at=when,
                  articles_total=7, next_due_at=when),
        FeedState(key=feed_key(bad), url=bad, last_status="failed", last_error="HTTP 500",
                  consecutive_failures=3, last_fetched_at=when),
    ]
    rows = feed_health([FeedSpec(good), FeedSpec(bad, name="Bad"), FeedSpec(new)], states)
    assert [(r.name, r.health) for r in rows] == [("Bad", "failing"), (new, "not_polled"), ("Good", "ok")]
    assert rows[0].last_error == "HTTP 500" and rows[0].consecutive_failures == 3
    assert rows[2].articles_total == 7 and rows[2].to_json()["next_due_at"] == when.isoformat()


def test_a_shard_result_for_xcom_holds_counts_and_capped_feed_urls_only() -> None:
    failures = [{"url": f"http://x/{i}", "name": "X", "status": "failed",
                 "reason": "HTTP 500 from https://hooks.example/T0KEN"} for i in range(30)]
    report = {"failures": failures, "indexed": 3, "articles": {"new": 3}, "problems": ["ES slow"],
              "alerts_detail": {"failures": ["rule x: https://hooks.example/T0KEN refused"]}}
    compact = tasks.compact_report(report, shard_feeds=30)
    assert compact["failed_feeds"] == [f"http://x/{i}" for i in range(tasks.MAX_FAILURES_IN_RESULT)]
    assert compact["failed_feeds_not_listed"] == 30 - tasks.MAX_FAILURES_IN_RESULT
    assert compact["indexed"] == 3 and compact["shard_feeds"] == 30 and compact["problems"] == 1
    assert "T0KEN" not in json.dumps(compact) and "alerts_detail" not in compact


# --- against Elasticsearch and a feed server ----------------------------------------------------

@pytest.mark.es
def test_plan_then_ingest_indexes_the_feeds_and_nothing_is_due_afterwards(
    settings: Any, feed_server: Any, tmp_path: Path, es_client: Any
) -> None:
    feeds = write_feeds(tmp_path, feed_server.url("/world.xml"), feed_server.url("/business.atom"))
    shards = tasks.plan_shards(feeds, shard_size=1, settings=settings)
    assert sorted(url for shard in shards for url in shard) == sorted(
        [feed_server.url("/world.xml"), feed_server.url("/business.atom")])
    assert all(len(shard) == 1 for shard in shards)

    reports = [tasks.ingest_shard(feeds, shard, settings=settings) for shard in shards]
    new = sum(r["articles"]["new"] for r in reports)
    assert new > 0 and sum(r["indexed"] for r in reports) == new
    assert all(r["feeds"]["failed"] == 0 for r in reports)
    json.dumps(reports)  # XCom-safe
    es_client.indices.refresh(index=settings.index_name("articles"))
    assert es_client.count(index=settings.index_name("articles"))["count"] == new

    assert tasks.plan_shards(feeds, settings=settings) == []  # polled just now: not due


@pytest.mark.es
def test_feed_health_report_names_the_failing_feed_and_its_reason(
    settings: Any, feed_server: Any, tmp_path: Path
) -> None:
    from tests.support.feedserver import Response

    broken = feed_server.route("/broken.xml", Response(status=404, body=b"no such feed"))
    feeds = write_feeds(tmp_path, feed_server.url("/world.xml"), broken)
    tasks.ingest_shard(feeds, [feed_server.url("/world.xml"), broken], settings=settings)

    report = tasks.feed_health_report(feeds, settings=settings)
    assert report["feeds"] == 2
    assert report["by_health"] == {"ok": 1, "failing": 1}
    assert [row["url"] for row in report["troubled"]] == [broken]
    assert "404" in report["troubled"][0]["last_error"]
    assert report["articles"] > 0


@pytest.mark.es
def test_shards_deliver_their_alerts_as_they_index_and_the_alerts_task_repeats_none(
    settings: Any, feed_server: Any, tmp_path: Path, es_client: Any
) -> None:
    from newsflow.alerts.rules import RuleStore

    log_path = tmp_path / "alerts.jsonl"
    world, business = feed_server.url("/world.xml"), feed_server.url("/business.atom")
    feeds = write_feeds(tmp_path, world, business)
    RuleStore(es_client, settings).add("inflation", "title:inflation", [f"log:{log_path}"])

    shards = [tasks.ingest_shard(feeds, [url], settings=settings) for url in (world, business)]
    # Each shard matched and delivered its own story (one in each feed), as `newsflow run` does.
    assert [(s["alerts"]["created"], s["alerts"]["sent"]) for s in shards] == [(1, 1), (1, 1)]
    assert len(log_path.read_text().splitlines()) == 2
    after = tasks.process_alerts(settings=settings)  # the DAG's alerts task: nothing left to do
    again = [tasks.ingest_shard(feeds, [url], settings=settings) for url in (world, business)]
    assert (after["created"], after["sent"]) == (0, 0)
    assert [s["alerts"]["sent"] for s in again] == [0, 0]
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert len(lines) == 2 and {line["rule"] for line in lines} == {"inflation"}
    assert len({line["id"] for line in lines}) == 2

    rules = tasks.load_rules_with_alerts(settings)
    assert [(r.rule.name, len(r.recent)) for r in rules] == [("inflation", 2)]
    assert all("inflation" in alert.article.title.lower() for alert in rules[0].recent)


@pytest.mark.es
def test_what_a_shard_could_not_match_is_matched_and_delivered_once_by_the_alerts_task(
    make_settings: Callable[..., Any], feed_server: Any, tmp_path: Path,
) -> None:
    from newsflow.alerts.lock import RecordingLock
    from newsflow.alerts.rules import RuleStore
    from newsflow.core.es import make_client

    settings = make_settings(alerts={"lock_wait": 0.3})
    log_path = tmp_path / "alerts.jsonl"
    world = feed_server.url("/world.xml")
    client = make_client(settings)
    try:
        RuleStore(client, settings).add("cholera", "title:cholera", [f"log:{log_path}"])
        other = RecordingLock(client, settings, holder="another-run")
        other.acquire(wait=0)  # another run records alerts: the shard cannot
        shard = tasks.ingest_shard(write_feeds(tmp_path, world), [world], settings=settings)
        other.release()
    finally:
        client.close()
    assert shard["indexed"] > 0 and shard["alerts"]["sent"] == 0 and not log_path.exists()

    first = tasks.process_alerts(settings=settings)  # the article waited in the alert queue
    again = tasks.process_alerts(settings=settings)
    assert (first["created"], first["sent"]) == (1, 1)
    assert (again["created"], again["sent"]) == (0, 0)
    lines = log_path.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["rule"] == "cholera"


@pytest.mark.es
def test_lifecycle_check_reports_the_managed_write_index(settings: Any, es_client: Any) -> None:
    from newsflow.app.indices import ensure_all

    ensure_all(es_client, settings)
    report = tasks.check_lifecycle(settings=settings, raise_on_problems=True)
    assert report["problems"] == []
    assert report["write_index"] == f"{settings.index_prefix}-articles-000001"
    assert [(i["index"], i["managed"], i["policy"]) for i in report["indices"]] == [
        (report["write_index"], True, settings.index_name("articles"))]


@pytest.mark.es
def test_lifecycle_check_fails_when_the_articles_alias_is_missing(make_settings: Callable[..., Any]) -> None:
    settings = make_settings()
    assert tasks.check_lifecycle(settings=settings)["problems"] == [
        f"alias {settings.index_name('articles')} does not exist (run `newsflow setup`)"]
    with pytest.raises(IndexError_, match="does not exist"):
        tasks.check_lifecycle(settings=settings, raise_on_problems=True)
