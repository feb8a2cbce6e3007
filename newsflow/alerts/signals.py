"""Volume rules: alert when an entity's or topic's volume spikes, or when one appears for the first time.

A volume rule (`newsflow alerts add NAME --spike persons` or `--first-seen organizations`) has no
percolator query: no single article alerts it. Each cycle, after the articles are indexed,
`check_signals` counts the values of the rule's field among the articles published in the last
`window` (narrowed by the rule's query) and compares each with its count over the `baseline` before:

- spike: count >= min_count and count >= threshold x the value's mean count per window over the
  baseline (at least 1, so a value never seen before needs `threshold` articles too);
- first_seen: count >= min_count and not one article of the baseline names the value.

Once per (rule, value, window): the alert's id is a hash of the rule, the value and the start of the
window-aligned bucket the check ran in, so every cycle of that bucket finds the same id and creates
nothing new; and after an alert on a value, the `cooldown` passes before it may alert again (the
ids of the buckets within the cool-down are looked up). The alert goes out like any other, over the
rule's channels with the same retries, carrying `signal` and the value's first story as `article`.

`find_signal_hits` is pure over the aggregation answers; `check_signals` does the I/O.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from newsflow.alerts.delivery import Recorded, deliver_then_record
from newsflow.alerts.records import AlertArticle, AlertRecord, ChannelDelivery, SignalHit
from newsflow.alerts.rules import Rule, RuleStore, Signal
from newsflow.alerts.store import AlertStore
from newsflow.core.es import translate_errors
from newsflow.core.models import format_utc, parse_utc, utc_now
from newsflow.core.redact import redact_channel
from newsflow.core.settings import Settings
from newsflow.index.search import build_query

log = logging.getLogger(__name__)

MAX_VALUES = 50  # values of one rule considered per check (the commonest in the window)


@dataclass(frozen=True, slots=True)
class WindowCount:
    """One value's articles in the window, with its first article (the alert's `article`)."""

    value: str
    count: int
    stories: int
    first: AlertArticle
    first_story: str


def bucket_start(now: datetime, window: float) -> datetime:
    """The start of the window-aligned bucket holding `now` (counted from the Unix epoch). Pure."""
    seconds = math.floor(now.timestamp() / window) * window
    return datetime.fromtimestamp(seconds, tz=UTC)


def signal_alert_id(rule: str, value: str, bucket: datetime) -> str:
    return hashlib.sha256(f"{rule}\nsignal\n{value}\n{format_utc(bucket)}".encode()).hexdigest()[:32]


def cooldown_ids(rule: str, value: str, bucket: datetime, signal: Signal) -> list[str]:
    """The alert ids of the earlier buckets within the cool-down. Pure."""
    steps = math.ceil(signal.cooldown / signal.window)
    return [signal_alert_id(rule, value, bucket - timedelta(seconds=signal.window * step))
            for step in range(1, steps + 1)]


def find_signal_hits(signal: Signal, window: Sequence[WindowCount], baseline: Mapping[str, int],
                     window_start: datetime, window_end: datetime) -> list[tuple[WindowCount, SignalHit]]:
    """The values that alert, with what was seen. `baseline`: value -> articles in the baseline. Pure."""
    windows_in_baseline = signal.baseline / signal.window
    hits: list[tuple[WindowCount, SignalHit]] = []
    for counted in window:
        if counted.count < signal.min_count:
            continue
        before = baseline.get(counted.value, 0)
        mean = before / windows_in_baseline
        if signal.kind == "first_seen":
            if before:
                continue
        elif counted.count < signal.threshold * max(mean, 1.0):
            continue
        hits.append((counted, SignalHit(kind=signal.kind, field=signal.field, value=counted.value,
                                        count=counted.count, stories=counted.stories, baseline_mean=mean,
                                        window_start=window_start, window_end=window_end)))
    return hits


def check_signals(client: Elasticsearch, settings: Settings, *, now: datetime | None = None,
                  down: dict[str, str] | None = None) -> Recorded:
    """Check every volume rule and deliver (then record) the alerts it raises, once per (rule, value,
    window) and cool-down."""
    now = now or utc_now()
    rules = RuleStore(client, settings).signal_rules()
    if not rules:
        return Recorded()
    store = AlertStore(client, settings)
    records: list[AlertRecord] = []
    for rule in rules:
        records += _rule_records(client, settings, store, rule, now)
    if not records:
        return Recorded()
    recorded = deliver_then_record(client, settings, records, now=now, down={} if down is None else down)
    log.info("volume rules: %d new alerts (%d already alerted)", recorded.created, recorded.already_recorded)
    return recorded


def _rule_records(client: Elasticsearch, settings: Settings, store: AlertStore, rule: Rule,
                  now: datetime) -> list[AlertRecord]:
    signal = rule.signal
    assert signal is not None
    window_start = now - timedelta(seconds=signal.window)
    counts = window_counts(client, settings, rule, window_start, now)
    if not counts:
        return []
    baseline = baseline_counts(client, settings, rule, [c.value for c in counts],
                               window_start - timedelta(seconds=signal.baseline), window_start)
    hits = find_signal_hits(signal, counts, baseline, window_start, now)
    if not hits:
        return []
    bucket = bucket_start(now, signal.window)
    earlier = store.existing([i for counted, _ in hits for i in cooldown_ids(rule.name, counted.value, bucket,
                                                                             signal)])
    records = []
    for counted, hit in hits:
        if any(i in earlier for i in cooldown_ids(rule.name, counted.value, bucket, signal)):
            continue  # alerted on this value within the cool-down
        records.append(AlertRecord(
            id=signal_alert_id(rule.name, counted.value, bucket), rule=rule.name, query=rule.query,
            story_id=counted.first_story, article=counted.first, matched_at=now,
            deliveries=tuple(ChannelDelivery(channel=redact_channel(c), next_attempt_at=now, address=c)
                             for c in rule.channels),
            signal=hit))
    return records


def window_counts(client: Elasticsearch, settings: Settings, rule: Rule, start: datetime,
                  end: datetime) -> list[WindowCount]:
    """The commonest values of the rule's field among its articles published in [start, end]."""
    signal = rule.signal
    assert signal is not None
    query = _articles_query(rule, start, end)
    with translate_errors(settings.es_url_redacted):
        response = client.options(ignore_status=404).search(
            index=settings.index_name("articles"), size=0, query=query,
            aggs={"values": {"terms": {"field": signal.field, "size": MAX_VALUES,
                                       "min_doc_count": signal.min_count},
                             "aggs": {"stories": {"cardinality": {"field": "story_id"}},
                                      "first": {"top_hits": {"size": 1, "sort": [{"published_at": "asc"}],
                                                             "_source": ["id", "title", "url", "source",
                                                                         "published_at", "story_id"]}}}}})
    counts = []
    for bucket in ((response.get("aggregations") or {}).get("values") or {}).get("buckets") or ():
        [hit] = bucket["first"]["hits"]["hits"]
        source = hit["_source"]
        first = AlertArticle(id=source.get("id") or hit["_id"], title=source.get("title") or "",
                             url=source.get("url") or "", source=source.get("source") or "",
                             published_at=parse_utc(source["published_at"]))
        counts.append(WindowCount(value=bucket["key"], count=int(bucket["doc_count"]),
                                  stories=int(bucket["stories"]["value"]), first=first,
                                  first_story=source.get("story_id") or first.id))
    return counts


def baseline_counts(client: Elasticsearch, settings: Settings, rule: Rule, values: Sequence[str],
                    start: datetime, end: datetime) -> dict[str, int]:
    """value -> the rule's articles published in [start, end) that name it."""
    signal = rule.signal
    assert signal is not None
    query = _articles_query(rule, start, end, end_inclusive=False)
    with translate_errors(settings.es_url_redacted):
        response = client.options(ignore_status=404).search(
            index=settings.index_name("articles"), size=0, query=query,
            aggs={"values": {"terms": {"field": signal.field, "include": list(values),
                                       "size": len(values)}}})
    return {bucket["key"]: int(bucket["doc_count"])
            for bucket in ((response.get("aggregations") or {}).get("values") or {}).get("buckets") or ()}


def _articles_query(rule: Rule, start: datetime, end: datetime, *,
                    end_inclusive: bool = True) -> dict[str, Any]:
    """The rule's query (as `newsflow search` runs it) over the articles published in the span."""
    query = build_query(rule.query, (), None)
    published = {"gte": format_utc(start), ("lte" if end_inclusive else "lt"): format_utc(end)}
    query["bool"]["filter"].append({"range": {"published_at": published}})
    return query
