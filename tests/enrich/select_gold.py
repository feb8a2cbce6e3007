"""Choose the articles of gold set v2 (run once: `python -m tests.enrich.select_gold`).

Prints candidate references (file, index, url) from the shared corpus: English news items
(INDEX.tsv news_publisher=yes) of at least MIN_WORDS words, at most PER_FEED per feed (a feed is a
file name without the git-scraped version suffix, so ten snapshots of one feed count once), first
copy of each URL and title only, and none of gold set v1. The choice depends only on the corpus and
SEED, never on system output; the held-out third is drawn from the chosen list with HELDOUT_SEED
(`heldout_split`), also before any system output is looked at.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from enrich.language import detect_language
from tests.enrich.corpus import feed_articles, news_files
from tests.enrich.quality import GOLD_FILE

SEED = 20261202
HELDOUT_SEED = 17_2026
TRAIN_SEED = 20261203  # the training set v3 (`--train N`): drawn after v2, none of v1's or v2's articles
# The training set v4 (`--train N --v4`): up to 4 articles per feed, none of v1's, v2's or v3's.
TRAIN_V4_SEED, TRAIN_V4_PER_FEED = 20261204, 4
# The training set v5 (`--train N --v5`): up to 10 articles per feed, none of v1's to v4's.
TRAIN_V5_SEED, TRAIN_V5_PER_FEED = 20261205, 10
GOLD_V2_FILE = GOLD_FILE.parent / "gold_v2.json"
PER_FEED = 2
MIN_WORDS = 25
MAX_WORDS = 300  # long texts take long to annotate by hand; some full texts are still in range
_VERSION = re.compile(r"__\d{4}-\d{2}-\d{2}T\d{4}\.xml$")


def feed_key(file: str) -> str:
    return _VERSION.sub("", file)


def _urls(path: object) -> set[str]:
    return {a["url"] for a in json.loads(path.read_text(encoding="utf-8"))["articles"]}  # type: ignore[attr-defined]


def candidates(exclude_v2: bool = False,
               exclude: Sequence[Path] = ()) -> dict[str, list[tuple[str, int, str]]]:
    v1 = _urls(GOLD_FILE) | (_urls(GOLD_V2_FILE) if exclude_v2 else set())
    for path in exclude:
        v1 |= _urls(path)
    seen: set[str] = set()
    by_feed: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    for file in news_files():
        try:
            articles = feed_articles(file)
        except Exception:  # a malformed fixture feed: not a source of gold articles
            continue
        for index, article in enumerate(articles):
            text = f"{article.title}\n\n{article.body or article.summary}"
            words = len(text.split())
            if not MIN_WORDS <= words <= MAX_WORDS or article.url in v1:
                continue
            if article.url in seen or article.title in seen:
                continue
            if detect_language(text) != "en":
                continue
            seen.update((article.url, article.title))
            by_feed[feed_key(file)].append((file, index, article.url))
    return by_feed


def choose(total: int, seed: int = SEED, exclude_v2: bool = False, per_feed: int = PER_FEED,
           exclude: Sequence[Path] = ()) -> list[tuple[str, int, str]]:
    rng = random.Random(seed)
    by_feed = candidates(exclude_v2, exclude)
    chosen: list[tuple[str, int, str]] = []
    for key in sorted(by_feed):
        items = by_feed[key]
        chosen.extend(rng.sample(items, min(per_feed, len(items))))
    rng.shuffle(chosen)
    return chosen[:total]


def heldout_split(n: int) -> set[int]:
    """Positions (in the chosen order) of the held-out third, drawn with HELDOUT_SEED."""
    return set(random.Random(HELDOUT_SEED).sample(range(n), n // 3))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--train"]:  # the training set of the entity filter: none of v1 or v2
        total = int(sys.argv[2])
        if "--v5" in sys.argv:
            chosen = choose(total, TRAIN_V5_SEED, exclude_v2=True, per_feed=TRAIN_V5_PER_FEED,
                            exclude=[GOLD_FILE.parent / "train_v3.json",
                                     GOLD_FILE.parent / "train_v4.json"])
        elif "--v4" in sys.argv:
            chosen = choose(total, TRAIN_V4_SEED, exclude_v2=True, per_feed=TRAIN_V4_PER_FEED,
                            exclude=[GOLD_FILE.parent / "train_v3.json"])
        else:
            chosen = choose(total, TRAIN_SEED, exclude_v2=True)
        print(json.dumps([{"file": f, "index": i, "url": u, "split": "train"}
                          for f, i, u in chosen], indent=1))
        feeds = len({feed_key(f) for f, _, _ in chosen})
        print(f"{len(chosen)} articles from {feeds} feeds", file=sys.stderr)
        sys.exit(0)
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 180
    chosen = choose(total)
    held = heldout_split(len(chosen))
    print(json.dumps([{"file": f, "index": i, "url": u, "split": "heldout" if n in held else "tuning"}
                      for n, (f, i, u) in enumerate(chosen)], indent=1))
    print(f"{len(chosen)} articles from {len({feed_key(f) for f, _, _ in chosen})} feeds", file=sys.stderr)
