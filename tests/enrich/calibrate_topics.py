"""Calibrate the topic score weights on the gold set: `python -m tests.enrich.calibrate_topics`.

Prints the best weights by a grid search (objective: top-1 accuracy plus F1 of the indexed top-level
labels); copy them into enrich/data/topic_calibration.json and bump enrich/version.py. With ~50 gold
articles this is a coarse fit: keep the grid coarse so it cannot memorise the set.
"""

from __future__ import annotations

import itertools

from enrich import components
from enrich.pipeline import build_pipeline
from enrich.topics import Calibration, default_vocabulary, score_topics
from newsflow.core.settings import load_settings
from tests.enrich.quality import load_gold


def main() -> None:
    gold = load_gold("dev")  # the held-out articles stay out of calibration
    nlp = build_pipeline(load_settings())
    texts = [f"{g.article.title}\n\n{g.article.body or g.article.summary}" for g in gold]
    evidence = []
    for doc in nlp.pipe(texts):
        evidence.append(doc._.get(components.TOPIC_EVIDENCE_ATTR))
    top = {t.label for t in default_vocabulary().topics if t.parent is None}
    results = []
    for w_vec, w_kw, w_share, bias in itertools.product(
        (0.0, 0.4, 0.8, 1.2), (0.5, 1.0, 1.5, 2.0), (0.0, 1.0, 2.0, 3.0), (-4.0, -3.0, -2.0, -1.0)
    ):
        calibration = Calibration(w_vec, w_kw, w_share, bias, 0.5)
        correct = tp = predicted = expected = 0
        for g, ev in zip(gold, evidence, strict=True):
            labels, scores = score_topics(ev, categories=g.article.categories, calibration=calibration)
            best = next(s.label for s in scores if s.label in top)
            correct += best in g.topics
            chosen = {label for label in labels if label in top}
            tp += len(chosen & g.topics)
            predicted += len(chosen)
            expected += len(g.topics)
        precision = tp / predicted if predicted else 0.0
        recall = tp / expected
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
        accuracy = correct / len(gold)
        results.append((accuracy + f1, accuracy, precision, recall, (w_vec, w_kw, w_share, bias)))
    results.sort(reverse=True)
    for objective, accuracy, precision, recall, weights in results[:10]:
        print(f"{objective:.3f} acc={accuracy:.3f} P={precision:.3f} R={recall:.3f} w={weights}")


if __name__ == "__main__":
    main()
