"""`newsflow airflow` without a running Airflow: what it says and how it exits. (The running
instance is exercised by test_plugin_page.py.)"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from newsflow.cli import cli
from newsflow.dev.local_airflow import LocalAirflow, free_port, is_airflow_component


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


def test_down_spares_an_unrelated_process_named_by_a_stale_pid_file(home: Path) -> None:
    # After a crash or reboot a component's pid file may name a PID now used by anything else.
    run_dir = home / "airflow" / "run"
    run_dir.mkdir(parents=True)
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        (run_dir / "scheduler.pid").write_text(str(bystander.pid))
        result = CliRunner().invoke(cli, ["airflow", "down"])
        assert result.exit_code == 0, result.output
        assert "stale pid file" in result.output and "not Airflow scheduler" in result.output
        assert "not running" in result.output  # nothing of ours was stopped
        time.sleep(0.5)
        assert bystander.poll() is None  # never signalled
        assert not (run_dir / "scheduler.pid").exists()
    finally:
        bystander.kill()
        bystander.wait()


def fake_component(tmp_path: Path, airflow_home: Path) -> subprocess.Popen[bytes]:
    """A process whose command line is `<dir>/airflow scheduler` (a shell script that sleeps),
    started in a session of its own with the given AIRFLOW_HOME, as LocalAirflow starts one."""
    script = tmp_path / "bin" / "airflow"
    script.parent.mkdir(exist_ok=True)
    script.write_text("#!/bin/sh\nsleep 60\n")
    script.chmod(0o755)
    process = subprocess.Popen([str(script), "scheduler"], start_new_session=True,
                               env={"PATH": os.environ["PATH"], "AIRFLOW_HOME": str(airflow_home)})
    # Until the child has exec'd the script, /proc/<pid>/cmdline is still this interpreter's: a
    # loaded machine can take a while, so wait for the command line LocalAirflow checks.
    deadline = time.monotonic() + 10
    while b"scheduler" not in Path(f"/proc/{process.pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the fake component did not start"
        time.sleep(0.02)
    return process


def test_down_spares_the_scheduler_of_another_airflow_home(
    home: Path, tmp_path: Path, offline_settings: Any
) -> None:
    local = LocalAirflow(offline_settings, home=home / "airflow", say=lambda _: None)
    local.run_dir.mkdir(parents=True)
    other = fake_component(tmp_path, tmp_path / "another-airflow")
    try:
        (local.run_dir / "scheduler.pid").write_text(str(other.pid))
        assert local.down() is False
        time.sleep(0.5)
        assert other.poll() is None
    finally:
        os.killpg(other.pid, signal.SIGKILL)
        other.wait()


def test_down_stops_the_component_its_pid_file_names(
    home: Path, tmp_path: Path, offline_settings: Any
) -> None:
    local = LocalAirflow(offline_settings, home=home / "airflow", say=lambda _: None)
    local.run_dir.mkdir(parents=True)
    ours = fake_component(tmp_path, local.home)
    try:
        (local.run_dir / "scheduler.pid").write_text(str(ours.pid))
        assert local.pid("scheduler") == ours.pid
        assert local.down(timeout=10) is True
        assert ours.wait(timeout=10) is not None  # its process group got SIGTERM
        assert not (local.run_dir / "scheduler.pid").exists()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(ours.pid, signal.SIGKILL)


@pytest.mark.parametrize("cmdline, component, expected", [
    (b"/venv/bin/python\0/venv/bin/airflow\0scheduler\0--skip-serve-logs\0", "scheduler", True),
    (b"/venv/bin/python\0/venv/bin/airflow\0dag-processor\0", "dag-processor", True),
    (b"airflow api_server -- host:127.0.0.1 port:8080\0", "api-server", True),  # retitled
    (b"/venv/bin/python\0/venv/bin/airflow\0triggerer\0", "scheduler", False),
    (b"sleep\0600\0", "scheduler", False),
    (b"/venv/bin/python\0-m\0pytest\0tests/airflow\0-x\0", "scheduler", False),
    (b"", "scheduler", False),
])
def test_a_component_is_recognised_by_its_command_line(
    cmdline: bytes, component: str, expected: bool
) -> None:
    assert is_airflow_component(cmdline, component) is expected
