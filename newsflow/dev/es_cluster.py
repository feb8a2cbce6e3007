"""A local Elasticsearch cluster of N nodes (default 3) for the scale-out rig and its drill.

Every node runs from the one distribution `newsflow stack` installs (newsflow.dev.stack, under
`$NEWSFLOW_HOME/elasticsearch`), with a folder of its own under `<home>/rig/es-<i>/`: `config/` (the
distribution's config with this node's `elasticsearch.yml`, passed as ES_PATH_CONF), `data/`,
`logs/` and `run/elasticsearch.pid`. Node i listens on 127.0.0.1 only: HTTP on base+i (default
9281, 9282, 9283), transport on base+100+i (9381 ...). All nodes are master-eligible data nodes of
the cluster `newsflow-rig`, with security off like the single local node. As root, the nodes run
as the `newsflow-es` user; every node is stopped by its PID, never by name.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from newsflow.core.errors import StackError
from newsflow.core.settings import Settings
from newsflow.dev.pids import pid_from_file, stop_process
from newsflow.dev.stack import ES_USER, ES_VERSION, LocalElasticsearch, _ensure_system_user, _port_open

log = logging.getLogger(__name__)

CLUSTER_NAME = "newsflow-rig"
DEFAULT_NODES = 3
DEFAULT_HTTP_BASE = 9281
TRANSPORT_OFFSET = 100  # transport port = HTTP port + 100
DEFAULT_HEAP = "512m"
START_TIMEOUT = 300.0  # seconds for the cluster to form; three JVMs start at once on two cores
STOP_TIMEOUT = 60.0
COLOURS = {"red": 0, "yellow": 1, "green": 2}


@dataclass(frozen=True, slots=True)
class NodeStatus:
    index: int
    name: str
    url: str
    pid: int | None
    reachable: bool


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    cluster_status: str  # green / yellow / red / unreachable
    nodes_joined: int  # nodes in the cluster, as a reachable node sees it
    nodes: tuple[NodeStatus, ...]
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "cluster_status": self.cluster_status, "nodes_joined": self.nodes_joined,
            "detail": self.detail,
            "nodes": [{"index": n.index, "name": n.name, "url": n.url, "pid": n.pid,
                       "reachable": n.reachable} for n in self.nodes],
        }


def node_name(index: int) -> str:
    return f"rig-es-{index}"


def render_config(index: int, *, nodes: int, http_base: int, node_dir: Path) -> str:
    """The `elasticsearch.yml` of node `index` (pure: tested without starting anything)."""
    transport = [f"127.0.0.1:{http_base + TRANSPORT_OFFSET + i}" for i in range(nodes)]
    names = [node_name(i) for i in range(nodes)]
    lines = [
        "# written by newsflow (newsflow.dev.es_cluster): one node of the local rig cluster",
        f"cluster.name: {CLUSTER_NAME}",
        f"node.name: {node_name(index)}",
        f"path.data: {node_dir / 'data'}",
        f"path.logs: {node_dir / 'logs'}",
        "network.host: 127.0.0.1",
        f"http.port: {http_base + index}",
        f"transport.port: {http_base + TRANSPORT_OFFSET + index}",
        f"discovery.seed_hosts: [{', '.join(repr(h) for h in transport)}]",
        f"cluster.initial_master_nodes: [{', '.join(repr(n) for n in names)}]",
        "xpack.security.enabled: false",
        "xpack.ml.enabled: false",
        "ingest.geoip.downloader.enabled: false",
        "cluster.routing.allocation.disk.threshold_enabled: false",
        "action.auto_create_index: false",
        "",
    ]
    return "\n".join(lines)


class EsNode:
    """One node of the rig: its folder, config, start and stop by PID."""

    def __init__(self, dist: Path, node_dir: Path, index: int, *, nodes: int, http_base: int,
                 heap: str) -> None:
        self.dist = dist
        self.dir = node_dir
        self.index = index
        self.name = node_name(index)
        self.nodes = nodes
        self.http_base = http_base
        self.port = http_base + index
        self.url = f"http://127.0.0.1:{self.port}"
        self.heap = heap
        self.config_dir = node_dir / "config"
        self.run_dir = node_dir / "run"
        self.logs_dir = node_dir / "logs"
        self.pid_file = self.run_dir / "elasticsearch.pid"

    def pid(self) -> int | None:
        """Our node's PID if it is running (a stale or reused pid file is removed)."""
        return pid_from_file(self.pid_file, b"elasticsearch")

    def write_config(self) -> None:
        """The distribution's config folder (JVM options, log4j, keystore), with our yml."""
        if not (self.config_dir / "jvm.options").exists():
            shutil.copytree(self.dist / "config", self.config_dir, dirs_exist_ok=True)
        (self.config_dir / "elasticsearch.yml").write_text(
            render_config(self.index, nodes=self.nodes, http_base=self.http_base, node_dir=self.dir),
            encoding="utf-8")

    def start(self) -> None:
        """Start the node in the background (does not wait for the cluster)."""
        if self.pid() is not None:
            return
        if _port_open(self.port):
            raise StackError(f"port {self.port} on 127.0.0.1 is taken by something else than rig node "
                             f"{self.name}; stop it or choose other ports (--http-base)")
        for folder in (self.dir / "data", self.logs_dir, self.run_dir, self.run_dir / "tmp"):
            folder.mkdir(parents=True, exist_ok=True)
        self.write_config()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "ES_JAVA_OPTS": f"-Xms{self.heap} -Xmx{self.heap}",
               "ES_TMPDIR": str(self.run_dir / "tmp"),
               "ES_PATH_CONF": str(self.config_dir)}
        command = [str(self.dist / "bin" / "elasticsearch"), "-d", "-p", str(self.pid_file)]
        if os.geteuid() == 0:
            _ensure_system_user(ES_USER)
            for parent in self.dir.parents:
                if parent != Path("/") and not os.stat(parent).st_mode & 0o001:
                    raise StackError(f"{parent} is not searchable by other users, so '{ES_USER}' "
                                     f"cannot reach {self.dir}; put the rig under another folder")
            subprocess.run(["chown", "-R", f"{ES_USER}:{ES_USER}", str(self.dir)], check=True)
            command = ["runuser", "-u", ES_USER, "--", "env", *[f"{k}={v}" for k, v in env.items()],
                       *command]
            env = {"PATH": env["PATH"]}
        started = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if started.returncode != 0:
            raise StackError(f"rig node {self.name} did not start (exit {started.returncode}): "
                             f"{(started.stderr or started.stdout).strip()[-2000:]}\n{self.log_tail()}")

    def stop(self) -> bool:
        """Stop the node by its PID (SIGTERM, SIGKILL after STOP_TIMEOUT). False: not running."""
        pid = self.pid()
        if pid is None:
            return False
        stop_process(pid, f"rig node {self.name}", STOP_TIMEOUT, log.warning)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 30) -> str:
        log_file = self.logs_dir / f"{CLUSTER_NAME}.log"
        if not log_file.exists():
            return f"(no log at {log_file})"
        tail = log_file.read_text(errors="replace").splitlines()[-lines:]
        return f"last lines of {log_file}:\n" + "\n".join(tail)


