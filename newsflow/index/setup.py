"""Create or upgrade everything the project keeps in Elasticsearch under the index prefix.

Layout (prefix `p`, from NEWSFLOW_INDEX_PREFIX):

    component templates  p-articles-settings, p-articles-mappings
    index template       p-articles            matches p-articles-*, composed of the two above
    ILM policy           p-articles            hot: rollover at IndexSettings.rollover_max_age or
                                               rollover_max_primary_shard_size; delete after
                                               IndexSettings.retention (no delete phase when "")
    indices              p-articles-000001...  time-based; created by rollover
    alias                p-articles            every articles index; the newest is the write index
    dead-letter index    p-deadletter          documents Elasticsearch refused, with the reason
    revisions            p-revisions           previous versions of updated articles, with a policy,
                                               template and rollover of their own (index/revisions.py)

Search, Kibana and alerts read through the alias. `ensure_indices` is idempotent: templates and the
policy are put again (an upgrade reaches new indices at the next rollover; new fields are also added to
the existing indices' mappings), while indices and the alias are created only when missing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import elasticsearch
from elasticsearch import Elasticsearch

from newsflow.core.es import create_index, number_of_replicas, translate_errors
from newsflow.core.settings import Settings
from newsflow.index.mappings import ANALYSIS, SOURCE_EXCLUDES, article_mappings
from newsflow.index.revisions import RevisionNames, ensure_revisions
from newsflow.index.spelling_keys import META_KEY, SPELLING_KEYS, add_spelling_keys

log = logging.getLogger(__name__)

TEMPLATE_PRIORITY = 200  # above Elasticsearch's built-in templates (100)


@dataclass(frozen=True, slots=True)
class IndexNames:
    """Every name the index layer uses under one prefix."""

    prefix: str

    @property
    def alias(self) -> str:
        return f"{self.prefix}-articles"

    @property
    def pattern(self) -> str:
        return f"{self.prefix}-articles-*"

    @property
    def first_index(self) -> str:
        return f"{self.prefix}-articles-000001"

    @property
    def settings_component(self) -> str:
        return f"{self.prefix}-articles-settings"

    @property
    def mappings_component(self) -> str:
        return f"{self.prefix}-articles-mappings"

    @property
    def index_template(self) -> str:
        return f"{self.prefix}-articles"

    @property
    def ilm_policy(self) -> str:
        return f"{self.prefix}-articles"

    @property
    def deadletter(self) -> str:
        return f"{self.prefix}-deadletter"

    @property
    def alert_queue(self) -> str:
        return f"{self.prefix}-alert-queue"

    @property
    def revisions(self) -> str:
        return RevisionNames(self.prefix).alias


def names_for(settings: Settings) -> IndexNames:
    return IndexNames(settings.index_prefix)


# Articles not yet matched against the alert rules: one tiny document per article id, written before
# the article is indexed and deleted once the rules were matched. (A flag on the article itself cost a
# partial update per article, which re-indexes the whole document.)
ALERT_QUEUE_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {"queued_at": {"type": "date"}},
}

DEADLETTER_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "article_id": {"type": "keyword"},
        "failed_at": {"type": "date"},
        "reason": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}},
        "error_type": {"type": "keyword"},
        "status": {"type": "integer"},
        "index": {"type": "keyword"},
        "url": {"type": "keyword"},
        # The refused document as JSON text: kept whole, never parsed by the mapping again.
        "document": {"type": "text", "index": False},
    },
}


def ilm_policy(settings: Settings) -> dict[str, Any]:
    """The lifecycle policy body: roll over in the hot phase, delete after the retention period."""
    index = settings.index
    phases: dict[str, Any] = {
        "hot": {
            "min_age": "0ms",
            "actions": {
                "rollover": {
                    "max_age": index.rollover_max_age,
                    "max_primary_shard_size": index.rollover_max_primary_shard_size,
                }
            },
        }
    }
    if index.retention:
        phases["delete"] = {"min_age": index.retention, "actions": {"delete": {}}}
    return {"phases": phases, "_meta": {"managed_by": "newsflow"}}


def settings_component(settings: Settings, replicas: int) -> dict[str, Any]:
    names = names_for(settings)
    return {
        "settings": {
            "number_of_shards": settings.index.shards,
            "number_of_replicas": replicas,
            "index.lifecycle.name": names.ilm_policy,
            "index.lifecycle.rollover_alias": names.alias,
            # Unqualified terms (Kibana's Lucene mode, alert rules) search the text fields.
            "index.query.default_field": [
                "title", "summary", "body", "title.exact", "summary.exact", "body.exact", "i18n.*",
            ],
        }
    }


def mappings_component() -> dict[str, Any]:
    # The analyzers travel with the mappings: Elasticsearch validates each component on its own.
    return {
        "settings": {"analysis": ANALYSIS},
        # New indices are born with the spelling keys in their documents (index/spelling_keys.py).
        "mappings": {**article_mappings(), "_source": {"excludes": SOURCE_EXCLUDES},
                     "_meta": {META_KEY: SPELLING_KEYS}},
    }


def ensure_indices(client: Elasticsearch, settings: Settings) -> None:
    """Create or upgrade the templates, lifecycle policy, first index, alias and dead-letter index."""
    names = names_for(settings)
    replicas = number_of_replicas(settings, client)
    with translate_errors(settings.es_url_redacted):
        client.ilm.put_lifecycle(name=names.ilm_policy, policy=ilm_policy(settings))
        client.cluster.put_component_template(
            name=names.settings_component, template=settings_component(settings, replicas),
            meta={"managed_by": "newsflow"},
        )
        client.cluster.put_component_template(
            name=names.mappings_component, template=mappings_component(),
            meta={"managed_by": "newsflow"},
        )
        client.indices.put_index_template(
            name=names.index_template,
            index_patterns=[names.pattern],
            composed_of=[names.settings_component, names.mappings_component],
            priority=TEMPLATE_PRIORITY,
            meta={"managed_by": "newsflow", "alias": names.alias},
        )
        if client.indices.exists_alias(name=names.alias):
            _upgrade_existing_mappings(client, names)
            add_spelling_keys(client, names.alias)  # to articles indexed before documents had them
        else:
            first = {"aliases": {names.alias: {"is_write_index": True}}}
            _create_if_missing(client, names.first_index, first)
        _create_if_missing(client, names.deadletter, {
            "settings": {"number_of_shards": 1, "number_of_replicas": replicas},
            "mappings": DEADLETTER_MAPPINGS,
        })
        _create_if_missing(client, names.alert_queue, {
            "settings": {"number_of_shards": 1, "number_of_replicas": replicas},
            "mappings": ALERT_QUEUE_MAPPINGS,
        })
        ensure_revisions(client, settings)


def _create_if_missing(client: Elasticsearch, name: str, body: dict[str, Any]) -> None:
    # Two processes may set up at once: "already exists" is success.
    if create_index(client, index=name, **body):
        log.info("created index %s", name)


def _upgrade_existing_mappings(client: Elasticsearch, names: IndexNames) -> None:
    """Add new fields to the indices that exist already; an incompatible change waits for rollover."""
    try:
        client.indices.put_mapping(index=names.alias, **article_mappings())
    except elasticsearch.BadRequestError as exc:
        log.warning(
            "the mappings of the existing %s indices could not be upgraded in place (%s); "
            "new indices get the new mappings at the next rollover", names.alias, exc.message,
        )


def rollover(client: Elasticsearch, settings: Settings) -> str:
    """Roll the alias over to a new index now (ILM does this on its own schedule); the new index name."""
    with translate_errors(settings.es_url_redacted):
        response = client.indices.rollover(alias=names_for(settings).alias)
    return str(response["new_index"])
