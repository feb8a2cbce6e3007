"""The plugin page's HTML, rendered from values (no server): escaped text, masked webhook URLs; and
the plugin module (imported from plugins/, as Airflow's plugin manager does) registering it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType

import pytest

from newsflow.app import plugin_page
from newsflow.app.feed_health import FeedHealth
from tests.conftest import REPO


@pytest.fixture(scope="module")
def plugin_module() -> Iterator[ModuleType]:
    sys.path.insert(0, str(REPO / "plugins"))  # Airflow puts its plugins folder on sys.path too
    try:
        yield importlib.import_module("newsflow_plugin")
    finally:
        sys.path.remove(str(REPO / "plugins"))
        sys.modules.pop("newsflow_plugin", None)


def test_feed_values_are_escaped() -> None:
    row = FeedHealth(name="<b>Evil</b>", url="http://x/feed.xml?a=1&b=2", health="failing",
                     last_fetched_at=datetime(2026, 5, 1, tzinfo=UTC), last_success_at=None,
                     last_status="failed", last_error="<script>alert(1)</script>", consecutive_failures=2,
                     articles_total=0, next_due_at=None)
    html = plugin_page.feeds_section([row])
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Evil&lt;/b&gt;" in html and "a=1&amp;b=2" in html
    assert "(2 in a row)" in html and "2026-05-01 00:00:00 UTC" in html


def test_webhook_channels_show_only_their_host() -> None:
    channel = plugin_page.channel
    assert channel("webhook:https://hooks.example.com/T000/B000/secret-token") == "webhook:hooks.example.com"
    assert channel("email:ops@example.com") == "email:ops@example.com"


def test_a_feed_without_a_name_shows_its_url_without_credentials_or_tokens() -> None:
    from ingest.types import FeedState
    from newsflow.app.feed_health import health_of

    url = "https://reader:hunter22@feeds.example.com/rss.xml?api_key=K3yK3yK3y"
    row = health_of(None, FeedState(key="k", url=url, last_status="failed", last_error=f"HTTP 401 from {url}",
                                    consecutive_failures=1))
    html = plugin_page.feeds_section([row])
    assert "hunter22" not in html and "K3yK3yK3y" not in html and "feeds.example.com/rss.xml" in html


def test_the_plugin_registers_the_page_and_its_menu_entry(plugin_module: ModuleType) -> None:
    plugin = plugin_module.NewsflowPlugin
    assert [app["url_prefix"] for app in plugin.fastapi_apps] == ["/newsflow"]
    assert [(v["name"], v["href"], v["url_route"], v["category"]) for v in plugin.external_views] == [
        ("Newsflow feeds & alerts", "/newsflow/", "newsflow", "browse")]
