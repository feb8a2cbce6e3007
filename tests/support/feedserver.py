"""A real HTTP server on 127.0.0.1 for tests: serves files and programmable responses, and records
every request it receives (path and headers), so tests can assert what a client actually sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to stall before answering (timeouts)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Route = Response | Callable[[RecordedRequest], Response]


class FeedServer:
    """`with FeedServer() as server: server.route("/a.xml", Response(body=...)); server.url("/a.xml")`.

    Paths without a route are looked up under `root` (if given); otherwise 404.
    """

    def __init__(self, root: Path | None = None, host: str = "127.0.0.1") -> None:
        """`host`: the loopback address to bind (127.0.0.2 ... stand for other hosts: per-host
        politeness applies to each); only addresses of 127.0.0.0/8."""
        if not host.startswith("127."):
            raise ValueError(f"test servers bind loopback addresses only, not {host!r}")
        self.root = root
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    return  # the client died mid-request (a crash test): a real server drops it too
                request = RecordedRequest(self.command, self.path, dict(self.headers.items()), body)
                with server._lock:
                    server.requests.append(request)
                response = server._respond(request)
                if response.delay:
                    time.sleep(response.delay)
                try:
                    self.send_response(response.status)
                    headers = {"Content-Length": str(len(response.body)), **response.headers}
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(response.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_HEAD = do_PUT = _handle

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _respond(self, request: RecordedRequest) -> Response:
        path = request.path.split("?", 1)[0]
        route = self.routes.get(request.path) or self.routes.get(path)
        if route is not None:
            return route(request) if callable(route) else route
        if self.root is not None:
            candidate = (self.root / path.lstrip("/")).resolve()
            if candidate.is_file() and self.root.resolve() in candidate.parents:
                return Response(body=candidate.read_bytes(),
                                headers={"Content-Type": "application/xml"})
        return Response(status=404, body=b"not found")

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def route(self, path: str, response: Route) -> str:
        self.routes["/" + path.lstrip("/")] = response
        return self.url(path)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        wanted = "/" + path.lstrip("/")
        return [r for r in self.requests if r.path.split("?", 1)[0] == wanted]

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
