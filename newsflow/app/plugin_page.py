"""The operators' page in Airflow's UI (plugins/newsflow_plugin.py serves it): every feed with its
health, last fetch, status, error reason, articles contributed and next due time, then every alert
rule with its recent alerts and their delivery status. Plain server-side HTML, every value escaped
and every URL redacted (a webhook shows only its host).

The plugin file only wires this module into Airflow (a FastAPI app and the menu entry); the data
comes through newsflow.app.tasks, with the Elasticsearch settings of the `newsflow_elasticsearch`
connection or the environment.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from newsflow.app.feed_health import count_by_health

if TYPE_CHECKING:
    from newsflow.alerts.overview import RuleWithAlerts
    from newsflow.alerts.records import AlertRecord
    from newsflow.app.feed_health import FeedHealth

log = logging.getLogger(__name__)

URL_PREFIX = "/newsflow"
APP = {"url_prefix": URL_PREFIX, "name": "newsflow feeds and alerts"}  # AirflowPlugin.fastapi_apps
MENU_ENTRY: dict[str, Any] = {  # AirflowPlugin.external_views
    "name": "Newsflow feeds & alerts",
    "href": f"{URL_PREFIX}/",
    "url_route": "newsflow",  # shown inside the UI at /plugin/newsflow
    "destination": "nav",
    "category": "browse",
}


def render() -> tuple[str, int]:
    """The page and its HTTP status: 200, or 503 with what failed (e.g. Elasticsearch unreachable)
    shown on the page rather than a bare 500."""
    from newsflow.app.airflow_settings import settings_from_airflow
    from newsflow.app.tasks import load_feed_health, load_rules_with_alerts
    from newsflow.core.errors import NewsflowError

    try:
        settings = settings_from_airflow()
        feeds = load_feed_health(settings)
        rules = load_rules_with_alerts(settings)
    except NewsflowError as exc:
        log.warning("newsflow page: %s", exc)
        return page(problem(str(exc))), 503
    return page(
        feeds_section(feeds) + rules_section(rules),
        subtitle=f"Elasticsearch {settings.es_url_redacted}, index prefix {settings.index_prefix}",
    ), 200


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


def page(body: str, subtitle: str = "") -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>newsflow: feeds and alerts</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>newsflow: feeds and alerts</h1>"
        f"<div class='sub'>{_e(subtitle)} · rendered {_when(datetime.now().astimezone())}</div>"
        f"{body}</body></html>"
    )


def problem(message: str) -> str:
    return f"<h2>Not available</h2><p class='error' id='problem'>{_e(message)}</p>"


def feeds_section(feeds: Sequence[FeedHealth]) -> str:
    summary = ", ".join(f"{n} {h.replace('_', ' ')}" for h, n in sorted(count_by_health(feeds).items()))
    rows = "".join(_feed_row(row.redacted()) for row in feeds)
    table = (
        "<table id='feeds'><thead><tr><th>Feed</th><th>Health</th><th>Last fetch</th><th>Status</th>"
        "<th>Error reason</th><th>Articles</th><th>Next due</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        if feeds else "<p id='feeds'>No feed has been polled yet.</p>"
    )
    return f"<h2>Feeds ({len(feeds)}: {_e(summary or 'none')})</h2>{table}"


def _feed_row(row: FeedHealth) -> str:
    failures = f" ({row.consecutive_failures} in a row)" if row.consecutive_failures else ""
    return (
        f"<tr class='feed' data-health='{_e(row.health)}'>"
        f"<td><b>{_e(row.name)}</b><br><span class='sub'>{_e(row.url)}</span></td>"
        f"<td><span class='badge {_e(row.health)}'>{_e(row.health.replace('_', ' '))}</span></td>"
        f"<td>{_when(row.last_fetched_at)}</td>"
        f"<td>{_e(row.last_status or '-')}{failures}</td>"
        f"<td class='error'>{_e(row.last_error)}</td>"
        f"<td class='num'>{row.articles_total}</td>"
        f"<td>{'never' if row.health == 'gone' else _when(row.next_due_at, 'now')}</td></tr>"
    )


def rules_section(rules: Sequence[RuleWithAlerts]) -> str:
    if not rules:
        return ("<h2>Alert rules (0)</h2>"
                "<p id='rules'>No alert rules (add one with `newsflow alerts add`).</p>")
    blocks = []
    for item in rules:
        rule = item.rule
        channels = ", ".join(channel(c) for c in rule.channels)
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


def channel(text: str) -> str:
    """A channel without secrets: webhook URLs often carry tokens in their path or query, so the
    page names only the host; an apprise URL only its service (Slack's host part is a token), e.g.
    `apprise:slack` (stricter than newsflow.core.redact.redact_channel)."""
    kind, _, target = text.partition(":")
    if kind == "webhook":
        return f"webhook:{urlsplit(target).hostname or '?'}"
    if kind == "apprise":
        scheme = target.partition("://")[0] if "://" in target else "?"
        return f"apprise:{scheme.lower() if scheme.isalnum() else '?'}"
    return text


def _last_error(alert: AlertRecord) -> str:
    errors = [d.last_error for d in alert.deliveries if d.last_error and d.status != "sent"]
    return errors[-1] if errors else ""


def _when(value: datetime | None, empty: str = "-") -> str:
    if value is None:
        return empty
    return f"<time datetime='{value.isoformat()}'>{value.strftime('%Y-%m-%d %H:%M:%S %Z')}</time>"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)
