"""A fault-injecting HTTP proxy on 127.0.0.1 in front of the real Elasticsearch.

Every request is forwarded to the upstream cluster unchanged, except `_bulk` requests (or those
whose path ends with one of `paths`) that a fault plan picks: those are answered with an HTTP status
(`"429"`, `"503"`, ... with an Elasticsearch-style error body), `"reset"` (the connection is closed
with a TCP RST, no answer), `"stall"` (held without an answer for `stall_seconds`, past the client's
timeout, then reset), or `"lost"` (forwarded and applied by Elasticsearch, but the answer is replaced
by a reset: the client cannot know it succeeded). `"pass"` forwards one request in a plan.

    with ElasticsearchProxy(es_url, plan=["429"] * 3 + ["503"] * 3 + ["reset"] * 3 + ["stall"]) as proxy:
        ...  # point NEWSFLOW_ES_URL at proxy.url

`plan` is consumed one fault per matching `_bulk` request, in order; once it is used up, requests
pass through. Alternatively `fault` (a callable: request body -> fault name or None) decides for
every request, e.g. "429 for every bulk that writes articles, for good". `faults` records what was
injected, `bulk_requests` how many requests subject to faults arrived.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Not forwarded: they describe one hop, not the message.
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection",
                "te", "trailer", "upgrade", "host"}

Fault = Callable[[bytes], str | None]


class ElasticsearchProxy:
    def __init__(self, upstream: str, *, plan: Sequence[str] = (), fault: Fault | None = None,
                 stall_seconds: float = 5.0, paths: Sequence[str] = ("/_bulk",)) -> None:
        target = urlsplit(upstream)
        self.upstream_host = target.hostname or "127.0.0.1"
        self.upstream_port = target.port or 9200
        self.plan = list(plan)
        self.fault = fault
        self.stall_seconds = stall_seconds
        self.paths = tuple(paths)  # request paths ending so are subject to faults
        self.faults: list[str] = []  # every fault injected, in order
        self.bulk_requests = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                chosen = proxy._choose(body) if path.endswith(proxy.paths) else None
                if chosen is None or chosen == "pass":
                    self._forward(body)
                elif chosen == "lost":  # applied by Elasticsearch, but the answer never arrives
                    self._forward(body, answer=False)
                    self._reset()
                elif chosen == "reset":
                    self._reset()
                elif chosen == "stall":
                    time.sleep(proxy.stall_seconds)
                    self._reset()
                else:
                    self._refuse(int(chosen))

            def _forward(self, body: bytes, answer: bool = True) -> None:
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                    headers["Content-Length"] = str(len(body))
                    upstream.request(self.command, self.path, body=body if body or self.command in (
                        "POST", "PUT") else None, headers=headers)
                    response = upstream.getresponse()
                    payload = response.read()
                    if not answer:
                        return
                    self.send_response(response.status)
                    for name, value in response.getheaders():
                        if name.lower() not in _HOP_HEADERS:
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                except OSError:
                    self.close_connection = True
                finally:
                    upstream.close()

            def _refuse(self, status: int) -> None:
                kind = "es_rejected_execution_exception" if status == 429 else "unavailable_shards_exception"
                reason = f"injected {status} by the test proxy"
                payload = json.dumps({"error": {"type": kind, "reason": reason}, "status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _reset(self) -> None:
                # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()

            def finish(self) -> None:
                with contextlib.suppress(OSError):  # the socket was reset on purpose
                    super().finish()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _choose(self, body: bytes) -> str | None:
        with self._lock:
            self.bulk_requests += 1
            if self.fault is not None:
                chosen = self.fault(body)
            elif self.plan:
                chosen = self.plan.pop(0)
            else:
                chosen = None
            if chosen not in (None, "pass"):
                self.faults.append(chosen)
            return chosen

    @property
    def faults_left(self) -> int:
        with self._lock:
            return len(self.plan)

    def heal(self) -> None:
        """Pass everything through from now on."""
        with self._lock:
            self.plan.clear()
            self.fault = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ElasticsearchProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def writes_articles(prefix: str) -> Fault:
    """A `fault` answering 429 to every bulk request that writes articles (alias or rolled index)."""
    marker = f'"_index":"{prefix}-articles'.encode()

    def decide(body: bytes) -> str | None:
        return "429" if marker in body.replace(b" ", b"") else None

    return decide
