"""Saved alert rules: Lucene query strings stored as percolator queries in `<prefix>-rules`.

The rules index carries the article field mappings, so a rule's query is parsed against the same
fields as the articles it will be matched with: a syntax error or an unknown field name is refused
when the rule is added, with the parser's own message. The document id is the rule name, so adding a
rule under an existing name replaces it, and two prefixes never see each other's rules.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import elasticsearch
from elasticsearch import Elasticsearch

from enrich.spellings import table_fingerprint
from newsflow.alerts.channels import parse_channel
from newsflow.core.errors import AlertError, ElasticsearchUnavailable, QueryError, SearchTimeout
from newsflow.core.es import create_index, number_of_replicas, translate_errors
from newsflow.core.models import format_utc, parse_utc, utc_now
from newsflow.core.redact import is_redacted_channel, redact_channel
from newsflow.core.settings import Settings
from newsflow.index.entity_query import rewrite_entity_fields
from newsflow.index.mappings import ANALYSIS, ARTICLE_PROPERTIES
from newsflow.index.search import refined_query_error

# Words without a field name are looked for in title, summary and body; facets are queried by name
# (persons:"..."). In the rules index those three are copied into one field, `rule_text` (same
# analyzer; values of different fields are 100 positions apart, so a phrase never spans two), and
# rules search it: the same matches as the three fields (checked on 7,677 articles × 10,000 rules),
# with a third of the terms to check, which made percolating 10,000 rules about 30 % cheaper.
# The language copies (`i18n.<code>`, non-English text under its own stemmer) are left out of the
# defaults: with them every rule term expands to ~30 fields. A rule can still name them: `i18n.fr:cheval`.
RULE_TEXT = "rule_text"
DEFAULT_FIELDS: tuple[str, ...] = (RULE_TEXT,)
_COPIED_TO_RULE_TEXT = ("title", "summary", "body")
# Bumped when rule_query() changes: `RuleStore.ensure` saves every rule again with the current form.
# 3: queries on persons/organizations/locations search every spelling (newsflow/index/entity_query.py).
# 4: ... also the value without a title or possessive, every spelling of the table's entity it names
#    and the spelling key of each (enrich/spellings.py). The queries name the table's spellings, so the
#    rules are also saved again when the entity table changes (`_meta.entity_table`, its fingerprint).
RULE_QUERY_VERSION = 4

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_UNMAPPED = re.compile(r"unmapped fields \[([^\]]*)\]")
_PAGE = 1000

RULE_PROPERTIES: dict[str, Any] = {
    "query": {"type": "percolator"},
    "rule": {
        "type": "object",
        "dynamic": "strict",
        "properties": {
            "name": {"type": "keyword"},
            "query": {"type": "keyword", "ignore_above": 8191},
            "channels": {"type": "keyword"},
            "created_at": {"type": "date"},
            "digest": {"type": "keyword"},
            "timezone": {"type": "keyword"},
            "kind": {"type": "keyword"},  # "spike" or "first_seen" (newsflow.alerts.signals); else absent
            "signal": {"type": "object", "enabled": False},
            "on_edit": {"type": "boolean"},
        },
    },
}


def rules_index(settings: Settings) -> str:
    return settings.index_name("rules")


def rules_mappings() -> dict[str, Any]:
    """The article fields (what queries name) plus the percolator field and the rule's own data."""
    properties = {**ARTICLE_PROPERTIES, **RULE_PROPERTIES}
    for name in _COPIED_TO_RULE_TEXT:
        properties[name] = {**properties[name], "copy_to": RULE_TEXT}
    properties[RULE_TEXT] = {"type": "text", "analyzer": properties["body"]["analyzer"]}
    return {"dynamic": "strict",
            "_meta": {"rule_query_version": RULE_QUERY_VERSION, "entity_table": table_fingerprint()},
            "properties": properties}


