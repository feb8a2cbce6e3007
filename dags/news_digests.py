"""news_digests: send the digests of the rules saved with `--digest hourly|daily|weekly`.

Every ten minutes, each digest whose period (an hour, day or week of the rule's time zone) has
ended and that was not delivered yet goes out once over each of its rule's channels: one message
per rule and period, each story once (newsflow.alerts.digests). A retried or overlapping run never
sends a digest twice; a run that dies mid-delivery leaves the rest to the next.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import dag, task


@dag(
    dag_id="news_digests",
    schedule="*/10 * * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["newsflow"],
    doc_md=__doc__,
)
def news_digests() -> None:
    @task(multiple_outputs=False)
    def deliver() -> dict:
        from newsflow.app.tasks import deliver_digests

        return deliver_digests()

    deliver()


news_digests()
