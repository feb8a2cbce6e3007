"""Fixtures for the alerts tests: articles, settings with quick retries, a real local SMTP server."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from newsflow.core.models import Article, article_id_for
from tests.support.tls import self_signed_certificate


@pytest.fixture
def make_article() -> Callable[..., Article]:
    """An enriched article; keyword arguments override any field."""

    def factory(url: str = "https://example.com/news/1", **fields: Any) -> Article:
        values: dict[str, Any] = {
            "id": article_id_for(url),
            "url": url,
            "title": "Central bank raises interest rates",
            "summary": "The central bank raised rates by a quarter point.",
            "body": "The central bank raised interest rates by a quarter point on Tuesday.",
            "source": "Example News",
            "feed_url": "https://example.com/feed.xml",
            "published_at": datetime(2026, 11, 26, 9, 0, tzinfo=UTC),
            "ingested_at": datetime(2026, 11, 26, 9, 5, tzinfo=UTC),
            "language": "en",
        }
        values.update(fields)
        return Article(**values)

    return factory


@pytest.fixture
def alert_settings(make_settings: Callable[..., Any]) -> Callable[..., Any]:
    """Settings for a fresh prefix with quick retries (no test waits for real backoff)."""

    def factory(**alerts: Any) -> Any:
        values = {"webhook_retry_backoff": 0.01, "retry_backoff": 60.0, "webhook_timeout": 5.0}
        values.update(alerts)
        return make_settings(alerts=values)

    return factory


@dataclass
class SmtpInbox:
    """What the local SMTP server received."""

    host: str
    port: int
    envelopes: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd hook
        with self.lock:
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def messages(self, to: str | None = None) -> list[Message]:
        with self.lock:
            return [message_from_bytes(content) for _, rcpts, content in self.envelopes
                    if to is None or to in rcpts]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_inbox() -> Iterator[SmtpInbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, recording every message."""
    inbox = SmtpInbox(host="127.0.0.1", port=_free_port())
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_login_inbox() -> Iterator[SmtpInbox]:
    """A real SMTP server that requires AUTH LOGIN/PLAIN as user "newsflow", password "letmein"."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"newsflow", b"letmein")
        return AuthResult(success=ok, handled=False)

    inbox = SmtpInbox(host="127.0.0.1", port=_free_port())
    # Plain-text AUTH is allowed here because the server is on loopback for the test only.
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port, authenticator=authenticate,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@dataclass
class TlsSmtp:
    inbox: SmtpInbox
    ca_file: Path  # the server's self-signed certificate, to trust it


@pytest.fixture
def smtp_starttls(tmp_path: Path) -> Iterator[TlsSmtp]:
    """A real SMTP server that refuses mail until the client has issued STARTTLS."""
    cert_file, key_file = self_signed_certificate(tmp_path, "smtp")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    inbox = SmtpInbox(host="127.0.0.1", port=_free_port())
    controller = Controller(inbox, hostname=inbox.host, port=inbox.port, tls_context=context,
                            require_starttls=True)
    controller.start()
    try:
        yield TlsSmtp(inbox, cert_file)
    finally:
        controller.stop()
