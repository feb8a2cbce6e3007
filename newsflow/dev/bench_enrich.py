"""Enrichment throughput against spaCy's raw nlp.pipe on the same texts and cores.

`python -m newsflow.dev.bench_enrich [N [PROCESSES]]`: N corpus texts are given (a) to
load_nlp(settings).pipe — the raw NER-only pipeline, the limit — and (b) to Enricher.enrich
(language, NER, canonical names, topics).
Both use the same number of processes. Prints words/s of each and their ratio.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from enrich.language import article_language
from enrich.ner import load_nlp, ner_text
from enrich.pipeline import Enricher, processes_for
from newsflow.core.models import Article
from newsflow.core.settings import Settings, load_settings


@dataclass(frozen=True)
class Throughput:
    texts: int
    words: int
    processes: int
    raw_seconds: float
    enrich_seconds: float

    @property
    def raw_words_per_second(self) -> float:
        return self.words / self.raw_seconds

    @property
    def enrich_words_per_second(self) -> float:
        return self.words / self.enrich_seconds

    def __str__(self) -> str:
        return (f"{self.texts} texts, {self.words} words, {self.processes} process(es): "
                f"raw nlp.pipe {self.raw_words_per_second:,.0f} words/s, "
                f"Enricher.enrich {self.enrich_words_per_second:,.0f} words/s, "
                f"enrich/raw time {self.enrich_seconds / self.raw_seconds:.2f}x")


def measure(articles: Sequence[Article], settings: Settings, rounds: int = 2) -> Throughput:
    """Best of `rounds` alternating runs of each (the machine is shared: the best run is the least
    disturbed one)."""
    texts = [ner_text(a, settings.enrich.max_chars) for a in articles]
    words = sum(len(t.split()) for t in texts)
    n_process = processes_for(len(texts), settings)
    nlp = load_nlp(settings)
    enricher = Enricher(settings)
    enricher.nlp  # noqa: B018 - load outside the timing, as the raw pipeline is
    raw = enriched = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _doc in nlp.pipe(texts, batch_size=settings.enrich.batch_size, n_process=n_process):
            pass
        raw = min(raw, time.perf_counter() - start)
        start = time.perf_counter()
        enricher.enrich(articles)
        enriched = min(enriched, time.perf_counter() - start)
    return Throughput(len(texts), words, n_process, raw, enriched)


def main(argv: list[str]) -> int:
    from tests.enrich.corpus import all_news_articles  # the offline corpus: a development checkout only

    count = int(argv[1]) if len(argv) > 1 else 300
    n_process = int(argv[2]) if len(argv) > 2 else 1
    # English only: the Enricher skips NER for other languages, which would flatter it.
    articles = [a for a in all_news_articles() if a.word_count >= 40 and article_language(a) == "en"][:count]
    settings = load_settings()
    settings.enrich.n_process = n_process
    settings.enrich.min_texts_per_process = min(settings.enrich.min_texts_per_process, count // n_process)
    print(measure(articles, settings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
