"""Airflow 3 plugin: the feed-health and alerts page for operators, inside Airflow's UI.

A small FastAPI app mounted on the API server at `/newsflow/` renders one HTML page (server-side,
no JavaScript build): every feed with its last fetch, status, error reason, articles contributed
and next due time, then every alert rule with its recent alerts and their delivery status. The
external view puts it in the UI's navigation (Browse → "Newsflow feeds & alerts"), shown in the
UI's frame. Only logged-in Airflow users see it (the same JWT cookie or bearer token as the UI).

The data comes through the newsflow libraries (newsflow.app.tasks), with the Elasticsearch settings
of the `newsflow_elasticsearch` connection or the environment.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime
from typing import Any

from airflow.api_fastapi.core_api.security import requires_authenticated
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse

log = logging.getLogger(__name__)

URL_PREFIX = "/newsflow"

app = FastAPI(title="newsflow", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/", response_class=HTMLResponse, dependencies=[Depends(requires_authenticated())])
def feed_health_page() -> HTMLResponse:
    from newsflow.app.airflow_settings import settings_from_airflow
    from newsflow.app.tasks import load_feed_health, load_rules_with_alerts
    from newsflow.core.errors import NewsflowError

    try:
        settings = settings_from_airflow()
        feeds = load_feed_health(settings)
        rules = load_rules_with_alerts(settings)
    except NewsflowError as exc:
        # Show what failed (e.g. Elasticsearch unreachable) on the page rather than a bare 500.
        log.warning("newsflow page: %s", exc)
        return HTMLResponse(_page(_problem(str(exc))), status_code=503)
    return HTMLResponse(_page(
        _feeds_section(feeds) + _rules_section(rules),
        subtitle=f"Elasticsearch {settings.es_url_redacted}, index prefix {settings.index_prefix}",
    ))


# --- rendering (plain HTML; every value escaped) ---

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1rem 1.5rem;color:#1a202c}
h1{font-size:1.4rem;margin:0 0 .2rem} h2{font-size:1.15rem;margin:1.6rem 0 .5rem}
.sub{color:#4a5568;font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border-bottom:1px solid #e2e8f0;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f7fafc} td.num{text-align:right}
.badge{display:inline-block;padding:0 .45rem;border-radius:.6rem;font-size:.75rem;color:#fff}
.ok,.sent{background:#2f855a} .failing,.failed{background:#c53030} .gone{background:#4a5568}
.not_polled,.pending{background:#b7791f} .error{color:#c53030;max-width:28rem;word-break:break-word}
.rule{margin-bottom:1rem} code{background:#edf2f7;padding:0 .25rem}
"""


def _page(body: str, subtitle: str = "") -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>newsflow: feeds and alerts</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>newsflow: feeds and alerts</h1>"
        f"<div class='sub'>{_e(subtitle)} · rendered {_when(datetime.now().astimezone())}</div>"
        f"{body}</body></html>"
    )


def _problem(message: str) -> str:
    return f"<h2>Not available</h2><p class='error' id='problem'>{_e(message)}</p>"


def _feeds_section(feeds: list[Any]) -> str:
    from newsflow.core.redact import redact_text, redact_url

    counts: dict[str, int] = {}
    for row in feeds:
        counts[row.health] = counts.get(row.health, 0) + 1
    summary = ", ".join(f"{n} {h.replace('_', ' ')}" for h, n in sorted(counts.items())) or "none"
    rows = "".join(
        f"<tr class='feed' data-health='{_e(row.health)}'>"
        f"<td><b>{_e(row.name)}</b><br><span class='sub'>{_e(redact_url(row.url))}</span></td>"
        f"<td><span class='badge {_e(row.health)}'>{_e(row.health.replace('_', ' '))}</span></td>"
        f"<td>{_when(row.last_fetched_at)}</td>"
        f"<td>{_e(row.last_status or '-')}"
        f"{' (' + str(row.consecutive_failures) + ' in a row)' if row.consecutive_failures else ''}</td>"
        f"<td class='error'>{_e(redact_text(row.last_error or '', row.url))}</td>"
        f"<td class='num'>{row.articles_total}</td>"
        f"<td>{'never' if row.health == 'gone' else _when(row.next_due_at, 'now')}</td></tr>"
        for row in feeds
    )
    table = (
        "<table id='feeds'><thead><tr><th>Feed</th><th>Health</th><th>Last fetch</th><th>Status</th>"
        "<th>Error reason</th><th>Articles</th><th>Next due</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        if feeds else "<p id='feeds'>No feed has been polled yet.</p>"
    )
    return f"<h2>Feeds ({len(feeds)}: {_e(summary)})</h2>{table}"


