"""One run at a time records alerts for a prefix: a lease lock in `<prefix>-locks`.

A run that delivers new alerts before recording them (one write per alert instead of two, see
newsflow.alerts.engine.match_and_deliver) must know that no other run delivers the same (rule, story) between
its check and its write. Holding this lock across check → deliver → record makes that so; every run
that creates alert records takes it, whichever way it records them.

The lock is one document, taken and released with conditional writes (if_seq_no): a run that dies
holding it blocks others only until its lease ends (`alerts.delivery_lease`). Taking it costs a read
and a write, once per group of articles.

While it is held, a heartbeat thread renews the lease every third of its length (one conditional
write), so deliveries that take longer than the lease never let a second run in. Before each send
the delivery asks `ensure_for(seconds)`: the lease must still be ours and last at least as long as
that send may take, else it is renewed at once; a run that lost the lock (another holder) or cannot
renew it in time raises AlertLockLost and stops sending. Ownership is known without a read per
send: the heartbeat's conditional write fails as soon as another run has taken the lock over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from newsflow.core.errors import AlertLockLost, AlertsBusy, NewsflowError
from newsflow.core.es import create_index, number_of_replicas, translate_errors
from newsflow.core.models import format_utc, parse_utc, utc_now
from newsflow.core.settings import Settings

log = logging.getLogger(__name__)

LOCK_ID = "alert-recording"
_POLL_SECONDS = 0.2


def locks_index(settings: Settings) -> str:
    return settings.index_name("locks")


def new_holder() -> str:
    """A name for this run, unique and readable in the lock document (host, pid, random part)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RecordingLock:
    """The alert-recording lock of one prefix, as held (or wanted) by one run."""

    def __init__(self, client: Elasticsearch, settings: Settings, holder: str | None = None) -> None:
        self.client = client
        self.settings = settings
        self.index = locks_index(settings)
        self.holder = holder or new_holder()
        self._url = settings.es_url_redacted
        self._guard = threading.Lock()  # renewals come from the heartbeat and the delivering thread
        self._version: tuple[int, int] | None = None  # (seq_no, primary_term) of our last write
        self._valid_until = 0.0  # time.monotonic() until which the lease is surely ours
        self._hold = settings.alerts.delivery_lease  # seconds each renewal asks for
        self._lost_to: str | None = None  # the holder that took the lock over, once we know

    def ensure(self) -> None:
        with translate_errors(self._url):
            if not self.client.indices.exists(index=self.index):
                create_index(  # exists already: created concurrently, fine
                    self.client, index=self.index,
                    settings={"number_of_shards": 1,
                              "number_of_replicas": number_of_replicas(self.settings, self.client)},
                    mappings={"dynamic": "strict", "properties": {
                        "holder": {"type": "keyword"}, "until": {"type": "date"}}},
                )
            # Also when it exists: another run may have created it a moment ago, and a read of a
            # shard not yet started is a 503. On a started index this returns at once.
            self.client.cluster.health(index=self.index, wait_for_status="yellow", timeout="30s")

    @contextmanager
    def held(self, wait: float | None = None) -> Iterator[RecordingLock]:
        """Hold the lock for the block, renewed by a heartbeat; wait up to `wait` seconds (default
        `alerts.lock_wait`) for it.

        Raises AlertsBusy when another live run keeps it longer."""
        self.acquire(self.settings.alerts.lock_wait if wait is None else wait)
        stop = threading.Event()
        heartbeat = threading.Thread(target=self._beat, args=(stop,), daemon=True,
                                     name=f"alert-lock-heartbeat-{self.holder}")
        heartbeat.start()
        try:
            yield self
        finally:
            stop.set()
            heartbeat.join()
            self.release()

    def acquire(self, wait: float) -> None:
        started = time.monotonic()
        while True:
            current = self.try_acquire()
            if current is None:
                return
            waited = time.monotonic() - started
            if waited >= wait:
                raise AlertsBusy(current["holder"], current["until"], waited)
            time.sleep(min(_POLL_SECONDS, max(0.0, wait - waited)))

    def try_acquire(self, now: datetime | None = None) -> dict[str, Any] | None:
        """Take the lock if it is free, expired or already ours. None when taken; else the other
        holder's lock document."""
        asked = time.monotonic()
        now = now or utc_now()
        lease = self.settings.alerts.delivery_lease
        document = {"holder": self.holder, "until": format_utc(now + timedelta(seconds=lease))}
        with translate_errors(self._url):
            found: Any = self.client.options(ignore_status=(404, 503)).get(index=self.index, id=LOCK_ID)
            if found.get("status") == 503:
                # Another run created the locks index a moment ago and its shard is still starting
                # ("no shard available"): wait for it as ensure() does, then read again; a 503
                # that outlasts the wait is an overloaded cluster and raises.
                self.ensure()
                found = self.client.options(ignore_status=404).get(index=self.index, id=LOCK_ID)
            if found.get("status") == 404 and found.get("error"):  # no locks index yet
                self.ensure()
                found = {"found": False}
            if not found.get("found"):
                response = self.client.options(ignore_status=409).create(
                    index=self.index, id=LOCK_ID, document=document)
                if response.get("result") != "created":
                    return self._current()
                self._taken(response, asked + lease)
                return None
            current: dict[str, Any] = found["_source"]
            if current.get("holder") != self.holder and parse_utc(current["until"]) > now:
                return current
            response = self.client.options(ignore_status=409).index(
                index=self.index, id=LOCK_ID, document=document,
                if_seq_no=found["_seq_no"], if_primary_term=found["_primary_term"])
            if response.get("result") in ("created", "updated"):
                if current.get("holder") != self.holder:
                    log.info("alert-recording lock of %s had expired; taken over", current.get("holder"))
                self._taken(response, asked + lease)
                return None
            return self._current()  # another run took it between our read and our write

    def _taken(self, response: Any, valid_until: float) -> None:
        with self._guard:
            self._version = (response["_seq_no"], response["_primary_term"])
            self._valid_until = valid_until
            self._hold = self.settings.alerts.delivery_lease
            self._lost_to = None

    def renew(self, hold: float | None = None) -> bool:
        """Extend our lease to `hold` seconds from now (default: the last length asked for, at
        least `alerts.delivery_lease`). False if the lock is no longer ours (then `lost` is set);
        Elasticsearch errors are raised (the lease may still be ours: the caller decides)."""
        with self._guard:
            if self._lost_to is not None or self._version is None:
                return False
            if hold is not None:
                self._hold = max(self.settings.alerts.delivery_lease, hold)
            asked = time.monotonic()
            document = {"holder": self.holder,
                        "until": format_utc(utc_now() + timedelta(seconds=self._hold))}
            seq_no, primary_term = self._version
            with translate_errors(self._url):
                response = self.client.options(ignore_status=[404, 409]).index(
                    index=self.index, id=LOCK_ID, document=document,
                    if_seq_no=seq_no, if_primary_term=primary_term)
            if response.get("result") in ("created", "updated"):
                self._version = (response["_seq_no"], response["_primary_term"])
                self._valid_until = asked + self._hold
                return True
            self._lost_to = self._current().get("holder", "unknown")  # 409: written by someone else
            log.warning("the alert-recording lock passed to %s while this run (%s) held it",
                        self._lost_to, self.holder)
            return False

    @property
    def remaining(self) -> float:
        """Seconds the lease is surely still ours (0 once lost)."""
        with self._guard:
            if self._lost_to is not None or self._version is None:
                return 0.0
            return max(0.0, self._valid_until - time.monotonic())

    def ensure_for(self, seconds: float) -> None:
        """Before a send that may take up to `seconds`: make sure the lease outlasts it.

        Renews at once when less than twice that is left (so the outcome can still be recorded
        under the lock). Raises AlertLockLost when the lock passed to another run, or when it cannot
        be renewed and would run out during the send."""
        if self.remaining >= 2 * seconds:
            return
        try:
            renewed = self.renew(max(self._hold, 3 * seconds))
        except NewsflowError as exc:
            if self.remaining >= seconds:
                return  # not renewed, but the send still fits in the lease; the heartbeat retries
            raise AlertLockLost(self.holder, f"the alert-recording lock could not be renewed ({exc}) "
                                f"and its lease would end before the next delivery") from exc
        if not renewed:
            raise AlertLockLost(self.holder, f"the alert-recording lock passed to {self._lost_to} "
                                f"while this run ({self.holder}) held it")

    def _beat(self, stop: threading.Event) -> None:
        """Renew the lease every third of its length until `stop` (or the lock is lost)."""
        while not stop.wait(max(0.05, min(self._hold, self.settings.alerts.delivery_lease) / 3)):
            try:
                if not self.renew():
                    return
            except NewsflowError as exc:  # Elasticsearch slow or away: try again at the next beat
                log.warning("could not renew the alert-recording lock (%s): %s", self.holder, exc)

    def release(self) -> None:
        """Give the lock up, if it is still ours (a lease that ran out may have been taken over)."""
        with self._guard:
            self._version = None
        with translate_errors(self._url):
            found = self.client.options(ignore_status=404).get(index=self.index, id=LOCK_ID)
            if found.get("found") and found["_source"].get("holder") == self.holder:
                self.client.options(ignore_status=[404, 409]).delete(
                    index=self.index, id=LOCK_ID,
                    if_seq_no=found["_seq_no"], if_primary_term=found["_primary_term"])
            elif found.get("found"):
                log.warning("the alert-recording lock passed to %s while this run (%s) held it: its "
                            "lease (alerts.delivery_lease) ran out", found["_source"].get("holder"),
                            self.holder)

    def _current(self) -> dict[str, Any]:
        with translate_errors(self._url):
            found = self.client.options(ignore_status=404).get(index=self.index, id=LOCK_ID)
        return found.get("_source") or {"holder": "unknown", "until": "unknown"}
