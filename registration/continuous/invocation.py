"""What every step of the engine works with: the container's services and one invocation's state.

`Services` live as long as the Lambda container (clients, the table, the build stage's rules,
a thread pool, the Encord target once connected); an `Invocation` lives for one batch: who owns
the claims it makes and until when, its deadline, its log lines and metrics, its messages and
the units it will send. Steps run their per-object work through `Invocation.each`, which runs
it in the pool and turns any failure but a fatal one into a failure of the messages concerned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from registration.build.pipeline import PipelineOptions
from registration.continuous import metrics
from registration.continuous import table as t
from registration.continuous.aws import AwsClients
from registration.continuous.claims import Claim, Claims
from registration.continuous.clock import Clock, Deadline
from registration.continuous.dynamo import StateTable
from registration.continuous.groups import Groups
from registration.continuous.items import Items
from registration.continuous.keys import Head
from registration.continuous.ledger import Ledger
from registration.continuous.metrics import Journal
from registration.continuous.placement import Placer
from registration.continuous.settings import MAX_SQS_DELAY_SECONDS, HandlerSettings
from registration.continuous.sidecars_wait import Sidecars
from registration.continuous.submit import Unit
from registration.continuous.target import EncordTarget
from registration.errors import AuthError

T = TypeVar("T")
WORKERS: Final = 16
"""Threads doing one invocation's AWS calls (HeadObject, conditional writes) side by side."""


@dataclass
class Services:
    """Everything that lives as long as the container."""

    settings: HandlerSettings
    aws: AwsClients
    clock: Clock
    options: PipelineOptions
    table: StateTable
    claims: Claims
    groups: Groups
    sidecars: Sidecars
    placer: Placer
    items: Items
    encord: Callable[[], EncordTarget]
    """Connects on first use and keeps the target (raises AuthError when Encord refuses)."""
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(WORKERS, thread_name_prefix="continuous")
    )


@dataclass(eq=False)
class Upsert:
    """A sidecar's metadata for an item already registered (sent with `upsert_metadata`)."""

    unit: Unit
    bucket: str
    data_key: str
    sidecar_key: str
    sidecar_etag: str
    messages: set[str]


@dataclass
class Invocation:
    """One batch: the owner of its claims, its lease and deadline, and what it will send."""

    services: Services
    owner: str
    now: float
    lease_until: float
    deadline: Deadline
    journal: Journal
    ledger: Ledger
    units: list[Unit] = field(default_factory=list)
    upserts: list[Upsert] = field(default_factory=list)
    held: list[Claim] = field(default_factory=list)
    """Every claim this invocation holds (released when it ends without sending them)."""

    def each(
        self,
        work: Callable[[T], None],
        items: Iterable[T],
        messages_of: Callable[[T], Iterable[str]],
    ) -> None:
        """Run `work` on every item in the pool; an item whose work fails fails its messages
        (transient: they come back), except for `AuthError`, which ends the invocation."""

        def guarded(item: T) -> BaseException | None:
            try:
                work(item)
            except AuthError as exc:
                return exc
            except Exception as exc:  # one object's trouble must not fail the others
                self.failed(messages_of(item), exc)
            return None

        fatal = [e for e in self.services.pool.map(guarded, list(items)) if e is not None]
        if fatal:
            raise fatal[0]

    def failed(self, messages: Iterable[str], exc: BaseException, kind: str = "") -> None:
        """Fail `messages` because of `exc` (logged once)."""
        reason = str(getattr(exc, "message", None) or exc) or type(exc).__name__
        ids = list(messages)
        self.journal.event("error", reason=reason, error=type(exc).__name__, messages=ids)
        self.ledger.fail(ids, kind or t.ERROR_TRANSIENT, reason)

    def busy(self, messages: Iterable[str], reason: str, until: float | None = None) -> None:
        """Fail `messages` because another invocation holds what they name, until `until` when
        known (logged; they come back sooner than other failures, see `backoff`)."""
        ids = list(messages)
        self.journal.event("busy", reason=reason, messages=ids)
        self.ledger.busy(ids, reason, until)

    def skip(
        self,
        bucket: str,
        key: str,
        reason: str,
        detail: str | None = None,
        head: Head | None = None,
    ) -> None:
        """Record and log one skipped object (`manifest`'s reasons)."""
        self.services.claims.skip_object(bucket, key, reason, detail, self.now, head)
        self.journal.event("skipped", bucket=bucket, key=key, reason=reason, detail=detail)
        self.journal.count(metrics.SKIPPED)

    def send_check(self, body: str, delay: float) -> None:
        """Send a check message back to the queue, delivered after `delay` seconds (at most
        SQS's 900; at least 1, so that it is never seen before the moment it is due)."""
        seconds = min(MAX_SQS_DELAY_SECONDS, max(1, int(delay + 0.999)))
        self.services.aws.sqs.send_message(
            QueueUrl=self.services.settings.queue_url, MessageBody=body, DelaySeconds=seconds
        )

    def hold(self, claim: Claim, messages: Iterable[str]) -> Claim:
        """Note a claim this invocation now holds, for `messages`."""
        claim.messages.update(messages)
        self.held.append(claim)
        return claim


def settings_summary(settings: HandlerSettings) -> dict[str, Any]:
    """What a log line may say about the settings (nothing secret is in them anyway)."""
    return {
        "table": settings.table_name,
        "folder": settings.folder,
        "quiet": settings.quiet_seconds,
    }