def rule_query(query: str) -> dict[str, Any]:
    """The stored percolator query of a rule's query string (entity fields search every spelling)."""
    # No leading wildcards: every article would make the percolator walk the rule's whole field.
    return {"query_string": {"query": rewrite_entity_fields(query), "fields": list(DEFAULT_FIELDS),
                             "allow_leading_wildcard": False}}


def check_rule_name(name: str) -> str:
    if not _NAME.match(name):
        raise AlertError(
            f"invalid rule name {name!r}: use 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


DIGEST_PERIODS = ("hourly", "daily", "weekly")


def check_digest(digest: str, timezone: str) -> None:
    """Refuse an unknown digest period or time zone. Pure (reads the time zone database)."""
    if digest and digest not in DIGEST_PERIODS:
        raise AlertError(f"unknown digest period {digest!r}: use one of {', '.join(DIGEST_PERIODS)}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise AlertError(f"unknown time zone {timezone!r}: use an IANA name such as UTC, "
                         "Europe/Berlin or America/New_York") from exc


SIGNAL_KINDS = ("spike", "first_seen")
SIGNAL_FIELDS = ("persons", "organizations", "locations", "topics")


@dataclass(frozen=True, slots=True)
class Signal:
    """What a volume rule watches (newsflow.alerts.signals): the values of one entity or topic field
    among the articles published in the last `window` seconds (narrowed by the rule's query)."""

    kind: str  # spike: unusually many articles name a value; first_seen: a value never seen before
    field: str  # persons | organizations | locations | topics
    window: float = 3600.0  # seconds
    # spike: at least `threshold` times the value's mean per window over the baseline before it
    threshold: float = 3.0
    min_count: int = 3  # articles in the window naming the value, at least
    cooldown: float = 6 * 3600.0  # seconds after an alert on a value before it may alert again
    baseline: float = 7 * 86400.0  # seconds before the window counted as usual (first_seen: never seen in it)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "field": self.field, "window": self.window, "threshold": self.threshold,
                "min_count": self.min_count, "cooldown": self.cooldown, "baseline": self.baseline}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Signal:
        return cls(kind=data["kind"], field=data["field"], window=float(data["window"]),
                   threshold=float(data["threshold"]), min_count=int(data["min_count"]),
                   cooldown=float(data["cooldown"]), baseline=float(data["baseline"]))

    def check(self) -> None:
        if self.kind not in SIGNAL_KINDS:
            raise AlertError(f"unknown signal {self.kind!r}: use one of {', '.join(SIGNAL_KINDS)}")
        if self.field not in SIGNAL_FIELDS:
            raise AlertError(f"a {self.kind} rule watches one of {', '.join(SIGNAL_FIELDS)}, "
                             f"not {self.field!r}")
        if self.min_count < 1 or self.threshold <= 0:
            raise AlertError("--min-count must be at least 1 and --threshold above 0")
        if self.baseline <= self.window:
            raise AlertError("the baseline must be longer than the window")


@dataclass(frozen=True, slots=True)
class Rule:
    """A saved query and where its alerts go."""

    name: str
    query: str  # Lucene query string over the article fields
    channels: tuple[str, ...]  # canonical channel texts (see newsflow.alerts.channels)
    created_at: datetime  # UTC; when this version of the rule was saved
    # "" (each new story alerted at once) or a digest period: one message per period
    # (newsflow.alerts.digests), periods counted in `timezone` (an IANA name).
    digest: str = ""
    timezone: str = "UTC"
    # A volume rule (spike or first-seen of an entity), checked each cycle: it has no percolator
    # query, so no article alerts it on its own; its query narrows the articles counted.
    signal: Signal | None = None
    # Also alert when an article the rule matches is updated (its content changed): once per
    # revision (newsflow/index/revisions.py), the alert carrying "revision".
    on_edit: bool = False

    def to_source(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": self.name,
            "query": self.query,
            "channels": list(self.channels),
            "created_at": format_utc(self.created_at),
        }
        if self.digest:
            meta["digest"] = self.digest
            meta["timezone"] = self.timezone
        if self.on_edit:
            meta["on_edit"] = True
        if self.signal is not None:
            meta["kind"] = self.signal.kind
            meta["signal"] = self.signal.to_json()
            return {"rule": meta}
        return {"query": rule_query(self.query), "rule": meta}

    @classmethod
    def from_source(cls, source: Mapping[str, Any]) -> Rule:
        meta = source["rule"]
        return cls(
            name=meta["name"],
            query=meta["query"],
            channels=tuple(meta.get("channels") or ()),
            created_at=parse_utc(meta["created_at"]),
            digest=meta.get("digest") or "",
            timezone=meta.get("timezone") or "UTC",
            signal=Signal.from_json(meta["signal"]) if meta.get("signal") else None,
            on_edit=bool(meta.get("on_edit")),
        )


