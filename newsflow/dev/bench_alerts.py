"""What percolation costs: synthetic but realistic rules, and the time matching takes per 1,000 articles.

Rules are drawn from the articles' own vocabulary, the way users write them: an entity
(`persons:"..."`, `organizations:"..."`), an entity within a topic, a phrase, two words that must both
appear, a title word. They are written in bulk (rule names start with `bench-`) and removed afterwards,
with the alerts they made, so the prefix is left as it was found.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from newsflow.alerts.engine import match_and_deliver, percolate
from newsflow.alerts.rules import Rule, RuleStore, rules_index
from newsflow.alerts.store import AlertStore, alerts_index
from newsflow.core.errors import AlertError
from newsflow.core.es import translate_errors
from newsflow.core.models import Article, utc_now
from newsflow.core.settings import Settings

BENCH_PREFIX = "bench-"
# Rule words are drawn from those in at most this share of the articles. Users watch for what picks
# out stories (names, issues, places); drawn from the whole vocabulary, the top tenth of 10,000 rules
# were queries like `(people OR immoral) AND NOT sophisticated`, each matching up to a tenth of all
# articles, and raised three quarters of all alerts (183,294 for 7,677 articles).
MAX_WORD_SHARE = 0.01
_WORD = re.compile(r"[a-z]{5,20}")
_STOPWORDS = frozenset((
    "about", "after", "again", "against", "among", "because", "before", "being", "between", "could",
    "during", "every", "first", "from", "have", "their", "there", "these", "those", "through",
    "under", "until", "where", "which", "while", "would", "other", "over", "said", "says", "also",
    "into", "than", "then", "them", "they", "this", "that", "with", "what", "when", "will", "your",
    "more", "most", "some", "such", "only", "very", "just", "like", "been", "were", "here",
))
# When no articles are given (rules saved before the first cycle): common news vocabulary.
_FALLBACK_WORDS = (
    "election", "government", "minister", "president", "parliament", "economy", "inflation",
    "market", "shares", "energy", "climate", "storm", "flood", "wildfire", "police", "court",
    "trial", "strike", "union", "health", "hospital", "vaccine", "school", "university", "science",
    "space", "rocket", "football", "tennis", "olympics", "ceasefire", "border", "refugees",
    "sanctions", "budget", "taxes", "housing", "airline", "railway", "technology", "software",
    "security", "hackers", "privacy",
)
_FALLBACK_ENTITIES = {
    "persons": ["Joe Biden", "Emmanuel Macron", "Olaf Scholz", "Xi Jinping", "Rishi Sunak"],
    "organizations": ["European Union", "United Nations", "NATO", "Federal Reserve", "Apple"],
    "locations": ["London", "Paris", "Berlin", "Washington", "Beijing", "Ukraine", "Gaza"],
    "topics": ["politics", "economy, business and finance", "sport", "health", "science and technology"],
}


def synthetic_queries(articles: Sequence[Article], count: int, seed: int = 7, *,
                      stems: Mapping[str, str] | None = None) -> list[str]:
    """`count` rule queries in the styles users write, from the articles' vocabulary. Pure.

    `stems` (word -> stem, see `english_stems`) measures how common a word is by its stem, as the
    English analyzer matches it ("presided" matches "president"); without it, by the word itself."""
    rng = random.Random(seed)
    words, entities = _vocabulary(articles, stems)

    def word() -> str:
        return rng.choice(words)

    def entity(field: str) -> str:
        return _quoted(rng.choice(entities[field]))

    makers: list[Callable[[], str]] = [
        partial(lambda f: f"{f}:{entity(f)}", field)
        for field in ("persons", "organizations", "locations") if entities[field]
    ]
    if entities["locations"] and entities["topics"]:
        makers.append(lambda: f"locations:{entity('locations')} AND topics:{entity('topics')}")
    makers += [
        lambda: f"{word()} AND {word()}",
        lambda: f'"{word()} {word()}"~5',
        lambda: f"title:{word()}",
        lambda: f"({word()} OR {word()}) AND NOT {word()}",
    ]
    return [rng.choice(makers)() for _ in range(count)]


def create_rules(
    client: Elasticsearch, settings: Settings, count: int, articles: Sequence[Article] = (),
    *, channel: str | None = None, start: int = 0,
) -> int:
    """Save `count` synthetic rules named bench-<n> (n from `start`) in bulk. Returns how many.

    Their alerts go to a log file under NEWSFLOW_HOME unless `channel` says otherwise.
    """
    store = RuleStore(client, settings)
    store.ensure_exists()
    target = channel or f"log:{Path(settings.home).absolute() / 'bench-alerts.jsonl'}"
    now = utc_now()
    stems = english_stems(client, settings, (w for a in articles for w in _ANY_WORD.findall(
        f"{a.title} {a.summary} {a.body}".lower()))) if articles else None
    queries = synthetic_queries(articles, start + count, stems=stems)[start:]
    operations: list[dict[str, Any]] = []
    for number, query in enumerate(queries, start=start):
        rule = Rule(name=f"{BENCH_PREFIX}{number:05d}", query=query, channels=(target,), created_at=now)
        operations += [{"index": {"_index": store.index, "_id": rule.name}}, rule.to_source()]
    for chunk in range(0, len(operations), 2000):
        with translate_errors(settings.es_url_redacted):
            response = client.bulk(operations=operations[chunk:chunk + 2000])
        if response.get("errors"):
            failed = next(item for item in response["items"] if "error" in next(iter(item.values())))
            raise AlertError(f"could not save synthetic rules: {next(iter(failed.values()))['error']}")
    with translate_errors(settings.es_url_redacted):
        client.indices.refresh(index=store.index)
    return len(queries)


def remove_bench_rules(client: Elasticsearch, settings: Settings) -> None:
    """Delete the synthetic rules and the alerts they made."""
    with translate_errors(settings.es_url_redacted):
        # delete_by_query sees only refreshed documents: alerts just recorded must be visible first.
        client.options(ignore_status=404).indices.refresh(index=alerts_index(settings))
        client.options(ignore_status=404).delete_by_query(
            index=rules_index(settings), query={"prefix": {"rule.name": BENCH_PREFIX}}, refresh=True)
        client.options(ignore_status=404).delete_by_query(
            index=alerts_index(settings), query={"prefix": {"rule": BENCH_PREFIX}}, refresh=True,
            conflicts="proceed")


def percolation_cost(
    client: Elasticsearch, settings: Settings, articles: Sequence[Article],
    rule_counts: Iterable[int] = (100, 1000, 10000), *, channel: str | None = None,
) -> dict[str, Any]:
    """Time matching `articles` against growing numbers of synthetic rules (their alerts go to
    `channel`, by default a log file under NEWSFLOW_HOME).

    For each rule count: `seconds_per_1000_articles` is what a cycle pays (percolate, deliver and
    record the alerts, from an empty alerts index: `match_and_deliver`);
    `percolate_seconds_per_1000_articles` is percolation alone.
    """
    if not articles:
        raise AlertError("percolation_cost needs at least one article")
    results: dict[str, Any] = {}
    existing = 0
    AlertStore(client, settings).ensure_exists()  # index creation is set-up, not matching time
    try:
        for count in sorted(set(rule_counts)):
            existing += create_rules(client, settings, count - existing, articles, start=existing,
                                     channel=channel)
            _drop_bench_alerts(client, settings)
            started = time.perf_counter()
            outcome, _ = match_and_deliver(client, settings, articles)
            seconds = time.perf_counter() - started
            started = time.perf_counter()
            size = max(1, settings.alerts.percolate_batch_size)
            batches = [articles[b:b + size] for b in range(0, len(articles), size)]
            # As find_alerts does it: percolate_concurrency requests in flight.
            with ThreadPoolExecutor(max(1, settings.alerts.percolate_concurrency)) as pool:
                for _ in pool.map(lambda batch: sum(1 for _ in percolate(client, settings, batch)), batches):
                    pass
            percolate_seconds = time.perf_counter() - started
            scale = 1000 / len(articles)
            results[str(count)] = {
                "rules": RuleStore(client, settings).count(),
                "articles": len(articles),
                "seconds": round(seconds, 4),
                "seconds_per_1000_articles": round(seconds * scale, 4),
                "percolate_seconds_per_1000_articles": round(percolate_seconds * scale, 4),
                "matched": outcome.matched,
                "alerts_created": outcome.created,
            }
    finally:
        remove_bench_rules(client, settings)
    return results


def _drop_bench_alerts(client: Elasticsearch, settings: Settings) -> None:
    if AlertStore(client, settings).exists():
        with translate_errors(settings.es_url_redacted):
            client.indices.refresh(index=alerts_index(settings))
            client.delete_by_query(index=alerts_index(settings),
                                   query={"prefix": {"rule": BENCH_PREFIX}}, refresh=True,
                                   conflicts="proceed")


def _vocabulary(articles: Sequence[Article], stems: Mapping[str, str] | None = None
                ) -> tuple[list[str], dict[str, list[str]]]:
    if not articles:
        return list(_FALLBACK_WORDS), {k: list(v) for k, v in _FALLBACK_ENTITIES.items()}
    document_frequency: Counter[str] = Counter()
    stem_frequency: Counter[str] = Counter()  # what a rule on a word matches: every form of its stem
    entities: dict[str, set[str]] = {field: set() for field in _FALLBACK_ENTITIES}
    for article in articles:
        text = f"{article.title} {article.summary} {article.body}".lower()
        document_frequency.update({w for w in _WORD.findall(text) if w not in _STOPWORDS})
        if stems is not None:
            stem_frequency.update({stems.get(w, w) for w in _ANY_WORD.findall(text)})
        for field, values in entities.items():
            values.update(getattr(article, field))
    # Words in at least two articles (rules that sometimes match) whose stem is in at most
    # MAX_WORD_SHARE of them (or any, for a tiny input).
    most = max(2, round(MAX_WORD_SHARE * len(articles)))

    def share(word: str) -> int:
        return stem_frequency[stems.get(word, word)] if stems is not None else document_frequency[word]

    words = (sorted(w for w, n in document_frequency.items() if n >= 2 and share(w) <= most)
             or sorted(document_frequency))
    return (words or list(_FALLBACK_WORDS)), {k: sorted(v) for k, v in entities.items()}


_ANY_WORD = re.compile(r"[a-z]{3,}")
_ANALYZE_WORDS = 5_000  # words per _analyze request (Elasticsearch allows 10,000 tokens)


def english_stems(client: Elasticsearch, settings: Settings, words: Iterable[str]) -> dict[str, str]:
    """word -> its token under the rules' English analyzer (stemmed; stop words left out), asked of
    Elasticsearch itself, since that is what a rule on the word will match."""
    stems: dict[str, str] = {}
    unique = sorted(set(words))
    with translate_errors(settings.es_url_redacted):
        for start in range(0, len(unique), _ANALYZE_WORDS):
            text = " ".join(unique[start:start + _ANALYZE_WORDS])
            response = client.indices.analyze(index=rules_index(settings), analyzer="news_english", text=text)
            for token in response["tokens"]:
                stems[text[token["start_offset"]:token["end_offset"]]] = token["token"]
    return stems


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
