"""Public types of the ingest stage: what a feeds file lists, what is remembered per feed, and
what one poll of one feed produced.

A feed's failure is a value (`FeedResult.status == "failed"` with a reason), never an exception
that stops the cycle.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from newsflow.core.models import Article

FeedStatus = Literal["fetched", "not_modified", "failed", "gone"]


def feed_key(url: str) -> str:
    """The stable key of a feed (its state document id): a hash of the URL in the feeds file.

    The key stays the same when a permanent redirect changes the URL actually fetched.
    """
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class FeedAuth:
    """HTTP Basic credentials of one feed, sent only to the feed's own origin (scheme, host, port).

    The password is either one written in the feed URL (moved out of it when the feeds file is
    read, so the URL that is logged and stored carries none) or the name of an environment variable
    read at fetch time: a feeds file never holds a secret of its own.
    """

    username: str
    password: str = field(default="", repr=False)
    password_env: str = ""


@dataclass(frozen=True, slots=True)
class FeedHeader:
    """A request header of one feed whose value (a token, an API key) is read from an environment
    variable at fetch time; sent only to the feed's own origin."""

    name: str
    env: str


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed as the user listed it in the feeds file (YAML or OPML)."""

    url: str  # http(s)://, file:// or a local path (made absolute by the loader); never credentials
    name: str = ""  # publisher name; empty means "use the feed's own title"
    language: str = ""  # ISO 639-1 hint for items that do not declare one
    tags: tuple[str, ...] = ()
    poll_interval: float | None = None  # seconds; overrides adaptive scheduling when set
    auth: FeedAuth | None = None
    headers: tuple[FeedHeader, ...] = ()

    @property
    def key(self) -> str:
        return feed_key(self.url)


@dataclass(frozen=True, slots=True)
class FeedState:
    """What is remembered about a feed between polls (stored in Elasticsearch under the prefix)."""

    key: str  # feed_key of the URL in the feeds file
    url: str  # URL in the feeds file
    current_url: str = ""  # where a permanent redirect moved it; empty = url
    title: str = ""  # the feed's own title, last seen
    etag: str = ""
    last_modified: str = ""  # the Last-Modified header, verbatim, for If-Modified-Since
    last_fetched_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: str = ""  # a FeedStatus, or "" before the first poll
    last_error: str = ""  # the reason of the last failure
    consecutive_failures: int = 0
    next_due_at: datetime | None = None  # None = due now
    gone: bool = False  # the server answered 410 Gone: not polled again unless the file changes
    item_count: int = 0  # items in the last successful parse
    articles_total: int = 0  # articles this feed contributed (new), cumulative
    recent_item_times: tuple[datetime, ...] = ()  # newest item dates, for the update frequency
    declared_interval: float | None = None  # seconds the feed itself asks for (<ttl>, sy:updatePeriod)

    @property
    def fetch_url(self) -> str:
        return self.current_url or self.url


@dataclass(frozen=True, slots=True)
class HubLinks:
    """Where a feed's updates can be subscribed to (WebSub): the hub and the topic (its self URL)."""

    hub: str
    topic: str


@dataclass(frozen=True, slots=True)
class FeedResult:
    """The outcome of polling one feed once."""

    spec: FeedSpec
    status: FeedStatus
    state: FeedState  # the state to store once the articles are safely indexed or spooled
    articles: tuple[Article, ...] = ()
    reason: str = ""  # why it failed (or a warning about a partial parse)
    http_status: int | None = None
    elapsed: float = 0.0  # seconds spent fetching and parsing
    warnings: tuple[str, ...] = field(default=())
    hub_links: HubLinks | None = None  # the WebSub hub the fetched feed announced (ingest/websub.py)
