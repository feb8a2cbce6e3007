"""The Celery rig: its own Redis (real redis-server), the CeleryExecutor environment of the local
Airflow, `newsflow rig` without a running rig, and one drill (slow) that SIGKILLs a Celery worker
mid-run and counts what was lost, duplicated or alerted twice."""

from __future__ import annotations

import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from newsflow.core.errors import LocalRedisError
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

