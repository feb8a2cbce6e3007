"""The Celery rig: its own Redis (real redis-server), the CeleryExecutor environment of the local
Airflow, `newsflow rig` without a running rig, and one drill (slow) that SIGKILLs a Celery worker
mid-run and counts what was lost, duplicated or alerted twice."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from newsflow.cli import cli
from newsflow.core.errors import LocalAirflowError, LocalRedisError
from newsflow.dev.drill_celery import choose_es_nodes, drill_verdict, kill_tree, process_tree, summary
from newsflow.dev.local_airflow import LocalAirflow, is_celery_worker
from newsflow.dev.local_redis import LocalRedis, is_redis_server_of


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_home(tmp_path: Path) -> Path:
    return tmp_path / "redis"


def test_redis_starts_on_loopback_with_a_private_password_and_stops_by_pid(redis_home: Path) -> None:
    import redis

    port = _free_port()
    local = LocalRedis(redis_home, port)
    try:
        status = local.up()
        assert status.running and status.pid is not None
        assert stat.S_IMODE(local.password_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(local.conf_file.stat().st_mode) == 0o600
        # It listens on 127.0.0.1 only: the kernel's table of listening sockets says so.
        listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                                   text=True, check=True).stdout
        local_addresses = {line.split()[3] for line in listening.splitlines() if line.strip()}
        assert local_addresses == {f"127.0.0.1:{port}"}
        # Without the password it refuses commands; with it, a value goes in and out.
        anonymous = redis.Redis(host="127.0.0.1", port=port)
        with pytest.raises(redis.AuthenticationError):
            anonymous.set("k", "v")
        anonymous.close()
        client = redis.Redis.from_url(local.url)
        client.set("k", "v")
        assert client.get("k") == b"v"
        client.close()
        assert local.password() not in local.public_url
        assert local.up().pid == status.pid  # idempotent
    finally:
        stopped = local.down()
    assert stopped
    assert local.status().running is False
    assert not local.pid_file.exists()
    assert local.down() is False


def test_redis_refuses_a_non_loopback_address(redis_home: Path) -> None:
    for host in ("0.0.0.0", "192.168.1.10", "::", "example.org"):
        with pytest.raises(LocalRedisError, match=r"127\.0\.0\.1|loopback"):
            LocalRedis(redis_home, 6390, host=host)
    assert not redis_home.exists()  # refused before anything was written
    LocalRedis(redis_home, 6390, host="127.0.0.2")  # any address of 127.0.0.0/8 is loopback


def test_a_stale_pid_file_naming_another_program_is_removed_and_spared(redis_home: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        local = LocalRedis(redis_home, _free_port())
        redis_home.mkdir(parents=True)
        local.pid_file.write_text(str(other.pid))
        assert local.pid() is None
        assert not local.pid_file.exists()
        local.pid_file.write_text(str(other.pid))
        assert local.down() is False
        assert other.poll() is None  # not signalled
    finally:
        other.kill()
        other.wait()


def test_redis_command_lines_are_recognised() -> None:
    assert is_redis_server_of(b"/usr/bin/redis-server 127.0.0.1:6390\0\0\0", 6390)
    assert is_redis_server_of(b"/usr/bin/redis-server\0/home/x/redis.conf\0", 6390)
    assert not is_redis_server_of(b"/usr/bin/redis-server 127.0.0.1:6391\0", 6390)
    assert not is_redis_server_of(b"python\0-c\0redis-server 127.0.0.1:6390\0", 6390)
    assert not is_redis_server_of(b"", 6390)


def test_a_port_already_in_use_is_refused(redis_home: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(LocalRedisError, match="in use"):
            LocalRedis(redis_home, port).up()



# --- the CeleryExecutor environment and `newsflow rig` without a running rig ---

def test_the_celery_rig_environment_names_its_broker_backend_workers_and_heartbeat(
        offline_settings: Any, tmp_path: Path) -> None:
    rig = LocalAirflow(offline_settings, home=tmp_path / "rig", executor="celery", workers=3,
                       worker_concurrency=2, redis_port=6399)
    env = rig.environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "6"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:{rig.redis.password()}@127.0.0.1:6399/0"  # type: ignore[union-attr]
    backend = env["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert backend == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert backend.startswith("db+postgresql") and "host=" in backend  # the same PostgreSQL, its socket
    assert env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "2"
    assert int(env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"]) <= 60
    workers = {name: args for name, args in rig.components.items() if name.startswith("celery-worker")}
    assert list(workers) == ["celery-worker1", "celery-worker2", "celery-worker3"]
    hostnames = {args[args.index("--celery-hostname") + 1] for args in workers.values()}
    assert hostnames == {"worker1@newsflow-rig", "worker2@newsflow-rig", "worker3@newsflow-rig"}
    assert all("--skip-serve-logs" in args for args in workers.values())  # no log server on 0.0.0.0
    # The broker password is a secret: not in what `env`-style output hands to a shell.
    assert "AIRFLOW__CELERY__BROKER_URL" not in rig.shell_environment()


def test_the_default_executor_is_unchanged(offline_settings: Any, tmp_path: Path) -> None:
    local = LocalAirflow(offline_settings, home=tmp_path / "af")
    env = local.environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert not any(name.startswith("AIRFLOW__CELERY") for name in env if name not in os.environ)
    assert list(local.components) == ["api-server", "scheduler", "dag-processor", "triggerer"]
    assert local.redis is None


def test_an_unknown_executor_or_worker_count_is_refused(offline_settings: Any, tmp_path: Path) -> None:
    with pytest.raises(LocalAirflowError, match="executor"):
        LocalAirflow(offline_settings, home=tmp_path, executor="kubernetes")
    with pytest.raises(LocalAirflowError, match="workers"):
        LocalAirflow(offline_settings, home=tmp_path, executor="celery", workers=0)


def test_celery_workers_are_recognised_as_started_and_as_retitled() -> None:
    started = (b"/x/.venv/bin/python\0/x/.venv/bin/airflow\0celery\0worker\0"
               b"--celery-hostname\0worker2@newsflow-rig\0")
    assert is_celery_worker(started, "worker2@newsflow-rig")
    assert not is_celery_worker(started, "worker1@newsflow-rig")
    retitled = b"[celeryd: worker1@newsflow-rig:MainProcess] -active- (celery worker --celery-hostname "
    assert is_celery_worker(retitled, "worker1@newsflow-rig")
    assert not is_celery_worker(retitled, "worker11@newsflow-rig")
    assert not is_celery_worker(b"/usr/bin/airflow\0scheduler\0", "worker1@newsflow-rig")


def test_a_stale_worker_pid_file_is_removed_and_its_process_spared(
        offline_settings: Any, tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        rig = LocalAirflow(offline_settings, home=tmp_path / "rig", executor="celery")
        rig.run_dir.mkdir(parents=True)
        (rig.run_dir / "celery-worker1.pid").write_text(str(other.pid))
        assert rig.pid("celery-worker1") is None
        assert not (rig.run_dir / "celery-worker1.pid").exists()
        (rig.run_dir / "celery-worker2.pid").write_text(str(other.pid))
        rig.down()
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_rig_status_and_down_without_a_running_rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_HOME", str(tmp_path))
    status = CliRunner().invoke(cli, ["rig", "status", "--json"])
    assert status.exit_code == 1
    shown = json.loads(status.output)
    assert shown["healthy"] is False and shown["executor"] == "CeleryExecutor"
    assert shown["pids"]["celery-worker1"] is None and shown["pids"]["redis"] is None
    down = CliRunner().invoke(cli, ["rig", "down"])
    assert down.exit_code == 0 and "not running" in down.output


def test_the_process_tree_of_a_worker_includes_grandchildren() -> None:
    parents = {10: 1, 11: 10, 12: 10, 13: 11, 14: 13, 20: 1, 21: 20}
    assert process_tree(10, parents) == [10, 11, 12, 13, 14]
    assert process_tree(20, parents) == [20, 21]


def test_kill_tree_kills_a_process_and_its_grandchild() -> None:
    code = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
            "'import subprocess, sys, time; subprocess.Popen([sys.executable, \"-c\", \"import time; "
            "time.sleep(60)\"]); time.sleep(60)']); time.sleep(60)")
    root = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while len(process_tree(root.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        tree = process_tree(root.pid)
        assert len(tree) == 3
        assert kill_tree(root.pid) == tree
        root.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() and _state(pid) != "Z" for pid in tree[1:]):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        root.kill()
        root.wait()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def test_the_drill_verdict_fails_on_any_loss_duplicate_or_repeat() -> None:
    good = {"killed": {"worker": 1}, "run_state": "success", "retried": [{"task_id": "ingest_shard"}],
            "articles": {"expected": 10, "lost": 0, "duplicated": 0},
            "alerts": {"repeated": 0, "repeated_deliveries": 0}, "spool_batches": 0}
    assert all(drill_verdict(good).values())
    for key, bad in (("articles", {"expected": 10, "lost": 1, "duplicated": 0}),
                     ("articles", {"expected": 10, "lost": 0, "duplicated": 2}),
                     ("alerts", {"repeated": 1, "repeated_deliveries": 0}),
                     ("spool_batches", 3), ("run_state", "failed"), ("killed", None), ("retried", [])):
        assert not all(drill_verdict({**good, key: bad}).values()), key


def test_the_combined_drill_stops_the_primary_node_and_the_workers_talk_to_another_or_to_it() -> None:
    assert choose_es_nodes(0, 3, "other") == (0, 1)
    assert choose_es_nodes(2, 3, "other") == (2, 0)  # wraps round: never the stopped node
    assert choose_es_nodes(1, 3, "primary") == (1, 1)
    for nodes in (2, 3, 5):
        for holder in range(nodes):
            stop, talk = choose_es_nodes(holder, nodes, "other")
            assert stop == holder and talk != holder and 0 <= talk < nodes
    for holder, nodes, client_on in ((0, 1, "other"), (3, 3, "other"), (-1, 3, "primary"), (0, 3, "any")):
        with pytest.raises(ValueError):
            choose_es_nodes(holder, nodes, client_on)


def test_the_combined_drill_verdict_needs_the_node_stopped_mid_run_and_green_after() -> None:
    good = {"killed": {"worker": 1, "at_run_seconds": 20.0, "processes_killed": 6, "map_index": 0},
            "run_state": "success", "retried": [{"task_id": "ingest_shard", "map_index": 0}],
            "articles": {"expected": 10, "indexed_hits": 10, "distinct_ids": 10, "distinct_urls": 10,
                         "lost": 0, "duplicated": 0},
            "alerts": {"records": 5, "distinct_rule_story": 5, "delivered_lines": 5, "repeated": 0,
                       "repeated_deliveries": 0},
            "spool_batches": 0, "feeds": 8, "workers": 2, "concurrency": 2, "run_seconds": 90.0,
            "es_cluster": {"client_on": "other", "stopped_node": "rig-es-1", "stopped_mid_run": True,
                           "cluster_after": "green", "workers_es_url": "http://127.0.0.1:9283"}}
    verdict = drill_verdict(good)
    assert verdict["es_node_stopped_mid_run"] and verdict["cluster_green_after"] and all(verdict.values())
    assert "drain_run_succeeded" not in verdict
    for bad in ({"stopped_node": None}, {"stopped_mid_run": False}, {"cluster_after": "yellow"}):
        assert not all(drill_verdict({**good, "es_cluster": {**good["es_cluster"], **bad}}).values()), bad
    spooling = {**good["es_cluster"], "client_on": "primary", "drain_run_state": "failed"}
    assert not all(drill_verdict({**good, "es_cluster": spooling}).values())
    assert all(drill_verdict({**good, "es_cluster": {**spooling, "drain_run_state": "success"}}).values())
    without = {k: v for k, v in good.items() if k != "es_cluster"}
    assert "es_node_stopped_mid_run" not in drill_verdict(without)
    text = summary({**good, "ok": True})
    assert text.startswith("drill PASSED") and "rig-es-1" in text and "0 lost, 0 duplicated" in text
    assert summary({**good, "ok": False}).startswith("drill FAILED")


# --- the drill ---

@pytest.mark.drill
@pytest.mark.slow
@pytest.mark.corpus
def test_a_worker_killed_mid_run_loses_nothing_duplicates_nothing_and_alerts_once(
        settings: Any) -> None:
    """The whole rig (Redis, PostgreSQL, Airflow, two Celery workers) over a few corpus feeds; the
    worker running a shard is SIGKILLed with its process tree; the run finishes by its retries."""
    from newsflow.dev.drill_celery import DrillOptions, run_drill

    result = run_drill(DrillOptions(feeds=4, shard_size=1, rules=20, heartbeat_timeout=20), settings)
    assert result["killed"] is not None and result["killed"]["survivors"] == []
    assert result["run_state"] == "success"
    killed_shard = result["killed"]["map_index"]
    retried = {(r["task_id"], r["map_index"]) for r in result["retried"]}
    assert ("ingest_shard", killed_shard) in retried
    articles = result["articles"]
    assert articles["expected"] > 0
    assert articles["lost"] == 0 and articles["duplicated"] == 0 and articles["unexpected"] == 0
    assert articles["distinct_ids"] == articles["indexed_hits"] == articles["expected"]
    alerts = result["alerts"]
    assert alerts["records"] > 0  # the rules matched something, so "alerted once" is tested
    assert alerts["repeated"] == 0 and alerts["repeated_deliveries"] == 0
    assert result["spool_batches"] == 0
    assert result["ok"] is True


def test_down_stops_a_workers_task_process_that_runs_in_a_session_of_its_own(
        offline_settings: Any, tmp_path: Path) -> None:
    """Airflow's task supervisor leaves the worker's process group, so the group's SIGTERM and
    SIGKILL miss it; `down` kills what is left of the worker's tree. The "worker" here is a
    Python process whose command line is a worker's (`… /airflow celery worker --celery-hostname
    worker1@newsflow-rig`) with AIRFLOW_HOME this rig's, and its "task" child ignores SIGTERM."""
    rig = LocalAirflow(offline_settings, home=tmp_path / "rig", executor="celery", workers=1,
                       redis_port=_free_port())
    rig.run_dir.mkdir(parents=True)
    task = ("import os, signal, sys, time; os.setsid(); signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)")
    task_pid_file = tmp_path / "task.pid"
    worker_code = (f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {task!r}, "
                   f"{str(task_pid_file)!r}]); time.sleep(120)")
    worker = subprocess.Popen(
        [sys.executable, "-c", worker_code, str(tmp_path / "bin" / "airflow"), "celery", "worker",
         "--celery-hostname", "worker1@newsflow-rig"],
        env={**os.environ, "AIRFLOW_HOME": str(rig.home)}, start_new_session=True)
    try:
        (rig.run_dir / "celery-worker1.pid").write_text(str(worker.pid))
        deadline = time.monotonic() + 20
        while not task_pid_file.exists() or not task_pid_file.read_text():
            assert time.monotonic() < deadline, "the task process did not start"
            time.sleep(0.1)
        task_pid = int(task_pid_file.read_text())
        assert rig.pid("celery-worker1") == worker.pid
        assert rig.down(timeout=5) is True
        worker.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _state(task_pid) not in ("gone", "Z"):
            assert time.monotonic() < deadline, "the task process outlived down()"
            time.sleep(0.1)
    finally:
        worker.kill()
        worker.wait()
        if task_pid_file.exists() and task_pid_file.read_text():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(task_pid_file.read_text()), signal.SIGKILL)
