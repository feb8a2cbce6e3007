"""Saved searches as Atom feeds behind a secret URL, so any feed reader can follow a search.

A feed reader cannot log in to Airflow, so each saved search carries a random token: the feed's URL
(`<airflow>/newsflow/search/NAME.atom?token=TOKEN`, served by the Airflow plugin's app) is the
credential, like a private calendar or podcast feed URL. Only the token's SHA-256 is stored in
`<prefix>-searches`; the token is shown once, when the search is saved, and saving it again under
the same name makes a new token (the old URL stops working). A wrong token and an unknown name get
the same answer, so a URL cannot be used to guess which searches exist.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from newsflow.core.durations import parse_duration
from newsflow.core.errors import QueryError
from newsflow.core.es import create_index, number_of_replicas, translate_errors
from newsflow.core.models import format_utc, parse_utc, utc_now
from newsflow.core.settings import Settings
from newsflow.index.atom import atom_feed, search_feed_id
from newsflow.index.search import SearchResult, search_articles

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_ENTRIES = 100
_KEYWORD: dict[str, Any] = {"type": "keyword"}
SEARCH_PROPERTIES: dict[str, Any] = {
    "name": _KEYWORD, "query": {"type": "keyword", "ignore_above": 8191},
    "filters": {"type": "keyword"}, "since": _KEYWORD, "by_story": {"type": "boolean"},
    "size": {"type": "integer"}, "token_sha256": {"type": "keyword", "index": False},
    "created_at": {"type": "date"},
}


@dataclass(frozen=True, slots=True)
class SavedSearch:
    name: str
    query: str
    filters: tuple[tuple[str, str], ...] = ()
    since: str = ""  # a duration ("24h"): only articles published this recently
    by_story: bool = False
    size: int = 50  # entries in the feed
    token_sha256: str = ""
    created_at: datetime | None = None

    def path(self) -> str:
        """The feed's path on the plugin's app (the token goes in the query string)."""
        return f"/search/{self.name}.atom"

    def to_source(self) -> dict[str, Any]:
        return {"name": self.name, "query": self.query, "filters": [f"{k}={v}" for k, v in self.filters],
                "since": self.since, "by_story": self.by_story, "size": self.size,
                "token_sha256": self.token_sha256,
                "created_at": format_utc(self.created_at or utc_now())}

    @classmethod
    def from_source(cls, source: dict[str, Any]) -> SavedSearch:
        return cls(name=source["name"], query=source["query"],
                   filters=tuple(_pair(f) for f in source.get("filters") or ()),
                   since=source.get("since") or "", by_story=bool(source.get("by_story")),
                   size=int(source.get("size") or 50), token_sha256=source.get("token_sha256") or "",
                   created_at=parse_utc(source["created_at"]) if source.get("created_at") else None)


def _pair(text: str) -> tuple[str, str]:
    name, _, value = text.partition("=")
    return name, value


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SavedSearchStore:
    """`<prefix>-searches`: one document per saved search (`_id` = its name)."""

    def __init__(self, client: Elasticsearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = settings.index_name("searches")
        self._url = settings.es_url_redacted

    def ensure(self) -> None:
        with translate_errors(self._url):
            if not self.client.indices.exists(index=self.index):
                create_index(self.client, index=self.index,
                             settings={"number_of_shards": 1,
                                       "number_of_replicas": number_of_replicas(self.settings, self.client)},
                             mappings={"dynamic": "strict", "properties": SEARCH_PROPERTIES})
                self.client.cluster.health(index=self.index, wait_for_status="yellow", timeout="30s")

    def add(self, name: str, query: str, *, filters: Sequence[tuple[str, str]] = (), since: str = "",
            by_story: bool = False, size: int = 50) -> tuple[SavedSearch, str]:
        """Save a search (replacing one of the same name, and its token); the search is run once to
        refuse an invalid query. Returns it and its new token (not stored: shown once)."""
        if not _NAME.match(name):
            raise QueryError(name, "a saved search's name is 1-100 letters, digits, '.', '_' or '-', "
                                   "starting with a letter or digit")
        if not 1 <= size <= MAX_ENTRIES:
            raise QueryError(query, f"a feed holds 1 to {MAX_ENTRIES} entries, not {size}")
        token = secrets.token_urlsafe(24)
        search = SavedSearch(name=name, query=query.strip() or "*", filters=tuple(filters), since=since,
                             by_story=by_story, size=size, token_sha256=token_digest(token),
                             created_at=utc_now())
        self.ensure()
        run_search(self.client, self.settings, search, size=1)  # raises QueryError for a bad query
        with translate_errors(self._url):
            self.client.index(index=self.index, id=name, document=search.to_source(), refresh=True)
        return search, token

    def get(self, name: str) -> SavedSearch | None:
        with translate_errors(self._url):
            response = self.client.options(ignore_status=404).get(index=self.index, id=name)
        return SavedSearch.from_source(response["_source"]) if response.get("found") else None

    def verified(self, name: str, token: str) -> SavedSearch | None:
        """The search, when `token` is its token; None for a wrong token or an unknown name alike."""
        if not _NAME.match(name) or not token:
            return None
        search = self.get(name)
        wanted = search.token_sha256 if search else token_digest("")
        matches = hmac.compare_digest(wanted, token_digest(token))
        return search if search is not None and matches else None

    def list(self) -> list[SavedSearch]:
        with translate_errors(self._url):
            response = self.client.options(ignore_status=404).search(
                index=self.index, size=1000, sort=[{"name": "asc"}])
        hits = (response.get("hits") or {}).get("hits") or ()
        return [SavedSearch.from_source(hit["_source"]) for hit in hits]

    def remove(self, name: str) -> bool:
        with translate_errors(self._url):
            response = self.client.options(ignore_status=404).delete(index=self.index, id=name,
                                                                     refresh=True)
        return bool(response.get("result") == "deleted")


def run_search(client: Elasticsearch, settings: Settings, search: SavedSearch, *,
               size: int | None = None) -> SearchResult:
    since = parse_duration(search.since, "since") if search.since else None
    return search_articles(client, settings, search.query, filters=search.filters, since=since,
                           size=size or search.size, by_story=search.by_story)


def saved_search_feed(client: Elasticsearch, settings: Settings, search: SavedSearch, *,
                      self_url: str = "", now: datetime | None = None) -> str:
    """The Atom feed of a saved search's current hits (the same feed id as `newsflow search
    --format atom` gives for that search)."""
    result = run_search(client, settings, search)
    feed_id = search_feed_id(settings.index_prefix, search.query, search.filters, search.since,
                             search.by_story)
    return atom_feed(result.hits, title=f"newsflow: {search.name}", feed_id=feed_id,
                     now=now or utc_now(), subtitle=f"saved search {search.query}", self_url=self_url)
