"""A PostgreSQL cluster of our own for Airflow's metadata database (`newsflow airflow up`, the tests).

Debian's `postgresql` package provides the binaries (`/usr/lib/postgresql/<version>/bin`;
`scripts/ensure-postgres.sh` installs it when they are missing). We never use the cluster the package
may create (`main`, port 5432): ours lives in a folder of its own (`data/`, `run/`, `postgres.log`),
is created once with `initdb`, listens on a Unix socket in `run/` only (`listen_addresses = ''`, socket
mode 0700: nothing on the network, only its owner and root can connect) and is started with
`pg_ctl -D` and stopped by the PID in `data/postmaster.pid` after checking that this PID is really
the postmaster of this data folder.

As root the server runs as the unprivileged system user `newsflow-pg` (PostgreSQL refuses to run
as root, as Elasticsearch does); the Airflow components connect through the socket as the database
superuser `newsflow` with `trust` authentication, which the socket's mode restricts to that user and
root.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from newsflow.core.errors import LocalPostgresError
from newsflow.dev.paths import project_dir
from newsflow.dev.pids import stop_process

log = logging.getLogger(__name__)

PG_USER = "newsflow-pg"  # the system user the server runs as when we are root
DB_SUPERUSER = "newsflow"  # the database role every client uses
PG_PORT = 5432  # only names the socket file (.s.PGSQL.5432) in our own run/ folder: no TCP listener
ENSURE_SCRIPT = project_dir() / "scripts" / "ensure-postgres.sh"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
SOCKET_PATH_MAX = 107  # sun_path is 108 bytes with the terminating NUL

# Settings appended to the cluster's postgresql.conf. synchronous_commit=off: a crash may lose the
# last few hundred milliseconds of Airflow state (a task instance's last state change), never the
# database's consistency; it makes the scheduler's many small commits cheap.
CONF = """
# --- written by newsflow: Airflow's metadata database, Unix socket only ---
listen_addresses = ''
unix_socket_directories = '{socket_dir}'
unix_socket_permissions = 0700
port = {port}
max_connections = 200
shared_buffers = 128MB
synchronous_commit = off
log_destination = 'stderr'
logging_collector = off
"""


def pg_bin_dir() -> Path:
    """The folder of Debian's PostgreSQL binaries (the newest version installed), or
    `NEWSFLOW_PG_BIN` when set."""
    override = os.environ.get("NEWSFLOW_PG_BIN")
    if override:
        return Path(override)
    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").exists()]
    if not found:
        return Path("/usr/lib/postgresql/15/bin")
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def ensure_installed(say: Callable[[str], None] | None = None) -> Path:
    """The binaries' folder; runs scripts/ensure-postgres.sh (apt-get install postgresql) once when
    they are missing."""
    bin_dir = pg_bin_dir()
    if all((bin_dir / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
        return bin_dir
    (say or log.info)(f"PostgreSQL binaries missing in {bin_dir}: running {ENSURE_SCRIPT}")
    done = subprocess.run(["bash", str(ENSURE_SCRIPT)], capture_output=True, text=True, check=False)
    bin_dir = pg_bin_dir()
    if done.returncode != 0 or not (bin_dir / "pg_ctl").exists():
        raise LocalPostgresError(
            f"PostgreSQL is not installed and {ENSURE_SCRIPT} could not install it "
            f"(exit {done.returncode}): {(done.stderr or done.stdout).strip()[-1500:]}\n"
            "Install it with `apt-get install postgresql` (as root), or set NEWSFLOW_PG_BIN"
        )
    return bin_dir


def is_postmaster_of(cmdline: bytes, data_dir: Path) -> bool:
    """Whether a /proc/<pid>/cmdline is a PostgreSQL server started on `data_dir`. Pure."""
    args = [arg.decode(errors="replace") for arg in cmdline.split(b"\0") if arg]
    if not args or not re.search(r"(^|/)(postgres|postmaster)$", args[0]):
        return False
    for flag, value in itertools.pairwise(args):
        if flag == "-D":
            return Path(value).resolve() == data_dir.resolve()
    return False


class LocalPostgres:
    """The cluster under `root` (data/, run/, postgres.log), one database per client (`airflow`)."""

    def __init__(self, root: Path, *, say: Callable[[str], None] | None = None) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.socket_dir = root / "run"
        self.log_file = root / "postgres.log"
        self._say = say or (lambda message: log.info("%s", message))

    def url(self, database: str = "airflow") -> str:
        """The SQLAlchemy URL of `database` through the socket (psycopg2; Airflow derives asyncpg)."""
        return f"postgresql+psycopg2://{DB_SUPERUSER}@/{database}?host={self.socket_dir}&port={PG_PORT}"

    # --- state ---
    def pid(self) -> int | None:
        """The postmaster's PID when our cluster runs. A postmaster.pid naming a dead process, or a
        live one that is not the postmaster of this data folder, is stale and removed."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0].strip())
        except (FileNotFoundError, PermissionError, ValueError, IndexError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            cmdline = b""
        if not is_postmaster_of(cmdline, self.data_dir):
            self._say(f"removing stale {pid_file} (pid {pid} is not this cluster's postmaster)")
            pid_file.unlink(missing_ok=True)
            return None
        return pid

    # --- lifecycle ---
    def up(self, databases: tuple[str, ...] = ("airflow",)) -> float:
        """Create the cluster once, start it if it is not running, make sure `databases` exist;
        the seconds the start took (0.0 when it was running)."""
        if len(str(self.socket_dir / f".s.PGSQL.{PG_PORT}")) > SOCKET_PATH_MAX:
            raise LocalPostgresError(
                f"the PostgreSQL socket path under {self.socket_dir} is longer than "
                f"{SOCKET_PATH_MAX} bytes; set NEWSFLOW_HOME to a shorter folder"
            )
        bin_dir = ensure_installed(self._say)
        started = time.monotonic()
        was_running = self.pid() is not None
        if not was_running:
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb(bin_dir)
            self._start(bin_dir)
        for database in databases:
            self.create_database(database)
        return 0.0 if was_running else time.monotonic() - started

    def down(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Fast shutdown (SIGINT) of our postmaster by its verified PID, SIGQUIT after `timeout`;
        False when it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        self._say(f"stopping PostgreSQL (pid {pid}, {self.data_dir})")
        # SIGINT is the "fast" shutdown (roll back open transactions, checkpoint, exit); SIGQUIT
        # the immediate one.
        stop_process(pid, "PostgreSQL", timeout, self._say, first=signal.SIGINT, last=signal.SIGQUIT)
        return True

    def create_database(self, name: str) -> None:
        """CREATE DATABASE `name` unless it exists."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise LocalPostgresError(f"database name {name!r}: use lower-case letters, digits and _")
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip()
        if exists != "1":
            self.psql(f'CREATE DATABASE "{name}"')

    def drop_database(self, name: str) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise LocalPostgresError(f"database name {name!r}: use lower-case letters, digits and _")
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run one SQL statement with psql through the socket; its unaligned output."""
        done = subprocess.run(
            [str(pg_bin_dir() / "psql"), "-h", str(self.socket_dir), "-p", str(PG_PORT),
             "-U", DB_SUPERUSER, "-d", database, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True, text=True, check=False, env={"PATH": os.environ.get("PATH", "")},
        )
        if done.returncode != 0:
            raise LocalPostgresError(f"psql failed on {sql!r}: {done.stderr.strip()[-1000:]}")
        return done.stdout

    # --- internals ---
    def _as_server_user(self, command: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return command
        _ensure_system_user(PG_USER)
        for parent in [self.root, *self.root.parents]:
            if parent != Path("/") and parent.exists() and not os.stat(parent).st_mode & 0o001:
                raise LocalPostgresError(
                    f"{parent} is not searchable by other users, so the '{PG_USER}' user cannot reach "
                    f"{self.root}; make it searchable (chmod o+x) or set NEWSFLOW_HOME elsewhere"
                )
        subprocess.run(["chown", "-R", f"{PG_USER}:{PG_USER}", str(self.root)], check=True)
        return ["runuser", "-u", PG_USER, "--", *command]

    def _initdb(self, bin_dir: Path) -> None:
        self._say(f"creating the PostgreSQL cluster for Airflow in {self.data_dir}")
        for folder in (self.root, self.socket_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.socket_dir.chmod(0o700)
        command = self._as_server_user([
            str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", DB_SUPERUSER, "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-instructions",
        ])
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
        if done.returncode != 0:
            raise LocalPostgresError(f"initdb failed (exit {done.returncode}): {done.stderr.strip()[-1500:]}")
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(CONF.format(socket_dir=self.socket_dir, port=PG_PORT))

    def _start(self, bin_dir: Path) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        command = self._as_server_user([
            str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
            "-w", "-t", str(int(START_TIMEOUT)), "start",
        ])
        self._say(f"starting PostgreSQL ({self.data_dir}, socket in {self.socket_dir})")
        # pg_ctl waits (-w) until the server accepts connections; its own stdout stays with it.
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/",
                              stdin=subprocess.DEVNULL)
        if done.returncode != 0 or self.pid() is None:
            raise LocalPostgresError(
                f"PostgreSQL did not start (pg_ctl exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-1000:]}\n{self._log_tail()}"
            )

    def _log_tail(self, lines: int = 20) -> str:
        if not self.log_file.is_file():
            return f"(no log at {self.log_file})"
        tail = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        return f"last lines of {self.log_file}:\n" + "\n".join(tail)


def _ensure_system_user(name: str) -> None:
    if subprocess.run(["id", "-u", name], capture_output=True, check=False).returncode == 0:
        return
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
