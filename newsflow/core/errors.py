"""The exceptions newsflow raises, in one tree. Every message says what failed, why, and what to do.

    NewsflowError
    ├── ConfigError            bad settings, feeds file or CLI input
    │   ├── SettingsError      a setting is invalid, or its config file cannot be read (names the
    │   │                      setting, its environment variable and the fix)
    │   ├── DurationError      a duration ("15m", "24h") that is not one
    │   └── FeedsFileError     the feeds file cannot be read (names the line and the problem)
    ├── StackError             the local Elasticsearch cannot be installed, started or stopped
    │   ├── LocalAirflowError  the local Airflow (newsflow.dev) cannot be set up, started or reached
    │   ├── LocalPostgresError the local PostgreSQL for Airflow cannot be installed or started
    │   └── LocalRedisError    the rig's local Redis (the Celery broker) cannot be installed or started
    ├── FeedError              one feed failed (kept as a FeedResult value inside a cycle)
    │   ├── FetchError         network, HTTP status, size or address policy
    │   │   ├── RefusedAddress the address policy refused the connection
    │   │   └── FetchFailed    a failed attempt, with its retry decision (Retry-After, gone)
    │   └── ParseError         the body is not a feed, or yields no items
    ├── EnrichError            the spaCy model or a vocabulary cannot be loaded
    ├── IndexError_            Elasticsearch refused or could not be reached (carries status, error type)
    │   ├── ElasticsearchUnavailable  cannot connect: the cycle spools its articles
    │   │   └── ElasticsearchOverloaded  429/502/503/504 after the client's retries
    │   ├── IndexNotFound      the index or alias does not exist (error type index_not_found_exception)
    │   ├── QueryError         an invalid search or rule query (carries the parser's message)
    │   │   ├── LeadingWildcardError  a term starting with * or ?, which would scan every term
    │   │   └── SearchTimeout         a search that ran longer than `index.search_timeout`
    │   ├── SpoolFullError     the on-disk spool reached its size limit
    │   ├── SpoolBatchCorrupt  a spool batch file cannot be read back (it is quarantined)
    │   ├── StoryNotFound      no indexed article has this story id (`newsflow story`)
    │   └── KibanaError        Kibana refused or could not be reached (saved-objects import)
    ├── PushError              a WebSub subscription request or a received push cannot be handled
    │   └── PushSpoolCorrupt   a push spool file cannot be read back (it is quarantined)
    └── AlertError             a rule or channel is invalid, or a delivery failed
        ├── DeliveryError      one delivery attempt over one channel failed
        ├── InsecureSmtpLogin  SMTP credentials would be sent over a plaintext connection
        ├── InvalidAppriseUrl  an `apprise:` channel whose URL apprise cannot use (refused at save)
        └── AlertsBusy         another run holds the alert-recording lock longer than we wait
            └── AlertLockLost  this run's lock (or delivery claim) lapsed: it stopped sending

Errors of dependencies (httpx, elasticsearch, pydantic, feedparser, spaCy) are translated into these
at the boundary, with `raise ... from exc`, so callers catch one family and decide by type, never by
the text of a message: Elasticsearch errors by their HTTP status and the error type of the response
body (`newsflow.core.es.translate_errors`), settings by pydantic's error locations
(`newsflow.core.settings.load_settings`). No exception class is defined outside this module
(tests/test_errors.py checks it).

Messages follow spaCy's errors catalogue: what went wrong, the value that caused it, and the fix (the
setting, command or file to change).
"""

from __future__ import annotations


class NewsflowError(Exception):
    """Base class of every error newsflow raises on purpose."""


class ConfigError(NewsflowError):
    """Settings, a feeds file or a command-line argument is invalid."""


class SettingsError(ConfigError):
    """A setting is invalid, or the config file holding the settings cannot be used.

    `problems` holds one line per invalid setting, each naming the setting as a YAML key
    (`fetch.connect_timeout`) and as its environment variable (`NEWSFLOW_FETCH__CONNECT_TIMEOUT`),
    what is wrong and what to write instead."""

    def __init__(self, problems: str | list[str], source: str = "") -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source  # the config file involved, if any
        where = f" (settings from the environment and {source})" if source else ""
        if len(self.problems) == 1:
            message = f"invalid settings{where}: {self.problems[0]}"
        else:
            message = f"{len(self.problems)} invalid settings{where}:\n" + "\n".join(
                f"  - {p}" for p in self.problems)
        super().__init__(message)


class DurationError(ConfigError):
    """A text that should be a duration ("90s", "15m", "24h", "7d", "2w", or seconds) is not one."""

    def __init__(self, what: str, value: object, problem: str = "") -> None:
        self.what = what
        self.value = value
        super().__init__(
            f"{what} {value!r} {problem or 'is not a duration'}: write a positive number of seconds "
            "or a number and a unit, s, m, h, d or w (e.g. 90, 15m, 24h, 7d)")


