"""Field mappings of the article documents: one definition used by the articles index template
and by the alert rules' percolator index (which must know the fields its queries name).

`dynamic: strict` refuses unknown fields, so bad data cannot explode the mapping.

Text is analysed twice: `title`/`summary`/`body` with English stemming (most feeds are English) plus an
`.exact` sub-field (lowercased, not stemmed) for phrase and exact-word queries. For articles in another
language that Elasticsearch has an analyzer for, the indexer also copies title, summary and body into
`i18n.<language>` (analysed with that language's stemmer). `i18n` is left out of `_source` (see
`SOURCE_EXCLUDES`): it is derived, so stored documents stay exactly `Article.to_document()`.
"""

from __future__ import annotations

from typing import Any

TEXT_WITH_EXACT: dict[str, Any] = {
    "type": "text",
    "analyzer": "news_english",
    "fields": {"exact": {"type": "text", "analyzer": "news_exact"}},
}

KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 512}
# Every spelling of an article's entities, compared case- and accent-insensitively: queries on
# persons/organizations/locations are rewritten to search these (newsflow/index/entity_query.py).
ALIAS_KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 512, "normalizer": "news_lowercase"}

# ISO 639-1 code -> Elasticsearch built-in language analyzer. English is the main analyzer already.
LANGUAGE_ANALYZERS: dict[str, str] = {
    "ar": "arabic", "bg": "bulgarian", "ca": "catalan", "cs": "czech", "da": "danish", "de": "german",
    "el": "greek", "es": "spanish", "eu": "basque", "fa": "persian", "fi": "finnish", "fr": "french",
    "ga": "irish", "gl": "galician", "hi": "hindi", "hu": "hungarian", "hy": "armenian",
    "id": "indonesian", "it": "italian", "lt": "lithuanian", "lv": "latvian", "nl": "dutch",
    "no": "norwegian", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sv": "swedish",
    "th": "thai", "tr": "turkish",
}

# Fields that are indexed but not kept in _source (derived from other fields at indexing time).
SOURCE_EXCLUDES: list[str] = ["i18n"]

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
    "persons_alias": ALIAS_KEYWORD,
    "organizations_alias": ALIAS_KEYWORD,
    "locations_alias": ALIAS_KEYWORD,
    "credit": KEYWORD,
    "distributor": KEYWORD,
    "geo": {"type": "geo_point"},  # the locations the gazetteer places (an array of points)
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
    "truncated": {"type": "boolean"},
    # title + summary + body again, under the article's language, analysed with its stemmer.
    "i18n": {
        "type": "object",
        "dynamic": "strict",
        "properties": {
            code: {"type": "text", "analyzer": analyzer} for code, analyzer in LANGUAGE_ANALYZERS.items()
        },
    },
}


def article_mappings() -> dict[str, Any]:
    return {"dynamic": "strict", "properties": ARTICLE_PROPERTIES}
