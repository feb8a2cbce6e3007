"""Train the main-topic model (enrich/data/topic_model.json) from hand-annotated gold sets.

    PYTHONPATH=. NEWSFLOW_SHARED_DIR=/work/shared .venv/bin/python tools/train_topics.py \\
        tests/enrich/gold/gold_v2.json tests/enrich/gold/train_v3.json [--out FILE] [--cache FILE]

Reads every entry of the given gold files whose split is "tuning" (v1: "dev") or "train"; entries
of the held-out split are skipped unread, so the held-out figures stay an honest test. The articles
come from the shared corpus (the reference's link is checked), their topic evidence from the real
pipeline (enrich.pipeline.topic_evidence: the md model, the topic keywords, the calibration), their
features from enrich.topic_model.topic_features. Non-English articles get no topics and are left out.

The example's class is the gold main topic (the first label); a second gold label is a second
example of weight SECOND_LABEL_WEIGHT (either label counts as right in the evaluation). The model is
a multinomial logistic regression over the features of enrich/topic_model.py, with either one weight
per kind of evidence shared by all topics (enrich.linear.train_shared) or a weight per topic and
feature (enrich.linear.train): the form and the L2 strength are chosen by K-fold cross-validation
over the examples (folds by a hash of the article's feed, so the same on every run and no feed in
two folds), for the
main-topic accuracy (the best topic is a gold label); the model is then fitted on all of them.
Gradient descent from zeros, fixed steps: the same inputs give the same file. The figures of the
search (and of the calibrated decision on the same folds) are printed and kept in the model's `about`.

Afterwards: bump enrich/version.py, run `python -m tests.enrich.evaluate` and record the figures in
docs/enrich.md ("Quality").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from enrich.linear import LinearModel, train, train_shared
from enrich.topic_model import DEFAULT_MODEL, FEATURE_KINDS, topic_features
from enrich.topics import TopicEvidence, default_vocabulary, score_topics
from tests.enrich.select_gold import feed_key

TRAINING_SPLITS = {"tuning", "dev", "train"}
# (form, L2 strength) tried by cross-validation: "shared" weighs each kind of evidence alike for
# every topic (enrich.linear.train_shared), "per-topic" learns a weight per topic and feature (train).
GRID = (("shared", 0.3), ("shared", 1.0), ("shared", 3.0), ("shared", 10.0), ("shared", 30.0),
        ("per-topic", 3.0), ("per-topic", 10.0), ("per-topic", 30.0), ("per-topic", 100.0))
SECOND_LABEL_WEIGHT = 0.5
FOLDS = 5
STEPS = 800


@dataclass(frozen=True, slots=True)
class Example:
    url: str
    topics: tuple[str, ...]  # gold labels, the main one first
    categories: tuple[str, ...]
    evidence: TopicEvidence
    feed: str = ""  # the corpus feed (snapshots of one feed count as one)

    @property
    def fold(self) -> int:
        # By feed, not by article: a feed's own categories and habits must not be learned from one
        # fold and tested on another, or the figure flatters text from feeds never seen.
        return int(hashlib.sha1((self.feed or self.url).encode()).hexdigest(), 16) % FOLDS


def read_entries(paths: Sequence[Path]) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = []
    seen: set[str] = set()
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["articles"] if isinstance(data, dict) else data
        for row in rows:
            if row.get("split") not in TRAINING_SPLITS or not row.get("topics") or row["url"] in seen:
                continue
            seen.add(row["url"])
            entries.append(row)
    return entries


def measure(entries: Sequence[dict[str, object]]) -> list[Example]:
    """The examples: the pipeline's evidence for each entry's corpus article."""
    from enrich.pipeline import build_pipeline, topic_evidence
    from newsflow.core.settings import load_settings
    from tests.enrich.corpus import corpus_article

    articles = []
    for entry in entries:
        article = corpus_article(str(entry["file"]), int(str(entry["index"])))
        if article.url != entry["url"]:
            raise SystemExit(f"{entry['file']}#{entry['index']} is now {article.url}, not {entry['url']}")
        articles.append(article)
    settings = load_settings()
    evidence = topic_evidence(build_pipeline(settings), articles, settings)
    top = {t.label for t in default_vocabulary().topics if t.parent is None}
    examples = []
    for entry, article, found in zip(entries, articles, evidence, strict=True):
        topics = tuple(str(t) for t in entry["topics"] if t in top)  # type: ignore[attr-defined]
        if found is not None and topics:
            examples.append(Example(article.url, topics, article.categories, found,
                                    feed_key(str(entry["file"]))))
    return examples


def fit(examples: Sequence[Example], form: str, l2: float, classes: Sequence[str],
        about: str = "") -> LinearModel:
    features, labels, weights = [], [], []
    for example in examples:
        row = topic_features(example.evidence, example.categories)
        for rank, label in enumerate(example.topics[:2]):
            features.append(row)
            labels.append(label)
            weights.append(1.0 if rank == 0 else SECOND_LABEL_WEIGHT)
    if form == "shared":
        return train_shared(features, labels, kinds=FEATURE_KINDS, classes=classes, l2=l2,
                            weights=weights, steps=STEPS, about=about)
    return train(features, labels, classes=classes, l2=l2, weights=weights, steps=2 * STEPS, about=about)


def right(model: LinearModel, example: Example) -> bool:
    p = model.probabilities(topic_features(example.evidence, example.categories))
    return max(p, key=p.__getitem__) in example.topics


def calibrated_right(example: Example) -> bool:
    top = {t.label for t in default_vocabulary().topics if t.parent is None}
    _, scores = score_topics(example.evidence, categories=example.categories)
    return next((s.label for s in scores if s.label in top), "") in example.topics


def cross_validate(examples: Sequence[Example], form: str, l2: float, classes: Sequence[str]) -> float:
    hits = 0
    for fold in range(FOLDS):
        model = fit([e for e in examples if e.fold != fold], form, l2, classes)
        hits += sum(right(model, e) for e in examples if e.fold == fold)
    return hits / len(examples)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("gold", nargs="+", type=Path,
                        help="gold JSON files (their tuning and train entries are read)")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--cache", type=Path, help="keep the measured evidence in FILE (reused when present)")
    args = parser.parse_args(argv)

    entries = read_entries(args.gold)
    if args.cache and args.cache.is_file():
        cached = {e["url"]: e for e in json.loads(args.cache.read_text(encoding="utf-8"))}
        missing = [e for e in entries if e["url"] not in cached]
        top = {t.label for t in default_vocabulary().topics if t.parent is None}
        examples = [Example(c["url"], tuple(str(t) for t in e["topics"] if t in top),  # type: ignore[attr-defined]
                            tuple(c["categories"]), TopicEvidence(tuple(c["z"]), tuple(c["hits"])),
                            feed_key(str(e["file"])))
                    for e in entries if (c := cached.get(str(e["url"])))]
        examples += measure(missing) if missing else []
    else:
        examples = measure(entries)
    if args.cache:
        args.cache.write_text(json.dumps([
            {"url": e.url, "categories": list(e.categories),
             "z": list(e.evidence.similarity_z), "hits": list(e.evidence.keyword_hits)}
            for e in examples]), encoding="utf-8")
    examples.sort(key=lambda e: e.url)
    if len({e.feed for e in examples}) < 2 * FOLDS:  # too few feeds to fold by: fold by article
        examples = [replace(e, feed="") for e in examples]
    classes = sorted(t.label for t in default_vocabulary().topics if t.parent is None)
    baseline = sum(calibrated_right(e) for e in examples) / len(examples)
    print(f"{len(examples)} examples from {', '.join(p.name for p in args.gold)}; "
          f"calibrated decision: main topic right {baseline:.3f}")
    results = []
    for rank, (form, l2) in enumerate(GRID):
        accuracy = cross_validate(examples, form, l2, classes)
        results.append((accuracy, -rank))  # ties: the earlier (simpler, stronger-regularised) entry
        print(f"  {form} l2 {l2:g}: {FOLDS}-fold CV main topic right {accuracy:.3f}", flush=True)
    accuracy, negative_rank = max(results)
    form, l2 = GRID[-negative_rank]
    about = (f"tools/train_topics.py on {len(examples)} articles ({', '.join(p.name for p in args.gold)}, "
             f"tuning and train splits); {form} l2 {l2:g} by {FOLDS}-fold CV: main topic right "
             f"{accuracy:.3f} (calibrated decision {baseline:.3f})")
    model = fit(examples, form, l2, classes, about)
    args.out.write_text(json.dumps(model.as_dict(), indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {about}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
