"""The on-disk spool: articles a cycle could not index because Elasticsearch was unreachable.

Each `put` writes one batch file `<nanoseconds>-<random>.json` (a JSON list of articles) crash-safely:
written to a hidden temporary file, fsynced, renamed into place and the directory fsynced, so a crash
leaves either the whole batch or nothing. The next cycle `load`s every batch (oldest first; for an id
spooled twice the newest copy wins), indexes them, and `discard`s the ids it indexed.

The spool is bounded by `max_bytes` (IndexSettings.spool_max_bytes): a batch that would pass the bound
raises SpoolFullError and nothing of it is written.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from newsflow.errors import SpoolFullError
from newsflow.models import Article

FORMAT_VERSION = 1


def article_record(article: Article) -> dict[str, Any]:
    """An article as JSON data that `record_article` turns back into an equal Article."""
    return {
        "v": FORMAT_VERSION,
        "id": article.id,
        "document": article.to_document(),
        # `extra` is stage-specific and not indexed; kept when it is JSON (else as text).
        "extra": json.loads(json.dumps(dict(article.extra), default=str)),
    }


def record_article(record: dict[str, Any]) -> Article:
    article = Article.from_document(record["id"], record["document"])
    extra = record.get("extra") or {}
    return replace(article, extra=extra) if extra else article


class Spool:
    """A bounded, crash-safe queue of articles on disk."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes

    def _batches(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        # Names start with a zero-padded nanosecond time: name order is age order.
        return sorted(p for p in self.directory.glob("*.json") if not p.name.startswith("."))

    def size_bytes(self) -> int:
        return sum(path.stat().st_size for path in self._batches())

    def __len__(self) -> int:
        """How many distinct articles are spooled (without rebuilding them)."""
        ids: set[str] = set()
        for path in self._batches():
            ids.update(record["id"] for record in json.loads(path.read_text(encoding="utf-8")))
        return len(ids)

    def put(self, articles: Sequence[Article]) -> None:
        """Keep articles for a later cycle. Raises SpoolFullError when they do not fit."""
        if not articles:
            return
        payload = json.dumps([article_record(a) for a in articles], ensure_ascii=False).encode("utf-8")
        used = self.size_bytes()
        if used + len(payload) > self.max_bytes:
            raise SpoolFullError(
                f"the spool at {self.directory} is full ({used:,} of {self.max_bytes:,} bytes; "
                f"{len(articles)} article(s), {len(payload):,} bytes, do not fit): bring Elasticsearch "
                "back so the next cycle can index the spooled articles, or raise "
                "NEWSFLOW_INDEX__SPOOL_MAX_BYTES"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        self._write_atomically(self.directory / name, payload)

    def load(self) -> list[Article]:
        """Every spooled article, oldest first; for an id spooled more than once, the newest copy."""
        newest: dict[str, Article] = {}
        for path in self._batches():
            for record in json.loads(path.read_text(encoding="utf-8")):
                article = record_article(record)
                newest.pop(article.id, None)  # re-insert so the order follows the newest copy
                newest[article.id] = article
        return list(newest.values())

    def discard(self, ids: Iterable[str]) -> None:
        """Forget articles (once indexed). Each batch file is rewritten atomically, or removed when empty."""
        gone = set(ids)
        if not gone:
            return
        for path in self._batches():
            records = json.loads(path.read_text(encoding="utf-8"))
            kept = [record for record in records if record["id"] not in gone]
            if len(kept) == len(records):
                continue
            if kept:
                self._write_atomically(path, json.dumps(kept, ensure_ascii=False).encode("utf-8"))
            else:
                path.unlink()
                self._sync_directory()

    def _write_atomically(self, path: Path, payload: bytes) -> None:
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        self._sync_directory()

    def _sync_directory(self) -> None:
        # The rename itself is durable only once the directory entry is on disk.
        descriptor = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
