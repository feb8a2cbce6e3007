"""Alerts: saved queries (percolator rules) matched against every new article, delivered once per story.

The cycle has one entry point, `AlertRun` (newsflow.alerts.processing): after indexing a batch of
articles it matches them and delivers, deciding itself whether new alerts go out at once
(`match_and_deliver`: deliver, then record each (rule, story) once) or wait for the cycle's e-mail
digest (`match_articles`, then `deliver_pending`, which also retries earlier failures).

Rules are managed with RuleStore (and `newsflow alerts add|list|remove`).

Names are imported on first use: `import newsflow.alerts.rules` does not load the senders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from newsflow.alerts.channels import Channel, parse_channel
    from newsflow.alerts.delivery import DeliveryFailure, DeliveryResult, deliver_pending
    from newsflow.alerts.engine import MatchResult, match_and_deliver, match_articles
    from newsflow.alerts.lock import RecordingLock
    from newsflow.alerts.processing import AlertRun
    from newsflow.alerts.records import AlertRecord, alert_id_for
    from newsflow.alerts.rules import Rule, RuleStore
    from newsflow.alerts.store import AlertStore
    from newsflow.core.settings import Settings

__all__ = [
    "AlertRecord",
    "AlertRun",
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
    from newsflow.alerts.lock import RecordingLock
    from newsflow.alerts.rules import RuleStore
    from newsflow.alerts.store import AlertStore

    RuleStore(client, settings).ensure()
    AlertStore(client, settings).ensure()
    RecordingLock(client, settings).ensure()


if not TYPE_CHECKING:
    from newsflow.core._exports import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, {
        "newsflow.alerts.channels": ["Channel", "parse_channel"],
        "newsflow.alerts.delivery": ["DeliveryFailure", "DeliveryResult", "deliver_pending"],
        "newsflow.alerts.engine": ["MatchResult", "match_and_deliver", "match_articles"],
        "newsflow.alerts.lock": ["RecordingLock"],
        "newsflow.alerts.processing": ["AlertRun"],
        "newsflow.alerts.records": ["AlertRecord", "alert_id_for"],
        "newsflow.alerts.rules": ["Rule", "RuleStore"],
        "newsflow.alerts.store": ["AlertStore"],
    })
