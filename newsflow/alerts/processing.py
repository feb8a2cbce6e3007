"""The alerts of one run: the cycle's one entry point into alerts.

    run = AlertRun(client, settings)
    run.match(articles)        # as each group is indexed (and once more for the alert queue)
    totals = run.deliver()     # at the end of the run

`AlertRun` owns the e-mail digest decision. Without digests, `match` delivers each new alert at
once and records it with its outcome (one write per alert: newsflow.alerts.engine.match_and_deliver).
With digests (`alerts.email_digest`), `match` creates the new alerts held for this run, and
`deliver` sends them together: one digest per rule per run. `deliver` then sends every older
delivery that is due again (retries, the held records of a crashed run).

`digests_later=True` (the news_ingest DAG's shards, which match as they index but do not deliver
the digests: the run's `alerts` task does): with digests, `match` creates the new alerts pending,
due at once, instead of held for this run, so the next `deliver_pending` (that task) sends each
rule's alerts of every shard of the run as one digest. Without digests it changes nothing.

`recheck_stories=True` (the shards, and the run's `alerts` task after them): before recording, the
stories that the matched articles founded are checked again against the copies other processes
indexed meanwhile, and merged into theirs (newsflow.alerts.story_merge), so two copies of one story
clustered by two shards at the same moment alert once. `newsflow run` (one process) sees all its
copies when it clusters and does without.

Make one AlertRun per run: the receivers a delivery found down are skipped for the rest of the run,
and the next run (a new AlertRun) tries every receiver again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from elasticsearch import Elasticsearch

from newsflow.alerts.delivery import DeliveryFailure, DeliveryResult, deliver_claimed, deliver_pending
from newsflow.alerts.engine import Documents, MatchResult, match_and_deliver, match_articles
from newsflow.alerts.signals import check_signals
from newsflow.alerts.story_merge import StoryRecheck, founders
from newsflow.core.models import Article, utc_now
from newsflow.core.settings import Settings

Timer = Callable[[str], AbstractContextManager[object]]


@dataclass(frozen=True, slots=True)
class AlertTotals:
    """What a run's alert processing did, summed over its matches and deliveries."""

    matched: int = 0  # rule × article hits
    created: int = 0  # new alert records
    sent: int = 0
    failed: int = 0  # deliveries given up
    deferred: int = 0  # deliveries to retry later
    failures: tuple[DeliveryFailure, ...] = ()  # each delivery given up


class AlertRun:
    """Matching articles against the rules during one run and delivering the alerts (see the module
    docstring). Not thread-safe."""

    def __init__(self, client: Elasticsearch, settings: Settings, *, digests_later: bool = False,
                 recheck_stories: bool = False) -> None:
        self._client = client
        self._settings = settings
        self._digests_later = digests_later
        self._recheck = StoryRecheck(client, settings) if recheck_stories else None
        self._matched: list[MatchResult] = []
        self._delivered: list[DeliveryResult] = []
        self._down: dict[str, str] = {}  # receivers found down by a delivery during this run

    def match(self, articles: Sequence[Article], *, now: datetime | None = None,
              timer: Timer | None = None, documents: Documents | None = None) -> None:
        """Match articles against every rule and record the new alerts once per (rule, story):
        delivered at once, or with e-mail digests held for `deliver`.

        `timer` times the "match" and "deliver" parts. Raises AlertsBusy when another run holds the
        recording lock (nothing was recorded or delivered), IndexError_ or AlertError when
        Elasticsearch refused: the articles are then to be matched again later. `documents`: the
        articles' index documents when the caller built them already (they are percolated as written)."""
        now = now or utc_now()
        timed = timer or _untimed
        merge = None
        if self._recheck is not None and founders(articles):
            # The search before the lock (the shards search at once); the merge under it.
            with timed("stories"):
                merge = partial(self._recheck.merge, self._recheck.find(articles))
        if self._settings.alerts.email_digest:
            lease = timedelta(seconds=self._settings.alerts.delivery_lease)
            with timed("match"):
                matched = match_articles(self._client, self._settings, articles, now=now,
                                         claim_until=None if self._digests_later else now + lease,
                                         documents=documents, merge_stories=merge)
            delivered = DeliveryResult()
        else:
            matched, delivered = match_and_deliver(self._client, self._settings, articles, now=now,
                                                   down=self._down, timer=timed, documents=documents,
                                                   merge_stories=merge)
        self._matched.append(matched)
        self._delivered.append(delivered)

    @property
    def merged_stories(self) -> dict[str, str]:
        """Story id -> the story it was merged into by this run's matches (with `recheck_stories`),
        for the clustering of the run's later articles (enrich.stories.StoryAssigner)."""
        return self._recheck.merged if self._recheck is not None else {}

    def deliver(self, *, now: datetime | None = None) -> AlertTotals:
        """Check the volume rules, deliver the alerts held for this run, then every older delivery
        due again; the totals of the run (its matches included)."""
        now = now or utc_now()
        # Volume rules (spike, first seen) count what this run indexed along with what came before.
        signals = check_signals(self._client, self._settings, now=now, down=self._down)
        self._matched.append(MatchResult(created=signals.created, duplicates=signals.already_recorded))
        self._delivered.append(signals.delivery)
        claimed = [record for result in self._matched for record in result.claimed]
        self._delivered.append(deliver_claimed(self._client, self._settings, claimed, now=now,
                                               down=self._down))
        self._delivered.append(deliver_pending(self._client, self._settings, now=now))
        return self.totals()

    def totals(self) -> AlertTotals:
        """The totals so far."""
        delivered = self._delivered
        return AlertTotals(
            matched=sum(m.matched for m in self._matched), created=sum(m.created for m in self._matched),
            sent=sum(d.sent for d in delivered), failed=sum(d.failed for d in delivered),
            deferred=sum(d.deferred for d in delivered),
            failures=tuple(f for d in delivered for f in d.failures),
        )


def _untimed(_name: str) -> AbstractContextManager[object]:
    return nullcontext()
