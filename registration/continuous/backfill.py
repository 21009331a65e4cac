"""`continuous backfill`: send the objects already in the watched buckets to the handler's queue.

Objects are listed with the build stage's own sources (`registration.build.plan.SourcePlan`: an
S3 listing, an S3 Inventory report, or a keys file; the same options as `manifest`), packed
many to a message (`messages.backfill_bodies`), and sent with SendMessageBatch, so the same
Lambda functions register them, scaled out, with the same grouping and exactly-once rules as
new uploads. Nothing is built or registered here.

- **Only what the function watches.** The watched buckets and prefixes come from the deployed
  function's own settings (`resources.watched_buckets`); a bucket or prefix outside them is
  refused before anything is listed or sent (a keys file's keys: before the first is sent).
- **Batches.** At most `SQS_MAX_BATCH` messages and `MAX_BATCH_BYTES` per SendMessageBatch; the
  entries the queue does not acknowledge are sent again (only those), with backoff.
- **Resumable.** A checkpoint per source and bucket prefix (``listing s3://bucket/prefix``):
  the last key sent, written (atomically) after every acknowledged batch, and ``done`` once the
  prefix is finished. Sources yield keys in sorted order, so a rerun skips every key up to the
  checkpoint and continues after it; finished prefixes are not listed again (``restart``
  starts over). A key sent twice (a crash between a send and its checkpoint) is registered
  once: the handler's claims make it a duplicate.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from registration.build.plan import SourcePlan
from registration.build.sources import ObjectRecord
from registration.build.sources.keys_file import NOTE_OUTSIDE_PREFIX
from registration.build.sources.s3_listing import normalise_prefixes
from registration.build.spec import BuildOptions, SourceSpec
from registration.continuous.backfill_send import BatchSender, batches, pack
from registration.continuous.backfill_state import DEFAULT_STATE_FILE, Checkpoints
from registration.continuous.messages import BACKFILL_BODY_BYTES
from registration.continuous.settings import WatchedBucket
from registration.errors import UsageError, troubleshooting
from registration.register.lock import hold_state_lock
from registration.reporter import Reporter
from registration.stack_outputs import ContinuousOutput

LISTING: Final = "listing"
OUTSIDE_PREFIXES: Final = "outside_watched_prefixes"
"""Objects of an inventory under none of the prefixes sent (counted, not sent)."""
PROGRESS_EVERY: Final = 8192
"""Objects listed between progress reports (the console shows one every few seconds)."""


# --- the watched scope ------------------------------------------------------------------------


@dataclass(frozen=True)
class BucketScope:
    """One bucket to backfill and the prefixes (normalised: none covers another) to send."""

    bucket: WatchedBucket
    prefixes: tuple[str, ...]


def _shown(prefixes: Iterable[str]) -> str:
    return ", ".join(p or "(the whole bucket)" for p in prefixes)


def _watched(bucket: str, watched: tuple[WatchedBucket, ...]) -> WatchedBucket:
    found = next((w for w in watched if w.name == bucket), None)
    if found is None:
        names = ", ".join(w.name for w in watched) or "none"
        raise UsageError(
            f"bucket {bucket!r} is not watched by continuous registration (it watches: {names}); "
            "nothing was sent",
            hint="add it to the continuous object's watch in cdk.json and deploy, or pass a "
            f"watched bucket; {troubleshooting('continuous-registration')}",
        )
    return found


def scope_prefixes(watched: WatchedBucket, wanted: tuple[str, ...]) -> tuple[str, ...]:
    """`wanted` (default: the watched prefixes), refused unless each is under a watched one."""
    if not wanted:
        return tuple(normalise_prefixes(watched.prefixes))
    outside = [p for p in wanted if not p.startswith(tuple(watched.prefixes))]
    if outside:
        raise UsageError(
            f"--prefix {', '.join(repr(p) for p in outside)} is outside what continuous "
            f"registration watches in s3://{watched.name} ({_shown(watched.prefixes)}); "
            "nothing was sent",
            hint="pass prefixes under the watched ones, or add them to the continuous object's "
            f"watch in cdk.json and deploy; {troubleshooting('continuous-registration')}",
        )
    return tuple(normalise_prefixes(wanted))


def plan_scopes(spec: SourceSpec, watched: tuple[WatchedBucket, ...]) -> list[BucketScope]:
    """The buckets and prefixes a listing or keys-file backfill sends (inventory: per report)."""
    if spec.bucket:
        buckets = [_watched(spec.bucket, watched)]
    elif spec.keys_file is not None:
        if len(watched) != 1:
            names = ", ".join(w.name for w in watched)
            raise UsageError(
                f"--keys-file needs --bucket: {len(watched)} buckets are watched ({names})"
            )
        buckets = [watched[0]]
    else:
        buckets = list(watched)
    return [BucketScope(b, scope_prefixes(b, spec.prefixes)) for b in buckets]


@dataclass
class BackfillSummary:
    """What a backfill listed and sent."""

    listed: int = 0
    already_sent: int = 0
    """Objects at or before a checkpoint of an earlier run: not sent again."""
    objects_sent: int = 0
    messages_sent: int = 0
    batches: int = 0
    entries_retried: int = 0
    scopes_done: list[str] = field(default_factory=list)
    scopes_already_done: list[str] = field(default_factory=list)
    not_sent: Counter[str] = field(default_factory=Counter)
    """Objects a source dropped, by reason (``not_found``: keys-file keys not in the bucket)."""
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Objects sent per second."""
        return self.objects_sent / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """As JSON (`--json`)."""
        return {
            "listed": self.listed,
            "alreadySent": self.already_sent,
            "objectsSent": self.objects_sent,
            "messagesSent": self.messages_sent,
            "batches": self.batches,
            "entriesRetried": self.entries_retried,
            "scopesDone": self.scopes_done,
            "scopesAlreadyDone": self.scopes_already_done,
            "notSent": dict(sorted(self.not_sent.items())),
            "seconds": round(self.seconds, 3),
            "objectsPerSecond": round(self.rate, 1),
        }


