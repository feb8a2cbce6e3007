"""Entity and topic quality of the real enrichment on a gold set: `python -m tests.enrich.evaluate`.

    python -m tests.enrich.evaluate                       # gold set v2, tuning and held-out parts
    python -m tests.enrich.evaluate --gold v1             # the older 68-article set
    python -m tests.enrich.evaluate --json out.json       # the figures (and tuning errors) as JSON
    python -m tests.enrich.evaluate --errors              # print the tuning part's errors per article

Runs the Enricher exactly as a cycle does (the real spaCy model, loaded by the pipeline, with its
canonicaliser and topic components) over the gold articles read from the shared corpus
(NEWSFLOW_SHARED_DIR), then scores each facet with the strict rule of the contract: one value per
entity. An extra spelling or a bare surname beside the full name is a false positive; the full name
it should have been, if missing, a false negative. Gold values are first mapped through the entity
table's aliases (`entity_table_resolver`), so a gold spelling the table knows counts as the table's
canonical name. Values compare after typographic clean-up only (curly quotes, spaces).

Main topic: `main_topic_accuracy` counts an article right when the system's best-scored top-level
topic is one of the gold labels; `main_topic_exact` when it is the gold's first (main) label.

The held-out part's errors are never printed or written: look at its figures only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsflow.core.models import Article
from tests.enrich.corpus import corpus_article

GOLD_DIR = Path(__file__).resolve().parent / "gold"
GOLD_SETS = {"v1": GOLD_DIR / "gold.json", "v2": GOLD_DIR / "gold_v2.json",
             "v3": GOLD_DIR / "train_v3.json", "v4": GOLD_DIR / "train_v4.json",
             "v5": GOLD_DIR / "train_v5.json"}
ENTITY_FACETS = ("persons", "organizations", "locations")
SPLITS = ("tuning", "heldout")
# v1 called tuning "dev"; the training set v3 is all for tuning ("train").
_SPLIT_NAMES = {"dev": "tuning", "tuning": "tuning", "train": "tuning", "heldout": "heldout"}
_SPACES = re.compile(r"\s+")

# (facet, name) -> the canonical name the entity table gives that name in that facet.
Resolver = Callable[[str, str], str]


@dataclass(frozen=True, slots=True)
class GoldEntry:
    """One annotated article: a corpus reference and its annotations (no publisher text)."""

    file: str
    index: int
    url: str
    persons: tuple[str, ...]
    organizations: tuple[str, ...]
    locations: tuple[str, ...]
    topics: tuple[str, ...]  # the first is the main topic
    split: str  # "tuning" or "heldout"

    def facet(self, name: str) -> tuple[str, ...]:
        return tuple(getattr(self, name))


@dataclass(frozen=True, slots=True)
class Counts:
    """Micro-averaged counts of one facet; precision/recall/F1 derived."""

    true_positives: int = 0
    predicted: int = 0
    expected: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.true_positives + other.true_positives, self.predicted + other.predicted,
                      self.expected + other.expected)

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.expected if self.expected else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4), "tp": self.true_positives, "predicted": self.predicted,
                "gold": self.expected}


@dataclass(frozen=True, slots=True)
class ArticleErrors:
    url: str
    false_positives: Mapping[str, tuple[str, ...]]
    false_negatives: Mapping[str, tuple[str, ...]]
    main_topic: str
    gold_topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PartReport:
    """The figures of one part (tuning or held-out) of a gold set."""

    split: str
    articles: int
    facets: Mapping[str, Counts]
    main_topic_accuracy: float
    main_topic_exact: float
    errors: tuple[ArticleErrors, ...]

    def as_dict(self, *, with_errors: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "articles": self.articles,
            "facets": {f: c.as_dict() for f, c in self.facets.items()},
            "main_topic_accuracy": round(self.main_topic_accuracy, 4),
            "main_topic_exact": round(self.main_topic_exact, 4),
        }
        if with_errors:
            out["errors"] = [
                {"url": e.url, "false_positives": {f: list(v) for f, v in e.false_positives.items()},
                 "false_negatives": {f: list(v) for f, v in e.false_negatives.items()},
                 "main_topic": e.main_topic,
                 "gold_topics": list(e.gold_topics)}
                for e in self.errors
            ]
        return out


def clean(name: str) -> str:
    """Typographic clean-up only: curly apostrophes and runs of spaces. Never changes identity."""
    return _SPACES.sub(" ", name.replace("’", "'").replace("‘", "'")).strip()


def load_gold_entries(path: Path) -> list[GoldEntry]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        GoldEntry(file=e["file"], index=int(e["index"]), url=e["url"],
                  persons=tuple(e["persons"]), organizations=tuple(e["organizations"]),
                  locations=tuple(e["locations"]), topics=tuple(e["topics"]),
                  split=_SPLIT_NAMES[e["split"]])
        for e in data["articles"]
    ]


def gold_articles(entries: Sequence[GoldEntry]) -> list[Article]:
    """The corpus articles behind the entries; a reference that no longer matches is an error."""
    articles = []
    for entry in entries:
        article = corpus_article(entry.file, entry.index)
        if article.url != entry.url:
            raise ValueError(f"gold reference {entry.file}#{entry.index} is now {article.url}, "
                             f"not {entry.url}: the corpus changed; fix the reference in the gold file")
        articles.append(article)
    return articles


def identity_resolver(facet: str, name: str) -> str:
    return name


def entity_table_resolver() -> Resolver:
    """The gold-side mapping from a spelling to the entity table's canonical name, same facet only.

    Reads the table the enrichment uses (enrich.canonical.default_rules().table: spelling -> known
    entity). If the table's API changes, change this function only."""
    from enrich.canonical import default_rules

    table = default_rules().table

    def resolve(facet: str, name: str) -> str:
        found = table.lookup(name)
        return found.name if found is not None and found.facet == facet else name

    return resolve


