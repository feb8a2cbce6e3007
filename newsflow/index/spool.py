"""The on-disk spool: articles a cycle could not index (Elasticsearch unreachable or refusing them
with 429/5xx after every retry), kept until a later cycle indexes them.

Each `put` writes one batch file `<nanoseconds>-<random>.json` (a JSON list of article records)
crash-safely: written to a hidden temporary file, fsynced, renamed into place and the directory
fsynced, so a crash leaves either the whole batch or nothing. The next cycle `load`s every batch
(oldest first; for an id spooled twice the newest copy wins), indexes them, and `discard`s the ids it
indexed (or dead-lettered).

A batch that cannot be read back (truncated or hand-edited JSON, a wrong shape, a record that no
longer validates) is moved to `quarantine/` under the spool directory with a `.reason` file beside
it, and listed in `quarantined`; the other batches are used as usual, so one bad file never stops a
cycle.

The spool is bounded by `max_bytes` (IndexSettings.spool_max_bytes): a batch that would pass the bound
raises SpoolFullError and nothing of it is written.

What each batch holds (id and content hash per record) is remembered per file, keyed by the file's
size and modification time: counting the spool or checking whether an article is already spooled
reads only the batches that changed since this object last saw them.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from newsflow.core.errors import SpoolBatchCorrupt, SpoolFullError
from newsflow.core.models import Article

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
QUARANTINE = "quarantine"


@dataclass(frozen=True, slots=True)
class QuarantinedBatch:
    """A batch file moved aside because it could not be read back."""

    name: str  # the batch's file name
    reason: str
    moved_to: Path

    def describe(self) -> str:
        return f"spool batch {self.name} quarantined to {self.moved_to}: {self.reason}"


@dataclass(frozen=True, slots=True)
class _Entry:
    """What one batch file held when last read: its (size, mtime) and (id, content hash) pairs."""

    signature: tuple[int, int]
    keys: tuple[tuple[str, str], ...]


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


def parse_batch(name: str, payload: bytes) -> list[Article]:
    """The articles of one batch file; SpoolBatchCorrupt (with the reason) when it cannot be trusted."""
    try:
        records = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SpoolBatchCorrupt(name, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise SpoolBatchCorrupt(name, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") \
            from exc
    if not isinstance(records, list):
        raise SpoolBatchCorrupt(
            name, f"expected a JSON list of article records, found {type(records).__name__}")
    articles: list[Article] = []
    for position, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) \
                or not isinstance(record.get("document"), dict):
            raise SpoolBatchCorrupt(name, f"record {position} is not an article record (id and document)")
        if record.get("v", FORMAT_VERSION) != FORMAT_VERSION:
            raise SpoolBatchCorrupt(name, f"record {position} has format version {record.get('v')!r}, "
                                          f"this version reads {FORMAT_VERSION}")
        try:
            articles.append(record_article(record))
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise SpoolBatchCorrupt(
                name, f"record {position} ({record['id']}) does not validate: {type(exc).__name__}: {exc}"
            ) from exc
    return articles


class Spool:
    """A bounded, crash-safe queue of articles on disk."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.quarantined: list[QuarantinedBatch] = []  # moved aside by this object
        self._entries: dict[str, _Entry] = {}

    @property
    def quarantine_dir(self) -> Path:
        return self.directory / QUARANTINE

    def _batches(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        # Names start with a zero-padded nanosecond time: name order is age order. The quarantine
        # folder is a subdirectory, so its files are never batches.
        return sorted(p for p in self.directory.glob("*.json") if not p.name.startswith("."))

    def size_bytes(self) -> int:
        return sum(size for _, size in self._sizes())

    def _sizes(self) -> list[tuple[Path, int]]:
        sizes = []
        for path in self._batches():
            try:
                sizes.append((path, path.stat().st_size))
            except FileNotFoundError:  # discarded by another run meanwhile
                continue
        return sizes

    def __len__(self) -> int:
        """How many distinct articles are spooled (reading only the batches not seen before)."""
        return len({doc_id for doc_id, _ in self.keys()})

    def keys(self) -> set[tuple[str, str]]:
        """(id, content hash) of every spooled article copy."""
        found: set[tuple[str, str]] = set()
        for path in self._batches():
            entry = self._entry(path)
            if entry is not None:
                found.update(entry.keys)
        return found

    def _entry(self, path: Path) -> _Entry | None:
        """The batch's keys, from memory when the file is unchanged; None if it is gone or corrupt."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        signature = (stat.st_size, stat.st_mtime_ns)
        entry = self._entries.get(path.name)
        if entry is not None and entry.signature == signature:
            return entry
        articles = self._read(path)
        if articles is None:
            return None
        return self._remember(path.name, signature, articles)

    def _remember(self, name: str, signature: tuple[int, int], articles: Sequence[Article]) -> _Entry:
        entry = _Entry(signature, tuple((a.id, a.content_hash) for a in articles))
        self._entries[name] = entry
        return entry

    def _read(self, path: Path) -> list[Article] | None:
        """A batch's articles; a corrupt batch is quarantined (None), a vanished one is None too."""
        try:
            payload = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:  # a disk error: the file is unreadable, not merely bad JSON
            self._quarantine(path, f"unreadable: {exc.strerror or exc}")
            return None
        try:
            return parse_batch(path.name, payload)
        except SpoolBatchCorrupt as exc:
            self._quarantine(path, exc.reason)
            return None

    def put(self, articles: Sequence[Article]) -> None:
        """Keep articles for a later cycle. Raises SpoolFullError when they do not fit (and OSError
        when the disk refuses the write): then nothing of them is kept."""
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
        path = self.directory / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        self._write_atomically(path, payload)
        stat = path.stat()
        self._remember(path.name, (stat.st_size, stat.st_mtime_ns), articles)

    def load(self) -> list[Article]:
        """Every spooled article, oldest first; for an id spooled more than once, the newest copy.
        Corrupt batches are quarantined on the way (see `quarantined`)."""
        newest: dict[str, Article] = {}
        for path in self._batches():
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            articles = self._read(path)
            if articles is None:
                continue
            self._remember(path.name, (stat.st_size, stat.st_mtime_ns), articles)
            for article in articles:
                newest.pop(article.id, None)  # re-insert so the order follows the newest copy
                newest[article.id] = article
        return list(newest.values())

    def discard(self, ids: Iterable[str]) -> None:
        """Forget articles (once indexed or dead-lettered). Each batch holding one of them is rewritten
        atomically, or removed when empty; batches holding none of them are not even read."""
        gone = set(ids)
        if not gone:
            return
        for path in self._batches():
            entry = self._entry(path)
            if entry is None or not any(doc_id in gone for doc_id, _ in entry.keys):
                continue
            records = json.loads(path.read_bytes().decode("utf-8"))  # validated by _entry just now
            kept = [record for record in records if record["id"] not in gone]
            if kept:
                payload = json.dumps(kept, ensure_ascii=False).encode("utf-8")
                self._write_atomically(path, payload)
                stat = path.stat()
                self._entries[path.name] = _Entry(
                    (stat.st_size, stat.st_mtime_ns),
                    tuple(key for key in entry.keys if key[0] not in gone))
            else:
                path.unlink()
                self._entries.pop(path.name, None)
                self._sync_directory()

    def _quarantine(self, path: Path, reason: str) -> None:
        """Move a batch that cannot be trusted out of the way, with its reason beside it."""
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        target = self.quarantine_dir / path.name
        if target.exists():  # the same name quarantined before (a batch restored by hand)
            target = target.with_name(f"{path.stem}-{uuid.uuid4().hex[:8]}{path.suffix}")
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return  # another run moved or discarded it meanwhile
        target.with_name(target.name + ".reason").write_text(reason + "\n", encoding="utf-8")
        self._sync_directory()
        self._entries.pop(path.name, None)
        batch = QuarantinedBatch(path.name, reason, target)
        self.quarantined.append(batch)
        log.error("%s", batch.describe())

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
