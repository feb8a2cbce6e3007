"""A hostile feed server on 127.0.0.1 for tests: speaks raw TCP, so it can misbehave the ways a real
attacker's (or a broken) server does at the network level: trickled bodies and headers, replies
that never come, redirect games, lying lengths, endless bodies, bombs, garbage instead of HTTP.

`with HostileServer() as server: server.url(name)` for every name in `NETWORK_CASES`; bodies of
other hostile cases (name -> (body, extra headers)) can be added with `serve_body`. Every
connection runs in a daemon thread that ends when the server stops.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

Case = Callable[["_Connection"], None]


@dataclass
class _Connection:
    sock: socket.socket
    path: str
    stop: threading.Event

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def answer(self, status: str, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {status}", "Connection: close"]
        fields = {"Content-Length": str(len(body)), **(headers or {})}
        lines += [f"{name}: {value}" for name, value in fields.items()]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body)

    def trickle(self, data: bytes, every: float) -> None:
        """Send `data` one byte at a time, a byte every `every` seconds, until the client leaves."""
        for byte in data:
            if self.stop.wait(every) or not self.send(bytes([byte])):
                return

    def hold(self) -> None:
        """Keep the connection open, saying nothing, until the client leaves or the server stops."""
        self.sock.settimeout(0.5)
        while not self.stop.is_set():
            try:
                if self.sock.recv(1024) == b"":
                    return
            except TimeoutError:
                continue
            except OSError:
                return


FEED_START = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Hostile</title>'
SMALL_FEED = (FEED_START + b"<item><title>One</title><link>http://example.com/h/1</link>"
              b"<description>Text.</description></item></channel></rss>")


def _redirect(location: str, status: str = "302 Found") -> Case:
    return lambda c: c.answer(status, headers={"Location": location})


def _status(status: str, headers: dict[str, str] | None = None, body: bytes = b"") -> Case:
    return lambda c: c.answer(status, body, headers)


def _raw(data: bytes) -> Case:
    return lambda c: c.send(data)


def _trickled_body(c: _Connection) -> None:
    c.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n")
    c.trickle(SMALL_FEED * 1000, every=1.0)  # one byte a second


def _slowloris_headers(c: _Connection) -> None:
    c.trickle(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n" + b"X-Slow: " + b"z" * 10_000,
              every=0.5)


def _endless_chain(c: _Connection) -> None:
    step = int(c.path.rsplit("/", 1)[-1]) if c.path.rsplit("/", 1)[-1].isdigit() else 0
    c.answer("302 Found", headers={"Location": f"/net/endless_redirect_chain/{step + 1}"})


def _endless_chunked(c: _Connection) -> None:
    c.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nTransfer-Encoding: chunked\r\n\r\n")
    c.send(b"%x\r\n%s\r\n" % (len(FEED_START), FEED_START))
    chunk = b"<item><title>x</title></item>" * 2000
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    while not c.stop.is_set() and c.send(frame):
        pass


def _content_length_longer(c: _Connection) -> None:
    c.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 50000\r\n\r\n")
    c.send(SMALL_FEED[:120])  # then the connection closes, 49,880 bytes short


def _gzip_bomb() -> Case:
    bomb = gzip.compress(FEED_START + b" " * 60_000_000, compresslevel=9)  # ~60 KB on the wire
    return _status("200 OK", {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"}, bomb)


def _over_limit(limit: int) -> Case:
    body = FEED_START + b"<!-- " + b"x" * (limit + 1000) + b" --></channel></rss>"
    return _status("200 OK", {"Content-Type": "application/rss+xml"}, body)


def _many_headers(c: _Connection) -> None:
    headers = "".join(f"X-H{n}: v\r\n" for n in range(20_000))
    c.send(f"HTTP/1.1 200 OK\r\nContent-Length: {len(SMALL_FEED)}\r\n{headers}\r\n".encode() + SMALL_FEED)


def _html_page() -> Case:
    page = (b"<!DOCTYPE html><html><head><title>Welcome</title></head><body><h1>Our new site</h1>"
            b"<p>The feed has moved. " + b"Lorem ipsum dolor sit amet. " * 200 + b"</p></body></html>")
    return _status("200 OK", {"Content-Type": "text/html; charset=utf-8"}, page)


def _billion_laughs() -> Case:
    entities = '<!ENTITY a0 "ha">' + "".join(f'<!ENTITY a{n} "{f"&a{n - 1};" * 10}">' for n in range(1, 10))
    body = (f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss version="2.0"><channel><title>&a9;'
            "</title><item><title>&a9;</title><link>http://example.com/laughs</link></item>"
            "</channel></rss>").encode()
    return _status("200 OK", {"Content-Type": "application/rss+xml"}, body)


def _huge_item_count() -> Case:
    items = b"".join(b"<item><title>Item %d</title><link>http://example.com/many/%d</link></item>" % (n, n)
                     for n in range(60_000))
    body = FEED_START + items + b"</channel></rss>"
    return _status("200 OK", {"Content-Type": "application/rss+xml"}, body)


def network_cases(max_body_bytes: int) -> dict[str, Case]:
    """Every network-level hostile case by name (served at /net/<name>)."""
    return {
        "trickled_body": _trickled_body,
        "never_answers": lambda c: c.hold(),
        "closes_at_once": lambda c: None,
        "endless_redirect_chain": _endless_chain,
        "redirect_loop_a": _redirect("/net/redirect_loop_b"),
        "redirect_loop_b": _redirect("/net/redirect_loop_a"),
        "redirect_to_itself": _redirect("/net/redirect_to_itself", "301 Moved Permanently"),
        "redirect_to_file": _redirect("file:///etc/passwd"),
        "redirect_to_ftp": _redirect("ftp://127.0.0.1/feed.xml"),
        "redirect_to_data": _redirect("data:application/rss+xml,<rss/>"),
        "redirect_to_metadata_address": _redirect("http://169.254.169.254/latest/meta-data/"),
        "redirect_to_invalid_url": _redirect("http://[::1/feed.xml"),
        "redirect_without_location": _status("302 Found"),
        "retry_after_huge": _status("429 Too Many Requests", {"Retry-After": "999999999999"}),
        "retry_after_year_9999": _status("503 Service Unavailable",
                                         {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}),
        "retry_after_garbage": _status("503 Service Unavailable", {"Retry-After": "soon\u00b2"}),
        "retry_after_negative": _status("429 Too Many Requests", {"Retry-After": "-100"}),
        "always_500": _status("500 Internal Server Error", body=b"oops"),
        "gzip_bomb": _gzip_bomb(),
        "body_over_limit": _over_limit(max_body_bytes),
        "chunked_endless_body": _endless_chunked,
        "content_length_longer_than_body": _content_length_longer,
        "content_length_shorter_than_body": _raw(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 12\r\n\r\n" + SMALL_FEED),
        "content_length_garbage": _raw(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: lots\r\n\r\n" + SMALL_FEED),
        "content_length_twice": _raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 10\r\n"
                                     b"Content-Length: 99\r\n\r\n" + SMALL_FEED),
        "slowloris_headers": _slowloris_headers,
        "invalid_status_line": _raw(b"HTTP/1.1 abc WHAT IS THIS\r\n\r\n" + SMALL_FEED),
        "status_999": _raw(b"HTTP/1.1 999 Strange\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
        "not_http_at_all": _raw(b"SSH-2.0-OpenSSH_9.6\r\n"),
        "tls_garbage_reply": _raw(b"\x16\x03\x01\x00\x31\x02\x00\x00\x2d\x03\x03" + bytes(range(64))),
        "nul_in_headers": _raw(b"HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 0\r\n\r\n"),
        "header_line_100kb": _raw(b"HTTP/1.1 200 OK\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n"),
        "twenty_thousand_headers": _many_headers,
        "false_gzip": _status("200 OK", {"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"},
                              SMALL_FEED),
        "html_page_instead_of_feed": _html_page(),
        "json_that_is_no_feed": _status("200 OK", {"Content-Type": "application/json"}, b'{"not": "a feed"}'),
        "binary_garbage": _status("200 OK", {"Content-Type": "application/rss+xml"},
                                  bytes((n * 7919) % 256 for n in range(50_000))),
        "empty_200": _status("200 OK", {"Content-Type": "application/rss+xml"}),
        "no_content_204": _status("204 No Content"),
        "needs_credentials_401": _status("401 Unauthorized", {"WWW-Authenticate": 'Basic realm="x"'}),
        "billion_laughs": _billion_laughs(),
        "huge_item_count": _huge_item_count(),
    }


# Cases whose reply is a body a lenient parser may still read (bad parts dropped): the test accepts
# either a failure with its reason or a parse. Every other case must be recorded as failed.
MAY_PARSE = frozenset({"billion_laughs", "huge_item_count", "content_length_twice"})


class HostileServer:
    def __init__(self, max_body_bytes: int = 10 * 1024 * 1024) -> None:
        self.cases: dict[str, Case] = network_cases(max_body_bytes)
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._connections: list[threading.Thread] = []

    def serve_body(self, name: str, body: bytes, headers: dict[str, str] | None = None) -> str:
        """Serve a hostile body (a content case) at /hostile/<name>.xml; returns its URL."""
        path = f"hostile/{quote(name, safe='')}.xml"  # a name is any string; a path is not
        self.cases[path] = _status("200 OK", {"Content-Type": "application/rss+xml", **(headers or {})}, body)
        return f"{self.base_url}/{path}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/net/{name}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._handle, args=(sock,), daemon=True)
            thread.start()
            self._connections.append(thread)

    def _handle(self, sock: socket.socket) -> None:
        with sock:
            sock.settimeout(10)
            request = b""
            try:
                while b"\r\n\r\n" not in request and len(request) < 65536:
                    data = sock.recv(4096)
                    if not data:
                        return
                    request += data
            except OSError:
                return
            target = request.split(b" ", 2)[1].decode("latin-1") if request.count(b" ") >= 2 else "/"
            path = target.split("?", 1)[0]
            connection = _Connection(sock, path, self._stop)
            case = self._case_for(path)
            if case is None:
                connection.answer("404 Not Found", b"no such case")
                return
            with contextlib.suppress(OSError):
                case(connection)

    def _case_for(self, path: str) -> Case | None:
        if path.startswith("/net/endless_redirect_chain"):
            return self.cases["endless_redirect_chain"]
        if path.startswith("/net/"):
            return self.cases.get(path[len("/net/"):])
        return self.cases.get(path.lstrip("/"))

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        for thread in self._connections:
            thread.join(2)
