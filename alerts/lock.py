"""One run at a time records alerts for a prefix: a lease lock in `<prefix>-locks`.

A run that delivers new alerts before recording them (one write per alert instead of two, see
alerts.engine.match_and_deliver) must know that no other run delivers the same (rule, story) between
its check and its write. Holding this lock across check → deliver → record makes that so; every run
that creates alert records takes it, whichever way it records them.

The lock is one document, taken and released with conditional writes (if_seq_no): a run that dies
holding it blocks others only until its lease ends (`alerts.delivery_lease`). Taking it costs a read
and a write, once per group of articles.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from index.client import translate_errors
from newsflow.errors import AlertsBusy
from newsflow.models import format_utc, parse_utc, utc_now
from newsflow.settings import Settings

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

    def ensure(self) -> None:
        with translate_errors(self._url):
            if not self.client.indices.exists(index=self.index):
                self.client.options(ignore_status=400).indices.create(  # 400: created concurrently
                    index=self.index,
                    settings={"number_of_shards": 1, "number_of_replicas": self.settings.index.replicas},
                    mappings={"dynamic": "strict", "properties": {
                        "holder": {"type": "keyword"}, "until": {"type": "date"}}},
                )

    @contextmanager
    def held(self, wait: float | None = None) -> Iterator[None]:
        """Hold the lock for the block; wait up to `wait` seconds (default `alerts.lock_wait`) for it.

        Raises AlertsBusy when another live run keeps it longer."""
        self.acquire(self.settings.alerts.lock_wait if wait is None else wait)
        try:
            yield
        finally:
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
        now = now or utc_now()
        until = now + timedelta(seconds=self.settings.alerts.delivery_lease)
        document = {"holder": self.holder, "until": format_utc(until)}
        with translate_errors(self._url):
            found = self.client.options(ignore_status=404).get(index=self.index, id=LOCK_ID)
            if found.get("status") == 404 and found.get("error"):  # no locks index yet
                self.ensure()
                found = {"found": False}
            if not found.get("found"):
                response = self.client.options(ignore_status=409).create(
                    index=self.index, id=LOCK_ID, document=document)
                return None if response.get("result") == "created" else self._current()
            current = found["_source"]
            if current.get("holder") != self.holder and parse_utc(current["until"]) > now:
                return current
            response = self.client.options(ignore_status=409).index(
                index=self.index, id=LOCK_ID, document=document,
                if_seq_no=found["_seq_no"], if_primary_term=found["_primary_term"])
            if response.get("result") in ("created", "updated"):
                if current.get("holder") != self.holder:
                    log.info("alert-recording lock of %s had expired; taken over", current.get("holder"))
                return None
            return self._current()  # another run took it between our read and our write

    def release(self) -> None:
        """Give the lock up, if it is still ours (a lease that ran out may have been taken over)."""
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
