"""Removing everything newsflow created under an index prefix (tests, benchmarks, `newsflow teardown`)."""

from __future__ import annotations

from typing import Any


def delete_prefix(client: Any, prefix: str) -> None:
    """Delete every index, template, component template and ILM policy whose name starts with `prefix`.

    `prefix` is matched as given (no "-" appended), so a caller passing "news-" keeps "newsroom-*".
    """
    pattern = f"{prefix}*"
    quiet = client.options(ignore_status=404)
    # Elasticsearch 8 refuses wildcard deletes (action.destructive_requires_name), so name each index.
    existing = quiet.indices.get(index=pattern, expand_wildcards="all", allow_no_indices=True)
    names = list(existing.body) if existing else []
    for start in range(0, len(names), 50):
        quiet.indices.delete(index=",".join(names[start:start + 50]))
    templates = quiet.indices.get_index_template(name=pattern)
    for template in (templates or {}).get("index_templates", []):
        quiet.indices.delete_index_template(name=template["name"])
    components = quiet.cluster.get_component_template(name=pattern)
    for component in (components or {}).get("component_templates", []):
        quiet.cluster.delete_component_template(name=component["name"])
    policies = quiet.ilm.get_lifecycle()
    for name in list(policies.body if policies else {}):
        if name.startswith(prefix):
            quiet.ilm.delete_lifecycle(name=name)
