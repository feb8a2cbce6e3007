"""TLS verification is on by default: a feed served with a self-signed certificate is refused."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ingest.poll import poll_feeds
from ingest.types import FeedSpec
from tests.ingest.conftest import item, rss
from tests.support.tls import self_signed_certificate

FEED = rss(item(1))


@pytest.fixture
def https_feed(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate, serving one feed."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(FEED)))
            self.end_headers()
            self.wfile.write(FEED)

    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/feed.xml"
    server.shutdown()
    server.server_close()


def test_an_untrusted_certificate_is_refused_unless_verification_is_switched_off(
        https_feed: str, fetch_settings: Callable[..., Any]) -> None:
    spec = FeedSpec(url=https_feed)
    [refused] = poll_feeds([spec], {}, fetch_settings(retries=0))
    assert refused.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in refused.reason
    [accepted] = poll_feeds([spec], {}, fetch_settings(verify_tls=False))
    assert accepted.status == "fetched" and len(accepted.articles) == 1
