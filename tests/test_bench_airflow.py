"""`newsflow bench --airflow`: where a DAG run's wall time went, from its task instances' times.

The benchmark itself starts a whole Airflow and is run by hand (docs/benchmark.md); here only its
accounting, on the task-instance rows the REST API returns for a run, and its command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from newsflow.cli.bench import command
from newsflow.dev.bench_airflow import TaskTiming, airflow_report, run_overhead, shard_totals

T0 = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def row(task_id: str, queued: float, started: float, ended: float, map_index: int = -1) -> TaskTiming:
    return TaskTiming.from_api({"task_id": task_id, "map_index": map_index, "state": "success",
                                "queued_when": at(queued), "start_date": at(started),
                                "end_date": at(ended)})


# A run queued at 0 s and ended at 40 s: plan 2-5 s, two shards queued at 6 s (started at 7 s and
# 9 s, ended at 30 s and 25 s, their pipelines 20 s and 14 s), alerts queued at 32 s, ran 33-38 s.
RUN = [row("plan", 1, 2, 5), row("ingest_shard", 6, 7, 30, 0), row("ingest_shard", 6, 9, 25, 1),
       row("alerts", 32, 33, 38)]


def test_idle_gaps_are_the_run_time_in_which_no_task_of_the_run_was_running() -> None:
    overhead = run_overhead(T0, T0 + timedelta(seconds=40), RUN)

    # Busy: 2-5 s, 7-30 s (the shards overlap), 33-38 s: 31 s of 40 s; idle 9 s.
    assert overhead["total_seconds"] == 40
    assert overhead["busy_seconds"] == 31
    assert overhead["idle_gap_seconds"] == 9
    assert overhead["scheduling_share"] == 0.225


def test_queue_waits_are_summed_over_every_task_instance() -> None:
    overhead = run_overhead(T0, T0 + timedelta(seconds=40), RUN)

    assert overhead["queue_wait_seconds"] == 1 + 1 + 3 + 1
    assert overhead["longest_queue_wait_seconds"] == 3
    assert [t["started_after_run_queued_seconds"] for t in overhead["tasks"]] == [2, 7, 9, 33]


def test_only_the_longest_shard_start_up_counts_on_the_critical_path() -> None:
    overhead = run_overhead(T0, T0 + timedelta(seconds=40), RUN, {0: 20.0, 1: 14.0})

    assert overhead["shard_startup_seconds"] == {"0": 3.0, "1": 2.0}
    assert overhead["scheduling_and_startup_share"] == round((9 + 3) / 40, 4)


def test_a_run_whose_tasks_never_started_is_all_gap() -> None:
    skipped = TaskTiming.from_api({"task_id": "ingest_shard", "map_index": None, "state": "skipped",
                                   "queued_when": None, "start_date": None, "end_date": None})

    overhead = run_overhead(T0, T0 + timedelta(seconds=4), [row("plan", 0.5, 1, 2), skipped])

    assert overhead["idle_gap_seconds"] == 3
    assert overhead["tasks"][1] == {"task_id": "ingest_shard", "map_index": -1, "state": "skipped",
                                    "queue_wait_seconds": None, "duration_seconds": None,
                                    "started_after_run_queued_seconds": None}


def test_goals_are_the_ratio_within_1_3x_and_a_no_change_run_under_20_s() -> None:
    assert airflow_report(1.3, 19.9) == {"airflow_within_1.3x_cli": True, "no_change_run_under_20s": True}
    assert airflow_report(1.31, 20.0) == {"airflow_within_1.3x_cli": False, "no_change_run_under_20s": False}


def test_the_command_offers_the_scheduled_path_with_a_corpus_subset_size() -> None:
    result = CliRunner().invoke(command, ["--help"])

    assert result.exit_code == 0
    assert "--airflow" in result.output and "--feeds" in result.output and "--shard-size" in result.output


def test_shard_totals_add_up_flat_and_nested_counts() -> None:
    reports = [{"feeds": 2, "indexed": 5, "articles": {"new": 5, "unchanged": 1}, "seconds": 3.0,
                "alerts": {"created": 4, "sent": 4}},
               {"feeds": 1, "indexed": 0, "articles": {"new": 0, "unchanged": 4},
                "alerts": {"created": 0, "sent": 1}}]

    assert shard_totals(reports) == {"feeds": 3, "indexed": 5, "articles": {"new": 5, "unchanged": 5},
                                     "alerts": {"created": 4, "sent": 5}}
