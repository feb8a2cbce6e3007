"""Evaluate the full-text extraction against the ground truth in /work/shared/corpus/articles.

`python -m newsflow.dev.fulltext_eval [ARTICLES_DIR]` prints, per dataset and overall, the mean token
precision, recall and F1 (bag of words, as in the article-extraction-benchmark): precision = share
of extracted tokens that are in the true text, recall = share of true tokens that were extracted.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.fulltext import extract_main_text
from newsflow.dev.paths import shared_dir

_TOKEN = re.compile(r"\w+", re.UNICODE)
DEFAULT_DIR = shared_dir() / "corpus" / "articles"


@dataclass(frozen=True, slots=True)
class Score:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def score(extracted: str, truth: str) -> Score:
    got, want = Counter(_TOKEN.findall(extracted.lower())), Counter(_TOKEN.findall(truth.lower()))
    common = sum((got & want).values())
    precision = common / sum(got.values()) if got else (1.0 if not want else 0.0)
    recall = common / sum(want.values()) if want else 1.0
    return Score(precision, recall)


def cases(folder: Path) -> Iterator[tuple[str, str, bytes, str]]:
    """(dataset, url, html, true text) for both datasets."""
    aeb = folder / "scrapinghub-aeb"
    for key, record in json.loads((aeb / "ground-truth.json").read_text(encoding="utf-8")).items():
        page = aeb / "html" / f"{key}.html.gz"
        if page.is_file():
            yield "scrapinghub-aeb", record.get("url", ""), gzip.decompress(page.read_bytes()), \
                record["articleBody"]
    fundus = folder / "fundus-evaluation"
    for name, record in json.loads((fundus / "ground_truth.json").read_text(encoding="utf-8")).items():
        page = fundus / "html" / name
        if page.is_file():
            body = record["body"]
            truth = "\n".join(body) if isinstance(body, list) else str(body)
            yield "fundus-evaluation", record.get("url", ""), gzip.decompress(page.read_bytes()), truth


def evaluate(folder: Path = DEFAULT_DIR) -> dict[str, dict[str, float]]:
    per_set: dict[str, list[Score]] = {}
    started = time.perf_counter()
    for dataset, url, html, truth in cases(folder):
        per_set.setdefault(dataset, []).append(score(extract_main_text(html, url), truth))
    per_set["all"] = [s for scores in list(per_set.values()) for s in scores]
    report = {name: _summary(scores) for name, scores in per_set.items()}
    report["all"]["seconds"] = round(time.perf_counter() - started, 1)
    return report


def _summary(scores: Sequence[Score]) -> dict[str, float]:
    n = len(scores)
    return {"pages": n,
            "precision": round(sum(s.precision for s in scores) / n, 3),
            "recall": round(sum(s.recall for s in scores) / n, 3),
            "f1": round(sum(s.f1 for s in scores) / n, 3)}


if __name__ == "__main__":
    result = evaluate(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR)
    for name, figures in result.items():
        print(name, json.dumps(figures))
