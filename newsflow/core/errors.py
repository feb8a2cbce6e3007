"""The exceptions newsflow raises. Every message says what failed and what to do.

    NewsflowError
    ├── ConfigError            bad settings, feeds file or CLI input
    │   └── FeedsFileError     the feeds file cannot be read (names the line and the problem)
    ├── StackError             the local Elasticsearch cannot be installed, started or stopped
    ├── FeedError              one feed failed (kept as a FeedResult value inside a cycle)
    │   ├── FetchError         network, HTTP status, size or address policy
    │   └── ParseError         the body is not a feed, or yields no items
    ├── EnrichError            the spaCy model or a vocabulary cannot be loaded
    ├── IndexError_            Elasticsearch refused or could not be reached
    │   ├── ElasticsearchUnavailable  cannot connect: the cycle spools its articles
    │   ├── QueryError         an invalid search or rule query (carries the parser's message)
    │   │   ├── LeadingWildcardError  a term starting with * or ?, which would scan every term
    │   │   └── SearchTimeout         a search that ran longer than `index.search_timeout`
    │   ├── SpoolFullError     the on-disk spool reached its size limit
    │   └── KibanaError        Kibana refused or could not be reached (saved-objects import)
    └── AlertError             a rule or channel is invalid, or a delivery failed
        ├── DeliveryError      one delivery attempt over one channel failed
        ├── InsecureSmtpLogin  SMTP credentials would be sent over a plaintext connection
        └── AlertsBusy         another run holds the alert-recording lock longer than we wait
            └── AlertLockLost  this run's lock (or delivery claim) lapsed: it stopped sending

Errors of dependencies (httpx, elasticsearch, feedparser, spaCy) are translated into these at the
boundary, with `raise ... from exc`, so callers catch one family.
"""

from __future__ import annotations


class NewsflowError(Exception):
    """Base class of every error newsflow raises on purpose."""


class ConfigError(NewsflowError):
    """Settings, a feeds file or a command-line argument is invalid."""


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


class ParseError(FeedError):
    """The downloaded body is not a feed, or nothing could be recovered from it."""


class EnrichError(NewsflowError):
    """Enrichment cannot run: the spaCy model or a vocabulary is missing or broken."""


class IndexError_(NewsflowError):
    """Elasticsearch refused a request or could not be reached."""


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