def facet_counts(gold: Iterable[str], predicted: Iterable[str], facet: str,
                 resolve: Resolver) -> tuple[Counts, tuple[str, ...], tuple[str, ...]]:
    """Strict counts for one article's facet: (counts, false positives, false negatives).

    Every predicted value is one claim: two values for one gold entity ("Vladimir Putin" and
    "Putin") are one true positive and one false positive."""
    want = {clean(resolve(facet, g)) for g in gold}
    got = [clean(p) for p in predicted]
    distinct = list(dict.fromkeys(got))  # a value repeated in the array is still one facet value
    hits = [p for p in distinct if p in want]
    false_pos = tuple(p for p in distinct if p not in want)
    false_neg = tuple(sorted(want - set(hits)))
    return Counts(len(hits), len(distinct), len(want)), false_pos, false_neg


def _top_level_labels() -> frozenset[str]:
    from enrich.topics import default_vocabulary

    return frozenset(t.label for t in default_vocabulary().topics if t.parent is None)


def main_topic(article: Article, top_level: frozenset[str]) -> str:
    """The system's best-scored top-level topic ("" when it scored none)."""
    return next((s.label for s in article.topic_scores if s.label in top_level), "")


def score_part(split: str, entries: Sequence[GoldEntry], enriched: Sequence[Article],
               resolve: Resolver, top_level: frozenset[str]) -> PartReport:
    totals = {f: Counts() for f in ENTITY_FACETS}
    errors = []
    topic_hits = topic_exact = 0
    for entry, article in zip(entries, enriched, strict=True):
        fps: dict[str, tuple[str, ...]] = {}
        fns: dict[str, tuple[str, ...]] = {}
        for facet in ENTITY_FACETS:
            counts, fp, fn = facet_counts(entry.facet(facet), getattr(article, facet), facet, resolve)
            totals[facet] = totals[facet] + counts
            if fp:
                fps[facet] = fp
            if fn:
                fns[facet] = fn
        best = main_topic(article, top_level)
        topic_hits += best in entry.topics
        topic_exact += bool(entry.topics) and best == entry.topics[0]
        if fps or fns or best not in entry.topics:
            errors.append(ArticleErrors(entry.url, fps, fns, best, entry.topics))
    n = len(entries)
    return PartReport(split, n, totals, topic_hits / n if n else 0.0, topic_exact / n if n else 0.0,
                      tuple(errors))


def evaluate(entries: Sequence[GoldEntry], enriched: Sequence[Article], resolve: Resolver,
             top_level: frozenset[str] | None = None) -> dict[str, PartReport]:
    """Reports per split present in the entries, plus "all"."""
    top = top_level if top_level is not None else _top_level_labels()
    pairs = list(zip(entries, enriched, strict=True))
    reports = {}
    for split in (*SPLITS, "all"):
        chosen = [(e, a) for e, a in pairs if split == "all" or e.split == split]
        if chosen:
            reports[split] = score_part(split, [e for e, _ in chosen], [a for _, a in chosen], resolve, top)
    return reports


def enrich_with_the_real_pipeline(articles: Sequence[Article]) -> list[Article]:
    """The Enricher as a cycle builds it, with settings that never reach Elasticsearch."""
    from enrich.pipeline import Enricher
    from newsflow.core.settings import load_settings

    home = Path(tempfile.mkdtemp(prefix="newsflow-eval-"))
    settings = load_settings(home=home, index_prefix="offline", es_url="http://127.0.0.1:9")
    return Enricher(settings).enrich(list(articles))


def format_report(name: str, reports: Mapping[str, PartReport]) -> str:
    lines = [f"gold set {name}"]
    for split, report in reports.items():
        lines.append(f"  {split} ({report.articles} articles)")
        for facet, c in report.facets.items():
            lines.append(f"    {facet:<14} P {c.precision:.3f}  R {c.recall:.3f}  F {c.f1:.3f}  "
                         f"(tp {c.true_positives}, predicted {c.predicted}, gold {c.expected})")
        lines.append(f"    main topic     accuracy {report.main_topic_accuracy:.3f}  "
                     f"exact {report.main_topic_exact:.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.enrich.evaluate",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--gold", default="v2",
                        help="v1, v2 (default), v3, v4 or v5 (training sets) or a path to a gold JSON file")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON to FILE ('-' for stdout)")
    parser.add_argument("--errors", action="store_true", help="print the tuning part's errors per article")
    args = parser.parse_args(argv)

    path = GOLD_SETS.get(args.gold) or Path(args.gold)
    entries = load_gold_entries(path)
    articles = gold_articles(entries)
    started = time.perf_counter()
    enriched = enrich_with_the_real_pipeline(articles)
    seconds = time.perf_counter() - started
    reports = evaluate(entries, enriched, entity_table_resolver())

    from enrich.version import ENRICHMENT_VERSION

    print(format_report(args.gold, reports), file=sys.stderr if args.json == "-" else sys.stdout)
    if args.errors and "tuning" in reports:
        for e in reports["tuning"].errors:
            print(f"- {e.url}\n    FP {dict(e.false_positives)}\n    FN {dict(e.false_negatives)}\n"
                  f"    topic {e.main_topic!r} gold {list(e.gold_topics)}")
    if args.json:
        out = {"gold": str(path.name), "enrichment_version": ENRICHMENT_VERSION,
               "enrich_seconds": round(seconds, 1),
               "parts": {s: r.as_dict(with_errors=s == "tuning") for s, r in reports.items()}}
        text = json.dumps(out, indent=1, ensure_ascii=False)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
