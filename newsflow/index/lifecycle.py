"""The index lifecycle as it is: ILM phase and step, and the rollover position, of every index
behind the `<prefix>-articles` alias (what the news_maintenance DAG checks daily)."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

from newsflow.core.es import translate_errors
from newsflow.core.models import format_utc, utc_now
from newsflow.core.settings import Settings


def inspect_lifecycle(client: Elasticsearch, settings: Settings) -> dict[str, Any]:
    """ILM state and rollover position of every index behind `<prefix>-articles`, JSON-ready.

    `problems` lists an index whose ILM step is ERROR, an index not managed by ILM, a missing alias
    or write index (each with what to do). Raises ElasticsearchUnavailable when unreachable."""
    alias = settings.index_name("articles")
    problems: list[str] = []
    with translate_errors(settings.es_url_redacted):
        aliases = client.options(ignore_status=404).indices.get_alias(name=alias)
        if aliases.meta.status == 404 or not aliases.body:
            return {"alias": alias, "write_index": None, "indices": [],
                    "problems": [f"alias {alias} does not exist (run `newsflow setup`)"],
                    "checked_at": format_utc(utc_now())}
        explain = client.ilm.explain_lifecycle(index=alias)
        stats = client.indices.stats(index=alias, metric="docs,store")
    write_index = next(
        (name for name, body in aliases.body.items()
         if (body.get("aliases", {}).get(alias) or {}).get("is_write_index")),
        None if len(aliases.body) > 1 else next(iter(aliases.body)),
    )
    if write_index is None:
        problems.append(f"alias {alias} has no write index")
    indices = []
    for name, info in sorted((explain.get("indices") or {}).items()):
        index_stats = (stats.get("indices") or {}).get(name, {}).get("primaries", {})
        row = {
            "index": name,
            "write_index": name == write_index,
            "managed": bool(info.get("managed")),
            "policy": info.get("policy"),
            "phase": info.get("phase"),
            "action": info.get("action"),
            "step": info.get("step"),
            "age": info.get("age"),
            "docs": int((index_stats.get("docs") or {}).get("count", 0)),
            "primary_bytes": int((index_stats.get("store") or {}).get("size_in_bytes", 0)),
        }
        if not row["managed"]:
            problems.append(f"{name} is not managed by ILM")
        elif info.get("step") == "ERROR":
            reason = (info.get("step_info") or {}).get("reason") or info.get("failed_step") or "unknown"
            row["error"] = reason
            problems.append(f"{name}: ILM step {info.get('failed_step')} failed: {reason}")
        indices.append(row)
    return {"alias": alias, "write_index": write_index, "indices": indices, "problems": problems,
            "rollover": {"max_age": settings.index.rollover_max_age,
                         "max_primary_shard_size": settings.index.rollover_max_primary_shard_size},
            "checked_at": format_utc(utc_now())}
