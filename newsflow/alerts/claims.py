"""Delivery claims held by one run, renewed while it delivers.

A run claims due alert records (newsflow.alerts.store.AlertStore.claim: next_attempt_at moved one lease ahead,
conditional on the version it read) before sending them; another run sees them as not due until then.
A delivery slower than the lease would let a second run claim and send them again, so the claims are
renewed: by a heartbeat thread every third of the lease, and at once before a send that might outlast
what is left. A claim lost to another run (its conditional write wins) stops this run's sending; the
records not sent stay pending for a later run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from newsflow.alerts.records import AlertRecord
from newsflow.alerts.store import AlertStore, Versioned
from newsflow.core.errors import AlertLockLost, NewsflowError
from newsflow.core.models import utc_now

log = logging.getLogger(__name__)


class HeldClaims:
    """The claimed records of one delivery run and how long they are surely still ours.

    `now`: the run's idea of the current time (tests move it); renewals keep the same offset from
    the real clock. `valid_for`: seconds the claims are known to last from now (0: unknown, so the
    first send renews them)."""

    def __init__(self, store: AlertStore, items: Sequence[Versioned], lease: float, now: datetime,
                 valid_for: float = 0.0) -> None:
        self.store = store
        self.lease = lease
        self._offset = now - utc_now()
        self._items = {item.record.id: item for item in items}
        self._lost: set[str] = set()
        self._guard = threading.Lock()
        self._hold = lease
        self._valid_until = time.monotonic() + valid_for

    def current(self) -> list[Versioned]:
        """The records still held, at the version their last claim wrote."""
        with self._guard:
            return [item for key, item in self._items.items() if key not in self._lost]

    @property
    def remaining(self) -> float:
        with self._guard:
            return max(0.0, self._valid_until - time.monotonic())

    def renew(self, hold: float | None = None) -> None:
        """Claim every held record again for `hold` seconds (at least the lease). Records another
        run has claimed meanwhile are lost (no longer ours)."""
        with self._guard:
            if hold is not None:
                self._hold = max(self.lease, hold)
            held = [item for key, item in self._items.items() if key not in self._lost]
            if not held:
                return
            asked = time.monotonic()
            until = utc_now() + self._offset + timedelta(seconds=self._hold)
            won = {item.record.id: item for item in self.store.claim(held, until=until)}
            for item in held:
                if item.record.id in won:
                    self._items[item.record.id] = won[item.record.id]
                else:
                    self._lost.add(item.record.id)
                    log.warning("alert %s was claimed by another run while this one delivered it",
                                item.record.id)
            self._valid_until = asked + self._hold

    def ensure_for(self, records: Sequence[AlertRecord], seconds: float) -> None:
        """Before sending `records` (a send that may take up to `seconds`): make sure their claims
        outlast it, renewing them when less than twice that is left. Raises AlertLockLost if one of
        them is another run's now, or if they cannot be renewed and would run out during the send."""
        if self.remaining < 2 * seconds:
            try:
                self.renew(max(self._hold, 3 * seconds))
            except NewsflowError as exc:
                if self.remaining < seconds:
                    raise AlertLockLost("this run", f"its delivery claims could not be renewed ({exc}) "
                                        "and would run out before the next delivery") from exc
        with self._guard:
            lost = [record.id for record in records if record.id in self._lost]
        if lost:
            raise AlertLockLost("this run", f"alert {lost[0]} was claimed by another run")

    @contextmanager
    def beating(self) -> Iterator[HeldClaims]:
        """Renew the claims every third of the lease for the block (a heartbeat thread)."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(max(0.05, self.lease / 3)):
                try:
                    self.renew()
                except NewsflowError as exc:  # Elasticsearch slow or away: try at the next beat
                    log.warning("could not renew delivery claims: %s", exc)

        thread = threading.Thread(target=beat, daemon=True, name="alert-claims-heartbeat")
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