# --- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackfillOptions:
    """Where the checkpoints are, and whether to start over."""

    state: Path = DEFAULT_STATE_FILE
    restart: bool = False
    body_bytes: int = BACKFILL_BODY_BYTES
    """How full a message is filled at most (`messages.backfill_bodies`)."""


class _Run:
    """One backfill: the shared counters, the state, the sender and the reporter."""

    def __init__(
        self,
        resources: ContinuousOutput,
        checkpoints: Checkpoints,
        sender: BatchSender,
        summary: BackfillSummary,
        reporter: Reporter,
        clock: Callable[[], float],
        body_bytes: int,
    ) -> None:
        self.resources = resources
        self.checkpoints = checkpoints
        self.sender = sender
        self.summary = summary
        self.reporter = reporter
        self.clock = clock
        self.started = clock()
        self.body_bytes = body_bytes

    def progress(self) -> None:
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.summary.objects_sent / elapsed
        self.reporter.progress(
            f"objects sent ({self.summary.listed:,} listed, {self.summary.messages_sent:,} "
            f"messages, {rate:,.0f}/s)",
            self.summary.objects_sent,
        )

    def skip(self, bucket: str, key: str, reason: str, detail: str | None) -> None:
        self.summary.not_sent[reason] += 1

    def send_scope(self, name: str, records: Iterator[ObjectRecord]) -> None:
        """Send one scope's records (sorted) after its checkpoint; mark it done at the end."""
        state = self.checkpoints.scope(name)
        after = state.last_key

        def fresh() -> Iterator[ObjectRecord]:
            summary = self.summary
            for record in records:
                summary.listed += 1
                if not summary.listed % PROGRESS_EVERY:
                    self.progress()  # also while skipping what an earlier run sent
                if after is not None and record.key <= after:
                    summary.already_sent += 1
                    continue
                yield record

        for batch in batches(pack(fresh(), self.body_bytes)):
            self.summary.entries_retried += self.sender.send(batch)
            self.summary.batches += 1
            self.summary.messages_sent += len(batch)
            sent = sum(b.objects for b in batch)
            state.last_key = batch[-1].last_key
            state.objects += sent
            state.messages += len(batch)
            self.summary.objects_sent += sent
            self.checkpoints.save()
            self.progress()
        state.done = True
        self.checkpoints.save()
        self.summary.scopes_done.append(name)


def _scope_name(kind: str, bucket: str, prefix: str) -> str:
    return f"{kind} s3://{bucket}/{prefix}"


def _source_kind(spec: SourceSpec) -> str:
    if spec.inventory:
        return f"inventory {spec.inventory}"
    if spec.keys_file is not None:
        return f"keys {spec.keys_file.resolve()}"
    return LISTING


def _by_scope(
    records: Iterable[ObjectRecord], prefixes: tuple[str, ...]
) -> Iterator[tuple[str | None, Iterator[ObjectRecord]]]:
    """Sorted records grouped by the prefix each is under (None: under none of them)."""

    def prefix_of(record: ObjectRecord) -> str | None:
        return next((p for p in prefixes if record.key.startswith(p)), None)

    return itertools.groupby(records, key=prefix_of)


def _refuse_outside_keys(notes: dict[str, int], scope: BucketScope) -> None:
    outside = notes.get(NOTE_OUTSIDE_PREFIX, 0)
    if outside:
        raise UsageError(
            f"{outside} key(s) of the keys file are outside what continuous registration "
            f"watches in s3://{scope.bucket.name} ({_shown(scope.bucket.prefixes)}); nothing "
            "was sent",
            hint="remove them from the file, or pass --prefix to send only the keys under it",
        )


