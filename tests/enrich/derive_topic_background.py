"""Derive enrich/data/topic_background.json: `python -m tests.enrich.derive_topic_background [N]`.

The mean and standard deviation, per IPTC topic, of the cosine between an article's word vector and
the topic's description vector, over N English news articles of the offline corpus (no labels used).
A topic's similarity is then read as "how unusual for this topic", so topics whose description sits
close to any news text (lifestyle, society) stop winning by default.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from enrich.language import article_language
from enrich.ner import load_nlp, ner_text
from enrich.topics import DEFAULT_BACKGROUND, TopicEvidenceCollector, default_vocabulary
from newsflow.core.settings import load_settings
from tests.enrich.corpus import all_news_articles
from tests.enrich.quality import load_gold


def main(argv: list[str]) -> int:
    count = int(argv[1]) if len(argv) > 1 else 2000
    gold = {g.article.url for g in load_gold()}  # keep the evaluation articles out of the background
    articles = [a for a in all_news_articles() if a.word_count >= 30 and a.url not in gold
                and article_language(a) == "en"]
    step = max(1, len(articles) // count)
    sample = articles[::step][:count]
    nlp = load_nlp(load_settings())
    vocabulary = default_vocabulary()
    collector = TopicEvidenceCollector(nlp.vocab, nlp.tokenizer, vocabulary)
    rows = [c for c in (collector.cosines(doc) for doc in nlp.tokenizer.pipe(ner_text(a) for a in sample))
            if c is not None]
    matrix = np.stack(rows)
    data = {
        "_about": f"Per-topic cosine statistics over {len(rows)} English news articles of the offline "
                  "corpus (tests/enrich/derive_topic_background.py). Bump enrich/version.py when remade.",
        "topics": {
            t.qcode: {"mean": round(float(column.mean()), 5), "std": round(float(column.std()), 5)}
            for t, column in zip(vocabulary.topics, matrix.T, strict=True)
        },
    }
    DEFAULT_BACKGROUND.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {DEFAULT_BACKGROUND} from {len(rows)} articles")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
