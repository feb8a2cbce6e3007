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


def story(rng: random.Random, n: int) -> tuple[str, list[str]]:
    person, org, place, subject = (rng.choice(PEOPLE), rng.choice(ORGS), rng.choice(PLACES),
                                   rng.choice(SUBJECTS))
    surname = person.split()[-1]
    title = f"{org} and {place} agree on {subject} (report {n})"
    paragraphs = [
        f"{person}, a senior official, said on Tuesday that the {org} had reached an agreement with "
        f"{place} on {subject}, after talks that lasted {rng.randint(2, 9)} days.",
        f"\"This is a step forward for everyone in {place},\" {surname} told reporters in the capital. "
        f"The market reacted calmly, with analysts expecting details within {rng.randint(2, 6)} weeks.",
        f"Critics in {place} argued that the plan on {subject} left open questions about funding, "
        f"while supporters pointed to a budget of {rng.randint(10, 900)} million dollars.",
        f"The {org} is expected to publish its own assessment of case {n} next month, {surname} added.",
    ]
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