def _send_bucket(
    run: _Run,
    scope: BucketScope,
    kind: str,
    restart: bool,
    open_records: Callable[[tuple[str, ...]], Iterator[ObjectRecord]],
) -> None:
    """Send the scopes of one bucket that are not done yet; `open_records(prefixes)` reads them
    (sorted by key; only under those prefixes, or the others are ignored here)."""
    bucket = scope.bucket.name
    names = {p: _scope_name(kind, bucket, p) for p in scope.prefixes}
    if restart:
        run.checkpoints.forget(names.values())
    active = tuple(p for p in scope.prefixes if not run.checkpoints.scope(names[p]).done)
    run.summary.scopes_already_done += [names[p] for p in scope.prefixes if p not in active]
    if not active:
        return
    for prefix, group in _by_scope(open_records(active), active):
        if prefix is None:  # an inventory's objects outside the watched prefixes
            run.summary.not_sent[OUTSIDE_PREFIXES] += sum(1 for _ in group)
        else:
            run.send_scope(names[prefix], group)
    for prefix in active:  # prefixes without any object are finished too
        state = run.checkpoints.scope(names[prefix])
        if not state.done:
            state.done = True
            run.summary.scopes_done.append(names[prefix])
    run.checkpoints.save()


def _checked_first(
    records: Iterator[ObjectRecord], check: Callable[[], None]
) -> Iterator[ObjectRecord]:
    """`records`, with `check` run once the first is read (a keys file is sorted by then)."""
    first = next(records, None)
    check()
    if first is not None:
        yield first
        yield from records


def _listed(
    run: _Run, spec: SourceSpec, scope: BucketScope, s3_client: Any
) -> Callable[[tuple[str, ...]], Iterator[ObjectRecord]]:
    """How to read a bucket listing or a keys file under some prefixes of `scope`."""

    def open_records(prefixes: tuple[str, ...]) -> Iterator[ObjectRecord]:
        bucket_spec = dataclasses.replace(
            spec,
            bucket=scope.bucket.name,
            prefixes=prefixes,
            region=spec.region or scope.bucket.region,
            stack_outputs=None,
            stack=None,
        )
        (source,) = SourcePlan(bucket_spec, BuildOptions(), s3_client).sources()
        records: Iterator[ObjectRecord] = source.records()
        if spec.keys_file is not None and not spec.prefixes:
            records = _checked_first(records, lambda: _refuse_outside_keys(source.notes(), scope))
        if source.screen is not None:  # keys files: HeadObject each key
            records = source.screen(records, run.skip)
        return records

    return open_records


def _inventory(
    run: _Run, spec: SourceSpec, watched: tuple[WatchedBucket, ...], s3_client: Any
) -> tuple[BucketScope, Callable[[tuple[str, ...]], Iterator[ObjectRecord]]]:
    """An inventory names its bucket in its manifest: the scope it may send, and its records."""
    region = spec.region or (_watched(spec.bucket, watched).region if spec.bucket else None)
    whole = dataclasses.replace(spec, prefixes=(), region=region, stack_outputs=None, stack=None)
    (source,) = SourcePlan(whole, BuildOptions(), s3_client).sources()
    bucket = _watched(source.bucket, watched)
    scope = BucketScope(bucket, scope_prefixes(bucket, spec.prefixes))

    def open_records(prefixes: tuple[str, ...]) -> Iterator[ObjectRecord]:
        return source.records()  # the whole report, sorted; `_by_scope` keeps `prefixes`

    return scope, open_records


def backfill(
    resources: ContinuousOutput,
    watched: tuple[WatchedBucket, ...],
    spec: SourceSpec,
    sqs: Any,
    reporter: Reporter,
    options: BackfillOptions = BackfillOptions(),
    *,
    s3_client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> BackfillSummary:
    """Send every object of `spec` (default: every watched bucket and prefix) to the queue."""
    if spec.inventory and spec.keys_file:
        raise UsageError("give --inventory or --keys-file, not both")
    scopes = [] if spec.inventory else plan_scopes(spec, watched)  # refusals before any call
    summary = BackfillSummary()
    with hold_state_lock(options.state, reporter, create=True):
        checkpoints = Checkpoints(options.state, resources.queue_url)
        sender = BatchSender(sqs, resources.queue_url, sleep)
        run = _Run(resources, checkpoints, sender, summary, reporter, clock, options.body_bytes)
        kind = _source_kind(spec)
        if spec.inventory:
            scope, open_records = _inventory(run, spec, watched, s3_client)
            _send_bucket(run, scope, kind, options.restart, open_records)
        for scope in scopes:
            _send_bucket(run, scope, kind, options.restart, _listed(run, spec, scope, s3_client))
        summary.seconds = clock() - run.started
    return summary
