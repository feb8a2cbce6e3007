"""A Redis server of our own: the Celery broker of the local cluster rig (`newsflow rig up`).

Debian's `redis-server` package provides the binary (`scripts/ensure-redis.sh` installs it when it
is missing; the package's own service is never started). Ours lives in a folder of its own:
`redis.conf` (mode 0600: it holds the password), `password` (mode 0600, generated once), `data/`,
`redis.pid` and `redis.log`. It listens on 127.0.0.1 only (a non-loopback address is refused before
anything starts), with `protected-mode yes` and a password, and keeps nothing on disk (`save ""`,
no AOF): it only carries task messages between the scheduler and the workers, and a lost message is
a task the scheduler re-queues.

It is started in a session of its own (`daemonize no`, so its PID is the one we started) and stopped
by its PID: SIGTERM, SIGKILL after a timeout, and only after /proc/<pid>/cmdline shows it is a
`redis-server` on our port (a pid file left by a crash may name a PID the kernel gave to another
process). As root it runs as root, which Redis allows.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from newsflow.core.errors import LocalRedisError
from newsflow.dev.paths import project_dir
from newsflow.dev.pids import alive, stop_process

log = logging.getLogger(__name__)

DEFAULT_PORT = 6390  # not 6379: never collide with a system Redis
ENSURE_SCRIPT = project_dir() / "scripts" / "ensure-redis.sh"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0

CONF = """# written by newsflow: the Celery broker of the local rig, loopback only
bind {host}
port {port}
protected-mode yes
requirepass {password}
daemonize no
supervised no
dir {data_dir}
pidfile {pid_file}
logfile {log_file}
loglevel notice
save ""
appendonly no
databases 4
maxmemory 256mb
"""


@dataclass(frozen=True, slots=True)
class RedisStatus:
    url: str  # without the password
    running: bool
    pid: int | None
    detail: str = ""


def redis_binary() -> Path:
    """`NEWSFLOW_REDIS_SERVER` when set, else `redis-server` on the PATH, else /usr/bin/redis-server."""
    override = os.environ.get("NEWSFLOW_REDIS_SERVER")
    if override:
        return Path(override)
    found = shutil.which("redis-server")
    return Path(found) if found else Path("/usr/bin/redis-server")


def ensure_installed(say: Callable[[str], None] | None = None) -> Path:
    """The redis-server binary; runs scripts/ensure-redis.sh once when it is missing."""
    binary = redis_binary()
    if binary.exists():
        return binary
    (say or log.info)(f"redis-server missing: running {ENSURE_SCRIPT}")
    done = subprocess.run(["bash", str(ENSURE_SCRIPT)], capture_output=True, text=True, check=False)
    binary = redis_binary()
    if done.returncode != 0 or not binary.exists():
        raise LocalRedisError(
            f"redis-server is not installed and {ENSURE_SCRIPT} could not install it "
            f"(exit {done.returncode}): {(done.stderr or done.stdout).strip()[-1500:]}\n"
            "Install it with `apt-get install redis-server` (as root), or set NEWSFLOW_REDIS_SERVER"
        )
    return binary


def check_loopback(host: str) -> None:
    """Raise LocalRedisError unless `host` is an address of 127.0.0.0/8 (or ::1). Pure."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError as exc:
        raise LocalRedisError(
            f"Redis bind address {host!r} is not an IP address: the rig binds 127.0.0.1 only"
        ) from exc
    if not address.is_loopback:
        raise LocalRedisError(
            f"Redis bind address {host} is not a loopback address: the rig's broker listens on "
            "127.0.0.0/8 only (it carries the task messages of the cluster)"
        )


def is_redis_server_of(cmdline: bytes, port: int) -> bool:
    """Whether a /proc/<pid>/cmdline is a redis-server on `port`: as started (`redis-server
    /path/redis.conf`) it names the binary; once running Redis retitles itself
    `redis-server 127.0.0.1:<port>`. Pure."""
    words = cmdline.replace(b"\0", b" ").decode(errors="replace").split()
    if not words or not (words[0] == "redis-server" or words[0].endswith("/redis-server")):
        return False
    rest = words[1:]
    if any(word.endswith(".conf") for word in rest):
        return True  # not yet retitled: the port is in its config file
    return any(word.rsplit(":", 1)[-1] == str(port) for word in rest)


