"""Every rule with its most recent alerts: what the operators' page (the Airflow plugin) shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from elasticsearch import Elasticsearch

from newsflow.alerts.records import AlertRecord
from newsflow.alerts.rules import Rule, RuleStore, rules_index
from newsflow.alerts.store import AlertStore
from newsflow.core.es import translate_errors
from newsflow.core.settings import Settings


@dataclass(frozen=True, slots=True)
class RuleWithAlerts:
    rule: Rule
    recent: tuple[AlertRecord, ...]  # newest first


def rules_with_alerts(client: Elasticsearch, settings: Settings, *, per_rule: int = 5,
                      scan: int = 500) -> list[RuleWithAlerts]:
    """Every rule (by name) with its most recent alerts: at most `per_rule`, found among the `scan`
    newest alerts. No rules or alerts index yet means none."""
    with translate_errors(settings.es_url_redacted):
        has_rules = bool(client.indices.exists(index=rules_index(settings)))
    rules = RuleStore(client, settings).list() if has_rules else []
    records = AlertStore(client, settings).recent(limit=scan) if rules else []
    return group_alerts(rules, records, per_rule)


def group_alerts(rules: Sequence[Rule], records: Sequence[AlertRecord],
                 per_rule: int) -> list[RuleWithAlerts]:
    """Attach each rule's newest alerts (records come newest first). Pure."""
    grouped: dict[str, list[AlertRecord]] = {rule.name: [] for rule in rules}
    for record in records:
        bucket = grouped.get(record.rule)
        if bucket is not None and len(bucket) < per_rule:
            bucket.append(record)
    return [RuleWithAlerts(rule, tuple(grouped[rule.name])) for rule in rules]
