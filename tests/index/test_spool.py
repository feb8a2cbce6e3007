"""The on-disk spool: bounded, crash-safe, and lossless for everything an article carries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from newsflow.core.errors import SpoolFullError
from newsflow.core.models import Article, Enclosure, TopicScore
from newsflow.index.spool import Spool


@pytest.fixture
def full_article(make_article: Any) -> Article:
    """An article with every field set, as enrichment leaves it."""
    return make_article(
        "full",
        title="Grüße aus Köln — “quotes”",
        summary="A summary.",
        body="First paragraph.\n\nSecond paragraph.",
        language="de",
        authors=("Anna Schmidt", "Ben Jones"),
        categories=("Politik", "Europa"),
        enclosures=(Enclosure("https://cdn.example.org/a.mp3", "audio/mpeg", 12345),
                    Enclosure("https://cdn.example.org/b.jpg")),
        guid="urn:example:full",
        persons=("Olaf Scholz",),
        organizations=("Bundestag", "European Union"),
        locations=("Berlin",),
        topics=("politics",),
        topic_scores=(TopicScore("politics", 0.8125, "medtop:11000000"), TopicScore("economy", 0.25)),
        story_id="story-1",
        story_signature=(1, 2**62, 3),
        story_bands=("b0:abc", "b1:def"),
        enrichment_version="v3",
        published_at=datetime(2026, 11, 20, 9, 30, 15, 123000, tzinfo=UTC),
        extra={"etag": "W/1", "position": 3},
    )


def test_an_article_comes_back_from_the_spool_equal_in_every_field(
    tmp_path: Path, full_article: Article
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1_000_000)
    spool.put([full_article])

    assert Spool(tmp_path / "spool", max_bytes=1_000_000).load() == [full_article]


def test_the_stored_document_round_trips_through_the_model(full_article: Article) -> None:
    document = json.loads(json.dumps(full_article.to_document()))

    rebuilt = Article.from_document(full_article.id, document)

    assert rebuilt == Article(**{**_fields(full_article), "extra": {}})


def _fields(article: Article) -> dict[str, Any]:
    return {name: getattr(article, name) for name in Article.__dataclass_fields__}


def test_load_is_oldest_first_and_keeps_the_newest_copy_of_an_id(tmp_path: Path, make_article: Any) -> None:
    from dataclasses import replace

    spool = Spool(tmp_path, max_bytes=1_000_000)
    first, second = make_article("one"), make_article("two")
    spool.put([first, second])
    edited_first = replace(first, title="Edited")
    spool.put([edited_first])

    assert spool.load() == [second, edited_first]
    assert len(spool) == 2


def test_discard_forgets_indexed_articles_and_removes_empty_batches(
    tmp_path: Path, make_article: Any
) -> None:
    spool = Spool(tmp_path, max_bytes=1_000_000)
    a, b, c = make_article("a"), make_article("b"), make_article("c")
    spool.put([a, b])
    spool.put([c])

    spool.discard([a.id, c.id])

    assert spool.load() == [b]
    assert len(list(tmp_path.glob("*.json"))) == 1
    spool.discard([b.id])
    assert len(spool) == 0 and spool.size_bytes() == 0


def test_a_batch_that_does_not_fit_is_refused_whole(tmp_path: Path, make_article: Any) -> None:
    one_batch = len(json.dumps([{"v": 1}]))  # lower bound; the real size is measured below
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.put([make_article("fits")])
    limit = spool.size_bytes() + one_batch  # room for nothing more than a tiny batch
    bounded = Spool(tmp_path, max_bytes=limit)

    with pytest.raises(SpoolFullError, match="NEWSFLOW_INDEX__SPOOL_MAX_BYTES"):
        bounded.put([make_article("too-much")])

    assert [a.url for a in bounded.load()] == ["https://news.example.org/fits"]
    assert bounded.size_bytes() <= limit


def test_leftover_temporary_files_from_a_crash_are_ignored(tmp_path: Path, make_article: Any) -> None:
    spool = Spool(tmp_path, max_bytes=1_000_000)
    spool.put([make_article("kept")])
    (tmp_path / ".00000000000000000001-dead.json.1234.tmp").write_text("[{\"half")

    assert [a.url for a in spool.load()] == ["https://news.example.org/kept"]


def test_an_empty_or_missing_spool_is_empty(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "never-created", max_bytes=100)
    spool.put([])

    assert spool.load() == [] and len(spool) == 0 and spool.size_bytes() == 0


@pytest.mark.parametrize("payload, reason", [
    (b'[{"v": 1, "id": "a", "docu', "invalid JSON"),
    (b'{"id": "a"}', "expected a JSON list"),
    (b'[["not", "a record"]]', "not an article record"),
    (b'[{"v": 9, "id": "a", "document": {}}]', "format version 9"),
    (b'[{"v": 1, "id": "a", "document": {"url": "https://x.org/a"}}]', "does not validate"),
    (b"\xff\xfe garbage", "not UTF-8"),
])
def test_a_corrupt_batch_is_quarantined_with_its_reason_and_the_others_load(
    tmp_path: Path, make_article: Any, payload: bytes, reason: str
) -> None:
    spool = Spool(tmp_path, max_bytes=1_000_000)
    kept = make_article("kept")
    spool.put([kept])
    (tmp_path / "00000000000000000001-bad.json").write_bytes(payload)

    assert spool.load() == [kept]

    [batch] = spool.quarantined
    assert batch.name == "00000000000000000001-bad.json" and reason in batch.reason
    assert (tmp_path / "quarantine" / batch.name).read_bytes() == payload
    assert reason in (tmp_path / "quarantine" / f"{batch.name}.reason").read_text()
    assert not (tmp_path / batch.name).exists()
    assert len(spool) == 1
    assert Spool(tmp_path, max_bytes=1_000_000).load() == [kept]  # the quarantine is not a batch


def test_counting_and_discarding_read_only_the_batches_that_changed(
    tmp_path: Path, make_article: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(tmp_path, max_bytes=1_000_000)
    spool.put([make_article("a"), make_article("b")])
    spool.put([make_article("c")])
    spool.load()
    reads: list[str] = []
    original = Path.read_bytes

    def counting(path: Path) -> bytes:
        reads.append(path.name)
        return original(path)

    monkeypatch.setattr(Path, "read_bytes", counting)

    assert len(spool) == 3 and len(spool) == 3
    assert reads == []
    spool.discard([make_article("c").id])  # only the batch holding c is read (to be rewritten)
    assert len(reads) == 1 and len(spool) == 2
    assert spool.keys() == {(make_article(x).id, make_article(x).content_hash) for x in "ab"}
