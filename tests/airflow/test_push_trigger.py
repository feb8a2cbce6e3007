"""The event of the news_push DAG, for real: a signed push accepted by the receiver touches the
marker, and the DAG's own trigger (FileDeleteTrigger, as the triggerer runs it) fires on it and
deletes it; with no push, it does not fire."""

from __future__ import annotations

import asyncio
import runpy
from collections.abc import Callable
from typing import Any

from ingest.push import PushStore, master_secret
from ingest.types import FeedSpec
from ingest.websub import derive_secret, sign
from newsflow.app.push import PushReceiver, push_marker, push_spool
from newsflow.core.es import make_client
from tests.airflow.conftest import DAGS


def _fires(trigger: Any, within: float) -> bool:
    async def first() -> bool:
        async for _event in trigger.run():
            return True
        return False

    async def bounded() -> bool:
        try:
            return await asyncio.wait_for(first(), within)
        except TimeoutError:
            return False

    return asyncio.run(bounded())


def test_an_accepted_push_fires_the_dags_trigger_which_deletes_the_marker(
        make_settings: Callable[..., Any], monkeypatch: Any) -> None:
    settings = make_settings(push={"secret": "test-master-secret"})
    monkeypatch.setenv("NEWSFLOW_HOME", str(settings.home))
    [asset] = runpy.run_path(str(DAGS / "news_push.py"))["_schedule"]("event")
    trigger = asset.watchers[0].trigger
    trigger.poke_interval = 0.1
    marker = push_marker(settings)
    assert trigger.filepath == str(marker)
    assert not _fires(trigger, 0.5)  # nothing pushed: no run

    client = make_client(settings)
    try:
        receiver = PushReceiver(settings, PushStore(client, settings))
        spec, nonce = FeedSpec(url="http://127.0.0.1:9/feed.atom"), "fixednonce01"
        body = b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title></feed>'
        secret = derive_secret(master_secret(settings), spec.key, nonce)
        assert receiver.receive(f"/websub/{spec.key}/{nonce}", sign(body, secret), "application/atom+xml",
                                body) == 202
        assert receiver.receive(f"/websub/{spec.key}/{nonce}", sign(body, "wrong"), "application/atom+xml",
                                b"other") == 403
    finally:
        client.close()
    assert marker.exists() and len(push_spool(settings).paths()) == 1
    assert _fires(trigger, 5.0)
    assert not marker.exists()  # deleted by the trigger: the next push starts the next run
    assert len(push_spool(settings).paths()) == 1  # the spool is the DAG run's to process
