"""The plugin page's HTML, rendered from values (no server): escaped text, masked webhook URLs."""

from __future__ import annotations

import runpy
from datetime import UTC, datetime
from typing import Any

import pytest

from newsflow.app.tasks import FeedHealth
from tests.conftest import REPO


@pytest.fixture(scope="module")
def page() -> dict[str, Any]:
    return runpy.run_path(str(REPO / "plugins" / "newsflow_plugin.py"))


def test_feed_values_are_escaped(page: dict[str, Any]) -> None:
    row = FeedHealth(name="<b>Evil</b>", url="http://x/feed.xml?a=1&b=2", health="failing",
                     last_fetched_at=datetime(2026, 5, 1, tzinfo=UTC), last_success_at=None,
                     last_status="failed", last_error="<script>alert(1)</script>", consecutive_failures=2,
                     articles_total=0, next_due_at=None)
    html = page["_feeds_section"]([row])
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;Evil&lt;/b&gt;" in html and "a=1&amp;b=2" in html
    assert "(2 in a row)" in html and "2026-05-01 00:00:00 UTC" in html


def test_webhook_channels_show_only_their_host(page: dict[str, Any]) -> None:
    channel = page["_channel"]
    assert channel("webhook:https://hooks.example.com/T000/B000/secret-token") == "webhook:hooks.example.com"
    assert channel("email:ops@example.com") == "email:ops@example.com"


def test_the_plugin_registers_the_page_and_its_menu_entry(page: dict[str, Any]) -> None:
    plugin = page["NewsflowPlugin"]
    assert [app["url_prefix"] for app in plugin.fastapi_apps] == ["/newsflow"]
    assert [(v["name"], v["href"], v["url_route"], v["category"]) for v in plugin.external_views] == [
        ("Newsflow feeds & alerts", "/newsflow/", "newsflow", "browse")]
