"""The Lambda entry point: ``registration.continuous.handler.handler``.

Lambda's SQS event source calls `handler(event, context)` with a batch of records and reads
``{"batchItemFailures": [...]}`` back (the event source mapping reports partial batch
failures). What lives as long as the container is made on the first call: the settings (the
``ENCORD_CONTINUOUS_SETTINGS`` environment variable), the AWS clients, the engine; the Encord
key (Secrets Manager) and the Encord connection are made the first time something is sent, and
dropped after an authentication failure, so a rotated key is read on the next call.

`build_engine` assembles the same engine from given parts (tests, the local poller, the demo).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from registration.continuous.aws import AwsClients
from registration.continuous.clock import Clock, SystemClock
from registration.continuous.dynamo import StateTable
from registration.continuous.engine import Engine
from registration.continuous.folder import SharedFolder
from registration.continuous.metrics import LineWriter, stream_writer
from registration.continuous.secrets import SecretKey
from registration.continuous.settings import HandlerSettings
from registration.continuous.target import EncordTarget, connect_target
from registration.encord.client import POLL_SECONDS
from registration.encord.retry import RetryPolicy

_lock = threading.Lock()
_engine: Engine | None = None


class Connector:
    """Connects to Encord on first use and keeps the target; `forget` drops it and the key."""

    def __init__(
        self,
        key: SecretKey,
        settings: HandlerSettings,
        folder: SharedFolder,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.key = key
        self.settings = settings
        self.folder = folder
        self.policy = policy
        self._lock = threading.Lock()
        self._target: EncordTarget | None = None

    def __call__(self) -> EncordTarget:
        """The connected target (made on the first call)."""
        with self._lock:
            if self._target is None:
                self._target = connect_target(
                    self.key.text(), self.settings, self.folder, self.policy
                )
            return self._target

    def forget(self) -> None:
        """Drop the connection and the cached key (after an authentication failure)."""
        with self._lock:
            self._target = None
        self.key.forget()


def build_engine(
    settings: HandlerSettings | None = None,
    aws: AwsClients | None = None,
    *,
    clock: Clock | None = None,
    write: LineWriter | None = None,
    policy: RetryPolicy | None = None,
    poll_seconds: int = POLL_SECONDS,
) -> Engine:
    """The engine from its parts (each defaults to what the Lambda uses)."""
    settings = settings or HandlerSettings.from_environ()
    aws = aws or AwsClients.create()
    clock = clock or SystemClock()
    folder = SharedFolder(StateTable(aws.dynamodb, settings.table_name), clock, settings.folder)
    connector = Connector(SecretKey(aws.secrets, settings.secret_id), settings, folder, policy)
    return Engine(
        settings,
        aws,
        clock,
        write or stream_writer(),
        connector,
        forget=connector.forget,
        poll_seconds=poll_seconds,
    )


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda's entry point for the SQS event source (partial batch failures)."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = build_engine()
        engine = _engine
    return engine.handle(event, context)
