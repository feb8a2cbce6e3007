"""Every hostile body of tests/support/hostile_bodies.py through the real parser and normaliser:
the feed parses with its bad parts dropped, or fails with a ParseError naming the reason. Never
another exception, never unbounded output, never a byte of a local file."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.normalise import normalise_feed
from ingest.parse import parse_feed
from ingest.schedule import MAX_DELAY, PollHints, cache_seconds, poll_interval
from ingest.text import MAX_TITLE_CHARS
from ingest.types import FeedSpec
from newsflow.core.errors import ParseError
from newsflow.core.settings import FetchSettings
from tests.support.hostile_bodies import HOSTILE_BODIES, XXE_TARGET

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
FETCH = FetchSettings()
# What the local file holds: lines of it (at least the first) must never reach an article.
SECRET_LINES = [line for line in Path(XXE_TARGET).read_text(errors="replace").splitlines()
                if len(line) > 8][:5] if Path(XXE_TARGET).exists() else ["root:x:0:0"]
# Cases a feed reader cannot make a feed of: they fail with a reason.
EXPECTED_FAILURES = {
    "gzip_bomb": "inflates to over",
    "html_page": "HTML page",
    "binary_noise": "not an RSS, Atom or JSON feed",
    "json_deep_nesting": "invalid JSON feed",
    "bom_contradicts_declaration": "not an RSS, Atom or JSON feed",  # UTF-16 behind a UTF-8 BOM
    "comment_run_then_garbage": "not an RSS, Atom or JSON feed",
}


def test_there_are_at_least_twenty_hostile_cases_each_under_the_body_limit() -> None:
    assert len(HOSTILE_BODIES) >= 20
    for name, (body, headers) in HOSTILE_BODIES.items():
        assert 0 < len(body) <= FETCH.max_body_bytes, name
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()), name


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.slow) if name == "fifty_thousand_items" else name  # 10 s
    for name in sorted(HOSTILE_BODIES)
])
def test_a_hostile_body_parses_with_its_bad_parts_dropped_or_fails_with_a_reason(name: str) -> None:
    body, headers = HOSTILE_BODIES[name]
    spec = FeedSpec(url=f"http://127.0.0.1:8000/hostile/{name}.xml")
    started = time.process_time()
    try:
        feed = parse_feed(body, url=spec.url, content_type=headers.get("content-type", ""),
                          max_bytes=FETCH.max_body_bytes)
        articles, warnings = normalise_feed(spec, feed, spec.url, NOW)
    except ParseError as exc:  # the documented failure: a FeedError with its reason
        assert name in EXPECTED_FAILURES, f"{name} failed: {exc.reason}"
        assert EXPECTED_FAILURES[name] in exc.reason
        return
    finally:
        print(f"{name}: {time.process_time() - started:.2f} s CPU")
    assert name not in EXPECTED_FAILURES, f"{name} should have failed"
    documents = [article.to_document() for article in articles]
    output = json.dumps([documents, feed.title, feed.warnings, warnings], ensure_ascii=False)
    # Bounded: no entity expansion, and no more text than was sent.
    text = sum(len(a.title) + len(a.summary) + len(a.body) + len(a.url) for a in articles)
    assert text <= 2 * len(body) + 100_000, f"{name}: {text} characters of text from {len(body)} bytes"
    assert all(len(a.title) <= MAX_TITLE_CHARS for a in articles)
    # No local file, ever (XXE), and nothing a browser would run.
    for line in SECRET_LINES:
        assert line not in output
    assert "<script" not in output.lower() and "onerror=" not in output
    # Every number it declared still gives a sane schedule.
    hints = PollHints(cache_seconds=cache_seconds({k.lower(): v for k, v in headers.items()}),
                      ttl=feed.ttl, update_period=feed.update_period,
                      item_times=tuple(a.published_at for a in articles[:100]))
    assert FETCH.min_interval <= poll_interval(spec, hints, FETCH) <= FETCH.max_interval <= MAX_DELAY
    assert all(a.published_at <= NOW for a in articles)


def test_hostile_cases_keep_what_is_readable() -> None:
    def parsed(name: str):  # type: ignore[no-untyped-def]
        body, headers = HOSTILE_BODIES[name]
        feed = parse_feed(body, url="http://h/", content_type=headers.get("content-type", ""))
        return feed, normalise_feed(FeedSpec(url="http://h/"), feed, "http://h/", NOW)[0]

    feed, articles = parsed("xxe_file")
    assert [a.title for a in articles] == ["Leak &xxe;"]  # the reference stays unexpanded
    assert any("entity declarations" in w for w in feed.warnings)
    _, articles = parsed("rtl_and_zero_width_titles")
    assert [a.title for a in articles][:3] == ["evil.exe looks like exe.live", "Zerowidthjoiners",
                                                "isolated and embedded"]
    assert articles[3].title.startswith("\u200f")  # the right-to-left mark of Hebrew text stays
    feed, articles = parsed("ttl_400_digits")
    assert feed.ttl == 366 * 86400.0 and len(articles) == 1
    _, articles = parsed("dates_out_of_range")
    assert len(articles) == 6 and {a.published_at for a in articles} == {NOW}
    _, articles = parsed("pathological_html")
    assert len(articles) == 6 and articles[3].body == "deep"
    _, articles = parsed("nul_bytes")
    assert articles and all("\x00" not in a.title + a.body + a.url for a in articles)
