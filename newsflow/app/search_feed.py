"""A saved search's Atom feed for the Airflow plugin's app: `GET /newsflow/search/NAME.atom?token=…`.

The token in the URL is the credential (newsflow.index.saved_searches): feed readers cannot log in
to Airflow. Rendering is here, apart from the plugin's wiring, so it is tested without a server.
"""

from __future__ import annotations

import logging

from newsflow.core.errors import IndexError_, QueryError
from newsflow.core.settings import Settings

log = logging.getLogger(__name__)

ATOM_TYPE = "application/atom+xml; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"


def render_search_feed(name: str, token: str, *, settings: Settings | None = None) -> tuple[str, int, str]:
    """(body, HTTP status, content type) of the saved search `name` for a request carrying `token`."""
    from newsflow.core.es import make_client
    from newsflow.index.saved_searches import SavedSearchStore, saved_search_feed

    if settings is None:
        from newsflow.app.airflow_settings import settings_from_airflow

        settings = settings_from_airflow()
    client = make_client(settings)
    try:
        search = SavedSearchStore(client, settings).verified(name, token)
        if search is None:
            # The same answer for an unknown name and a wrong token.
            return "no such feed, or a wrong token\n", 404, TEXT_TYPE
        return saved_search_feed(client, settings, search), 200, ATOM_TYPE
    except QueryError as exc:
        return f"the saved search {name!r} no longer runs: {exc}\n", 422, TEXT_TYPE
    except IndexError_ as exc:
        log.warning("saved search feed %s: %s", name, exc)
        return "Elasticsearch is not answering; try again later\n", 503, TEXT_TYPE
    finally:
        client.close()