def _rules_section(rules: list[Any]) -> str:
    if not rules:
        return ("<h2>Alert rules (0)</h2>"
                "<p id='rules'>No alert rules (add one with `newsflow alerts add`).</p>")
    blocks = []
    for item in rules:
        rule = item.rule
        channels = ", ".join(_channel(c) for c in rule.channels)
        alerts = "".join(
            f"<tr class='alert'><td>{_when(a.matched_at)}</td>"
            f"<td><a href='{_e(a.article.url)}' target='_blank' rel='noopener'>{_e(a.article.title)}</a>"
            f"<br><span class='sub'>{_e(a.article.source)}</span></td>"
            f"<td><span class='badge {_e(a.status)}'>{_e(a.status)}</span></td>"
            f"<td class='error'>{_e(_last_error(a))}</td></tr>"
            for a in item.recent
        )
        recent = (
            "<table><thead><tr><th>Matched</th><th>Article</th><th>Delivery</th><th>Last error</th></tr>"
            f"</thead><tbody>{alerts}</tbody></table>" if item.recent else "<p class='sub'>No alerts yet.</p>"
        )
        blocks.append(
            f"<div class='rule' data-rule='{_e(rule.name)}'><b>{_e(rule.name)}</b> "
            f"<code>{_e(rule.query)}</code> <span class='sub'>→ {_e(channels)}</span>{recent}</div>"
        )
    return f"<h2>Alert rules ({len(rules)})</h2><div id='rules'>{''.join(blocks)}</div>"


def _channel(text: str) -> str:
    """A channel without secrets: webhook URLs often carry tokens in their path or query, so the
    page names only the host; an apprise URL only its service (Slack's host part is a token), e.g.
    `apprise:slack` (stricter than newsflow.core.redact.redact_channel)."""
    kind, _, target = text.partition(":")
    if kind == "webhook":
        from urllib.parse import urlsplit

        return f"webhook:{urlsplit(target).hostname or '?'}"
    if kind == "apprise":
        scheme = target.partition("://")[0] if "://" in target else "?"
        return f"apprise:{scheme.lower() if scheme.isalnum() else '?'}"
    return text


def _last_error(alert: Any) -> str:
    errors = [d.last_error for d in alert.deliveries if d.last_error and d.status != "sent"]
    return errors[-1] if errors else ""


def _when(value: datetime | None, empty: str = "-") -> str:
    if value is None:
        return empty
    return f"<time datetime='{value.isoformat()}'>{value.strftime('%Y-%m-%d %H:%M:%S %Z')}</time>"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


class NewsflowPlugin(AirflowPlugin):
    name = "newsflow"
    # Plain lists, as AirflowPlugin declares them (not ClassVar).
    fastapi_apps: list[Any] = [  # noqa: RUF012
        {"app": app, "url_prefix": URL_PREFIX, "name": "newsflow feeds and alerts"},
    ]
    external_views: list[Any] = [{  # noqa: RUF012
        "name": "Newsflow feeds & alerts",
        "href": f"{URL_PREFIX}/",
        "url_route": "newsflow",  # shown inside the UI at /plugin/newsflow
        "destination": "nav",
        "category": "browse",
    }]
