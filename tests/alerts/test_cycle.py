"""The whole cycle, in process: two real feeds (served on 127.0.0.1) carry copies of one wire story;
the cycle (fetch, parse, enrich with the real spaCy model, cluster, index, alert) runs twice.
Each rule reaches each channel exactly once per story."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from newsflow.alerts import AlertStore, RuleStore
from newsflow.core.es import make_client
from tests.support.feedserver import Response

pytestmark = [pytest.mark.slow]

WIRE_STORY = [
    "The European Central Bank raised its main interest rate by a quarter point on Thursday, its "
    "third increase this year, as inflation across the euro area stayed well above its target.",
    "Christine Lagarde, the bank's president, told reporters in Frankfurt that further increases "
    "could not be ruled out while price growth remained stubborn in services and housing.",
    "Markets had largely expected the move. The euro rose slightly against the dollar, and bond "
    "yields in Germany and Italy edged higher in the hour after the announcement.",
    "Economists said the decision would weigh on mortgage holders in countries where most loans "
    "carry variable rates, such as Spain and Portugal, while savers would see modest gains.",
]
OTHER_STORY = [
    "Heavy rain flooded parts of the coastal town overnight, and firefighters rescued dozens of "
    "residents from their homes as rivers burst their banks.",
    "The regional council opened emergency shelters in two schools and asked drivers to avoid the "
    "main road along the river until the water recedes.",
]


def _rss(title: str, items: list[tuple[str, str, list[str]]], published: datetime) -> bytes:
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link>"
        f"<pubDate>{format_datetime(published)}</pubDate>"
        f"<description>{escape(chr(10).join(f'<p>{p}</p>' for p in paragraphs))}</description></item>"
        for t, link, paragraphs in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>https://example.com/</link>{entries}</channel></rss>").encode()


def test_a_wire_story_in_two_feeds_over_two_cycles_is_delivered_once_per_rule_and_channel(
    alert_settings: Callable[..., Any], feed_server: Any, smtp_inbox: Any, tmp_path: Path,
) -> None:
    from newsflow.app.cycle import run_cycle

    settings = alert_settings(smtp_host=smtp_inbox.host, smtp_port=smtp_inbox.port)
    settings = settings.model_copy(update={"fetch": settings.fetch.model_copy(
        update={"politeness_delay": 0.0})})
    published = datetime.now(UTC) - timedelta(hours=1)
    feed_server.route("/wire.xml", Response(body=_rss("Wire", [
        ("ECB raises interest rates again", "https://wire.example.com/ecb-rates", WIRE_STORY),
        ("Floods hit coastal town", "https://wire.example.com/floods", OTHER_STORY),
    ], published), headers={"Content-Type": "application/rss+xml"}))
    feed_server.route("/daily.xml", Response(body=_rss("Daily", [
        ("Lagarde's ECB lifts rates for third time", "https://daily.example.org/business/ecb",
         WIRE_STORY[:3]),  # a syndicated copy: new headline, last paragraph dropped
    ], published), headers={"Content-Type": "application/rss+xml"}))
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - url: {feed_server.url('/wire.xml')}\n"
                          f"  - url: {feed_server.url('/daily.xml')}\n")
    hook = feed_server.route("/hook", Response(status=200))
    log_file = tmp_path / "alerts.jsonl"
    with make_client(settings) as client:
        rules = RuleStore(client, settings)
        rules.add("ecb", '"interest rate" OR "central bank"',
                  [f"webhook:{hook}", "email:desk@example.org", f"log:{log_file}"])
        rules.add("everything", "*", [f"log:{tmp_path / 'all.jsonl'}"])

    first = run_cycle(settings, feeds_file)
    second = run_cycle(settings, feeds_file)

    assert first.indexed == 3
    assert (first.alerts.sent, first.alerts.failed) == (3 + 2, 0)  # ecb: 3 channels; everything: 2 stories
    assert (second.alerts.sent, second.alerts.failed) == (0, 0)
    [post] = feed_server.requests_to("/hook")
    alert = json.loads(post.body)
    assert alert["rule"] == "ecb" and post.headers["Idempotency-Key"] == alert["id"]
    assert len(smtp_inbox.messages(to="desk@example.org")) == 1
    assert [json.loads(line)["id"] for line in log_file.read_text().splitlines()] == [alert["id"]]
    assert len((tmp_path / "all.jsonl").read_text().splitlines()) == 2
    with make_client(settings) as client:
        records = AlertStore(client, settings).all()
    assert sorted(r.rule for r in records) == ["ecb", "everything", "everything"]
    assert all(r.status == "sent" for r in records)


def test_each_article_is_hashed_once_and_its_document_built_once_for_writing_and_matching(
    alert_settings: Callable[..., Any], feed_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from newsflow.app.cycle import run_cycle
    from newsflow.core import models
    from newsflow.index.store import ArticleStore

    settings = alert_settings()
    settings = settings.model_copy(update={"fetch": settings.fetch.model_copy(
        update={"politeness_delay": 0.0})})
    published = datetime.now(UTC) - timedelta(hours=1)
    feed_server.route("/wire.xml", Response(body=_rss("Wire", [
        ("ECB raises interest rates again", "https://wire.example.com/ecb-rates", WIRE_STORY),
        ("Floods hit coastal town", "https://wire.example.com/floods", OTHER_STORY),
    ], published), headers={"Content-Type": "application/rss+xml"}))
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(f"feeds:\n  - url: {feed_server.url('/wire.xml')}\n")
    with make_client(settings) as client:
        RuleStore(client, settings).add("everything", "*", [f"log:{tmp_path / 'all.jsonl'}"])

    hashed: list[str] = []
    built: list[str] = []
    written: dict[str, Any] = {}
    percolated: dict[str, Any] = {}
    hash_of, to_document = models.content_hash_of, models.Article.to_document
    write_prepared = ArticleStore.write_prepared

    def counting_hash(article: models.Article) -> str:
        hashed.append(article.url)
        return hash_of(article)

    def counting_document(article: models.Article) -> dict[str, Any]:
        built.append(article.url)
        return to_document(article)

    def seeing_writes(store: ArticleStore, prepared: Any, **options: Any) -> Any:
        written.update(prepared)
        return write_prepared(store, prepared, **options)

    def seeing_percolation(client: Any, settings: Any, articles: Any, **options: Any) -> Any:
        percolated.update(options["documents"])
        return percolate(client, settings, articles, **options)

    import newsflow.alerts.engine as engine

    percolate = engine.percolate
    monkeypatch.setattr(models, "content_hash_of", counting_hash)
    monkeypatch.setattr(models.Article, "to_document", counting_document)
    monkeypatch.setattr(ArticleStore, "write_prepared", seeing_writes)
    monkeypatch.setattr(engine, "percolate", seeing_percolation)
    report = run_cycle(settings, feeds_file)

    urls = ["https://wire.example.com/ecb-rates", "https://wire.example.com/floods"]
    assert report.indexed == 2 and report.alerts.sent == 2
    assert sorted(hashed) == urls  # once per article, through parsing, enrichment, stories, write, match
    assert sorted(built) == urls  # one document per article ...
    assert written.keys() == percolated.keys() and len(written) == 2
    assert all(percolated[key] is written[key] for key in written)  # ... written and matched
    with make_client(settings) as client:
        client.indices.refresh(index=settings.index_name("articles"))
        stored = client.search(index=settings.index_name("articles"), size=10)["hits"]["hits"]
    assert {hit["_source"]["content_hash"] for hit in stored} == {
        written[hit["_id"]]["content_hash"] for hit in stored}
