"""A WebSub hub for tests, on 127.0.0.1 (https://www.w3.org/TR/websub/, sections 5-7).

- POST / with hub.mode=subscribe|unsubscribe, hub.topic, hub.callback (hub.secret,
  hub.lease_seconds): answered 202, then the intent is verified asynchronously by a GET to the
  callback (hub.mode, hub.topic, hub.challenge, hub.lease_seconds); the subscription counts only if
  the callback answers 2xx with the challenge echoed. `deny()` sends hub.mode=denied instead.
- `publish(topic, body)` pushes the body to every verified subscriber of the topic, signed with
  X-Hub-Signature (sha256 by default, sha1 if asked), retrying non-2xx answers `retries` times.
- Misbehaviour on demand: `forge()` signs with the wrong secret, `replay()` sends an earlier delivery
  again byte for byte, `huge()` pushes an oversized body, `flood()` pushes many bodies at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx


@dataclass
class HubSubscription:
    topic: str
    callback: str
    secret: str
    lease_seconds: int
    verified_at: float


@dataclass(frozen=True)
class Verification:
    mode: str
    topic: str
    callback: str
    status: int  # the callback's answer
    echoed: bool  # whether it echoed the challenge


@dataclass
class Delivery:
    callback: str
    body: bytes
    headers: dict[str, str]
    statuses: list[int] = field(default_factory=list)  # one per attempt

    @property
    def accepted(self) -> bool:
        return bool(self.statuses) and 200 <= self.statuses[-1] < 300


class LocalHub:
    """Use as a context manager; `url` is the hub URL to announce in a feed."""

    def __init__(self, *, retries: int = 2, backoff: float = 0.05, max_lease: int = 30 * 86400,
                 algorithm: str = "sha256") -> None:
        self.retries = retries
        self.backoff = backoff
        self.max_lease = max_lease
        self.algorithm = algorithm
        self.subscriptions: dict[tuple[str, str], HubSubscription] = {}
        self.requests: list[dict[str, str]] = []  # every (un)subscribe form received
        self.verifications: list[Verification] = []
        self.deliveries: list[Delivery] = []
        self._lock = threading.RLock()  # wait_for's conditions read the records under it
        self._changed = threading.Condition(self._lock)
        self._http = httpx.Client(timeout=5.0)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                status = hub._accept(form)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self) -> LocalHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    # --- subscribing ---
    def _accept(self, form: dict[str, str]) -> int:
        mode, topic, callback = form.get("hub.mode"), form.get("hub.topic"), form.get("hub.callback")
        if mode not in ("subscribe", "unsubscribe") or not topic or not callback:
            return 400
        with self._changed:
            self.requests.append(form)
            self._changed.notify_all()
        threading.Thread(target=self._verify, args=(form,), daemon=True).start()
        return 202

    def _verify(self, form: dict[str, str]) -> None:
        mode, topic, callback = form["hub.mode"], form["hub.topic"], form["hub.callback"]
        lease = min(int(form.get("hub.lease_seconds") or self.max_lease), self.max_lease)
        challenge = secrets.token_urlsafe(16)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            params["hub.lease_seconds"] = str(lease)
        try:
            answer = self._http.get(callback, params=params)
            status, echoed = answer.status_code, answer.text == challenge
        except httpx.HTTPError:
            status, echoed = 0, False
        with self._changed:
            if 200 <= status < 300 and echoed:
                if mode == "subscribe":
                    self.subscriptions[(topic, callback)] = HubSubscription(
                        topic, callback, form.get("hub.secret", ""), lease, time.time())
                else:
                    self.subscriptions.pop((topic, callback), None)
            self.verifications.append(Verification(mode, topic, callback, status, echoed))
            self._changed.notify_all()

    def deny(self, topic: str, callback: str, reason: str = "not allowed") -> int:
        """Tell a subscriber its subscription was refused (hub.mode=denied)."""
        self.subscriptions.pop((topic, callback), None)
        return self._http.get(callback, params={"hub.mode": "denied", "hub.topic": topic,
                                                "hub.reason": reason}).status_code

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait until `condition()` (checked whenever the hub's records change) holds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.1))
        return True

    def subscribers(self, topic: str) -> list[HubSubscription]:
        with self._lock:
            return [sub for (t, _), sub in self.subscriptions.items() if t == topic]

    # --- publishing ---
    def signature(self, body: bytes, secret: str) -> str:
        digest = hmac.new(secret.encode(), body, getattr(hashlib, self.algorithm)).hexdigest()
        return f"{self.algorithm}={digest}"

    def publish(self, topic: str, body: bytes, *, content_type: str = "application/atom+xml",
                secret: str | None = None) -> list[Delivery]:
        """Push `body` to every verified subscriber of `topic` (retrying non-2xx answers). `secret`
        overrides the subscriber's own (a forgery)."""
        deliveries = []
        for sub in self.subscribers(topic):
            headers = {"Content-Type": content_type,
                       "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"',
                       "X-Hub-Signature": self.signature(body, sub.secret if secret is None else secret)}
            deliveries.append(self._deliver(Delivery(sub.callback, body, headers)))
        return deliveries

    def _deliver(self, delivery: Delivery) -> Delivery:
        for attempt in range(self.retries + 1):
            try:
                status = self._http.post(delivery.callback, content=delivery.body,
                                         headers=delivery.headers).status_code
            except httpx.HTTPError:
                status = 0
            delivery.statuses.append(status)
            if 200 <= status < 300:
                break
            if attempt < self.retries:
                time.sleep(self.backoff * 2**attempt)
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    def forge(self, topic: str, body: bytes) -> list[Delivery]:
        """A push signed with a secret that is not the subscriber's."""
        return self.publish(topic, body, secret="not-the-secret")

    def replay(self, delivery: Delivery) -> Delivery:
        """Send an earlier delivery again, byte for byte (its signature is valid)."""
        return self._deliver(Delivery(delivery.callback, delivery.body, dict(delivery.headers)))

    def huge(self, topic: str, size: int) -> list[Delivery]:
        """A validly signed push of at least `size` bytes."""
        filler = b"<!-- " + b"x" * size + b" -->"
        return self.publish(topic, b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
                            + filler + b"</feed>")

    def flood(self, topic: str, count: int) -> Iterator[Delivery]:
        """`count` distinct, validly signed pushes, as fast as the subscriber answers (no retries)."""
        retries, self.retries = self.retries, 0
        try:
            for n in range(count):
                yield from self.publish(topic, f"<feed><!-- {n} --></feed>".encode())
        finally:
            self.retries = retries