class FeedsFileError(ConfigError):
    """The feeds file cannot be used. The message names the file, the line and the problem."""

    def __init__(self, path: str, problem: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {problem}")


class StackError(NewsflowError):
    """The local Elasticsearch could not be installed, started, stopped or reached."""


class LocalAirflowError(StackError):
    """The local Airflow could not be set up, started, reached or asked to run a DAG."""


class LocalPostgresError(StackError):
    """The local PostgreSQL cluster could not be installed, created, started or stopped."""


class LocalRedisError(StackError):
    """The rig's local Redis (the Celery broker) could not be installed, started or stopped, or was
    asked to listen on a non-loopback address. Start-up failures carry the tail of its log."""


class FeedError(NewsflowError):
    """One feed could not be polled. Inside a cycle this becomes a failed FeedResult."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class FetchError(FeedError):
    """The feed could not be downloaded (network, HTTP status, size limit, refused address)."""

    def __init__(self, url: str, reason: str, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(url, reason)


class RefusedAddress(FetchError):
    """The address policy refused a connection (raised inside the network backend)."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(host, f"refused to connect to {host}: {reason}")


class FetchFailed(FetchError):
    """A fetch failure that may carry a Retry-After delay or mark the feed gone."""

    def __init__(self, url: str, reason: str, status_code: int | None = None, *,
                 retryable: bool = False, retry_after: float | None = None, gone: bool = False) -> None:
        self.retryable = retryable  # worth another attempt in this poll (5xx, timeout, connection)
        self.retry_after = retry_after  # seconds the server asked us to wait (429/503)
        self.gone = gone  # HTTP 410: the feed is not polled again
        super().__init__(url, reason, status_code)


class ParseError(FeedError):
    """The downloaded body is not a feed, or nothing could be recovered from it."""


class EnrichError(NewsflowError):
    """Enrichment cannot run: the spaCy model or a vocabulary is missing or broken."""


class IndexError_(NewsflowError):
    """Elasticsearch refused a request or could not be reached.

    `status` is the HTTP status of Elasticsearch's answer (None: no answer) and `error_type` the type
    of the error in its body (e.g. `index_not_found_exception`), for callers that decide by them."""

    status: int | None = None
    error_type: str = ""

    def __init__(self, message: str, *, status: int | None = None, error_type: str = "") -> None:
        if status is not None:
            self.status = status
        if error_type:
            self.error_type = error_type
        super().__init__(message)


class ElasticsearchUnavailable(IndexError_):
    """Elasticsearch cannot be reached. A cycle keeps its articles in the spool and goes on."""

    def __init__(self, url: str, detail: str = "") -> None:
        self.url = url
        hint = "start it with `newsflow stack up` or set NEWSFLOW_ES_URL"
        super().__init__(
            f"Elasticsearch at {url} is unreachable{': ' + detail if detail else ''} ({hint})"
        )


class ElasticsearchOverloaded(ElasticsearchUnavailable):
    """Elasticsearch answered 429 or 502/503/504 even after the client's retries: it is up but cannot
    serve now. Handled like an outage: a cycle spools its articles and goes on."""

    def __init__(self, url: str, status: int, detail: str = "") -> None:
        self.url = url
        self.status = status
        IndexError_.__init__(
            self, f"Elasticsearch at {url} is overloaded (HTTP {status}{': ' + detail if detail else ''}); "
            "articles wait in the spool until it recovers (if this persists, check the cluster's "
            "health, thread pools and disk watermarks)"
        )


class IndexNotFound(IndexError_):
    """The index or alias a request named does not exist (Elasticsearch's index_not_found_exception):
    nothing was written there yet, or `newsflow setup` has not run for this prefix."""

    status = 404
    error_type = "index_not_found_exception"

    def __init__(self, index: str, url: str = "") -> None:
        self.index = index
        at = f" at {url}" if url else ""
        super().__init__(
            f"Elasticsearch{at} has no index or alias {index or '(unnamed)'}: run `newsflow setup` to "
            "create the indices of this prefix (NEWSFLOW_INDEX_PREFIX), or check that prefix")


class QueryError(IndexError_):
    """A Lucene query string was rejected; the message is Elasticsearch's parser message."""

    def __init__(self, query: str, detail: str) -> None:
        self.query = query
        self.detail = detail
        super().__init__(f"invalid query {query!r}: {detail}")


class LeadingWildcardError(QueryError):
    """A query term starts with `*` or `?`: Elasticsearch would have to scan every term of the field."""

    def __init__(self, query: str) -> None:
        super().__init__(query, "a term may not start with '*' or '?' (a leading wildcard scans every "
                         "term in the index and can stall the cluster); put at least one character "
                         "before the wildcard (e.g. 'infla*'), or use '*' alone to match everything")


class SearchTimeout(QueryError):
    """A search ran longer than allowed; its partial results are not shown as if complete."""

    def __init__(self, query: str, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(query, f"the search took longer than {seconds:g} s "
                         "(NEWSFLOW_INDEX__SEARCH_TIMEOUT); narrow it (a field, --filter, --since) "
                         "or raise that setting")


class SpoolFullError(IndexError_):
    """The on-disk spool is full: articles could not be kept for later indexing."""


class SpoolBatchCorrupt(IndexError_):
    """A spool batch file cannot be read back (truncated or edited JSON, wrong shape, an article
    record that no longer validates); it is moved to the spool's quarantine folder."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(
            f"spool batch {name} is corrupt ({reason}): moved to the spool's quarantine folder; "
            "its articles are fetched again while their feeds still carry them"
        )


class KibanaError(IndexError_):
    """Kibana could not be reached, or refused the saved objects (the message names which and why)."""


class AlertError(NewsflowError):
    """An alert rule or channel is invalid, or a delivery failed."""


class DeliveryError(AlertError):
    """One attempt to deliver an alert over one channel failed (kept in the alert's delivery status)."""

    def __init__(self, channel: str, reason: str, retryable: bool = True) -> None:
        self.channel = channel
        self.reason = reason
        self.retryable = retryable  # False: retrying within this delivery cannot help (e.g. HTTP 400)
        super().__init__(f"delivery to {channel} failed: {reason}")


class InsecureSmtpLogin(AlertError):
    """SMTP credentials are configured but the connection would not be encrypted.

    `login()` over plaintext sends the password readable to anyone on the path; only a server on
    this machine (loopback) is exempt."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        super().__init__(
            f"refusing to log in to SMTP server {host}:{port} without TLS (the password would cross "
            "the network in the clear): set NEWSFLOW_ALERTS__SMTP_STARTTLS=true (port 587) or "
            "NEWSFLOW_ALERTS__SMTP_SSL=true (port 465), or clear NEWSFLOW_ALERTS__SMTP_USERNAME "
            "for a relay that needs no login")


class AlertsBusy(AlertError):
    """Another run is recording alerts for this prefix and did not finish within the wait.

    The articles stay in the alert queue; a later run matches them."""

    def __init__(self, holder: str, until: str, waited: float) -> None:
        self.holder = holder
        self.until = until
        super().__init__(
            f"another run ({holder}) holds the alert-recording lock until {until}; waited {waited:.0f} s, "
            "the articles stay queued for the next run (if that run died, its lock expires then)")


class AlertLockLost(AlertsBusy):
    """This run's alert-recording lock (or a delivery claim) lapsed or passed to another run while
    it was delivering: it stopped sending, and what it had not sent is left for a later run."""

    def __init__(self, holder: str, detail: str) -> None:
        self.holder = holder
        self.until = ""
        AlertError.__init__(
            self, f"alert delivery stopped: {detail}; the alerts not yet sent stay queued for the next "
            "run (if Elasticsearch was slow or unreachable, check it; otherwise raise "
            "NEWSFLOW_ALERTS__DELIVERY_LEASE)")


class InvalidAppriseUrl(AlertError):
    """An `apprise:` channel whose URL apprise cannot use: an unknown service, a URL its service
    cannot parse (a token of the wrong form, a missing part) or a service disabled on this system.

    Raised when the rule is saved, so a rule never waits for its first alert to fail. The message
    names the problem as apprise reported it, with the URL's secrets masked."""

    def __init__(self, shown: str, problem: str) -> None:
        self.shown = shown  # the channel as it may be shown: `apprise:<scheme>://***`
        self.problem = problem
        super().__init__(
            f"invalid channel {shown!r}: {problem} (the URL forms of every service are listed at "
            "https://appriseit.com/services/; see docs/alerts.md, \"Chat and push channels\")")


class StoryNotFound(IndexError_):
    """No indexed article has this story id (`newsflow story STORY_ID`)."""

    def __init__(self, story_id: str) -> None:
        self.story_id = story_id
        super().__init__(
            f"no article has story_id {story_id!r}; the story ids are in the `story_id` of "
            "`newsflow search QUERY --json` (or `--by-story`)")


class PushError(NewsflowError):
    """WebSub push (docs/push.md): a subscription request or a received push could not be handled."""


class PushSpoolCorrupt(PushError):
    """A file of the push spool ($NEWSFLOW_HOME/push/spool) cannot be read back (edited, or a bad
    disk): it is moved to the spool's quarantine folder; the feed's next poll fetches its items."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"push spool file {name} is corrupt ({reason}): moved to the push spool's "
                         "quarantine folder; its items come with the feed's next poll")
