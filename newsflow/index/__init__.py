"""The Elasticsearch index of articles: templates, ILM and aliases (`setup`), the article document
(`documents`), bulk writes, lookups and the alert queue (`store`), the on-disk spool of articles not
yet indexed (`spool`), search with facets (`search`, `entity_query`) and the Kibana objects (`kibana`).
See newsflow/index/README.md for the index names.

Names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsflow.index.cleanup import delete_prefix
    from newsflow.index.documents import index_document
    from newsflow.index.entity_query import rewrite_entity_fields
    from newsflow.index.kibana import KibanaTarget, import_saved_objects
    from newsflow.index.search import FacetValue, SearchHit, SearchResult, build_query, search_articles
    from newsflow.index.setup import IndexNames, ensure_indices, names_for, rollover
    from newsflow.index.spool import Spool
    from newsflow.index.store import ArticleStore, BulkResult

__all__ = [
    "ArticleStore",
    "BulkResult",
    "FacetValue",
    "IndexNames",
    "KibanaTarget",
    "SearchHit",
    "SearchResult",
    "Spool",
    "build_query",
    "delete_prefix",
    "ensure_indices",
    "import_saved_objects",
    "index_document",
    "names_for",
    "rewrite_entity_fields",
    "rollover",
    "search_articles",
]

if not TYPE_CHECKING:
    from newsflow.core._exports import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, {
        "newsflow.index.cleanup": ["delete_prefix"],
        "newsflow.index.documents": ["index_document"],
        "newsflow.index.entity_query": ["rewrite_entity_fields"],
        "newsflow.index.kibana": ["KibanaTarget", "import_saved_objects"],
        "newsflow.index.search": [
            "FacetValue", "SearchHit", "SearchResult", "build_query", "search_articles",
        ],
        "newsflow.index.setup": ["IndexNames", "ensure_indices", "names_for", "rollover"],
        "newsflow.index.spool": ["Spool"],
        "newsflow.index.store": ["ArticleStore", "BulkResult"],
    })
