"""A real local Airflow 3 for development and the browser test: `newsflow airflow up|down|status`.

Everything lives under `$NEWSFLOW_HOME/airflow` (AIRFLOW_HOME): `airflow.cfg`, `logs/`,
`run/<component>.pid` and `run/<component>.log`, and `postgres/`: the PostgreSQL cluster holding the
metadata database (newsflow.dev.local_postgres: a Unix socket only, started before the components and
stopped after them). The components run as separate processes, not `airflow standalone`, because
standalone makes the scheduler's and triggerer's log servers listen on every interface; here they
are off (`--skip-serve-logs`) and the API server binds 127.0.0.1. The executor is the LocalExecutor
with a parallelism sized to the machine (`default_parallelism`).

Login: the simple auth manager with one admin user, `admin`, whose password is generated once and
kept in `$NEWSFLOW_HOME/airflow/simple_auth_manager_passwords.json` (`newsflow airflow status`
prints where). The DAGs come from the repository's `dags/`, the plugin from `plugins/`; the
components get this process's NEWSFLOW_* settings (Elasticsearch URL, index prefix, home).

Each component is started in a session of its own and stopped by its PID (its process group):
SIGTERM, then SIGKILL after a timeout. A PID is signalled only after /proc/<pid>/cmdline shows it is
that Airflow component: a pid file left by a crash may name a PID the kernel has since given to an
unrelated process.

`executor="celery"` (the scale-out rig, `newsflow rig up`) runs the same DAGs on the CeleryExecutor:
a Redis of its own as the broker (newsflow.dev.local_redis, 127.0.0.1, password), the same
PostgreSQL database as Celery's result backend (`db+postgresql`), and N `airflow celery worker`
processes (default 2, `--celery-hostname workerN@newsflow-rig`, a small concurrency each, their log
servers off) beside the scheduler, dag-processor, triggerer and API server. A task whose worker dies
stops heartbeating; the scheduler fails it after `task_instance_heartbeat_timeout` (30 s here, 300 s
by default) and the DAG's retries run it again on a live worker.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from newsflow.core.errors import LocalAirflowError
from newsflow.core.settings import Settings
from newsflow.dev.local_postgres import LocalPostgres
from newsflow.dev.local_redis import DEFAULT_PORT as REDIS_PORT
from newsflow.dev.local_redis import LocalRedis
from newsflow.dev.paths import project_dir
from newsflow.dev.pids import alive

log = logging.getLogger(__name__)

REPO = project_dir()
DAGS_FOLDER = REPO / "dags"
PLUGINS_FOLDER = REPO / "plugins"
ADMIN_USER = "admin"
DEFAULT_PORT = 8080
COMPONENTS: dict[str, tuple[str, ...]] = {
    "api-server": ("api-server",),
    "scheduler": ("scheduler", "--skip-serve-logs"),
    "dag-processor": ("dag-processor",),
    "triggerer": ("triggerer", "--skip-serve-logs"),
}
HEALTH_KEYS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
START_TIMEOUT = 180.0  # seconds; healthy in about 20 s on two idle cores, much longer when busy
STOP_TIMEOUT = 30.0
EXECUTORS = ("local", "celery")
CELERY_HOSTNAME = "worker{n}@newsflow-rig"
DEFAULT_WORKERS = 2
DEFAULT_WORKER_CONCURRENCY = 2  # shard tasks at once per worker (each holds the spaCy model, ~1 GiB)
# A killed worker's task is noticed after this many seconds without a heartbeat (Airflow: 300 s).
RIG_HEARTBEAT_TIMEOUT = 30
SLOT_MEMORY = 1 << 30  # bytes one running shard task needs: the spaCy model (~360 MB) plus its batch


def default_parallelism(cpus: int | None = None, memory: int | None = None) -> int:
    """How many tasks the LocalExecutor runs at once: `NEWSFLOW_AIRFLOW_PARALLELISM` when set, else
    two per core (a shard task spends much of its time waiting on feeds, so two share a core well),
    no more than the memory holds at ~1 GiB per task, and at least 2."""
    configured = os.environ.get("NEWSFLOW_AIRFLOW_PARALLELISM")
    if configured:
        return max(1, int(configured))
    cpus = cpus or os.cpu_count() or 1
    if memory is None:
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            memory = 4 * SLOT_MEMORY
    return max(2, min(2 * cpus, memory // SLOT_MEMORY))


@dataclass(frozen=True, slots=True)
class AirflowStatus:
    url: str
    healthy: bool
    pids: dict[str, int | None] = field(default_factory=dict)  # component → PID (None: not running)
    components: dict[str, str] = field(default_factory=dict)  # health key → status
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DagRunResult:
    dag_id: str
    run_id: str
    state: str  # queued / running / success / failed
    url: str  # the run in the Airflow UI


class LocalAirflow:
    """The Airflow under `home` (default `$NEWSFLOW_HOME/airflow`), managed by PID files."""

    def __init__(self, settings: Settings, *, port: int | None = None, home: Path | None = None,
                 say: Callable[[str], None] | None = None, schedule: str | None = None,
                 extra_env: Mapping[str, str] | None = None, postgres: LocalPostgres | None = None,
                 database: str = "airflow", executor: str = "local", workers: int = DEFAULT_WORKERS,
                 worker_concurrency: int = DEFAULT_WORKER_CONCURRENCY,
                 redis_port: int | None = None) -> None:
        """`postgres`: a cluster someone else starts and stops (the tests' session cluster); by
        default the one under `home/postgres`, started by `up` and stopped by `down`.
        `executor`: "local" (the LocalExecutor) or "celery" (Redis under `home/redis` on
        `redis_port`, `workers` Celery workers of `worker_concurrency` slots each)."""
        if executor not in EXECUTORS:
            raise LocalAirflowError(f"executor {executor!r}: choose one of {', '.join(EXECUTORS)}")
        if executor == "celery" and not 1 <= workers <= 16:
            raise LocalAirflowError(f"{workers} Celery workers: choose 1 to 16")
        self.settings = settings
        self.home = home or settings.home / "airflow"
        self._say = say or (lambda message: log.info("%s", message))
        self.owns_postgres = postgres is None
        self.postgres = postgres or LocalPostgres(self.home / "postgres", say=self._say)
        self.database = database
        self.run_dir = self.home / "run"
        self.port_file = self.run_dir / "port"
        self.passwords_file = self.home / "simple_auth_manager_passwords.json"
        self._port = port
        self._schedule = schedule
        self._extra_env = dict(extra_env or {})
        self.executor = executor
        self.workers = workers if executor == "celery" else 0
        self.worker_concurrency = max(1, worker_concurrency)
        self.redis: LocalRedis | None = None
        self._log_offsets: dict[str, int] = {}  # component → size of its log when last started
        if executor == "celery":
            self.redis = LocalRedis(self.home / "redis", redis_port or REDIS_PORT, say=self._say)

    # --- places and settings ---
    @property
    def components(self) -> dict[str, tuple[str, ...]]:
        """Component name → `airflow` arguments: the four of every instance, then the workers."""
        listed = dict(COMPONENTS)
        for n in range(1, self.workers + 1):
            listed[worker_name(n)] = ("celery", "worker", "--celery-hostname", CELERY_HOSTNAME.format(n=n),
                                      "--concurrency", str(self.worker_concurrency), "--skip-serve-logs")
        return listed
    @property
    def port(self) -> int:
        """The port given, else the one the running instance uses, else 8080 or the next free one."""
        if self._port is None:
            if self.port_file.is_file():
                self._port = int(self.port_file.read_text().strip())
            else:
                self._port = free_port(DEFAULT_PORT)
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin_password(self) -> str:
        """The admin password (created on first use)."""
        if self.passwords_file.is_file():
            return str(json.loads(self.passwords_file.read_text())[ADMIN_USER])
        self.home.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(12)
        self._write_private(self.passwords_file, json.dumps({ADMIN_USER: password}))
        return password

    def environment(self) -> dict[str, str]:
        """The environment every component (and the `airflow` CLI) runs with."""
        env = dict(os.environ)
        env.update({
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(default_parallelism()),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url(self.database),
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            # One secret shared by every component: tasks authenticate to the execution API with it.
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt_secret"),
            "AIRFLOW__API__SECRET_KEY": self._secret("api_secret_key"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",  # its health server binds 0.0.0.0
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "NEWSFLOW_ES_URL": self.settings.es_url,
            "NEWSFLOW_INDEX_PREFIX": self.settings.index_prefix,
            "NEWSFLOW_HOME": str(self.settings.home),
            # Scheduled runs need a feeds file; unless the user chose a schedule, the local instance
            # runs news_ingest only when triggered (`newsflow airflow trigger`).
            "NEWSFLOW_INGEST_SCHEDULE":
                self._schedule or os.environ.get("NEWSFLOW_INGEST_SCHEDULE") or "none",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
        })
        if self.settings.es_api_key is not None:
            env["NEWSFLOW_ES_API_KEY"] = self.settings.es_api_key.get_secret_value()
        if self.settings.feeds_file is not None:
            env["NEWSFLOW_FEEDS_FILE"] = str(self.settings.feeds_file)
        if self.redis is not None:
            env.update(celery_environment(self.redis.url, self.postgres.url(self.database),
                                          self.workers, self.worker_concurrency))
        env.update(self._extra_env)
        return env

    def shell_environment(self) -> dict[str, str]:
        """What a shell needs to use the `airflow` CLI on this instance (e.g. `airflow dags test`):
        the environment of the components without the inherited variables and the secrets."""
        env = self.environment()
        keep = ("AIRFLOW_HOME", "AIRFLOW__CORE__", "AIRFLOW__DATABASE__", "AIRFLOW__API__HOST",
                "AIRFLOW__API__PORT", "AIRFLOW__API__BASE_URL", "AIRFLOW__LOGGING__", "NEWSFLOW_INDEX_PREFIX",
                "NEWSFLOW_HOME", "NEWSFLOW_INGEST_SCHEDULE", "PYTHONPATH")
        secret = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY",
                  "AIRFLOW__CELERY__BROKER_URL")
        return {k: v for k, v in env.items() if k.startswith(keep) and k not in secret}

    # --- lifecycle ---
    def pid(self, component: str) -> int | None:
        """The PID of a running component, from its pid file. The file is stale, and removed with a
        message, when its PID is dead or is not this instance's `component`: /proc/<pid>/cmdline
        must be `airflow <component>` and, where readable, its AIRFLOW_HOME this instance's home
        (after a crash or a reboot the kernel may have given the PID to any other process)."""
        pid_file = self.run_dir / f"{component}.pid"
        if not pid_file.is_file():
            return None
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = None
        why = "unreadable" if pid is None else self._not_this_component(pid, component)
        if why:
            self._say(f"removing stale pid file {pid_file}: {why}")
            pid_file.unlink(missing_ok=True)
            return None
        return pid

    def _not_this_component(self, pid: int, component: str) -> str:
        """Why `pid` is not this instance's running `component` ("" when it is)."""
        if not alive(pid):
            return f"pid {pid} is not running"
        try:
            cmdline = _cmdline(pid)
        except OSError:
            return f"pid {pid} has no readable command line"
        if component.startswith(worker_name(0)[:-1]):
            recognised = is_celery_worker(cmdline, CELERY_HOSTNAME.format(n=component.removeprefix(
                worker_name(0)[:-1])))
        else:
            recognised = is_airflow_component(cmdline, component)
        if not recognised:
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()[:120]
            return f"pid {pid} is not Airflow {component} but `{shown}`"
        home = _environ_value(pid, "AIRFLOW_HOME")
        if home is not None and Path(home).resolve() != self.home.resolve():
            return f"pid {pid} is the Airflow {component} of another AIRFLOW_HOME ({home})"
        return ""

    def up(self, timeout: float = START_TIMEOUT) -> AirflowStatus:
        """Set up the metadata database if needed, start the components that are not running, and
        wait until every one reports healthy."""
        if all(self.pid(name) for name in self.components):
            status = self.status()
            if status.healthy:
                return status
        elif any(self.pid(name) for name in self.components):
            self._say("some Airflow components are not running; restarting all of them")
            self.down()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not self.port_file.is_file() and _port_in_use(self.port):
            raise LocalAirflowError(
                f"port {self.port} on 127.0.0.1 is in use: choose another with --port"
            )
        self.admin_password()
        seconds = self.postgres.up((self.database,))  # idempotent: creates the database if missing
        if seconds:
            self._say(f"PostgreSQL started in {seconds:.1f}s")
        if self.redis is not None:
            self.redis.up()
        self._migrate()
        self.port_file.write_text(str(self.port))
        for name, args in self.components.items():
            if self.pid(name) is None:
                self._start(name, args)
        status = self._wait_healthy(timeout)
        for n in range(1, self.workers + 1):
            self.wait_worker_ready(n, timeout)
        return status

    def wait_worker_ready(self, n: int, timeout: float = START_TIMEOUT) -> None:
        """Wait until Celery worker `n` has connected to the broker and said `<hostname> ready.` in
        its log since it was last started by this object (or at any time, if started before)."""
        name, hostname = worker_name(n), CELERY_HOSTNAME.format(n=n)
        log_path = self.run_dir / f"{name}.log"
        offset = self._log_offsets.get(name, 0)
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError), log_path.open("rb") as handle:
                handle.seek(offset)
                if f"{hostname} ready.".encode() in handle.read():
                    return
            if self.pid(name) is None:
                raise LocalAirflowError(f"Celery worker {n} exited during start-up:\n{self._tail(name)}")
            if time.monotonic() > deadline:
                raise LocalAirflowError(f"Celery worker {n} not ready after {timeout:.0f}s: see {log_path}")
            time.sleep(0.5)

    def start_worker(self, n: int) -> int:
        """Start Celery worker `n` unless it runs (e.g. after the drill killed it); its PID."""
        name = worker_name(n)
        if name not in self.components:
            raise LocalAirflowError(f"this instance has no Celery worker {n} (executor {self.executor})")
        running = self.pid(name)
        if running is not None:
            return running
        self._start(name, self.components[name])
        pid = self.pid(name)
        if pid is None:
            raise LocalAirflowError(f"Celery worker {n} exited at once:\n{self._tail(name)}")
        return pid

    def down(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Stop every component by its PID (SIGTERM, SIGKILL after `timeout`); False if none ran."""
        stopped = False
        names = [*self.components, *sorted(  # workers a rig started with more workers left behind
            p.stem for p in self.run_dir.glob(f"{worker_name(0)[:-1]}*.pid")
            if p.stem not in self.components and self.executor == "celery")]
        pids = {name: self.pid(name) for name in names}
        # A worker's task supervisors run in process groups of their own: a worker's group signal
        # misses them, so its whole tree is noted first and what is left of it killed at the end.
        parents = parent_pids() if self.executor == "celery" else {}
        trees = {pid: {p: _start_time(p) for p in process_tree(pid, parents)[1:]}
                 for name, pid in pids.items() if pid is not None and name.startswith(worker_name(0)[:-1])}
        for name, pid in pids.items():
            if pid is not None:
                self._say(f"stopping Airflow {name} (pid {pid})")
                _signal_group(pid, signal.SIGTERM)
                stopped = True
        deadline = time.monotonic() + timeout
        for name, pid in pids.items():
            if pid is None:
                continue
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if alive(pid):
                self._say(f"Airflow {name} (pid {pid}) did not stop in {timeout:.0f}s; killing it")
                _signal_group(pid, signal.SIGKILL)
            _reap(pid)
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
        for worker, tree in trees.items():
            left = [p for p, started in tree.items() if started is not None and _start_time(p) == started]
            if left:
                self._say(f"killing {len(left)} process(es) left of Celery worker pid {worker}: {left}")
                for orphan in left:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(orphan, signal.SIGKILL)
        if stopped:
            self.port_file.unlink(missing_ok=True)
        if self.redis is not None and self.redis.down():  # after the scheduler and workers
            stopped = True
        if self.owns_postgres and self.postgres.down():  # after the components that use it
            stopped = True
        return stopped

    def status(self) -> AirflowStatus:
        pids = {name: self.pid(name) for name in self.components}
        if self.owns_postgres:
            pids["postgres"] = self.postgres.pid()
        if self.redis is not None:
            pids["redis"] = self.redis.pid()
        if not any(pids[name] for name in self.components):
            return AirflowStatus(self.url, False, pids, detail="not running")
        try:
            response = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5.0)
            response.raise_for_status()
            health = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return AirflowStatus(self.url, False, pids, detail=f"API server not answering: {exc}")
        components = {key: str((health.get(key) or {}).get("status") or "unknown") for key in HEALTH_KEYS}
        healthy = all(pids.values()) and all(value == "healthy" for value in components.values())
        return AirflowStatus(self.url, healthy, pids, components)

    # --- REST API ---
    def token(self) -> str:
        """A JWT for the REST API (POST /auth/token with the admin user)."""
        try:
            response = httpx.post(f"{self.url}/auth/token", timeout=10.0,
                                  json={"username": ADMIN_USER, "password": self.admin_password()})
        except httpx.HTTPError as exc:
            raise LocalAirflowError(
                f"Airflow at {self.url} is unreachable ({exc}); start it with `newsflow airflow up`"
            ) from exc
        if response.status_code not in (200, 201):
            raise LocalAirflowError(
                f"Airflow at {self.url} refused the admin login ({response.status_code}): "
                f"{response.text[:200]}"
            )
        return str(response.json()["access_token"])

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None, *, wait: bool = False,
                timeout: float = 600.0, unpause: bool = True) -> DagRunResult:
        """Start a run of `dag_id` now (unpausing the DAG, since a paused DAG's runs never start);
        with `wait`, until it finishes."""
        with httpx.Client(base_url=self.url, timeout=30.0,
                          headers={"Authorization": f"Bearer {self.token()}"}) as api:
            self._wait_for_dag(api, dag_id, timeout=min(timeout, 120.0))
            if unpause:
                _check(api.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}),
                       f"unpause {dag_id}")
            response = _check(api.post(f"/api/v2/dags/{dag_id}/dagRuns",
                                       json={"logical_date": None, "conf": dict(conf or {})}),
                              f"trigger {dag_id}")
            run = response.json()
            result = self._run_result(dag_id, run)
            deadline = time.monotonic() + timeout
            while wait and result.state not in ("success", "failed"):
                if time.monotonic() > deadline:
                    raise LocalAirflowError(
                        f"run {result.run_id} of {dag_id} did not finish in {timeout:.0f}s "
                        f"(state {result.state}); see {result.url}"
                    )
                time.sleep(2.0)
                try:
                    response = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{result.run_id}")
                except httpx.TransportError as exc:
                    # A busy API server (one worker, a loaded machine) may miss one poll's 30 s
                    # timeout; the run goes on regardless: ask again until the deadline.
                    self._say(f"Airflow did not answer a poll of run {result.run_id} ({exc!r}); retrying")
                    continue
                result = self._run_result(dag_id, _check(response, f"read run {result.run_id}").json())
        return result

    def _run_result(self, dag_id: str, run: Mapping[str, Any]) -> DagRunResult:
        run_id = str(run["dag_run_id"])
        return DagRunResult(dag_id, run_id, str(run.get("state")),
                            f"{self.url}/dags/{dag_id}/runs/{run_id}")

    def _wait_for_dag(self, api: httpx.Client, dag_id: str, timeout: float) -> None:
        # The dag-processor parses the DAG files shortly after start; until then the DAG is unknown.
        deadline = time.monotonic() + timeout
        while True:
            response = api.get(f"/api/v2/dags/{dag_id}")
            if response.status_code == 200:
                return
            if time.monotonic() > deadline:
                raise LocalAirflowError(
                    f"DAG {dag_id} is not known to Airflow at {self.url} after {timeout:.0f}s: "
                    f"check {self.run_dir / 'dag-processor.log'} for import errors"
                )
            time.sleep(1.0)

    # --- internals ---
    def _airflow(self) -> str:
        local = Path(sys.executable).with_name("airflow")
        found = str(local) if local.exists() else shutil.which("airflow")
        if not found:
            raise LocalAirflowError("the `airflow` command is not installed in this environment")
        return found

    def _migrate(self) -> None:
        self._say(f"preparing the Airflow metadata database in {self.home}")
        result = subprocess.run([self._airflow(), "db", "migrate"], env=self.environment(),
                                capture_output=True, text=True, cwd=self.home, check=False)
        if result.returncode != 0:
            raise LocalAirflowError(
                f"`airflow db migrate` failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout)[-1500:]}"
            )

    def _start(self, name: str, args: tuple[str, ...]) -> None:
        log_path = self.run_dir / f"{name}.log"
        self._log_offsets[name] = log_path.stat().st_size if log_path.is_file() else 0
        extra = ("--port", str(self.port)) if name == "api-server" else ()
        with log_path.open("ab") as output:
            process = subprocess.Popen(
                [self._airflow(), *args, *extra], env=self.environment(), cwd=self.home,
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stopped with its children
            )
        # Kept referenced: a Popen collected while its process runs warns (ResourceWarning); the
        # finished ones are reaped here.
        _STARTED[:] = [*(p for p in _STARTED if p.poll() is None), process]
        (self.run_dir / f"{name}.pid").write_text(str(process.pid))
        self._say(f"started Airflow {name} (pid {process.pid}, log {log_path})")

    def _wait_healthy(self, timeout: float) -> AirflowStatus:
        deadline = time.monotonic() + timeout
        status = self.status()
        while not status.healthy:
            dead = [name for name, pid in status.pids.items() if pid is None]
            if dead:
                raise LocalAirflowError(
                    f"Airflow {', '.join(dead)} exited during start-up: see "
                    + ", ".join(str(self.run_dir / f"{n}.log") for n in dead) + "\n" + self._tail(dead[0])
                )
            if time.monotonic() > deadline:
                raise LocalAirflowError(
                    f"Airflow at {self.url} not healthy after {timeout:.0f}s "
                    f"({status.detail or status.components}); logs in {self.run_dir}"
                )
            time.sleep(1.0)
            status = self.status()
        self._say(f"Airflow is healthy at {self.url} (user {ADMIN_USER}, password in {self.passwords_file})")
        return status

    def _tail(self, name: str, lines: int = 20) -> str:
        path = self.run_dir / f"{name}.log"
        if not path.is_file():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _secret(self, name: str) -> str:
        path = self.home / f".{name}"
        if path.is_file():
            return path.read_text().strip()
        self.home.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(32)
        self._write_private(path, value)
        return value

    @staticmethod
    def _write_private(path: Path, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)


def worker_name(n: int) -> str:
    """The component (pid and log file) name of Celery worker `n`."""
    return f"celery-worker{n}"


def celery_environment(broker_url: str, metadata_url: str, workers: int, concurrency: int,
                       heartbeat_timeout: int = RIG_HEARTBEAT_TIMEOUT) -> dict[str, str]:
    """The Airflow settings of the CeleryExecutor rig. Pure.

    - broker: the rig's Redis; result backend: the metadata database through Celery's SQLAlchemy
      backend (`db+` + the same PostgreSQL URL, psycopg2 over the Unix socket);
    - parallelism = workers × concurrency, so the scheduler queues no more than the workers run;
    - a dead worker's task is failed (then retried) after `heartbeat_timeout` s without a
      heartbeat, checked every 5 s, tasks heartbeating every 5 s;
    - Redis redelivers an unacknowledged message only after the visibility timeout: it stays at
      Airflow's 6 h, so a killed worker's message is not run a second time beside the retry.
    """
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(workers * concurrency),
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "21600",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(heartbeat_timeout),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "5",
    }


def free_port(preferred: int = DEFAULT_PORT) -> int:
    """`preferred` when nothing listens on it on 127.0.0.1, else a free port chosen by the kernel."""
    if not _port_in_use(preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _check(response: httpx.Response, action: str) -> httpx.Response:
    if response.status_code >= 400:
        raise LocalAirflowError(f"Airflow refused to {action}: {response.status_code} {response.text[:300]}")
    return response


def is_airflow_component(cmdline: bytes, component: str) -> bool:
    """Whether a /proc/<pid>/cmdline is `airflow <component> ...`: as started (`python .../airflow
    scheduler ...`) or as retitled by Airflow (`airflow api_server -- host:...`). Pure."""
    words = cmdline.replace(b"\0", b" ").decode(errors="replace").split()
    wanted = component.replace("-", "_")
    for index, word in enumerate(words):
        if word == "airflow" or word.endswith("/airflow"):
            following = words[index + 1:index + 2]
            return bool(following) and following[0].replace("-", "_") == wanted
    return False


def is_celery_worker(cmdline: bytes, hostname: str) -> bool:
    """Whether a /proc/<pid>/cmdline is the main process of the Celery worker `hostname`: as
    started (`.../airflow celery worker --celery-hostname <hostname> ...`) or as Celery retitles it
    (`[celeryd: <hostname>:MainProcess] -active- (...)`). Pure."""
    text = cmdline.replace(b"\0", b" ").decode(errors="replace")
    if text.startswith(f"[celeryd: {hostname}:MainProcess]"):
        return True
    words = text.split()
    return (is_airflow_component(cmdline, "celery") and "worker" in words
            and any(a == "--celery-hostname" and b == hostname for a, b in itertools.pairwise(words)))


def process_tree(root: int, parents: Mapping[int, int] | None = None) -> list[int]:
    """`root` and all its descendants (from /proc/<pid>/stat's parent PIDs), parents first."""
    parents = dict(parents) if parents is not None else parent_pids()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        tree.append(pid)
        todo.extend(sorted(children.get(pid, ())))
    return tree


def parent_pids() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry.name)] = int(fields[1])
    return parents


def _start_time(pid: int) -> int | None:
    """When a live process started (clock ticks since boot; None when gone or a zombie): tells
    the process noted before from another that later got its PID."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[19])


def _cmdline(pid: int, wait: float = 2.0) -> bytes:
    """/proc/<pid>/cmdline; a process caught in the middle of its exec shows an empty one for a
    moment (seen right after starting a worker), so an empty one is read again for up to `wait` s."""
    deadline = time.monotonic() + wait
    while True:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if cmdline or time.monotonic() > deadline or not alive(pid):
            return cmdline
        time.sleep(0.05)


def _environ_value(pid: int, name: str) -> str | None:
    """A variable of another process's environment; None when unreadable or unset."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = name.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix):].decode(errors="replace")
    return None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # Each component leads its own process group (start_new_session), so the group id is its PID;
    # if it somehow does not, signal the process alone rather than some other group.
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


# The Airflow components this process started (they outlive the LocalAirflow that started them).
_STARTED: list[subprocess.Popen[bytes]] = []


def _reap(pid: int) -> None:
    # A component started by this very process stays a zombie until waited for.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
