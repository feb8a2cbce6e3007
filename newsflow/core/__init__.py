"""The ground every other package stands on: the article model (`models`), settings (`settings`),
the error tree (`errors`), the Elasticsearch client and its error translation (`es`), secret
redaction (`redact`) and child-process hygiene (`processes`). It imports nothing of newsflow's own.

Names are imported on first use: `import newsflow.core.errors` does not load Elasticsearch or pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsflow.core.errors import (
        AlertError,
        ConfigError,
        DeliveryError,
        ElasticsearchUnavailable,
        EnrichError,
        FeedError,
        FeedsFileError,
        FetchError,
        IndexError_,
        NewsflowError,
        ParseError,
        QueryError,
        StackError,
    )
    from newsflow.core.es import make_client, translate_errors
    from newsflow.core.models import (
        Article,
        Enclosure,
        TopicScore,
        article_id_for,
        format_utc,
        parse_utc,
        utc_now,
    )
    from newsflow.core.redact import install_log_redaction, redact_channel, redact_text, redact_url
    from newsflow.core.settings import (
        AlertSettings,
        EnrichSettings,
        FetchSettings,
        IndexSettings,
        Settings,
        default_home,
        load_settings,
    )

__all__ = [
    "AlertError",
    "AlertSettings",
    "Article",
    "ConfigError",
    "DeliveryError",
    "ElasticsearchUnavailable",
    "Enclosure",
    "EnrichError",
    "EnrichSettings",
    "FeedError",
    "FeedsFileError",
    "FetchError",
    "FetchSettings",
    "IndexError_",
    "IndexSettings",
    "NewsflowError",
    "ParseError",
    "QueryError",
    "Settings",
    "StackError",
    "TopicScore",
    "article_id_for",
    "default_home",
    "format_utc",
    "install_log_redaction",
    "load_settings",
    "make_client",
    "parse_utc",
    "redact_channel",
    "redact_text",
    "redact_url",
    "translate_errors",
    "utc_now",
]

if not TYPE_CHECKING:
    from newsflow.core._exports import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, {
        "newsflow.core.errors": [
            "AlertError", "ConfigError", "DeliveryError", "ElasticsearchUnavailable", "EnrichError",
            "FeedError", "FeedsFileError", "FetchError", "IndexError_", "NewsflowError", "ParseError",
            "QueryError", "StackError",
        ],
        "newsflow.core.es": ["make_client", "translate_errors"],
        "newsflow.core.models": [
            "Article", "Enclosure", "TopicScore", "article_id_for", "format_utc", "parse_utc", "utc_now",
        ],
        "newsflow.core.redact": ["install_log_redaction", "redact_channel", "redact_text", "redact_url"],
        "newsflow.core.settings": [
            "AlertSettings", "EnrichSettings", "FetchSettings", "IndexSettings", "Settings", "default_home",
            "load_settings",
        ],
    })
