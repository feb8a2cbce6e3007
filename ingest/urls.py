"""Canonical article URLs: the same article reached through several feeds gets the same URL (and id).

Rules: resolve against the feed's base; lowercase scheme and host; drop default ports, the fragment
and tracking parameters (utm_*, fbclid, gclid and friends); keep every other query parameter in its
original order (some sites route on them).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "ga_", "hsa_", "_hs")
_TRACKING_NAMES = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "igshid", "mc_cid", "mc_eid",
    "_ga", "_gl", "wt.mc_id", "cmpid", "ocid", "icid", "ncid", "s_cid", "xtor", "ref_src",
    "__twitter_impression", "mkt_tok", "oly_enc_id", "oly_anon_id", "vero_id", "spm", "at_medium",
    "at_campaign",
})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNSAFE_PATH = re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]")


def is_tracking_parameter(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_NAMES or lowered.startswith(_TRACKING_PREFIXES)


def canonical_url(link: str, base: str = "") -> str:
    """The canonical form of `link` (resolved against `base`); "" when it is not an http(s) URL."""
    link = link.strip()
    if not link:
        return ""
    if base:
        try:
            link = urljoin(base, link)
        except ValueError:
            return ""
    try:
        parts = urlsplit(link)
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return ""
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    path = _UNSAFE_PATH.sub(lambda m: quote(m.group(0)), parts.path) or "/"
    query = _clean_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def _clean_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(name, value) for name, value in pairs if not is_tracking_parameter(name)]
    if len(kept) == len(pairs):
        return query  # untouched: keep the publisher's exact encoding
    return urlencode(kept, quote_via=quote)
