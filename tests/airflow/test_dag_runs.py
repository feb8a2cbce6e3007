"""Whole DAG runs with `dag.test()`: Airflow's scheduler logic and task runner in this process, a
real metadata database (the session's PostgreSQL), the real Elasticsearch and feeds from a real
local HTTP server. Elasticsearch is reached through the `newsflow_elasticsearch` Airflow connection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.airflow, pytest.mark.es]


def task_states(run: Any) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for ti in run.get_task_instances():
        states.setdefault(ti.task_id, []).append(str(ti.state))
    return states


def xcom(run: Any, task_id: str, map_index: int = -1) -> Any:
    ti = next(t for t in run.get_task_instances() if t.task_id == task_id and t.map_index == map_index)
    return ti.xcom_pull(task_ids=task_id, map_indexes=map_index)


def test_news_ingest_indexes_the_feeds_of_its_param_and_delivers_one_alert(
    airflow_db: None, dagbag: Any, es_connection: Any, es_client: Any, feed_server: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from newsflow.alerts.rules import RuleStore
    from newsflow.app.indices import ensure_all

    settings = es_connection
    monkeypatch.setenv("NEWSFLOW_INGEST_SHARD_SIZE", "1")  # two feeds → two mapped shard tasks
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - url: {feed_server.url('/world.xml')}\n"
                     f"  - url: {feed_server.url('/business.atom')}\n", encoding="utf-8")
    alert_log = tmp_path / "alerts.jsonl"
    ensure_all(es_client, settings)
    RuleStore(es_client, settings).add("cholera", "title:cholera", [f"log:{alert_log}"])

    run = dagbag.dags["news_ingest"].test(run_conf={"feeds_file": str(feeds)})

    assert str(run.state) == "success", task_states(run)
    assert task_states(run) == {"plan": ["success"], "ingest_shard": ["success", "success"],
                                "alerts": ["success"]}
    shards = [xcom(run, "ingest_shard", i) for i in (0, 1)]
    new = sum(shard["articles"]["new"] for shard in shards)
    assert new > 0 and all(shard["feeds"]["failed"] == 0 for shard in shards)
    es_client.indices.refresh(index=settings.index_name("articles"))
    assert es_client.count(index=settings.index_name("articles"))["count"] == new
    # The shard that indexed the story matched and delivered it; the alerts task had nothing left.
    assert sorted(shard["alerts"]["sent"] for shard in shards) == [0, 1]
    assert xcom(run, "alerts")["sent"] == 0
    lines = alert_log.read_text().splitlines()
    assert len(lines) == 1
    alert = json.loads(lines[0])
    assert alert["rule"] == "cholera" and "cholera" in alert["article"]["title"].lower()
    # Both feeds were fetched from the local server by the shard tasks.
    assert feed_server.requests_to("/world.xml") and feed_server.requests_to("/business.atom")


def test_a_run_stores_one_small_xcom_per_task_holding_urls_and_counts_only(
    airflow_db: None, dagbag: Any, es_connection: Any, feed_server: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.utils.session import create_session
    from sqlalchemy import text

    from tests.support.feedserver import Response

    monkeypatch.setenv("NEWSFLOW_INGEST_SHARD_SIZE", "1")
    broken = feed_server.route("/broken.xml", Response(status=503, body=b"maintenance"))
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - url: {feed_server.url('/world.xml')}\n  - url: {broken}\n",
                     encoding="utf-8")
    run = dagbag.dags["news_ingest"].test(run_conf={"feeds_file": str(feeds)})

    assert str(run.state) == "success", task_states(run)
    with create_session() as session:
        rows = session.execute(text(
            "SELECT task_id, map_index, key, octet_length(value::text) FROM xcom WHERE run_id = :run"
        ), {"run": run.run_id}).all()
    # plan, two shards, alerts: one return_value each (not one row per key of a report)
    assert sorted((r[0], r[1], r[2]) for r in rows) == [
        ("alerts", -1, "return_value"), ("ingest_shard", 0, "return_value"),
        ("ingest_shard", 1, "return_value"), ("plan", -1, "return_value")]
    sizes = {f"{r[0]}[{r[1]}]": int(r[3]) for r in rows}
    print(f"XCom bytes of this run: {sum(sizes.values())} {sizes}")
    assert all(size < 1024 for size in sizes.values()), sizes
    failed_shard = next(s for s in (xcom(run, "ingest_shard", i) for i in (0, 1)) if s["failed_feeds"])
    assert failed_shard["failed_feeds"] == [broken]  # the reference; the reason is in the log
    assert "503" not in json.dumps(failed_shard) and "maintenance" not in json.dumps(failed_shard)


def test_news_ingest_without_any_feeds_file_fails_at_planning(
    airflow_db: None, es_connection: Any
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from tests.airflow.conftest import DAGS

    # A freshly parsed DAG: dag.test() keeps the last run's conf in the DAG object's params.
    run = DagBag(str(DAGS)).dags["news_ingest"].test()
    # Failed at once (a retry cannot make a feeds file appear), and so is the run.
    assert str(run.state) == "failed"
    assert task_states(run) == {"plan": ["failed"], "ingest_shard": ["upstream_failed"],
                                "alerts": ["upstream_failed"]}


def test_news_maintenance_reports_checks_lifecycle_and_reenriches_on_demand(
    airflow_db: None, dagbag: Any, es_connection: Any, feed_server: Any, tmp_path: Path
) -> None:
    from newsflow.app import tasks

    settings = es_connection
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - url: {feed_server.url('/world.xml')}\n", encoding="utf-8")
    indexed = tasks.ingest_shard(str(feeds), [feed_server.url("/world.xml")], settings=settings)["indexed"]

    run = dagbag.dags["news_maintenance"].test(
        run_conf={"feeds_file": str(feeds), "reenrich": True, "query": "*"})

    assert str(run.state) == "success", task_states(run)
    assert xcom(run, "feed_health")["by_health"] == {"ok": 1}
    assert xcom(run, "lifecycle")["problems"] == []
    assert xcom(run, "reenrich") == {"query": "*", "reenriched": indexed}


def test_news_maintenance_skips_reenrichment_unless_asked(
    airflow_db: None, es_connection: Any, es_client: Any
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from newsflow.app.indices import ensure_all
    from tests.airflow.conftest import DAGS

    ensure_all(es_client, es_connection)
    run = DagBag(str(DAGS)).dags["news_maintenance"].test()

    assert str(run.state) == "success", task_states(run)
    assert task_states(run)["reenrich"] == ["skipped"]


def test_news_digests_sends_an_ended_periods_digest_once(
    airflow_db: None, dagbag: Any, es_connection: Any, es_client: Any, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from newsflow.alerts import match_articles
    from newsflow.alerts.rules import RuleStore
    from newsflow.core.models import Article, article_id_for

    settings = es_connection
    digest_log = tmp_path / "digest.jsonl"
    RuleStore(es_client, settings).add("rates", "rates", [f"log:{digest_log}"], digest="hourly")
    url = "https://example.com/rates"
    yesterday = datetime.now(UTC) - timedelta(days=1)
    match_articles(es_client, settings, [Article(
        id=article_id_for(url), url=url, title="Rates rise", summary="", body="Rates rise.",
        source="Example", feed_url="https://example.com/feed.xml", published_at=yesterday,
        ingested_at=yesterday, language="en")], now=yesterday)

    first = dagbag.dags["news_digests"].test()
    second = dagbag.dags["news_digests"].test()

    assert str(first.state) == "success", task_states(first)
    assert xcom(first, "deliver") | {"busy": 0} == {"digests": 1, "sent": 1, "failed": 0, "busy": 0,
                                                    "already_delivered": 0, "stories": 1}
    assert xcom(second, "deliver")["already_delivered"] == 1 and xcom(second, "deliver")["sent"] == 0
    [line] = digest_log.read_text().splitlines()
    assert json.loads(line)["stories"][0]["url"] == url


def test_news_push_processes_the_spooled_pushes_and_alerts(
    airflow_db: None, dagbag: Any, es_connection: Any, es_client: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the receiver spooled is indexed and alerted by one run, then gone from the spool."""
    import hashlib
    from datetime import UTC, datetime

    from ingest.types import FeedSpec
    from ingest.websub import PushedBody
    from newsflow.alerts.rules import RuleStore
    from newsflow.app.indices import ensure_all
    from newsflow.app.push import push_spool

    settings = es_connection
    spec = FeedSpec(url="http://127.0.0.1:9/pushed.atom")
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - url: {spec.url}\n", encoding="utf-8")
    monkeypatch.setenv("NEWSFLOW_FEEDS_FILE", str(feeds))
    alert_log = tmp_path / "alerts.jsonl"
    ensure_all(es_client, settings)
    RuleStore(es_client, settings).add("cholera", "title:cholera", [f"log:{alert_log}"])
    body = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Pushed</title>'
            b'<id>urn:p</id><updated>2026-01-01T00:00:00Z</updated><entry><id>http://example.com/c1</id>'
            b'<title>Cholera cases rise in the capital</title><link href="http://example.com/c1"/>'
            b'<updated>2026-01-01T00:00:00Z</updated><content type="html">&lt;p&gt;Health officials in '
            b'Lusaka said cholera cases rose on Monday.&lt;/p&gt;</content></entry></feed>')
    push_spool(settings).put(PushedBody(key=spec.key, nonce="fixednonce01", body=body,
                                        content_type="application/atom+xml", received_at=datetime.now(UTC),
                                        digest=hashlib.sha256(body).hexdigest()))

    run = dagbag.dags["news_push"].test()

    assert str(run.state) == "success", task_states(run)
    result = xcom(run, "process")
    assert (result["pushes"], result["pushed_feeds"], result["alerts_sent"]) == (1, 1, 1)
    assert result["articles"]["new"] == 1 and result["problems"] == 0
    assert push_spool(settings).paths() == []
    [line] = alert_log.read_text().splitlines()
    assert json.loads(line)["article"]["url"] == "http://example.com/c1"
