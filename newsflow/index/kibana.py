"""Kibana saved objects for the articles, and their import through Kibana's saved-objects API.

The package ships `newsflow/index/data/saved_objects.ndjson`, written for the default prefix `news`:
a data view on `news-articles` (time field `published_at`), a saved search, ten visualizations
(the facets, credit and distributor, trending persons and topics: `significant_terms` over the
dashboard's time range against the whole index), a map of the articles by the places they name
(`geo`) and a dashboard.
Every object id and index name in it starts with `news-`; `for_prefix` rewrites them for another
NEWSFLOW_INDEX_PREFIX, so two prefixes get two independent sets of objects in one Kibana.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import httpx
from pydantic import SecretStr

from newsflow.core.errors import KibanaError

SHIPPED_PREFIX = "news"
SAVED_OBJECTS = resources.files("newsflow.index") / "data" / "saved_objects.ndjson"  # package data
_SHIPPED_NAME = re.compile(rf"(?<![\w-]){SHIPPED_PREFIX}-(?=[a-z])")


def for_prefix(ndjson: str, prefix: str) -> str:
    """The shipped objects with every `news-` id and index name moved under `prefix-`."""
    if prefix == SHIPPED_PREFIX:
        return ndjson
    return _SHIPPED_NAME.sub(f"{prefix}-", ndjson)


def parse_ndjson(ndjson: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in ndjson.splitlines() if line.strip()]


@dataclass(frozen=True, slots=True)
class KibanaTarget:
    """Where and how to reach Kibana. Secrets are SecretStr: masked in repr and logs."""

    url: str
    username: str = ""
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    space: str = ""  # a Kibana space id; "" = the default space
    verify: bool | str = True  # False, True or a CA bundle path
    timeout: float = 30.0

    @property
    def import_url(self) -> str:
        space = f"/s/{self.space}" if self.space else ""
        return f"{self.url.rstrip('/')}{space}/api/saved_objects/_import"

    def headers(self) -> dict[str, str]:
        headers = {"kbn-xsrf": "true"}
        if self.api_key is not None:
            headers["Authorization"] = f"ApiKey {self.api_key.get_secret_value()}"
        return headers

    def auth(self) -> httpx.BasicAuth | None:
        if self.api_key is None and self.username:
            secret = self.password.get_secret_value() if self.password is not None else ""
            return httpx.BasicAuth(self.username, secret)
        return None


@dataclass(frozen=True, slots=True)
class ImportResult:
    success_count: int
    object_ids: tuple[str, ...] = field(default_factory=tuple)


def import_saved_objects(target: KibanaTarget, ndjson: str) -> ImportResult:
    """POST the objects to Kibana (overwriting earlier versions). Raises KibanaError on any failure."""
    files = {"file": ("newsflow.ndjson", ndjson.encode("utf-8"), "application/ndjson")}
    try:
        response = httpx.post(
            target.import_url, params={"overwrite": "true"}, files=files, headers=target.headers(),
            auth=target.auth(), verify=target.verify, timeout=target.timeout,
        )
    except httpx.HTTPError as exc:
        raise KibanaError(
            f"Kibana at {target.url} could not be reached ({type(exc).__name__}: {exc}); "
            "check NEWSFLOW_KIBANA_URL and that Kibana is running"
        ) from exc
    if response.status_code in (401, 403):
        raise KibanaError(
            f"Kibana at {target.url} refused the credentials (HTTP {response.status_code}); "
            "set NEWSFLOW_KIBANA_USER/NEWSFLOW_KIBANA_PASSWORD or NEWSFLOW_KIBANA_API_KEY"
        )
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400 or not isinstance(body, dict):
        message = body.get("message") if isinstance(body, dict) else None
        raise KibanaError(
            f"Kibana at {target.url} answered HTTP {response.status_code} to the import: "
            f"{message or response.text[:300]}"
        )
    if not body.get("success", False):
        problems = "; ".join(
            f"{e.get('type')}/{e.get('id')}: {(e.get('error') or {}).get('type', 'error')}"
            for e in body.get("errors") or []
        )
        raise KibanaError(f"Kibana did not import every saved object: {problems or body}")
    ids = tuple(str(r.get("id")) for r in body.get("successResults") or [])
    return ImportResult(success_count=int(body.get("successCount", 0)), object_ids=ids)
