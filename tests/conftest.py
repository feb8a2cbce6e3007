"""Shared fixtures: the real local Elasticsearch, per-test index prefixes, local feed servers.

The session brings the local Elasticsearch up if it is not running (and stops it at the end if it
started it). Every test that touches Elasticsearch gets its own NEWSFLOW_INDEX_PREFIX, so tests never
see each other's data; everything under the session's prefixes is deleted at the end.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
# The read-only corpus beside the checkout (as CI has it); elsewhere, point NEWSFLOW_SHARED_DIR at it.
SHARED = Path(os.environ.get("NEWSFLOW_SHARED_DIR") or REPO.parent / "shared")
# Local feed servers listen on 127.0.0.1: tests opt in to private addresses explicitly, in settings
# (OPT_IN_FETCH) and in the environment of every `newsflow` subprocess (OPT_IN_ENV).
OPT_IN_FETCH: dict[str, object] = {"allow_private_addresses": True}
OPT_IN_ENV = {"NEWSFLOW_FETCH__ALLOW_PRIVATE_ADDRESSES": "true"}
CORPUS = SHARED / "corpus"
SAMPLES = REPO / "samples"

_SESSION_PREFIX = f"t{uuid.uuid4().hex[:8]}"
_counter = itertools.count()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `drill` (the scale-out rig's failure drills, minutes each) run only when
    NEWSFLOW_DRILLS=1: the test command must stay within 20 minutes on two cores, and the drills are
    commands of their own (`newsflow rig drill`, `newsflow rig drill-es`).

    Tests marked `corpus` need the shared corpus. A clone without it skips them, saying where it
    looked; under CI a missing corpus is an error, so those tests never pass by being skipped."""
    if os.environ.get("NEWSFLOW_DRILLS") != "1":
        opt_in = pytest.mark.skip(reason="a scale-out drill of several minutes, kept out of the test "
                                   "command's 20-minute budget: run it with NEWSFLOW_DRILLS=1, "
                                   "or as `newsflow rig drill` (docs/airflow.md)")
        for item in items:
            if "drill" in item.keywords:
                item.add_marker(opt_in)
    if CORPUS.is_dir() or not any("corpus" in item.keywords for item in items):
        return
    where = f"the shared corpus is not at {CORPUS} (set NEWSFLOW_SHARED_DIR to the folder holding corpus/)"
    if os.environ.get("CI"):
        raise pytest.UsageError(where)
    skip = pytest.mark.skip(reason=where)
    for item in items:
        if "corpus" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    """The URL of a healthy local Elasticsearch (started for the session if it was not running)."""
    from newsflow.core.settings import load_settings
    from newsflow.dev.stack import LocalElasticsearch

    stack = LocalElasticsearch(load_settings(home=_stack_home()))
    started_here = not stack.status().healthy
    if started_here:
        stack.up()
    yield stack.url
    if started_here:
        stack.down()


def _stack_home() -> Path:
    # The stack lives in the real NEWSFLOW_HOME (installed once, shared with the CLI).
    from newsflow.core.settings import default_home

    return Path(os.environ["NEWSFLOW_HOME"]) if os.environ.get("NEWSFLOW_HOME") else default_home()


@pytest.fixture(scope="session")
def _es_cleanup(es_url: str) -> Iterator[None]:
    yield
    from elasticsearch import Elasticsearch

    from newsflow.index.cleanup import delete_prefix

    # Deleting a few hundred test indices can take a while on a loaded two-core machine.
    client = Elasticsearch(es_url, request_timeout=120)
    delete_prefix(client, _SESSION_PREFIX)
    client.close()


# Prefixes of finished tests whose indices are not deleted yet: deleted in batches while the session
# runs, because a cluster holds at most 1,000 open shards and the whole suite creates more.
_finished_prefixes: list[str] = []
_DELETE_BATCH = 40


def _delete_finished_indices(es_url: str) -> None:
    from elasticsearch import Elasticsearch

    patterns = ",".join(f"{prefix}-*" for prefix in _finished_prefixes)
    _finished_prefixes.clear()
    client = Elasticsearch(es_url, request_timeout=120)
    quiet = client.options(ignore_status=404)
    found = quiet.indices.get(index=patterns, expand_wildcards="all", allow_no_indices=True)
    names = list(found.body) if found else []
    for start in range(0, len(names), 50):
        quiet.indices.delete(index=",".join(names[start:start + 50]))
    client.close()


@pytest.fixture
def make_settings(
    es_url: str, _es_cleanup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Any]]:
    """Build Settings for a test: a fresh index prefix and home of its own, real Elasticsearch. The
    test's indices are deleted some tests later (templates and policies at the session's end)."""
    from newsflow.core.settings import load_settings

    prefixes: list[str] = []

    def factory(**overrides: Any) -> Any:
        prefix = f"{_SESSION_PREFIX}-{next(_counter)}"
        prefixes.append(prefix)
        values: dict[str, Any] = {
            "es_url": es_url,
            "index_prefix": prefix,
            "home": tmp_path_factory.mktemp("home"),
        }
        values.update(overrides)
        # The feed servers of the tests listen on 127.0.0.1, which the production address policy
        # refuses: tests opt in explicitly (a test of the policy itself passes its own fetch group).
        fetch = values.get("fetch")
        if fetch is None or isinstance(fetch, dict):
            values["fetch"] = {**OPT_IN_FETCH, **(fetch or {})}
        return load_settings(**values)

    yield factory
    _finished_prefixes.extend(prefixes)
    if len(_finished_prefixes) >= _DELETE_BATCH:
        _delete_finished_indices(es_url)


@pytest.fixture
def settings(make_settings: Callable[..., Any]) -> Any:
    """Settings with a fresh index prefix and home, talking to the real local Elasticsearch."""
    return make_settings()


@pytest.fixture
def es_client(settings: Any) -> Iterator[Any]:
    from newsflow.core.es import make_client

    client = make_client(settings)
    yield client
    client.close()


@pytest.fixture
def offline_settings(tmp_path: Path) -> Any:
    """Settings for tests that need no Elasticsearch (pure logic, parsing, enrichment)."""
    from newsflow.core.settings import load_settings

    return load_settings(home=tmp_path, index_prefix="offline", es_url="http://127.0.0.1:9",
                         fetch=OPT_IN_FETCH)


@pytest.fixture
def feed_server() -> Iterator[Any]:
    """A real HTTP server on 127.0.0.1 serving programmable routes (tests/support/feedserver.py)."""
    from tests.support.feedserver import FeedServer

    with FeedServer(root=SAMPLES / "feeds") as server:
        yield server
