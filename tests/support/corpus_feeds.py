"""Synthetic but realistic news feeds for tests that need many articles: several feeds, with
syndicated copies of some stories across feeds (new headline, a paragraph dropped)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

PEOPLE = ["Maria Lindqvist", "Tomasz Nowak", "Aiko Tanaka", "Daniel Okafor", "Sofia Marquez",
          "Henrik Dahl", "Priya Raman", "Lucas Moreau"]
ORGS = ["European Central Bank", "World Health Organization", "United Nations", "NASA",
        "International Monetary Fund", "Red Cross", "FIFA", "World Bank"]
PLACES = ["Germany", "Brazil", "Kenya", "Japan", "Canada", "Norway", "India", "Chile"]
SUBJECTS = ["interest rates", "a vaccine trial", "flood relief", "a satellite launch",
            "trade talks", "a football final", "drought aid", "grid investment"]


@dataclass(frozen=True)
class Item:
    link: str
    title: str
    body: str
    published: datetime


VOCABULARY = (
    "officials analysts ministers residents farmers workers investors lawmakers voters engineers "
    "budget plan deal talks vote report review policy reform project program fund agency council "
    "court market prices wages taxes exports imports energy water housing transport schools "
    "hospitals roads bridges ports harvest drought floods storms fires vaccine clinic trial study "
    "warned said argued promised expected announced rejected approved delayed extended reduced "
    "raised cut signed launched opened closed questioned welcomed criticised supported proposed "
    "quickly slowly sharply narrowly publicly privately finally again already still "
    "regional national local federal rural urban coastal northern southern eastern western "
    "new old large small early late rising falling costly cheap urgent uncertain temporary "
    "after before during despite amid under over across within without about against"
).split()


def story(rng: random.Random, n: int) -> tuple[str, list[str]]:
    """A distinct story: its own people and places, and sentences that other stories do not share."""
    person, org, place, subject = (rng.choice(PEOPLE), rng.choice(ORGS), rng.choice(PLACES),
                                   rng.choice(SUBJECTS))
    surname = person.split()[-1]

    def words(count: int) -> str:
        return " ".join(rng.choice(VOCABULARY) for _ in range(count))

    sentences = [
        f"{person} said the {org} had reached an agreement with {place} on {subject} {words(8)}.",
        f"{words(12)} in {place} {words(6)}.",
        f"\"{words(9)},\" {surname} told reporters {words(5)}.",
        f"The {org} {words(14)}.",
        f"{words(10)} {subject} {words(7)}.",
        f"{surname} {words(13)}, report {n}.",
    ]
    paragraphs = [" ".join(sentences[k:k + 2]) for k in range(0, len(sentences), 2)]
    title = f"{org} and {place} agree on {subject} (report {n})"
    return title, paragraphs


def build_feeds(n_feeds: int = 4, items_per_feed: int = 30, syndicated: int = 6,
                seed: int = 7, now: datetime | None = None) -> dict[str, bytes]:
    """RSS 2.0 feeds keyed by file name. The first `syndicated` stories of feed 0 are copied into
    feed 1 with a new headline, another URL and the third paragraph dropped."""
    rng = random.Random(seed)
    now = now or datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    feeds: dict[str, list[Item]] = {f"feed{f}.xml": [] for f in range(n_feeds)}
    counter = 0
    for f in range(n_feeds):
        for _ in range(items_per_feed):
            counter += 1
            title, paragraphs = story(rng, counter)
            feeds[f"feed{f}.xml"].append(Item(
                link=f"https://news{f}.test/{counter}",
                title=title,
                body="\n".join(f"<p>{escape(p)}</p>" for p in paragraphs),
                published=now - timedelta(minutes=7 * counter),
            ))
    if n_feeds > 1:
        for original in feeds["feed0.xml"][:syndicated]:
            paragraphs = original.body.split("\n")
            feeds["feed1.xml"].append(Item(
                link=original.link.replace("news0.test", "wire.test") + "?utm_source=wire",
                title="UPDATE: " + original.title.lower(),
                body="\n".join(paragraphs[:2] + paragraphs[3:]),
                published=original.published + timedelta(minutes=30),
            ))
    return {name: rss(name, items) for name, items in feeds.items()}


def rss(name: str, items: list[Item]) -> bytes:
    entries = "".join(
        f"<item><title>{escape(item.title)}</title><link>{escape(item.link)}</link>"
        f"<guid>{escape(item.link)}</guid><pubDate>{format_datetime(item.published)}</pubDate>"
        f"<description>{escape(item.body)}</description></item>"
        for item in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{name}</title>'
        f"<link>https://{name}.test/</link><description>test feed</description>{entries}"
        "</channel></rss>"
    ).encode()