class EsCluster:
    """N local nodes forming the cluster `newsflow-rig`, from the installed distribution."""

    def __init__(self, settings: Settings, *, nodes: int = DEFAULT_NODES,
                 http_base: int = DEFAULT_HTTP_BASE, rig_dir: Path | None = None,
                 heap: str = DEFAULT_HEAP, say: Callable[[str], None] | None = None) -> None:
        if nodes < 1:
            raise StackError(f"a rig cluster needs at least one node, not {nodes}")
        self.settings = settings
        self.single = LocalElasticsearch(settings)  # installs the distribution the nodes share
        self.dist = self.single.dist
        self.rig_dir = rig_dir or settings.home / "rig"
        self.nodes = tuple(
            EsNode(self.dist, self.rig_dir / f"es-{i}", i, nodes=nodes, http_base=http_base, heap=heap)
            for i in range(nodes))
        self._say = say or (lambda message: log.info("%s", message))

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """The URL of the first node (what NEWSFLOW_ES_URL points at for the rig)."""
        return self.nodes[0].url

    def up(self, timeout: float = START_TIMEOUT) -> ClusterStatus:
        """Install the distribution if needed, start every node not running, wait for yellow or
        green with every node joined."""
        self.single.install()
        stopped = [node for node in self.nodes if node.pid() is None]
        for node in stopped:
            self._say(f"starting rig node {node.name} (Elasticsearch {ES_VERSION}) on {node.url}")
        # At once: a node's start waits (up to 30 s) for a cluster, which needs the others.
        errors: list[StackError] = []
        threads = [threading.Thread(target=_start_into, args=(node, errors)) for node in stopped]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return self.wait_status("yellow", timeout=timeout, nodes=len(self.nodes), watch=stopped)

    def down(self) -> int:
        """Stop every node by its PID; the number stopped."""
        stopped = 0
        for node in reversed(self.nodes):
            pid = node.pid()
            if pid is not None:
                self._say(f"stopping rig node {node.name} (pid {pid})")
                stopped += node.stop()
        return stopped

    def stop_node(self, index: int) -> bool:
        node = self.nodes[index]
        self._say(f"stopping rig node {node.name} (pid {node.pid()})")
        return node.stop()

    def start_node(self, index: int) -> None:
        node = self.nodes[index]
        self._say(f"starting rig node {node.name} on {node.url}")
        node.start()

    def status(self) -> ClusterStatus:
        states = []
        health: dict[str, Any] | None = None
        problem = ""
        for node in self.nodes:
            try:
                answer = httpx.get(f"{node.url}/_cluster/health", timeout=3.0)
                reachable = answer.status_code in (200, 408)
                if reachable and health is None:
                    health = answer.json()
            except (httpx.HTTPError, ValueError) as exc:
                reachable = False
                problem = problem or f"{node.url}: {type(exc).__name__}"
            states.append(NodeStatus(node.index, node.name, node.url, node.pid(), reachable))
        if health is None:
            return ClusterStatus("unreachable", 0, tuple(states), problem or "no node answers")
        colour = str(health.get("status", "unknown"))
        joined = int(health.get("number_of_nodes", 0))
        return ClusterStatus(colour, joined, tuple(states),
                             f"cluster {health.get('cluster_name', '?')}, status {colour}, "
                             f"{joined} node(s), {health.get('unassigned_shards', '?')} unassigned shard(s)")

    def wait_status(self, colour: str, timeout: float = START_TIMEOUT, nodes: int | None = None,
                    watch: Sequence[EsNode] = ()) -> ClusterStatus:
        """Wait until the cluster is at least `colour` (yellow: yellow or green) and, if given,
        `nodes` nodes have joined. Raises StackError with the nodes' log tails on timeout, or with
        its own when a node of `watch` (just started) has exited."""
        if colour not in COLOURS:
            raise StackError(f"unknown cluster colour {colour!r}: use green, yellow or red")
        deadline = time.monotonic() + timeout
        while True:
            current = self.status()
            if (COLOURS.get(current.cluster_status, -1) >= COLOURS[colour]
                    and (nodes is None or current.nodes_joined >= nodes)):
                return current
            dead = [node for node in watch if node.pid() is None]
            if dead:
                raise StackError(f"rig node {dead[0].name} exited while the cluster was forming.\n"
                                 f"{dead[0].log_tail()}")
            if time.monotonic() > deadline:
                tails = "\n".join(node.log_tail(15) for node in self.nodes)
                raise StackError(f"the rig cluster is not {colour} after {timeout:.0f} s "
                                 f"({current.detail}).\n{tails}")
            time.sleep(1.0)


def _start_into(node: EsNode, errors: list[StackError]) -> None:
    try:
        node.start()
    except StackError as exc:
        errors.append(exc)


def primary_nodes(client: Any, index: str) -> list[str]:
    """The names of the nodes holding the started primaries of `index` (an alias works)."""
    rows: Sequence[dict[str, Any]] = client.cat.shards(index=index, format="json", h="prirep,state,node")
    return [str(row["node"]) for row in rows if row.get("prirep") == "p" and row.get("state") == "STARTED"]