class RuleStore:
    """Add, list and remove the rules of one index prefix."""

    def __init__(self, client: Elasticsearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = rules_index(settings)

    def ensure(self) -> None:
        """Create the rules index, or add article fields that appeared since it was created (and
        save the rules again if their stored queries are of an earlier form or name the spellings of
        another entity table)."""
        with translate_errors(self.settings.es_url_redacted):
            if self.client.indices.exists(index=self.index):
                mapping = self.client.indices.get_mapping(index=self.index)
                meta = next(iter(mapping.values()))["mappings"].get("_meta") or {}
                wanted = rules_mappings()
                self.client.indices.put_mapping(index=self.index, dynamic=wanted["dynamic"],
                                                properties=wanted["properties"])
                if any(meta.get(key) != value for key, value in wanted["_meta"].items()):
                    self._save_again()  # then the version, so a failure here is retried next time
                    self.client.indices.put_mapping(index=self.index, meta=wanted["_meta"])
                return
        self._create()

    def _save_again(self) -> None:
        """Store every rule's percolator query in the current form (the percolator keeps the query
        as parsed when the rule was saved)."""
        rules = self.list()
        for start in range(0, len(rules), _PAGE):
            operations: list[dict[str, Any]] = []
            for rule in rules[start:start + _PAGE]:
                operations += [{"index": {"_index": self.index, "_id": rule.name}}, rule.to_source()]
            with translate_errors(self.settings.es_url_redacted):
                response = self.client.bulk(operations=operations, refresh=True,
                                            filter_path="errors,items.*._id,items.*.error")
            if response.get("errors"):
                self._save_again_leniently(rules[start:start + _PAGE], response["items"])
        if rules:
            log.info("rules: %d saved again in the current query form", len(rules))

    def _save_again_leniently(self, rules: Sequence[Rule], items: Sequence[Mapping[str, Any]]) -> None:
        """A rule saved before leading wildcards were refused cannot be stored in the new form: it
        keeps working as it was saved (leading wildcards allowed for it alone), with a warning, so
        one old rule never makes `setup` fail for good."""
        refused = {str(info.get("_id")) for item in items for info in item.values() if "error" in info}
        failed = [rule for rule in rules if rule.name in refused]
        for rule in failed:
            source = rule.to_source()
            source["query"]["query_string"]["allow_leading_wildcard"] = True
            with translate_errors(self.settings.es_url_redacted):
                response = self.client.options(ignore_status=400).index(
                    index=self.index, id=rule.name, document=source, refresh=True)
            if response.get("error"):
                raise AlertError(f"could not save rule {rule.name!r} of {self.index} again: "
                                 f"{response['error']}; fix its query with `newsflow alerts add` "
                                 "(same name) or remove it")
            log.warning("rule %r has a leading wildcard, which new rules may not use; it keeps "
                        "working, but re-add it without one (it is slow on every article)", rule.name)

    def ensure_exists(self) -> None:
        """Create the rules index if it is missing (no mapping upgrade: that is `ensure`, at setup)."""
        with translate_errors(self.settings.es_url_redacted):
            if self.client.indices.exists(index=self.index):
                return
        self._create()

    def _create(self) -> None:
        with translate_errors(self.settings.es_url_redacted):
            create_index(
                self.client, index=self.index,
                settings={
                    "number_of_shards": 1,
                    "number_of_replicas": number_of_replicas(self.settings, self.client),
                    "analysis": ANALYSIS,
                },
                mappings=rules_mappings(),
            )  # False: another process created it first, which is fine

    def add(self, name: str, query: str, channels: Sequence[str], *, digest: str = "",
            timezone: str = "UTC", signal: Signal | None = None, on_edit: bool = False) -> Rule:
        """Save a rule (replacing one of the same name). Refuses a bad name, channel, query, digest
        period or time zone. With `digest` (hourly, daily, weekly) its alerts are delivered together,
        one message per period of `timezone`. With `on_edit` it also alerts on each edit of a
        matching article."""
        check_rule_name(name)
        check_digest(digest, timezone)
        if signal is not None:
            signal.check()
        if not query.strip():
            raise AlertError(f"rule {name!r}: the query is empty (use '*' to match every article)")
        if not channels:
            raise AlertError(f"rule {name!r}: give at least one channel (webhook:, email: or log:)")
        texts = tuple(dict.fromkeys(parse_channel(c).text for c in channels))
        rule = Rule(name=name, query=query.strip(), channels=texts, created_at=utc_now(),
                    digest=digest, timezone=timezone if digest else "UTC", signal=signal,
                    on_edit=on_edit)
        if digest or signal is not None or on_edit:
            self.ensure()  # a rules index made before digests, signals or on_edit existed gains their fields
        else:
            self.ensure_exists()
        self.validate(rule.query)
        with translate_errors(self.settings.es_url_redacted):
            try:
                # Indexing parses the query against the mappings: validation and save in one step,
                # so an invalid new version never replaces a working rule.
                self.client.index(index=self.index, id=name, document=rule.to_source(),
                                  refresh=True)
            except elasticsearch.BadRequestError as exc:
                raise refined_query_error(QueryError(rule.query, parser_message(exc))) from exc
        return rule

    def validate(self, query: str) -> None:
        """Refuse a query the parser rejects, or one naming a field articles do not have.

        Elasticsearch accepts an unknown field in a query string as "matches nothing", which would be
        a rule that silently never alerts (often a typo: `persn:` for `persons:`).
        """
        seconds = self.settings.index.search_timeout
        try:
            with translate_errors(self.settings.es_url_redacted):
                response = self.client.options(
                    request_timeout=seconds, max_retries=0, retry_on_timeout=False,
                ).indices.validate_query(index=self.index, query=rule_query(query), explain=True)
        except ElasticsearchUnavailable as exc:
            if isinstance(exc.__cause__, elasticsearch.ConnectionTimeout):
                raise SearchTimeout(query, seconds) from exc
            raise
        for explanation in response.get("explanations") or []:
            if not explanation.get("valid", True):
                raise refined_query_error(
                    QueryError(query, _validation_message(str(explanation.get("error") or ""))))
            unmapped = _UNMAPPED.search(str(explanation.get("explanation") or ""))
            if unmapped:
                raise QueryError(query, f"no such field [{unmapped.group(1)}] in the article documents "
                                        "(see docs/alerts.md for the field names)")
        if not response.get("valid", True):
            raise QueryError(query, _validation_message(str(response.get("error") or "invalid query")))

    def get(self, name: str) -> Rule | None:
        with translate_errors(self.settings.es_url_redacted):
            response = self.client.options(ignore_status=404).get(index=self.index, id=name)
        return Rule.from_source(response["_source"]) if response.get("found") else None

    def list(self) -> list[Rule]:
        """Every rule, by name."""
        return list(self._iter_rules())

    def remove(self, name: str) -> bool:
        """Delete a rule; False when there was none of that name. Its past alerts are kept."""
        with translate_errors(self.settings.es_url_redacted):
            response = self.client.options(ignore_status=404).delete(
                index=self.index, id=name, refresh=True)
        return bool(response.get("result") == "deleted")

    def signal_rules(self) -> tuple[Rule, ...]:
        """The volume rules (spike, first_seen): few, found without reading every rule."""
        with translate_errors(self.settings.es_url_redacted):
            response = self.client.options(ignore_status=404).search(
                index=self.index, query={"terms": {"rule.kind": list(SIGNAL_KINDS)}}, size=_PAGE,
                sort=[{"rule.name": "asc"}], source_includes=["rule"])
        hits = (response.get("hits") or {}).get("hits") or ()
        return tuple(Rule.from_source(hit["_source"]) for hit in hits)

    def count(self) -> int:
        with translate_errors(self.settings.es_url_redacted):
            response = self.client.options(ignore_status=404).count(index=self.index)
        return int(response.get("count") or 0)

    def _iter_rules(self) -> Iterator[Rule]:
        search_after: list[Any] | None = None
        while True:
            with translate_errors(self.settings.es_url_redacted):
                response = self.client.options(ignore_status=404).search(
                    index=self.index, size=_PAGE, sort=[{"rule.name": "asc"}],
                    search_after=search_after, source_includes=["rule"])
            hits = (response.get("hits") or {}).get("hits") or []
            for hit in hits:
                yield Rule.from_source(hit["_source"])
            if len(hits) < _PAGE:
                return
            search_after = hits[-1]["sort"]


def _validation_message(error: str) -> str:
    """The parser's own message from a validate-query error (first line, no index/class prefix)."""
    start = error.find("Cannot parse")
    if start < 0:
        start = error.rfind("Exception: ", 0, error.find("\n") if "\n" in error else len(error))
        start = start + len("Exception: ") if start >= 0 else 0
    return error[start:].strip().splitlines()[0].strip() if error[start:].strip() else error


def parser_message(exc: elasticsearch.ApiError) -> str:
    """The query parser's own message from an error body (first line, without the expected-token list).

    Elasticsearch nests it: document_parsing_exception > query_shard_exception ("Failed to parse
    query [...]") > parse_exception ("Cannot parse '...': Encountered ... at line 1, column 10.").
    """
    body = exc.body if isinstance(exc.body, dict) else {}
    reasons: list[str] = []
    node: Any = body.get("error")
    while isinstance(node, dict):
        if node.get("reason"):
            reasons.append(str(node["reason"]))
        node = node.get("caused_by")
    chosen = next((r for r in reasons if r.startswith("Cannot parse")), reasons[-1] if reasons else "")
    return chosen.strip().splitlines()[0].strip() if chosen.strip() else str(exc.message or exc)


class ChannelAddresses:
    """Finds the real channel of an alert's delivery read back from the alerts index.

    The alerts index keeps a webhook URL with secrets only redacted (`webhook:<redacted>#<ref>`,
    newsflow.core.redact.redact_channel); the rule store keeps the URL itself. A redacted channel is looked
    up in its rule, then (once per run) in every rule: another rule may have the same channel. Any
    other channel is its own address. Rules are read once each per run."""

    def __init__(self, rules: RuleStore) -> None:
        self.rules = rules
        self._by_rule: dict[str, tuple[str, ...]] = {}
        self._everywhere: dict[str, str] | None = None

    def __call__(self, record: Any, delivery: Any) -> str | None:
        stored: str = delivery.channel
        if not is_redacted_channel(stored):
            return stored
        if record.rule not in self._by_rule:
            rule = self.rules.get(record.rule)
            self._by_rule[record.rule] = rule.channels if rule else ()
        for channel in self._by_rule[record.rule]:
            if redact_channel(channel) == stored:
                return channel
        if self._everywhere is None:
            self._everywhere = {redact_channel(c): c for rule in self.rules.list() for c in rule.channels}
        return self._everywhere.get(stored)
