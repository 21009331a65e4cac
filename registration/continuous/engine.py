"""One Lambda invocation, start to end: a batch of SQS records in, batch item failures out.

The steps, each in its own module:

1. `arrivals.read`: parse every record (poison -> dead-letter queue with its reason), resolve
   objects against S3, merge duplicates;
2. `placement`: each object is a skip, a sidecar, a marker, a group member or a single file;
   the records of skips and single files are read in batches (`arrivals.look_up`);
3. skips recorded; sidecars (`sidecar_flow`) before single files, so that an object and its
   sidecar in one batch go out together; group members collected (`collect`); single files
   claimed (`singles`); markers and group checks complete groups (`completion`); sidecar
   checks settled;
4. everything claimed goes to Encord in one job (`submit`), metadata updates in another, and
   the results are written back (`finish`);
5. the failed messages' reasons are recorded (`ledger`), metrics written (`metrics`).

An authentication failure (Encord refuses the key, or the function may not read its secret or
table) ends the invocation at once: one log line, every claim released, the exception raised
so that the whole batch returns to the queue and the function's Errors alarm fires. The Encord
connection and the key are then dropped, so the next invocation reads the secret again (a
rotated key is picked up without a redeploy).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from registration.build.plan import pipeline_options
from registration.continuous import (
    arrivals,
    backoff,
    collect,
    completion,
    finish,
    metrics,
    sidecar_flow,
    singles,
)
from registration.continuous import table as t
from registration.continuous.arrivals import Arrival
from registration.continuous.aws import AwsClients
from registration.continuous.claims import LEASE_MARGIN_SECONDS, Claims
from registration.continuous.clock import Clock, Deadline
from registration.continuous.dynamo import StateTable
from registration.continuous.groups import Groups
from registration.continuous.invocation import Invocation, Services
from registration.continuous.items import Items
from registration.continuous.ledger import Ledger
from registration.continuous.metrics import Journal, LineWriter
from registration.continuous.placement import Marker, Member, Placer, Sidecar, Single, Skip
from registration.continuous.settings import HandlerSettings
from registration.continuous.sidecars_wait import Sidecars
from registration.continuous.submit import Submitter
from registration.continuous.target import EncordTarget
from registration.encord.client import POLL_SECONDS
from registration.errors import AuthError, RegisterError, UsageError

AUTH_HINT = (
    "check that the secret holds the private half of a public key added in Encord (Settings > "
    "Public keys) and that the domain is your tenant's; put the right key in the secret "
    "(put-secret-value), then redrive the dead-letter queue"
)


class Engine:
    """The handler's work, with its services made once per container."""

    def __init__(
        self,
        settings: HandlerSettings,
        aws: AwsClients,
        clock: Clock,
        write: LineWriter,
        encord: Callable[[], EncordTarget],
        *,
        forget: Callable[[], None] = lambda: None,
        poll_seconds: int = POLL_SECONDS,
    ) -> None:
        options = pipeline_options(settings.build)
        table = StateTable(aws.dynamodb, settings.table_name)
        self.services = Services(
            settings=settings,
            aws=aws,
            clock=clock,
            options=options,
            table=table,
            claims=Claims(table),
            groups=Groups(table),
            sidecars=Sidecars(table),
            placer=Placer(options, settings.marker),
            items=Items(settings, options, self._read),
            encord=encord,
        )
        self.write = write
        self.forget = forget
        self.poll_seconds = poll_seconds

    def _read(self, record: Any) -> bytes:
        """A sidecar's bytes (S3 GetObject)."""
        body: bytes = self.services.aws.s3.get_object(Bucket=record.bucket, Key=record.key)[
            "Body"
        ].read()
        return body

    def handle(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """Handle one SQS batch; `{"batchItemFailures": [{"itemIdentifier": id}, ...]}`."""
        services = self.services
        now = services.clock.now()
        deadline = Deadline.from_context(context)
        request = str(getattr(context, "aws_request_id", "") or "local")
        services.claims.runs.forget()
        inv = Invocation(
            services=services,
            owner=f"{request}/{uuid.uuid4().hex[:12]}",
            now=now,
            lease_until=now + max(0.0, deadline.left()) + LEASE_MARGIN_SECONDS,
            deadline=deadline,
            journal=Journal(self.write, services.clock),
            ledger=Ledger(event.get("Records") or []),
        )
        function = str(getattr(context, "function_name", "") or "local")
        try:
            self._run(inv)
        except (AuthError, UsageError) as exc:
            self._release(inv)
            kind = "authentication_failed" if isinstance(exc, AuthError) else "configuration_error"
            inv.journal.event(
                kind,
                reason=exc.message,
                hint=exc.hint or AUTH_HINT,
                messages=len(inv.ledger.messages),
            )
            inv.ledger.fail(inv.ledger.messages, t.ERROR_TRANSIENT, f"{kind}: {exc.message}")
            with contextlib.suppress(RegisterError):
                inv.ledger.record(services.table, services.clock.now())
            inv.journal.flush(function)
            self.forget()
            raise
        except Exception:
            self._release(inv)
            raise
        # Not on BaseException: a process that dies releases nothing (its leases run out).
        self._release(inv)
        inv.ledger.record(services.table, services.clock.now())
        failed = inv.ledger.failed()
        self._hide_busy(inv)
        inv.journal.count(metrics.RETRIED_MESSAGES, len(failed))
        inv.journal.event(
            "batch", messages=len(inv.ledger.messages), failed=len(failed), owner=inv.owner
        )
        inv.journal.flush(function)
        return {"batchItemFailures": [{"itemIdentifier": message} for message in failed]}

    def _hide_busy(self, inv: Invocation) -> None:
        """Bring the messages that found their objects busy back sooner than the queue's
        visibility timeout (`backoff`)."""
        problems = backoff.shorten(
            self.services.aws.sqs,
            self.services.settings.queue_url,
            inv.ledger.messages.values(),
            self.services.clock.now(),
        )
        for problem in problems:
            inv.journal.event("visibility_not_changed", reason=problem)

    def _release(self, inv: Invocation) -> None:
        """Release every claim the invocation holds but did not finish; its messages come back
        (a claim left unfinished must be looked at again)."""
        for claim in inv.held:
            if not claim.done:
                claim.done = True
                inv.ledger.fail(claim.messages, t.ERROR_TRANSIENT, "not finished; tried again")
                # On failure the lease runs out by itself.
                with contextlib.suppress(RegisterError):
                    self.services.claims.release(claim, inv.now, in_flight=claim.job is not None)

    def _run(self, inv: Invocation) -> None:
        services = self.services
        batch = arrivals.read(inv)
        placed: dict[type, list[tuple[Arrival, Any]]] = {}
        for arrival in batch.arrivals:
            where = services.placer.place(arrival.head.record(arrival.bucket))
            placed.setdefault(type(where), []).append((arrival, where))
        single = [arrival for arrival, _ in placed.get(Single, [])]
        sidecars = placed.get(Sidecar, [])
        # Sidecars in the batch flag their objects first: those objects are read after them.
        skipped = [arrival for arrival, _ in placed.get(Skip, [])]
        arrivals.look_up(inv, skipped if sidecars else [*skipped, *single])
        self._skips(inv, placed.get(Skip, []))
        collect.join(inv, placed.get(Member, []))
        needs_encord = [*placed.get(Single, []), *placed.get(Sidecar, []), *placed.get(Marker, [])]
        if not (needs_encord or batch.group_checks or batch.sidecar_checks):
            return
        target = self._target(inv, needs_encord, batch)
        if target is None:
            return
        waiting: list[sidecar_flow.Waiting] = []
        if sidecars:
            present = {(arrival.bucket, arrival.head.key) for arrival in batch.arrivals}
            waiting = sidecar_flow.arrive(inv, sidecars, present)
            arrivals.look_up(inv, single)
        singles.claim(inv, single)
        sidecar_flow.after_claims(inv, waiting)
        markers = placed.get(Marker, [])
        collect.markers(inv, markers)
        # A check of a group whose marker is in this batch is answered by the marker.
        completed = {(arrival.bucket, marker.folder) for arrival, marker in markers}
        checks = {k: v for k, v in batch.group_checks.items() if k not in completed}
        completion.checks(inv, checks)
        own = sidecar_flow.check(inv, batch.sidecar_checks)
        self._own_objects(inv, own)
        self._send(inv, target)

    def _target(
        self, inv: Invocation, waiting: list[Any], batch: arrivals.Batch
    ) -> EncordTarget | None:
        """The Encord target; on a transient failure to connect, the messages that need it
        fail (and come back) and None is returned."""
        try:
            return self.services.encord()
        except (AuthError, UsageError):
            raise
        except RegisterError as exc:
            messages: set[str] = set()
            for arrival, _ in waiting:
                messages |= arrival.messages
            for ids in (*batch.group_checks.values(), *batch.sidecar_checks.values()):
                messages |= ids
            inv.failed(messages, exc)
            return None

    def _skips(self, inv: Invocation, found: list[tuple[Arrival, Skip]]) -> None:
        inv.each(
            lambda item: arrivals.skip(inv, item[0], item[1].reason, item[1].detail),
            found,
            lambda item: item[0].messages,
        )

    def _own_objects(self, inv: Invocation, own: list[Arrival]) -> None:
        """Sidecars whose object never came: placed and handled as objects of their own."""
        single: list[Arrival] = []
        members: list[tuple[Arrival, Member]] = []
        for arrival in own:
            where = self.services.placer.place_data(arrival.head.record(arrival.bucket))
            if isinstance(where, Single):
                single.append(arrival)
            elif isinstance(where, Member):
                members.append((arrival, where))
            else:
                self._skips(inv, [(arrival, where)])
        collect.join(inv, members)
        singles.claim(inv, single)

    def _send(self, inv: Invocation, target: EncordTarget) -> None:
        if not (inv.units or inv.upserts):
            return
        options = self.services.options
        submitter = Submitter(
            target,
            self.services.claims,
            inv.journal,
            self.services.clock,
            inv.deadline,
            self.services.pool,
            max_items=options.max_items,
            max_bytes=options.max_bytes,
            poll_seconds=self.poll_seconds,
        )
        if inv.units:
            finish.claims(inv, submitter.submit(inv.units))
        if inv.upserts:
            results = submitter.submit([update.unit for update in inv.upserts], upsert=True)
            finish.upserts(inv, inv.upserts, results)
