"""The news_ingest DAG's shards with e-mail digests: each shard matches as it indexes, and the run's
`alerts` task sends each rule's alerts of every shard as one digest (real SMTP, Elasticsearch and
feed server)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from newsflow.alerts import alert_id_for
from newsflow.alerts.rules import RuleStore
from newsflow.app import tasks

pytestmark = pytest.mark.es


def test_digests_of_several_shards_go_out_once_per_rule_from_the_alerts_task(
    alert_settings: Callable[..., Any], es_client: Any, smtp_inbox: Any, feed_server: Any, tmp_path: Path,
) -> None:
    settings = alert_settings(smtp_host=smtp_inbox.host, smtp_port=smtp_inbox.port, email_digest=True)
    RuleStore(es_client, settings).add("inflation", "title:inflation", ["email:desk@example.org"])
    world, business = feed_server.url("/world.xml"), feed_server.url("/business.atom")
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - url: {world}\n  - url: {business}\n", encoding="utf-8")

    shards = [tasks.ingest_shard(str(feeds), [url], settings=settings) for url in (world, business)]
    assert [(s["alerts"]["created"], s["alerts"]["sent"]) for s in shards] == [(1, 0), (1, 0)]
    assert smtp_inbox.messages(to="desk@example.org") == []  # left for the run's alerts task

    first = tasks.process_alerts(settings=settings)
    again = tasks.process_alerts(settings=settings)

    assert (first["created"], first["sent"]) == (0, 2)  # created by the shards, sent here
    assert (again["created"], again["sent"]) == (0, 0)
    messages = smtp_inbox.messages(to="desk@example.org")
    assert [m["Subject"] for m in messages] == ["[newsflow] inflation: 2 new stories"]
    attachment = next(part for part in messages[0].walk() if part.get_filename() == "alerts.json")
    alerts = json.loads(attachment.get_payload(decode=True))
    assert {a["id"] for a in alerts} == {alert_id_for("inflation", a["story_id"]) for a in alerts}
    assert len({a["story_id"] for a in alerts}) == 2
