"""Local receivers that speak the HTTP APIs of chat and push services, for `apprise:` channel tests.

Each is a real HTTP server on 127.0.0.1 (tests.support.feedserver.FeedServer) answering as the
service does, and refusing requests the service would refuse:

- Slack incoming webhooks: POST JSON to /services/T…/B…/X… with `text`, `attachments` or `blocks`;
  answers 200 `ok` (400 `invalid_payload` otherwise, 404 `no_service` for another token).
- Microsoft Teams through a Power Automate workflow ("Post to a channel when a webhook request is
  received"): HTTPS POST to /workflows/ID/triggers/manual/paths/invoke?api-version=…&sp=…&sv=…&sig=…
  with an Adaptive Card message; answers 202 Accepted (401 for a wrong `sig`, 400 for another body).
- ntfy: publish as JSON (POST / with `topic`, `title`, `message`) or plainly (POST/PUT /TOPIC, the
  body the message, `X-Title`); answers 200 with the message event JSON.

`fail_next(n, status)` makes the next n requests fail with that status (a 500 from the service).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.feedserver import FeedServer, RecordedRequest, Response
from tests.support.tls import self_signed_certificate


@dataclass(frozen=True)
class Received:
    """One message a receiver accepted, as the service would show it."""

    title: str
    text: str
    request: RecordedRequest


class _Receiver:
    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.accepted: list[Received] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._failures += [status] * count

    def _failure(self) -> Response | None:
        with self._lock:
            if self._failures:
                status = self._failures.pop(0)
                return Response(status=status, body=b'{"error": "internal server error"}',
                                headers={"Content-Type": "application/json"})
        return None

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self.server.requests)

    def close(self) -> None:
        self.server.__exit__(None, None, None)


class SlackReceiver(_Receiver):
    """A Slack incoming webhook for one hook (team, bot, token)."""

    def __init__(self, team: str, bot: str, token: str) -> None:
        super().__init__(FeedServer().__enter__())
        self.path = f"/services/{team}/{bot}/{token}"
        self.server.route(self.path, self._handle)

    @property
    def webhook_base(self) -> str:
        """What stands for https://hooks.slack.com/services (NotifySlack.webhook_url)."""
        return self.server.url("/services")

    def _handle(self, request: RecordedRequest) -> Response:
        if request.method != "POST":
            return Response(status=405, body=b"invalid_method")
        failure = self._failure()
        if failure is not None:
            return failure
        try:
            payload = json.loads(request.body)
        except ValueError:
            return Response(status=400, body=b"invalid_payload")
        attachments = payload.get("attachments") or []
        if not (payload.get("text") or attachments or payload.get("blocks")):
            return Response(status=400, body=b"no_text")
        first = attachments[0] if attachments else {}
        with self._lock:
            self.accepted.append(Received(first.get("title", ""),
                                          first.get("text") or payload.get("text", ""), request))
        return Response(status=200, body=b"ok", headers={"Content-Type": "text/html"})


class TeamsWorkflowReceiver(_Receiver):
    """A Power Automate workflow's HTTP trigger (how Teams channels take webhooks now), over HTTPS."""

    def __init__(self, folder: Path, workflow: str, signature: str) -> None:
        cert, key = self_signed_certificate(folder, "teams")
        self.ca_file = cert
        server = _TlsServer(cert, key).__enter__()
        super().__init__(server)
        self.workflow, self.signature = workflow, signature
        self.path = f"/workflows/{workflow}/triggers/manual/paths/invoke"
        server.route(self.path, self._handle)

    @property
    def host(self) -> str:
        return urlsplit(self.server.base_url).netloc

    def _handle(self, request: RecordedRequest) -> Response:
        query = parse_qs(urlsplit(request.path).query)
        if request.method != "POST":
            return Response(status=405)
        if query.get("sig") != [self.signature] or query.get("sp") != ["/triggers/manual/run"] \
                or "api-version" not in query:
            return Response(status=401, body=b'{"error":{"code":"DirectApiAuthorizationRequired"}}')
        failure = self._failure()
        if failure is not None:
            return failure
        try:
            payload = json.loads(request.body)
            [attachment] = payload["attachments"]
            card = attachment["content"]
            assert payload["type"] == "message"
            assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
            assert card["type"] == "AdaptiveCard"
        except (ValueError, KeyError, TypeError, AssertionError):
            return Response(status=400, body=b'{"error":{"code":"InvalidRequestContent"}}')
        blocks = {block.get("id"): block.get("text", "") for block in card.get("body") or []}
        with self._lock:
            self.accepted.append(Received(blocks.get("title", ""), blocks.get("body", ""), request))
        return Response(status=202)


class NtfyReceiver(_Receiver):
    """A self-hosted ntfy server."""

    def __init__(self, topics: tuple[str, ...], token: str | None = None) -> None:
        super().__init__(FeedServer().__enter__())
        self.token = token
        self.topics = topics
        self.server.route("/", self._handle)
        for topic in topics:
            self.server.route(f"/{topic}", self._handle)

    @property
    def host(self) -> str:
        return urlsplit(self.server.base_url).netloc

    def _handle(self, request: RecordedRequest) -> Response:
        if request.method not in ("POST", "PUT"):
            return Response(status=405)
        if self.token is not None and request.headers.get("Authorization") != f"Bearer {self.token}":
            return Response(status=401, body=b'{"code":40101,"http":401,"error":"unauthorized"}')
        failure = self._failure()
        if failure is not None:
            return failure
        path = urlsplit(request.path).path
        if path == "/":
            try:
                payload: dict[str, Any] = json.loads(request.body)
            except ValueError:
                return Response(status=400, body=b'{"code":40024,"error":"body must be JSON"}')
            topic, title, message = payload.get("topic"), payload.get("title", ""), payload.get("message", "")
        else:
            topic = path.strip("/")
            title = request.headers.get("X-Title") or request.headers.get("Title") or ""
            message = request.body.decode("utf-8")
        if topic not in self.topics:
            return Response(status=404, body=b'{"code":40401,"error":"topic not found"}')
        with self._lock:
            self.accepted.append(Received(title, message, request))
        event = {"id": uuid.uuid4().hex[:12], "time": int(time.time()), "event": "message", "topic": topic,
                 "title": title, "message": message}
        return Response(status=200, body=json.dumps(event).encode(),
                        headers={"Content-Type": "application/json"})


class _TlsServer(FeedServer):
    """FeedServer over HTTPS with a self-signed certificate for 127.0.0.1."""

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)

    @property
    def base_url(self) -> str:
        return "https" + super().base_url.removeprefix("http")
