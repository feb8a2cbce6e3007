"""Parse throughput: parse + normalise over feed files already in memory (no I/O in the timing).

`parse_throughput(paths)` is what the performance benchmark calls on corpus/feeds/real.
`python -m newsflow.dev.bench_ingest [DIR]` prints the figures.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.normalise import normalise_feed
from ingest.parse import parse_feed
from ingest.types import FeedSpec
from newsflow.core.errors import ParseError
from newsflow.dev.paths import shared_dir


def parse_throughput(paths: Sequence[Path]) -> dict[str, Any]:
    """Parse and normalise every file; return files, items (articles), failed files, seconds, items/s.

    `cpu_seconds` and `items_per_cpu_s` are the same over this process's CPU time, which a busy
    shared machine disturbs less than wall time.
    """
    bodies = [(path, path.read_bytes()) for path in paths]
    fetched_at = datetime.now(UTC)
    items = failed = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    for path, body in bodies:
        spec = FeedSpec(url=str(path))
        try:
            feed = parse_feed(body, url=spec.url)
        except ParseError:
            failed += 1
            continue
        articles, _ = normalise_feed(spec, feed, spec.url, fetched_at)
        items += len(articles)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    return {
        "files": len(bodies),
        "failed_files": failed,
        "items": items,
        "seconds": round(seconds, 3),
        "items_per_s": round(items / seconds, 1) if seconds else 0.0,
        "cpu_seconds": round(cpu_seconds, 3),
        "items_per_cpu_s": round(items / cpu_seconds, 1) if cpu_seconds else 0.0,
    }


def main(argv: Sequence[str]) -> None:
    folder = Path(argv[0]) if argv else shared_dir() / "corpus/feeds/real"
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.name != "INDEX.tsv")
    print(parse_throughput(paths))


if __name__ == "__main__":
    main(sys.argv[1:])
