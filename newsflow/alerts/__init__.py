"""Alerts: saved queries (percolator rules) matched against every new article, delivered once per story.

The cycle calls, after indexing a batch of articles:

    ensure_alert_indices(client, settings)             # once; idempotent
    match_and_deliver(client, settings, articles)     # deliver new alerts, record each (rule, story) once
    deliver_pending(client, settings)                 # send due deliveries, retry earlier failures

(`match_articles` records new alerts pending, for a later `deliver_pending`: e-mail digests.)

Rules are managed with RuleStore (and `newsflow alerts add|list|remove`).
"""

from __future__ import annotations

from elasticsearch import Elasticsearch

from newsflow.alerts.channels import Channel, parse_channel
from newsflow.alerts.delivery import DeliveryFailure, DeliveryResult, deliver_pending
from newsflow.alerts.engine import MatchResult, match_and_deliver, match_articles
from newsflow.alerts.lock import RecordingLock
from newsflow.alerts.records import AlertRecord, alert_id_for
from newsflow.alerts.rules import Rule, RuleStore
from newsflow.alerts.store import AlertStore
from newsflow.core.settings import Settings

__all__ = [
    "AlertRecord",
    "AlertStore",
    "Channel",
    "DeliveryFailure",
    "DeliveryResult",
    "MatchResult",
    "RecordingLock",
    "Rule",
    "RuleStore",
    "alert_id_for",
    "deliver_pending",
    "ensure_alert_indices",
    "match_and_deliver",
    "match_articles",
    "parse_channel",
]


def ensure_alert_indices(client: Elasticsearch, settings: Settings) -> None:
    """Create (or add new fields to) `<prefix>-rules`, `<prefix>-alerts` and `<prefix>-locks`. Idempotent."""
    RuleStore(client, settings).ensure()
    AlertStore(client, settings).ensure()
    RecordingLock(client, settings).ensure()
