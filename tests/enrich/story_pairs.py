"""Test pairs for story clustering, built from corpus articles (nothing of their text is committed).

Same story: a copy of an article with a new headline, paragraphs trimmed and dropped, and a
boilerplate line, as syndicated wire copy arrives in other outlets' feeds.
Different stories: two articles from different publishers whose vocabularies overlap the most in the
corpus, i.e. articles on one subject, the hardest case for a near-duplicate detector. (Within one
publisher, the corpus holds rewrites of a developing story that share whole paragraphs of quotes:
whether those are one story is an editorial call, so they are not used as "different" pairs.)
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from functools import cache

from newsflow.core.models import Article, article_id_for
from tests.enrich.corpus import all_news_articles

BOILERPLATE = (
    "This story was distributed by an agency. Sign up for our daily newsletter for more news like this."
)
_WORD = re.compile(r"[a-z]{4,}")


def long_articles(min_words: int = 250, limit: int = 60) -> list[Article]:
    """Distinct full-text articles (first copy of each URL), in a fixed order."""
    seen: set[str] = set()
    found: list[Article] = []
    for article in all_news_articles():
        if len(article.body.split()) >= min_words and article.url not in seen and article.title not in seen:
            seen.update((article.url, article.title))
            found.append(article)
    return found[:limit]


def edited_copy(article: Article, variant: int) -> Article:
    """A syndicated copy: new headline, first paragraph trimmed, one paragraph in three (or four) dropped,
    the tail cut for some variants, and a boilerplate line added."""
    paragraphs = [p for p in article.body.split("\n\n") if p.strip()]
    if len(paragraphs) < 3:  # one long paragraph: split into sentences-ish chunks
        words = article.body.split()
        paragraphs = [" ".join(words[i:i + 40]) for i in range(0, len(words), 40)]
    step = 3 + variant % 2
    kept = [p for i, p in enumerate(paragraphs) if i % step != step - 1]
    first_words = kept[0].split()
    kept[0] = " ".join(first_words[: max(5, len(first_words) * 2 // 3)])
    if variant % 3 == 0:
        kept = kept[: max(2, len(kept) * 3 // 4)]
    url = f"https://syndicated-{variant}.example/{article.id}"
    return dataclasses.replace(
        article,
        id=article_id_for(url), url=url,
        title=f"{' '.join(reversed(article.title.split()[-4:]))}: what we know so far",
        body="\n\n".join([*kept, BOILERPLATE]),
        source=f"Outlet {variant}",
        published_at=article.published_at + timedelta(hours=2 + variant),
    )


def same_story_pairs(limit: int = 60) -> list[tuple[Article, Article]]:
    return [(a, edited_copy(a, i)) for i, a in enumerate(long_articles(limit=limit))]


@cache
def different_story_pairs(limit: int = 60) -> tuple[tuple[Article, Article], ...]:
    articles = long_articles(limit=400)
    vocab = [set(_WORD.findall((a.title + " " + a.body).lower())) for a in articles]
    pairs: list[tuple[float, int, int]] = []
    for i in range(len(articles)):
        best = max(
            ((len(vocab[i] & vocab[j]) / len(vocab[i] | vocab[j]), j)
             for j in range(len(articles)) if articles[j].source != articles[i].source),
            default=None,
        )
        if best is not None:
            pairs.append((best[0], i, best[1]))
    pairs.sort(reverse=True)
    chosen: list[tuple[Article, Article]] = []
    used: set[frozenset[int]] = set()
    for _, i, j in pairs:
        key = frozenset((i, j))
        if key not in used:
            used.add(key)
            chosen.append((articles[i], articles[j]))
        if len(chosen) == limit:
            break
    return tuple(chosen)


# Summary-only copies: the same story as a summary-only feed carries it (title and a short summary,
# no body), against its full text in a full-text feed.

_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’']))\s+")
MIN_SUMMARY_WORDS = 8
LEAD_SUMMARY_WORDS = 45


@cache
def publisher_summary_articles(limit: int = 60) -> tuple[Article, ...]:
    """Full-text articles whose feed item also carries the publisher's own summary (a dek, usually
    rewritten, not the first sentence), a few per publisher so one outlet's style does not dominate."""
    per_source: dict[str, int] = {}
    found: list[Article] = []
    seen: set[str] = set()
    for article in all_news_articles():
        if len(article.body.split()) < 250 or len(article.summary.split()) < MIN_SUMMARY_WORDS:
            continue
        if article.url in seen or article.title in seen or per_source.get(article.source, 0) >= 15:
            continue
        seen.update((article.url, article.title))
        per_source[article.source] = per_source.get(article.source, 0) + 1
        found.append(article)
    return tuple(found[:limit])


