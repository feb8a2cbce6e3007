"""All configuration in one typed object.

Sources, highest precedence first: keyword arguments, environment variables (`NEWSFLOW_*`; nested
groups with a double underscore, e.g. `NEWSFLOW_FETCH__TIMEOUT=20`), a YAML file
(`NEWSFLOW_CONFIG`, default `$NEWSFLOW_HOME/config.yaml`; the same keys as the fields below),
then the defaults written here. Secrets are `SecretStr`: masked in `repr` and never logged.

Each stage owns one group (fetch, enrich, index, alerts); a group holds only what that stage reads.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import pydantic_settings
import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from newsflow.core.errors import SettingsError


def default_home() -> Path:
    """Where local state lives when NEWSFLOW_HOME is not set.

    As root: /var/lib/newsflow, because the local Elasticsearch runs as an unprivileged user that
    cannot enter /root. Otherwise: $XDG_DATA_HOME/newsflow (~/.local/share/newsflow).
    """
    if os.geteuid() == 0:
        return Path("/var/lib/newsflow")
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "newsflow"


class FetchSettings(BaseModel):
    """How feeds (and, optionally, article pages) are fetched: politeness first."""

    user_agent: str = "newsflow/0.1 (+https://github.com/newsflow/newsflow; feed reader)"
    connect_timeout: float = 10.0  # seconds
    read_timeout: float = 20.0  # seconds between bytes
    total_timeout: float = 60.0  # seconds for one download (one request of one attempt)
    # One deadline per feed, in seconds, from its first request (waiting for a busy host's slot is
    # politeness, not slowness) to its result: every redirect hop, retry, Retry-After wait, body read,
    # the parse and the full-text pages. A feed over it fails with that reason; the others go on.
    feed_deadline: float = 120.0
    # The whole poll, in seconds: feeds not done by then fail with that reason, the feeds done are
    # indexed. Feeds that never got their turn stay due for the next cycle.
    poll_deadline: float = 1800.0
    max_body_bytes: int = 10 * 1024 * 1024  # a larger feed is refused, not truncated
    max_redirects: int = 5
    concurrency: int = 32  # feeds fetched at once
    per_host_concurrency: int = 2  # requests at once to one host
    # Worker processes parsing feeds (feedparser is CPU-bound Python, and a parse over the feed's
    # deadline must be stoppable: a worker is killed and replaced, a thread could not be): 0 = one per
    # core (never more than the poll has feeds).
    parse_processes: int = 0
    politeness_delay: float = 1.0  # seconds between two requests to one host
    retries: int = 2  # extra attempts on 5xx, timeouts and connection errors
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    max_retry_after: float = 120.0  # a longer Retry-After defers the feed to a later cycle instead
    min_interval: float = 5 * 60  # adaptive polling floor, seconds
    max_interval: float = 24 * 3600  # adaptive polling ceiling, seconds
    default_interval: float = 30 * 60  # when a feed gives no hint and has no history
    # The address policy (ingest/addresses.py): loopback, private, CGNAT and unique-local addresses
    # (and IPv6 forms embedding them) are refused unless allowed here, so a feed, a redirect or a
    # full-text link cannot reach the local Elasticsearch or other services on the host's networks.
    allow_private_addresses: bool = False  # true: every such address (tests, trusted set-ups)
    # Self-hosted feeds: networks or single addresses ("10.1.0.0/16,127.0.0.1") and host names
    # ("feeds.internal") whose private addresses are allowed. Comma-separated in the environment.
    allowed_networks: Annotated[tuple[str, ...], NoDecode] = ()
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    verify_tls: bool = True
    full_text: bool = False  # fetch the article page when the feed carries only a summary
    full_text_min_chars: int = 600  # a body shorter than this counts as "only a summary"

    @field_validator("allowed_networks", "allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        # From the environment: "a,b c" (commas and/or spaces); from YAML or code: a list.
        if isinstance(value, str):
            return tuple(part for part in value.replace(",", " ").split() if part)
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _check_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"NEWSFLOW_FETCH__ALLOWED_NETWORKS: {network!r} is not a network or address ({exc}); "
                    "write e.g. 10.1.0.0/16,127.0.0.1"
                ) from exc
        return value


class EnrichSettings(BaseModel):
    """Language, entities, topics and story clustering."""

    spacy_model: str = ""  # a path or package name; empty = the bundled en_core_web_md
    # Texts per nlp.pipe batch. Measured on 7,677 articles: 64 took the NER processes to 1.8 GB
    # (PSS), 16 to 1.1 GB, at the same speed.
    batch_size: int = 16
    n_process: int = 0  # processes for NER; 0 = one per core when the batch is large enough
    min_texts_per_process: int = 200  # below this many texts, one process is faster
    # A cycle clusters, indexes and matches its enriched articles this many at a time, while the NER
    # processes go on with the next ones (the parent and Elasticsearch would otherwise idle meanwhile).
    group_size: int = 500
    max_chars: int = 20_000  # text given to NER per article (title + body prefix)
    topic_threshold: float = 0.5  # calibrated: second-level labels at or over it are indexed
    story_window_days: float = 7.0  # how far back a new copy is matched against earlier stories
    # Same story when this share of the shorter text's word 3-shingles is in the other (estimated
    # containment); measured on test pairs: copies >= 0.76, different stories on one subject 0.
    story_threshold: float = 0.6


class IndexSettings(BaseModel):
    """The Elasticsearch indices, their lifecycle and the bulk writer."""

    shards: int = 1
    # Replicas of every index newsflow creates: a number, or "auto" = one replica when the cluster
    # has more than one data node, none on a single node (asked once per process, see
    # newsflow.core.es.number_of_replicas).
    replicas: int | Literal["auto"] = "auto"
    rollover_max_age: str = "30d"
    rollover_max_primary_shard_size: str = "25gb"
    retention: str = "365d"  # ILM deletes an articles index this long after rollover; "" keeps all
    bulk_chunk_size: int = 500  # documents per bulk request
    bulk_max_bytes: int = 10 * 1024 * 1024
    bulk_retries: int = 5  # retries of 429/5xx, with exponential backoff
    bulk_backoff: float = 1.0  # seconds before the first bulk retry; doubles each time
    bulk_max_backoff: float = 60.0  # longest wait between two bulk retries
    max_body_chars: int = 100_000  # longer bodies are truncated (and marked) before indexing
    max_title_chars: int = 1_000
    # Previous versions kept per article in <prefix>-revisions (newsflow/index/revisions.py); older
    # ones are deleted when a newer one is written.
    max_revisions: int = 20
    spool_max_bytes: int = 1024 * 1024 * 1024  # the on-disk queue of not-yet-indexed articles
    request_timeout: float = 30.0
    # Seconds a search (`newsflow search`, checking a rule's query) may run: Elasticsearch stops it
    # there, and the client gives up a little later (a stalled cluster).
    search_timeout: float = 10.0

    @field_validator("replicas", mode="before")
    @classmethod
    def _check_replicas(cls, value: Any) -> Any:
        # From the environment or YAML: "auto", or a whole number of replicas (0, 1, 2 ...).
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, str) and text.isdigit():
            return int(text)
        if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
            return text
        raise ValueError(
            f"NEWSFLOW_INDEX__REPLICAS={value!r} is not a number of replicas: write \"auto\" (one "
            "replica on a cluster of several data nodes, none on a single node) or a whole number "
            "such as 0 or 1"
        )


class AlertSettings(BaseModel):
    """Matching saved rules and delivering alerts."""

    percolate_batch_size: int = 500  # documents per percolate request
    percolate_concurrency: int = 2  # percolate requests in flight (Elasticsearch search threads)
    max_delivery_attempts: int = 5  # then the delivery is marked failed and reported
    webhook_timeout: float = 10.0
    webhook_secret: SecretStr | None = None  # signs webhook bodies (X-Newsflow-Signature) if set
    webhook_retries: int = 2  # quick extra attempts within one delivery before deferring to a later cycle
    webhook_retry_backoff: float = 0.5  # seconds before the first quick retry; doubles each time
    # Seconds one `apprise:` send may take in all (apprise's own deadline); each request within it
    # also times out after at most this long.
    apprise_timeout: float = 20.0
    retry_backoff: float = 60.0  # seconds before a failed delivery is retried (a later cycle); doubles
    retry_backoff_max: float = 3600.0  # ceiling of the delay between two delivery attempts
    delivery_lease: float = 300.0  # seconds a claimed delivery is held before another run may retry it
    # Seconds a run waits for another run's alert-recording lock (newsflow.alerts.lock) before it leaves its
    # articles in the alert queue for a later run.
    lock_wait: float = 60.0
    smtp_timeout: float = 30.0
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_ca_certs: Path | None = None  # CA bundle to verify the SMTP server's certificate (private CA)
    smtp_from: str = "newsflow@localhost"
    email_digest: bool = False  # one message per rule per cycle instead of one per alert


class PushSettings(BaseModel):
    """WebSub push subscriptions (docs/push.md): subscribing to hubs, the callback receiver."""

    # The public base URL the hubs call back (behind a reverse proxy, e.g.
    # https://news.example.org/websub); each subscription gets <callback_url>/<feed key>/<nonce>.
    # Empty: no subscriptions (every feed is polled).
    callback_url: str = ""
    # Master secret from which each subscription's hub.secret is derived (HMAC of key and nonce).
    # Unset: generated once into $NEWSFLOW_HOME/push/secret (mode 0600); set it when the receiver
    # and the subscribing cycle do not share NEWSFLOW_HOME.
    secret: SecretStr | None = None
    lease_seconds: int = 10 * 86400  # the lease asked for; the hub has the last word
    renew_before: float = 86400.0  # renew when less than this is left (at most half the lease)
    verify_wait: float = 3600.0  # a subscription not verified after this long is requested again
    denied_retry: float = 86400.0  # seconds before a denied subscription is requested again
    request_timeout: float = 10.0  # seconds for one subscribe/unsubscribe request to a hub
    listen_host: str = "127.0.0.1"  # `newsflow push serve`: behind a reverse proxy for the public URL
    listen_port: int = 8788
    max_body_bytes: int = 5 * 1024 * 1024  # a larger push is refused (413), not truncated
    rate_per_feed: float = 1.0  # pushes per second per subscription, sustained ...
    rate_burst: int = 20  # ... with this many at once; more are answered 429
    replay_window: float = 24 * 3600.0  # the same body for one subscription within this is a replay
    # A feed with an active subscription is polled at most this often (its safety poll, in case the
    # hub drops deliveries) instead of its normal interval; seconds, at least 60.
    safety_poll: float = Field(default=86400.0, ge=60.0, le=366 * 86400.0)


class Settings(BaseSettings):
    """newsflow's configuration. See the module docstring for where values come from."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSFLOW_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    es_url: str = "http://127.0.0.1:9200"  # credentials may be given in the URL
    es_api_key: SecretStr | None = None
    es_ca_certs: Path | None = None  # CA bundle for an HTTPS Elasticsearch with a private CA
    es_verify_certs: bool = True
    index_prefix: str = "news"
    home: Path = Field(default_factory=default_home)
    feeds_file: Path | None = None  # used when a command is given no --feeds
    log_level: str = "INFO"

    fetch: FetchSettings = FetchSettings()
    enrich: EnrichSettings = EnrichSettings()
    index: IndexSettings = IndexSettings()
    alerts: AlertSettings = AlertSettings()
    push: PushSettings = PushSettings()

    @field_validator("feeds_file", "es_ca_certs", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: Any) -> Any:
        # An exported-but-empty variable (NEWSFLOW_FEEDS_FILE=) means "not set", not the current folder.
        return None if value == "" else value

    @field_validator("index_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        # Elasticsearch index names: lowercase, no spaces or the characters below, not starting "-_+".
        if not value or value != value.lower() or any(c in value for c in ' "*\\<|,>/?#:'):
            raise ValueError(
                f"NEWSFLOW_INDEX_PREFIX={value!r} is not a valid index-name prefix: use lowercase "
                "letters, digits, '-' or '_'"
            )
        if value[0] in "-_+":
            raise ValueError(f"NEWSFLOW_INDEX_PREFIX={value!r} must not start with '-', '_' or '+'")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file()
        if config_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    # --- derived places, all under home ---
    @property
    def spool_dir(self) -> Path:
        return self.home / "spool"

    @property
    def push_dir(self) -> Path:
        return self.home / "push"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def es_home(self) -> Path:
        return self.home / "elasticsearch"

    def index_name(self, suffix: str) -> str:
        """A name under the prefix: index_name("articles") -> "news-articles"."""
        return f"{self.index_prefix}-{suffix}"

    @cached_property
    def es_url_redacted(self) -> str:
        """The Elasticsearch URL with any password masked, for logs and messages."""
        return redact_url(self.es_url)

    def __repr_args__(self) -> Any:  # keep credentials in es_url out of repr
        for name, value in super().__repr_args__():
            yield name, (redact_url(value) if name == "es_url" else value)


def redact_url(url: str) -> str:
    """Mask the password in a URL: http://user:secret@host -> http://user:***@host."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _config_file() -> Path | None:
    explicit = os.environ.get("NEWSFLOW_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise SettingsError(f"NEWSFLOW_CONFIG={explicit} names no file: point it at a YAML file of "
                                "settings, or unset it to use $NEWSFLOW_HOME/config.yaml")
        _check_yaml(path)
        return path
    home = os.environ.get("NEWSFLOW_HOME")
    candidate = (Path(home) if home else default_home()) / "config.yaml"
    if candidate.is_file():
        _check_yaml(candidate)
        return candidate
    return None


def _check_yaml(path: Path) -> None:
    # Fail with the file's name rather than deep inside pydantic-settings.
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"cannot read the config file: {exc}; fix its permissions or encoding "
                            "(UTF-8), or point NEWSFLOW_CONFIG elsewhere", source=str(path)) from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path} is not valid YAML: {exc}", source=str(path)) from exc
    if data is not None and not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping of settings at the top level (e.g. "
                            "`index_prefix: news`), found a {type(data).__name__}", source=str(path))


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment and the config file; keyword arguments win.

    Raises SettingsError naming each invalid setting, its environment variable and the fix."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError([_problem(error) for error in exc.errors()], _source()) from exc
    except pydantic_settings.SettingsError as exc:
        # A group given as one variable (NEWSFLOW_FETCH='...') that is not JSON.
        raise SettingsError(
            f"{exc}{f' ({exc.__cause__})' if exc.__cause__ else ''}: give a group's settings one by one "
            "(NEWSFLOW_FETCH__CONNECT_TIMEOUT=5) or the whole group as a JSON object", _source()) from exc


# What to write instead, by pydantic's error type (https://docs.pydantic.dev/latest/errors/validation_errors/).
_FIXES = {
    "float_parsing": "write a number, e.g. 10 or 2.5",
    "float_type": "write a number, e.g. 10 or 2.5",
    "int_parsing": "write a whole number, e.g. 30",
    "int_type": "write a whole number, e.g. 30",
    "int_from_float": "write a whole number, e.g. 30",
    "bool_parsing": "write true or false",
    "bool_type": "write true or false",
    "string_type": "write a text value",
    "path_type": "write a file path",
    "model_type": "give a mapping of the group's settings (in YAML, keys indented under it; in the "
                  "environment, one variable per setting, e.g. NEWSFLOW_FETCH__CONNECT_TIMEOUT)",
    "model_attributes_type": "give a mapping of the group's settings",
    "dict_type": "give a mapping",
    "tuple_type": "give a list (in the environment: comma-separated)",
    "list_type": "give a list",
}
_SECRET_PARTS = ("password", "secret", "api_key", "token")


def _problem(error: Any) -> str:
    """One invalid setting as a line: its YAML key, its environment variable, the value, the fix."""
    location = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
    key = ".".join(location) or "(settings)"
    variable = "NEWSFLOW_" + "__".join(location).upper()
    where = f"{key} ({variable})"
    if error.get("type") == "value_error" and isinstance((error.get("ctx") or {}).get("error"), Exception):
        detail = str(error["ctx"]["error"])  # our validators' own messages name the value and the fix
        return f"{key}: {detail}" if variable in detail else f"{where}: {detail}"
    value = error.get("input")
    if any(part in key for part in _SECRET_PARTS):
        shown = "***"
    elif isinstance(value, str) and key == "es_url":
        shown = repr(redact_url(value))
    else:
        shown = repr(value) if not isinstance(value, dict) else "a mapping"
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
    fix = _FIXES.get(str(error.get("type")), "see the settings in the README")
    return f"{where} = {shown}: {error.get('msg', 'invalid')}; {fix}"


def _source() -> str:
    try:
        found = _config_file()
    except SettingsError:
        return ""
    return str(found) if found is not None else ""
