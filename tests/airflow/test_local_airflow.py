"""`newsflow airflow` without a running Airflow: what it says and how it exits. (The running
instance is exercised by test_plugin_page.py.)"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from newsflow.cli import cli
from newsflow.local_airflow import LocalAirflow, free_port


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NEWSFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("NEWSFLOW_INDEX_PREFIX", "local-airflow-test")
    return tmp_path


def test_status_of_an_instance_that_is_not_running_exits_1(home: Path) -> None:
    result = CliRunner().invoke(cli, ["airflow", "status", "--json"])
    assert result.exit_code == 1
    assert '"healthy": false' in result.output and '"detail": "not running"' in result.output


def test_down_when_nothing_runs_says_so(home: Path) -> None:
    result = CliRunner().invoke(cli, ["airflow", "down"])
    assert result.exit_code == 0 and "not running" in result.output


def test_trigger_without_a_running_airflow_says_how_to_start_it(home: Path) -> None:
    result = CliRunner().invoke(cli, ["airflow", "trigger", "--no-wait"])
    assert result.exit_code == 2
    assert "newsflow airflow up" in result.output


def test_env_prints_what_the_airflow_cli_needs_and_no_secret(home: Path) -> None:
    result = CliRunner().invoke(cli, ["airflow", "env"])
    assert result.exit_code == 0
    lines = dict(line.removeprefix("export ").split("=", 1) for line in result.output.splitlines())
    assert lines["AIRFLOW_HOME"] == str(home / "airflow")
    assert lines["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")
    assert lines["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert lines["NEWSFLOW_INDEX_PREFIX"] == "local-airflow-test"
    assert not any("SECRET" in name for name in lines)


def test_a_stale_pid_file_is_not_a_running_component(home: Path, offline_settings: Any) -> None:
    local = LocalAirflow(offline_settings, home=home / "airflow")
    local.run_dir.mkdir(parents=True)
    (local.run_dir / "scheduler.pid").write_text("999999999")
    assert local.pid("scheduler") is None
    assert not (local.run_dir / "scheduler.pid").exists()


def test_a_busy_preferred_port_gives_another_free_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        port = free_port(taken)
    assert port != taken and port > 0
