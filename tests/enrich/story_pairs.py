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

from newsflow.models import Article, article_id_for
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


def different_story_pairs(limit: int = 60) -> list[tuple[Article, Article]]:
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
    return chosen
