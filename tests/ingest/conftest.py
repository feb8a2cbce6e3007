"""Fixtures of the ingest tests: offline settings with fast politeness, and feed bodies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS

REAL_FEEDS = CORPUS / "feeds" / "real"


@pytest.fixture
def fetch_settings(tmp_path: Path) -> Callable[..., Any]:
    """Settings without Elasticsearch whose fetch group is tuned for a local test server:
    no politeness delay, short timeouts and backoff. Keyword arguments override fetch fields."""
    from newsflow.core.settings import load_settings

    def factory(**fetch: Any) -> Any:
        # allow_private_addresses: the test servers listen on 127.0.0.1, refused by default.
        values: dict[str, Any] = {"allow_private_addresses": True, "politeness_delay": 0.0,
                                  "connect_timeout": 2.0, "read_timeout": 1.0,
                                  "total_timeout": 10.0, "retries": 1, "backoff": 0.05}
        values.update(fetch)
        return load_settings(home=tmp_path, index_prefix="offline", es_url="http://127.0.0.1:9",
                             fetch=values)

    return factory


def rss(*items: str, title: str = "Test Feed", extra: str = "") -> bytes:
    """A small RSS 2.0 body with the given <item> elements."""
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>http://example.com/</link>{extra}{''.join(items)}</channel></rss>").encode()


def item(n: int, title: str | None = None, body: str = "Text.") -> str:
    return (f"<item><title>{title or f'Story {n}'}</title><link>http://example.com/s/{n}</link>"
            f"<description>{body}</description>"
            f"<pubDate>Tue, 05 Mar 2024 1{n % 10}:00:00 GMT</pubDate></item>")
