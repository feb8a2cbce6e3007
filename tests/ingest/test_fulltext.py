"""Optional full text of summary-only items: extraction quality, robots.txt, politeness, cache."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import pytest

from ingest.poll import poll_feeds
from ingest.types import FeedSpec
from newsflow.dev.fulltext_eval import cases, score
from tests.conftest import CORPUS
from tests.support.feedserver import FeedServer, Response

FUNDUS = CORPUS / "articles" / "fundus-evaluation"


def test_token_scores() -> None:
    assert score("the cat sat", "the cat sat").f1 == 1.0
    half = score("the cat", "the cat sat on mats")
    assert (half.precision, half.recall) == (1.0, 0.4)
    assert score("", "something").f1 == 0.0


@pytest.mark.corpus
def test_extraction_recovers_most_of_the_true_text_of_real_pages() -> None:
    from ingest.fulltext import extract_main_text

    sample = [c for c in cases(CORPUS / "articles") if c[0] == "fundus-evaluation"][:8]
    scores = [score(extract_main_text(html, url), truth) for _, url, html, truth in sample]
    assert sum(s.f1 for s in scores) / len(scores) > 0.8


@pytest.mark.corpus
def test_summary_only_items_get_the_page_text_honouring_robots_txt_and_reusing_the_cache(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    page = gzip.decompress((FUNDUS / "html" / "APNews_0.html.gz").read_bytes())
    truth = json.loads((FUNDUS / "ground_truth.json").read_text())["APNews_0.html.gz"]["body"]
    feed_server.route("/robots.txt", Response(body=b"User-agent: *\nDisallow: /private/\n"))
    feed_server.route("/news/1", Response(body=page, headers={"Content-Type": "text/html"}))
    feed_server.route("/private/2", Response(body=page, headers={"Content-Type": "text/html"}))
    base = feed_server.base_url
    feed = (f'<rss version="2.0"><channel><title>T</title>'
            f"<item><title>One</title><link>{base}/news/1</link><description>Short.</description></item>"
            f"<item><title>Two</title><link>{base}/private/2</link><description>Short.</description></item>"
            "</channel></rss>").encode()
    url = feed_server.route("/feed.xml", Response(body=feed))
    settings = fetch_settings(full_text=True)

    [result, same_host] = poll_feeds([FeedSpec(url=url), FeedSpec(url=url + "?copy")], {}, settings)
    public, private = result.articles
    assert truth[0][:60] in public.body and len(public.body) > 1000
    assert private.body == "Short." and feed_server.requests_to("/private/2") == []
    assert "robots.txt disallows" in result.reason
    assert same_host.articles[0].body == public.body
    assert len(feed_server.requests_to("/robots.txt")) == 1  # read once per poll and host
    assert len(feed_server.requests_to("/news/1")) == 1  # one page fetch for both feeds

    [again] = poll_feeds([FeedSpec(url=url)], {}, settings)
    assert again.articles[0].body == public.body
    assert len(feed_server.requests_to("/news/1")) == 1  # later polls use the cached text
    assert feed_server.requests_to("/private/2") == []


@pytest.mark.corpus
def test_a_robots_crawl_delay_spaces_the_page_requests(
        feed_server: FeedServer, fetch_settings: Callable[..., Any]) -> None:
    import itertools
    import time

    page = gzip.decompress((FUNDUS / "html" / "APNews_1.html.gz").read_bytes())
    arrivals: list[float] = []

    def record(request: Any) -> Response:
        arrivals.append(time.monotonic())
        return Response(body=page, headers={"Content-Type": "text/html"})

    feed_server.route("/robots.txt", Response(body=b"User-agent: *\nCrawl-delay: 1\n"))
    items = "".join(f"<item><title>{n}</title><link>{feed_server.url(f'/page/{n}')}</link></item>"
                    for n in range(2))
    for n in range(2):
        feed_server.route(f"/page/{n}", record)
    url = feed_server.route("/f.xml", Response(body=f"<rss><channel><title>T</title>{items}</channel></rss>"
                                               .encode()))
    [result] = poll_feeds([FeedSpec(url=url)], {}, fetch_settings(full_text=True))
    assert all(len(a.body) > 500 for a in result.articles)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(gaps) == 1 and gaps[0] >= 0.9  # a lower bound the client guarantees, not a speed
