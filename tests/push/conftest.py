"""Fixtures of the push tests: the local hub, push settings, the receiver in this process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ingest.push import PushStore
from newsflow.app.push import PushServer
from newsflow.core.es import make_client
from tests.support.websub_hub import LocalHub


@pytest.fixture
def hub() -> Iterator[LocalHub]:
    with LocalHub() as running:
        yield running


@pytest.fixture
def push_settings(make_settings: Callable[..., Any]) -> Any:
    return make_settings(push={"secret": "test-master-secret", "rate_burst": 5, "rate_per_feed": 0.01,
                               "max_body_bytes": 64 * 1024})


@pytest.fixture
def receiver(push_settings: Any) -> Iterator[tuple[PushServer, Any]]:
    """The receiver in this process (port 0), and the settings whose callback URL points at it."""
    client = make_client(push_settings)
    PushStore(client, push_settings).ensure()
    with PushServer(push_settings, client, port=0) as server:
        settings = push_settings.model_copy(update={"push": push_settings.push.model_copy(
            update={"callback_url": f"{server.url}/websub"})})
        yield server, settings
    client.close()
