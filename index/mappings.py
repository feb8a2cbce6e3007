"""Field mappings of the article documents: one definition used by the articles index template
and by the alert rules' percolator index (which must know the fields its queries name).

`dynamic: strict` refuses unknown fields, so bad data cannot explode the mapping.
"""

from __future__ import annotations

from typing import Any

TEXT_WITH_EXACT: dict[str, Any] = {
    "type": "text",
    "analyzer": "news_english",
    "fields": {"exact": {"type": "text", "analyzer": "news_exact"}},
}

KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 512}

ANALYSIS: dict[str, Any] = {
    "filter": {
        "news_english_stop": {"type": "stop", "stopwords": "_english_"},
        "news_english_stemmer": {"type": "stemmer", "language": "english"},
        "news_english_possessive": {"type": "stemmer", "language": "possessive_english"},
    },
    "analyzer": {
        "news_english": {
            "type": "custom",
            "tokenizer": "standard",
            "filter": [
                "news_english_possessive", "lowercase", "asciifolding",
                "news_english_stop", "news_english_stemmer",
            ],
        },
        "news_exact": {
            "type": "custom",
            "tokenizer": "standard",
            "filter": ["lowercase", "asciifolding"],
        },
    },
    "normalizer": {
        "news_lowercase": {"type": "custom", "filter": ["lowercase", "asciifolding"]},
    },
}

ARTICLE_PROPERTIES: dict[str, Any] = {
    "title": TEXT_WITH_EXACT,
    "summary": TEXT_WITH_EXACT,
    "body": TEXT_WITH_EXACT,
    "url": KEYWORD,
    "source": KEYWORD,
    "feed_url": KEYWORD,
    "published_at": {"type": "date"},
    "ingested_at": {"type": "date"},
    "language": KEYWORD,
    "authors": KEYWORD,
    "categories": KEYWORD,
    "enclosures": {
        "type": "object",
        "dynamic": "strict",
        "properties": {
            "url": {"type": "keyword", "index": False},
            "type": KEYWORD,
            "length": {"type": "long", "index": False},
        },
    },
    "guid": KEYWORD,
    "persons": KEYWORD,
    "organizations": KEYWORD,
    "locations": KEYWORD,
    "topics": KEYWORD,
    "topic_scores": {
        "type": "object",
        "dynamic": "strict",
        "properties": {
            "label": KEYWORD,
            "score": {"type": "float"},
            "qcode": KEYWORD,
        },
    },
    "story_id": KEYWORD,
    "story_signature": {"type": "long", "index": False, "doc_values": False},
    "story_bands": {"type": "keyword"},
    "content_hash": {"type": "keyword"},
    "enrichment_version": KEYWORD,
    "word_count": {"type": "integer"},
    # Set true when indexed, false once alert rules have been matched against the article:
    # a cycle killed between indexing and matching leaves the flag for the next cycle.
    "alert_pending": {"type": "boolean"},
    "truncated": {"type": "boolean"},
}


def article_mappings() -> dict[str, Any]:
    return {"dynamic": "strict", "properties": ARTICLE_PROPERTIES}