def summary_only_copy(article: Article, variant: int) -> Article:
    """The same item in a summary-only feed: its title and summary, no body. One variant in three
    tags the headline with the feed's name, one in three cuts the summary to its first two thirds
    (feeds that truncate descriptions)."""
    url = f"https://summary-{variant}.example/{article.id}"
    title, summary = article.title, article.summary
    if variant % 3 == 1:
        title = f"{title} - {article.source}"
    elif variant % 3 == 2:
        words = summary.split()
        summary = " ".join(words[: max(MIN_SUMMARY_WORDS, len(words) * 2 // 3)]) + "…"
    return dataclasses.replace(
        article, id=article_id_for(url), url=url, title=title, body="", summary=summary,
        source=f"{article.source} (summaries)", published_at=article.published_at + timedelta(minutes=30),
    )


def lead_summary(body: str, max_words: int = LEAD_SUMMARY_WORDS) -> str:
    """A syndicated summary: the story's first sentences up to about max_words words, cut with an
    ellipsis when the limit falls inside a sentence (as wire and aggregator feeds do)."""
    text = " ".join(body.split())
    out: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        if len(out) + len(words) > max_words:
            if not out:
                out = [*words[:max_words - 1], words[max_words - 1] + "…"]
            break
        out.extend(words)
    return " ".join(out)


def syndicated_summary_copy(article: Article, variant: int) -> Article:
    """Another outlet's summary-only item of a wire story: the headline with the outlet's tag, and
    the story's first sentences as its summary; no body."""
    url = f"https://wire-summary-{variant}.example/{article.id}"
    return dataclasses.replace(
        article, id=article_id_for(url), url=url, title=f"{article.title} | Outlet {variant}",
        body="", summary=lead_summary(article.body), source=f"Outlet {variant}",
        published_at=article.published_at + timedelta(hours=1 + variant % 5),
    )


def summary_copy_pairs(limit: int = 60) -> list[tuple[Article, Article]]:
    """(full text, summary-only copy): publisher summaries and syndicated leads, `limit` of each."""
    publisher = [(a, summary_only_copy(a, i)) for i, a in enumerate(publisher_summary_articles(limit))]
    syndicated = [(a, syndicated_summary_copy(a, i)) for i, a in enumerate(long_articles(limit=limit))]
    return publisher + syndicated


def summary_different_story_pairs(limit: int = 60) -> list[tuple[Article, Article]]:
    """Different stories on one subject, one side summary-only: the hardest non-copies for a
    summary matcher (the subject's vocabulary is shared, the story is not)."""
    pairs: list[tuple[Article, Article]] = []
    for i, (a, b) in enumerate(different_story_pairs(limit)):
        pairs.append((a, syndicated_summary_copy(b, i)))
        pairs.append((b, syndicated_summary_copy(a, i)))
    for i, (a, b) in enumerate(zip(publisher_summary_articles(limit * 2)[::2],
                                   publisher_summary_articles(limit * 2)[1::2], strict=False)):
        pairs.append((a, summary_only_copy(b, i)))  # one publisher, two stories (neighbours in its feed)
    return pairs
