"""news_maintenance: daily feed-health report and index-lifecycle check; re-enrichment on demand.

Trigger with `{"reenrich": true, "query": "source:Example"}` to run enrichment again over the
stored articles matching the query (after a spaCy model or vocabulary update). The lifecycle check
fails the run when an index behind `<prefix>-articles` is stuck in an ILM error or unmanaged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task


@dag(
    dag_id="news_maintenance",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    params={
        "reenrich": Param(False, type="boolean", description="Re-enrich stored articles in this run"),
        "query": Param("*", type="string", description="Lucene query selecting the articles to re-enrich"),
        "feeds_file": Param(None, type=["null", "string"], description="Feeds file to report on"),
    },
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1), "retry_exponential_backoff": True},
    tags=["newsflow"],
    doc_md=__doc__,
)
def news_maintenance() -> None:
    # multiple_outputs=False: each report is one XCom value, not one row per key of the dict.
    @task(multiple_outputs=False)
    def feed_health(params: dict | None = None) -> dict:
        from newsflow.app.tasks import feed_health_report

        return feed_health_report((params or {}).get("feeds_file"))

    @task(multiple_outputs=False, retries=0)  # an ILM error needs a person, not a retry
    def lifecycle() -> dict:
        from newsflow.app.tasks import check_lifecycle

        return check_lifecycle(raise_on_problems=True)

    @task.short_circuit
    def reenrich_requested(params: dict | None = None) -> bool:
        return bool((params or {}).get("reenrich"))

    @task(multiple_outputs=False, execution_timeout=timedelta(hours=6))
    def reenrich(params: dict | None = None) -> dict:
        from newsflow.app.tasks import reenrich

        return reenrich((params or {}).get("query") or "*")

    feed_health()
    lifecycle()
    reenrich_requested() >> reenrich()


news_maintenance()
