"""Index set-up: everything the project keeps in Elasticsearch under the index prefix.

`ensure_all` creates or upgrades it all (templates, ILM policy, alias and indices, the rules saved
again in their current form): that is `newsflow setup`. A cycle (`newsflow run`, the Airflow tasks)
calls `ensure_present` instead: once per process and cluster and prefix, it creates what is
missing, and when everything is there it sends nothing but existence checks; upgrades are left to
`newsflow setup`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from newsflow.core.es import translate_errors
from newsflow.core.settings import Settings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

_present: set[tuple[str, str]] = set()  # (Elasticsearch URL, index prefix) set up in this process
_lock = threading.Lock()


def ensure_all(client: Elasticsearch, settings: Settings) -> None:
    """Create or upgrade everything under the prefix: article templates, ILM policy, alias,
    dead-letter, alert-queue, feed-state, rules, alerts and locks indices. Idempotent."""
    from ingest.state import FeedStateStore
    from newsflow.alerts import ensure_alert_indices
    from newsflow.index.setup import ensure_indices

    ensure_indices(client, settings)
    FeedStateStore(client, settings).ensure()
    ensure_alert_indices(client, settings)
    with _lock:
        _present.add(_key(settings))


def ensure_present(client: Elasticsearch, settings: Settings) -> None:
    """Create whatever is missing under the prefix (`ensure_all` if anything is); once per process.

    Raises ElasticsearchUnavailable when the cluster cannot be reached (and tries again next call)."""
    key = _key(settings)
    with _lock:
        if key in _present:
            return
    if not all_present(client, settings):
        ensure_all(client, settings)
    with _lock:
        _present.add(key)


def all_present(client: Elasticsearch, settings: Settings) -> bool:
    """Whether the ILM policy, the index template, the articles alias and every other index exist."""
    from newsflow.alerts.lock import locks_index
    from newsflow.alerts.rules import rules_index
    from newsflow.alerts.store import alerts_index
    from newsflow.index.setup import names_for

    names = names_for(settings)
    indices = [names.deadletter, names.alert_queue, names.revisions, settings.index_name("feeds"),
               rules_index(settings),
               alerts_index(settings), locks_index(settings)]
    with translate_errors(settings.es_url_redacted):
        policy = client.options(ignore_status=404).ilm.get_lifecycle(name=names.ilm_policy)
        return bool(
            policy.meta.status == 200
            and client.indices.exists_index_template(name=names.index_template)
            and client.indices.exists_alias(name=names.alias)
            # One request for them all: 404 unless every one exists.
            and client.indices.exists(index=indices)
        )


def _key(settings: Settings) -> tuple[str, str]:
    return settings.es_url, settings.index_prefix
