"""news_push: run the cycle on the WebSub pushes the receiver spooled (docs/push.md).

Event-driven by default: `newsflow push serve` touches $NEWSFLOW_HOME/push/pushed after each push it
spools; an AssetWatcher (FileDeleteTrigger, run by `airflow triggerer`) deletes that marker and
updates the asset, which starts a run; the run processes everything in the spool (pushes landing
during a run touch the marker again: one more run). The latency floor is Airflow's, not ours: the
trigger's poll, scheduling, a task process and spaCy's load, many seconds per run; the low-latency
path is `newsflow push process --watch`, which keeps spaCy loaded.

Env: NEWSFLOW_PUSH_SCHEDULE ("event", the default; a cron expression or preset such as
"* * * * *" as a fallback where no triggerer runs; "none"), NEWSFLOW_HOME (the receiver's).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.sdk import Asset, AssetWatcher, dag, task


def _home() -> Path:
    # newsflow.core.settings.default_home, copied: a DAG file imports only the SDK at parse time
    # (tests/airflow/test_dags.py keeps the two in step).
    if os.environ.get("NEWSFLOW_HOME"):
        return Path(os.environ["NEWSFLOW_HOME"])
    if os.geteuid() == 0:
        return Path("/var/lib/newsflow")
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "newsflow"


def _schedule(text: str) -> list[Asset] | str | None:
    text = text.strip()
    if text.lower() in ("none", "manual", "off"):
        return None
    if text and text.lower() != "event":
        return text
    from airflow.providers.standard.triggers.file import FileDeleteTrigger

    marker = str(_home() / "push" / "pushed")
    watcher = AssetWatcher(name="push_marker", trigger=FileDeleteTrigger(filepath=marker, poke_interval=1.0))
    return [Asset("newsflow_push_spool", uri=f"file://{marker}", watchers=[watcher])]


@dag(
    dag_id="news_push",
    schedule=_schedule(os.environ.get("NEWSFLOW_PUSH_SCHEDULE", "")),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    tags=["newsflow"],
    doc_md=__doc__,
)
def news_push() -> None:
    @task(multiple_outputs=False)
    def process() -> dict:
        from newsflow.app.tasks import process_push_spool

        return process_push_spool(None)

    process()


news_push()
