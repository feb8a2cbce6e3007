"""One search request bounded by `index.search_timeout`, with newsflow's errors: the way the
analyst views (trends, a story's timeline) reach Elasticsearch, as `search_articles` does.

The client waits a little longer than the search's own timeout, so that Elasticsearch can answer
"timed out" itself; past that the cluster is stalled. Either way the caller gets SearchTimeout, never
partial results passed off as complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from elasticsearch import Elasticsearch

from newsflow.core.errors import ElasticsearchUnavailable, QueryError, SearchTimeout
from newsflow.core.es import translate_errors
from newsflow.core.settings import Settings
from newsflow.index.search import refined_query_error
from newsflow.index.setup import ensure_indices, names_for

_CLIENT_GRACE_SECONDS = 5.0


def bounded_search(
    client: Elasticsearch, settings: Settings, user_query: str, /, **request: Any
) -> Mapping[str, Any]:
    """Search `<prefix>-articles` (set up first when missing) with `request` (query, aggs, size, ...);
    the response body. `user_query` is the user's text, named in a QueryError."""
    alias = names_for(settings).alias
    seconds = settings.index.search_timeout
    bounded = client.options(request_timeout=seconds + _CLIENT_GRACE_SECONDS, max_retries=0,
                             retry_on_timeout=False)
    try:
        with translate_errors(settings.es_url_redacted, query=user_query):
            if not bounded.indices.exists_alias(name=alias):
                ensure_indices(client, settings)
            response = bounded.search(index=alias, timeout=f"{max(1, int(seconds * 1000))}ms", **request)
    except QueryError as exc:
        raise refined_query_error(exc) from exc
    except ElasticsearchUnavailable as exc:
        import elasticsearch

        if isinstance(exc.__cause__, elasticsearch.ConnectionTimeout):
            raise SearchTimeout(user_query, seconds) from exc
        raise
    if response.body.get("timed_out"):
        raise SearchTimeout(user_query, seconds)
    body: Mapping[str, Any] = response.body
    return body