class LocalRedis:
    """The Redis server under `home` (redis.conf, password, data/, redis.pid, redis.log)."""

    def __init__(self, home: Path, port: int = DEFAULT_PORT, *, host: str = "127.0.0.1",
                 say: Callable[[str], None] | None = None) -> None:
        check_loopback(host)
        self.home = home
        self.port = port
        self.host = host
        self.conf_file = home / "redis.conf"
        self.password_file = home / "password"
        self.data_dir = home / "data"
        self.pid_file = home / "redis.pid"
        self.log_file = home / "redis.log"
        self._say = say or (lambda message: log.info("%s", message))

    # --- places ---
    def password(self) -> str:
        """The password (generated on first use, kept in a 0600 file)."""
        if self.password_file.is_file():
            return self.password_file.read_text().strip()
        self.home.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(24)  # hex: nothing to quote in a URL or the config file
        _write_private(self.password_file, value)
        return value

    @property
    def url(self) -> str:
        """The broker URL, password included (hand it to processes, never print it)."""
        return f"redis://:{self.password()}@{self.host}:{self.port}/0"

    @property
    def public_url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    # --- state ---
    def pid(self) -> int | None:
        """The server's PID when it runs; a pid file naming a dead PID or another program is stale
        and removed."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        why = self._not_ours(pid)
        if why:
            self._say(f"removing stale pid file {self.pid_file}: {why}")
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def _not_ours(self, pid: int) -> str:
        if not alive(pid):
            return f"pid {pid} is not running"
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return f"pid {pid} has no readable command line"
        if not is_redis_server_of(cmdline, self.port):
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()[:120]
            return f"pid {pid} is not redis-server on port {self.port} but `{shown}`"
        return ""

    def ping(self) -> bool:
        """Whether the server answers PING with our password."""
        import redis

        client = redis.Redis(host=self.host, port=self.port, password=self.password(),
                             socket_timeout=2.0, socket_connect_timeout=2.0)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def status(self) -> RedisStatus:
        pid = self.pid()
        if pid is None:
            return RedisStatus(self.public_url, False, None, "not running")
        if not self.ping():
            return RedisStatus(self.public_url, False, pid, "running but not answering PING")
        return RedisStatus(self.public_url, True, pid)

    # --- lifecycle ---
    def up(self, timeout: float = START_TIMEOUT) -> RedisStatus:
        """Start the server unless it runs, and wait until it answers PING. Idempotent."""
        if self.pid() is not None:
            status = self.status()
            if status.running:
                return status
        if _port_in_use(self.host, self.port):
            raise LocalRedisError(
                f"port {self.port} on {self.host} is in use by another program: choose another port"
            )
        binary = ensure_installed(self._say)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o700)
        _write_private(self.conf_file, CONF.format(
            host=self.host, port=self.port, password=self.password(), data_dir=self.data_dir,
            pid_file=self.pid_file, log_file=self.log_file))
        with open(os.devnull, "wb") as devnull:
            process = subprocess.Popen([str(binary), str(self.conf_file)], cwd=self.home,
                                       stdin=subprocess.DEVNULL, stdout=devnull, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        _STARTED[:] = [*(p for p in _STARTED if p.poll() is None), process]
        self.pid_file.write_text(str(process.pid))  # Redis rewrites it with the same PID
        self._say(f"started redis-server (pid {process.pid}, {self.public_url}, log {self.log_file})")
        deadline = time.monotonic() + timeout
        while not self.ping():
            if process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise LocalRedisError(
                    f"redis-server exited during start-up (exit {process.returncode})\n{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                raise LocalRedisError(
                    f"redis-server (pid {process.pid}) not answering after {timeout:.0f}s\n{self._log_tail()}"
                )
            time.sleep(0.1)
        return self.status()

    def down(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Stop the server by its verified PID (SIGTERM, SIGKILL after `timeout`); False if none ran."""
        pid = self.pid()
        if pid is None:
            return False
        self._say(f"stopping redis-server (pid {pid})")
        stop_process(pid, "redis-server", timeout, self._say)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _log_tail(self, lines: int = 20) -> str:
        if not self.log_file.is_file():
            return f"(no log at {self.log_file})"
        tail = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        return f"last lines of {self.log_file}:\n" + "\n".join(tail)


# The servers this process started (kept referenced so that a Popen is not collected while it runs).
_STARTED: list[subprocess.Popen[bytes]] = []


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)  # an existing file keeps its old mode under O_CREAT


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


