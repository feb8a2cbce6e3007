"""news_ingest: poll the due feeds in parallel shards, index their articles, then alert.

plan (due feeds → shards of URLs) → ingest_shard, mapped once per shard (fetch → normalise →
enrich → index, each group matched against the saved rules as it is indexed, as `newsflow run`
does) → alerts (what no shard could match, volume rules, deliveries due: digests, retries). Only URLs
and counts pass through XCom, each report as one value (multiple_outputs=False: a `dict` return
would otherwise be split into one XCom row per key); the library (newsflow.app.tasks) is imported
inside the tasks so that parsing this file stays fast.

Env: NEWSFLOW_INGEST_SCHEDULE (default every minute; "5m", "1h", a cron expression, a preset
such as "@hourly", or "none"), NEWSFLOW_INGEST_SHARD_SIZE (feeds per mapped task, default 50).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task

# The duration grammar of newsflow.core.durations, copied: a DAG file imports only the SDK at parse
# time (tests/airflow/test_dags.py keeps the two in step).
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _schedule(text: str) -> timedelta | str | None:
    text = text.strip()
    if not text:
        return timedelta(minutes=1)
    if text.lower() in ("none", "manual", "off"):
        return None
    duration = _DURATION.fullmatch(text)
    if duration and float(duration[1]) > 0:
        return timedelta(seconds=float(duration[1]) * _UNIT_SECONDS[duration[2].lower()])
    return text  # a cron expression or a preset such as "@hourly"


@dag(
    dag_id="news_ingest",
    schedule=_schedule(os.environ.get("NEWSFLOW_INGEST_SCHEDULE", "")),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    params={"feeds_file": Param(None, type=["null", "string"],
                                description="Feeds file (YAML or OPML) for this run; "
                                            "default: NEWSFLOW_FEEDS_FILE")},
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30), "retry_exponential_backoff": True,
                  "max_retry_delay": timedelta(minutes=10)},
    tags=["newsflow"],
    doc_md=__doc__,
)
def news_ingest() -> None:
    @task
    def plan(params: dict | None = None) -> list[list[str]]:
        from airflow.sdk.exceptions import AirflowFailException

        from newsflow.app.tasks import DEFAULT_SHARD_SIZE, plan_shards
        from newsflow.core.errors import ConfigError

        size = int(os.environ.get("NEWSFLOW_INGEST_SHARD_SIZE") or DEFAULT_SHARD_SIZE)
        try:
            return plan_shards((params or {}).get("feeds_file"), shard_size=size)
        except ConfigError as exc:  # a bad or missing feeds file: retrying cannot help
            raise AirflowFailException(str(exc)) from exc

    @task(multiple_outputs=False, execution_timeout=timedelta(minutes=30))
    def ingest_shard(feed_urls: list[str], params: dict | None = None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from newsflow.app.tasks import ingest_shard
        from newsflow.core.errors import ConfigError

        try:
            return ingest_shard((params or {}).get("feeds_file"), feed_urls)
        except ConfigError as exc:  # a bad feeds file or settings: every retry would fail the same way
            raise AirflowFailException(str(exc)) from exc

    # none_failed: also when no feed was due (the shards are skipped), to retry deferred deliveries.
    # After a failed shard the run fails here; the articles the other shards indexed keep their
    # place in the alert queue, so the next run alerts them.
    @task(multiple_outputs=False, trigger_rule="none_failed")
    def alerts() -> dict:
        from newsflow.app.tasks import process_alerts

        return process_alerts()

    ingest_shard.expand(feed_urls=plan()) >> alerts()


news_ingest()
