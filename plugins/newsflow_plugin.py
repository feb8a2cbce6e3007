"""Airflow 3 plugin: the feed-health and alerts page for operators, inside Airflow's UI.

Wiring only: a small FastAPI app mounted on the API server at `/newsflow/` serves the page that
newsflow.app.plugin_page renders (server-side HTML, no JavaScript build), and the external view puts
it in the UI's navigation (Browse → "Newsflow feeds & alerts"), shown in the UI's frame. Only
logged-in Airflow users see it (the same JWT cookie or bearer token as the UI). A saved search's
Atom feed (`/newsflow/search/NAME.atom?token=…`) is for feed readers: its token is its credential.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.core_api.security import requires_authenticated
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, Response

from newsflow.app import plugin_page, search_feed

app = FastAPI(title="newsflow", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/", response_class=HTMLResponse, dependencies=[Depends(requires_authenticated())])
def feed_health_page() -> HTMLResponse:
    body, status = plugin_page.render()
    return HTMLResponse(body, status_code=status)


# No Airflow login: a feed reader cannot log in; the token of the saved search is the credential.
@app.get("/search/{name}.atom")
def saved_search_feed(name: str, token: str = "") -> Response:
    body, status, content_type = search_feed.render_search_feed(name, token)
    return Response(body, status_code=status, media_type=content_type,
                    headers={"Cache-Control": "private, max-age=60", "Referrer-Policy": "no-referrer"})


class NewsflowPlugin(AirflowPlugin):
    name = "newsflow"
    # Plain lists, as AirflowPlugin declares them (not ClassVar).
    fastapi_apps: list[Any] = [{"app": app, **plugin_page.APP}]  # noqa: RUF012
    external_views: list[Any] = [plugin_page.MENU_ENTRY]  # noqa: RUF012
