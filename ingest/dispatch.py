"""Which feed gets the poll's next global fetch slot: one whose host may be requested now.

A feeds file usually lists a publisher's section feeds together. Were the global slots
(`fetch.concurrency`) handed out in file order, they would all fill with feeds of one host, each
waiting on that host's politeness delay while every other host sat idle: a poll at one request per
delay (head-of-line blocking). So feeds wait in one FIFO queue per host, and a heap orders the hosts
by the time they may next be requested; a free global slot goes to the first feed of a host that is
ready now, together with that host's slot (`HostReservation`), taken in the same step. A feed
waiting for its host holds no global slot; feeds of one host keep their order; the politeness rules
themselves stay in `HostSlots`, which running feeds' further requests (retries, redirect hops,
robots.txt, article pages) go through, ahead of feeds not started yet.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Sequence

from ingest.fetch import HostReservation, HostSlots


class FeedDispatcher:
    """Feeds (by index) waiting for a global slot, grouped by host. `hosts[i]` is feed i's host,
    "" for a feed without one (a local file, an unparsable URL: no host slot to wait for)."""

    def __init__(self, hosts: Sequence[str], host_slots: HostSlots, concurrency: int) -> None:
        self._slots = host_slots
        self._free = max(1, concurrency)
        self._unhosted: deque[int] = deque()
        self._queues: dict[str, deque[int]] = {}
        self._waiting = len(hosts)
        for index, host in enumerate(hosts):
            if host:
                self._queues.setdefault(host, deque()).append(index)
            else:
                self._unhosted.append(index)
        self._heap: list[tuple[float, str]] = []
        self._scheduled: dict[str, float] = {}  # each host's one live heap entry (others are stale)
        self._wake = asyncio.Event()
        for host in self._queues:
            self._schedule(host)
        host_slots.on_release(self._host_released)

    @property
    def waiting(self) -> int:
        """Feeds not dispatched yet."""
        return self._waiting

    def finished(self) -> None:
        """A dispatched feed is done: its global slot is free again."""
        self._free += 1
        self._wake.set()

    def take_ready(self, now: float) -> list[tuple[int, HostReservation | None]]:
        """The feeds to start now, each with its host's slot, as many as there are free slots."""
        started: list[tuple[int, HostReservation | None]] = []
        while self._free > 0:
            if self._unhosted:
                started.append((self._unhosted.popleft(), None))
                self._free -= 1
                self._waiting -= 1
                continue
            if not self._heap or self._heap[0][0] > now:
                break
            when, host = heapq.heappop(self._heap)
            if self._scheduled.get(host) != when:
                continue  # stale: the host was rescheduled earlier
            del self._scheduled[host]
            queue = self._queues.get(host)
            if not queue:
                continue
            reservation = self._slots.reserve(host, now)
            if reservation is None:  # busy, or a Crawl-delay moved its next start: later
                self._schedule(host)
                continue
            started.append((queue.popleft(), reservation))
            self._free -= 1
            self._waiting -= 1
            if queue:
                self._schedule(host)
            else:
                del self._queues[host]
        return started

    async def wait(self, now: float) -> None:
        """Until a slot may have come free: a feed finished, a host's slot was released, or the
        earliest host's politeness delay has passed."""
        self._wake.clear()
        delay = max(0.0, self._heap[0][0] - now) if self._heap and self._free > 0 else None
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            pass

    def _schedule(self, host: str) -> None:
        """Put `host` in the heap at the time it may next be requested; a busy host (None) waits
        for its release instead."""
        when = self._slots.ready_at(host)
        if when is None:
            return
        current = self._scheduled.get(host)
        if current is not None and current <= when:
            return
        self._scheduled[host] = when
        heapq.heappush(self._heap, (when, host))

    def _host_released(self, host: str) -> None:
        if host in self._queues:
            self._schedule(host)
            self._wake.set()
