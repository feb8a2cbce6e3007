"""The DAG files as the dag-processor sees them: they import cleanly, fast, with the contract's ids,
tasks, params, schedule and retry policy. No database needed."""

from __future__ import annotations

import runpy
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from tests.airflow.conftest import DAGS
from tests.conftest import REPO


def test_every_dag_file_imports_without_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dags) == ["news_digests", "news_ingest", "news_maintenance", "news_push"]


def test_news_ingest_plans_then_fans_out_shards_then_alerts(dagbag: Any) -> None:
    dag = dagbag.dags["news_ingest"]
    assert {t.task_id for t in dag.tasks} == {"plan", "ingest_shard", "alerts"}
    assert dag.get_task("plan").downstream_task_ids == {"ingest_shard"}
    assert dag.get_task("ingest_shard").downstream_task_ids == {"alerts"}
    # The shard task is dynamically mapped over the planned shards.
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    assert isinstance(dag.get_task("ingest_shard"), MappedOperator)
    # Alerts also run when no feed was due (the mapped task is skipped), not after a failure.
    assert dag.get_task("alerts").trigger_rule == "none_failed"


def test_news_ingest_runs_every_minute_one_run_at_a_time_without_catchup(dagbag: Any) -> None:
    dag = dagbag.dags["news_ingest"]
    assert dag.schedule == timedelta(minutes=1)
    assert dag.catchup is False
    assert dag.max_active_runs == 1


def test_news_ingest_takes_a_feeds_file_param(dagbag: Any) -> None:
    dag = dagbag.dags["news_ingest"]
    assert dag.params["feeds_file"] is None
    assert dag.params.get_param("feeds_file").schema["type"] == ["null", "string"]


def test_every_task_retries_with_exponential_backoff(dagbag: Any) -> None:
    dag = dagbag.dags["news_ingest"]
    for task in dag.tasks:
        assert task.retries == 2, task.task_id
        assert task.retry_exponential_backoff, task.task_id
        assert task.retry_delay == timedelta(seconds=30), task.task_id


def test_every_report_is_one_xcom_value_and_nothing_is_published_to_an_asset(dagbag: Any) -> None:
    # A `-> dict` task infers multiple_outputs=True: one XCom row per key of the report, every run.
    for dag_id in ("news_ingest", "news_maintenance", "news_digests", "news_push"):
        for task in dagbag.dags[dag_id].tasks:
            assert task.multiple_outputs is False, (dag_id, task.task_id)
            assert not task.outlets, (dag_id, task.task_id)  # the asset had no consumer


def test_a_configuration_error_in_a_shard_fails_it_without_retries(dagbag: Any, tmp_path: Any) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    shard = dagbag.dags["news_ingest"].get_task("ingest_shard")
    with pytest.raises(AirflowFailException, match="feeds"):
        shard.python_callable(["http://127.0.0.1:9/a.xml"],
                              params={"feeds_file": str(tmp_path / "gone.yaml")})


def test_news_digests_delivers_every_ten_minutes_one_run_at_a_time(dagbag: Any) -> None:
    dag = dagbag.dags["news_digests"]
    assert {t.task_id for t in dag.tasks} == {"deliver"}
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.get_task("deliver").retries == 2


def test_maintenance_reports_checks_and_reenriches_on_demand(dagbag: Any) -> None:
    dag = dagbag.dags["news_maintenance"]
    assert {t.task_id for t in dag.tasks} == {"feed_health", "lifecycle", "reenrich_requested", "reenrich"}
    assert dag.get_task("reenrich_requested").downstream_task_ids == {"reenrich"}
    assert dag.params["reenrich"] is False
    assert dag.params["query"] == "*"
    assert dag.catchup is False


def test_news_push_runs_when_the_receiver_touches_its_marker(dagbag: Any) -> None:
    """An AssetWatcher with a FileDeleteTrigger on the marker `newsflow push serve` touches (the
    same path as newsflow.app.push.push_marker); one run at a time, the spool processed by one task."""
    from airflow.providers.standard.triggers.file import FileDeleteTrigger

    from newsflow.app.push import push_marker
    from newsflow.core.settings import load_settings

    dag = dagbag.dags["news_push"]
    assert {t.task_id for t in dag.tasks} == {"process"}
    assert (dag.catchup, dag.max_active_runs, dag.get_task("process").retries) == (False, 1, 2)
    [asset] = dag.schedule
    [watcher] = asset.watchers
    assert isinstance(watcher.trigger, FileDeleteTrigger)
    assert watcher.trigger.filepath == str(push_marker(load_settings()))


def test_news_push_finds_the_home_as_newsflow_does(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The DAG file keeps a copy of newsflow.core.settings.default_home (it imports only the SDK).
    from newsflow.core.settings import default_home

    home = runpy.run_path(str(DAGS / "news_push.py"))["_home"]
    monkeypatch.delenv("NEWSFLOW_HOME", raising=False)
    assert home() == default_home()
    monkeypatch.setenv("NEWSFLOW_HOME", str(tmp_path))
    assert home() == tmp_path


def test_news_push_falls_back_to_a_cron_schedule_or_none() -> None:
    parse = runpy.run_path(str(DAGS / "news_push.py"))["_schedule"]
    assert parse("* * * * *") == "* * * * *"
    assert parse("none") is None
    assert [asset.name for asset in parse("event")] == [asset.name for asset in parse("")] == [
        "newsflow_push_spool"]


@pytest.mark.parametrize("text, schedule", [
    ("", timedelta(minutes=1)), ("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)),
    ("2h", timedelta(hours=2)), ("1d", timedelta(days=1)), ("@hourly", "@hourly"),
    ("*/10 * * * *", "*/10 * * * *"), ("none", None), ("manual", None),
])
def test_schedule_texts(text: str, schedule: object) -> None:
    parse = runpy.run_path(str(DAGS / "news_ingest.py"))["_schedule"]
    assert parse(text) == schedule


@pytest.mark.parametrize("text", ["30s", "90", "5m", "1.5h", "2H", "1d", "2w", " 10 m "])
def test_the_schedule_reads_durations_as_newsflow_does(text: str) -> None:
    # The DAG file keeps a copy of newsflow.core.durations' grammar (it imports only the SDK).
    from newsflow.core.durations import parse_duration

    parse = runpy.run_path(str(DAGS / "news_ingest.py"))["_schedule"]
    assert parse(text) == parse_duration(text)


def test_schedule_comes_from_the_environment() -> None:
    code = (
        "from airflow.dag_processing.dagbag import DagBag;"
        f"b = DagBag({str(DAGS)!r});"
        "print(repr(b.dags['news_ingest'].schedule))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=REPO, env={**_env(), "NEWSFLOW_INGEST_SCHEDULE": "5m"}).stdout
    assert output.strip().splitlines()[-1] == "datetime.timedelta(seconds=300)"


def test_dag_files_import_nothing_heavy_at_parse_time() -> None:
    # The scheduler re-parses DAG files constantly: spaCy, elasticsearch and newsflow's stages must
    # only be imported inside the tasks.
    code = (
        "import sys, runpy;"
        f"[runpy.run_path(p) for p in {[str(p) for p in sorted(DAGS.glob('*.py'))]!r}];"
        "print(sorted(m for m in ('spacy', 'elasticsearch', 'newsflow', 'ingest', 'enrich', 'alerts')"
        " if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=REPO, env=_env()).stdout
    assert output.strip().splitlines()[-1] == "[]"


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "NEWSFLOW_INGEST_SCHEDULE"}
