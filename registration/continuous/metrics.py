"""What the handler tells CloudWatch: one JSON log line per event, and metrics as log lines.

Every skip, late arrival, failure and refusal is one JSON line (``{"event": "skipped",
"bucket": ..., "key": ..., "reason": ...}``), so CloudWatch Logs Insights finds its fields.
Counters go out once per invocation in CloudWatch's embedded metric format (EMF): a log line
that CloudWatch turns into metrics of `NAMESPACE`, which needs no extra IAM permission (no
PutMetricData). Lines go to the process's standard error through a logger of their own (no
prefix, no propagation), which Lambda sends to the function's log group; tests pass their own
writer. Nothing secret is ever a field here: the Encord key never reaches this module.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

import orjson

from registration.continuous.clock import Clock, iso

NAMESPACE: Final = "EncordContinuousRegistration"
"""The CloudWatch namespace of the handler's metrics."""
DIMENSION: Final = "FunctionName"
"""The one dimension of every metric: the function's name."""

REGISTERED: Final = "Registered"
"""Units (single files and groups) Encord now holds, created or found as duplicates."""
GROUPS_REGISTERED: Final = "GroupsRegistered"
SKIPPED: Final = "Skipped"
"""Objects skipped with one of `manifest`'s reasons (or `group_marker`)."""
DUPLICATE_EVENTS: Final = "DuplicateEvents"
"""Events of objects already registered, skipped or collected: nothing sent."""
LATE_ARRIVALS: Final = "LateArrivals"
"""Files that arrived in a group's folder after the group was frozen."""
FAILED: Final = "Failed"
"""Units Encord refused (unit errors): marked failed, not retried."""
SIDECARS_APPLIED: Final = "SidecarsApplied"
"""Sidecars whose metadata was sent to an item already registered (upsert)."""
RETRIED_MESSAGES: Final = "RetriedMessages"
"""Messages reported as batch item failures (they come back to the queue)."""
POISON_MESSAGES: Final = "PoisonMessages"
"""Messages that are not events, backfill or checks (they end in the dead-letter queue)."""
JOBS: Final = "EncordJobs"
METRICS: Final = (
    REGISTERED,
    GROUPS_REGISTERED,
    SKIPPED,
    DUPLICATE_EVENTS,
    LATE_ARRIVALS,
    FAILED,
    SIDECARS_APPLIED,
    RETRIED_MESSAGES,
    POISON_MESSAGES,
    JOBS,
)
"""Every metric, each written (0 included) once per invocation."""

LineWriter = Callable[[str], None]
"""Writes one log line (a JSON document, without newline)."""

_LOGGER_NAME: Final = "registration.continuous.lines"


def stream_writer() -> LineWriter:
    """A writer sending each line, as it is, to standard error (Lambda's log group)."""
    logger = logging.getLogger(_LOGGER_NAME)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger.info


def emf_document(counts: dict[str, int], function_name: str, timestamp_ms: int) -> dict[str, Any]:
    """The embedded-metric-format document for `counts` (every metric of `METRICS`)."""
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in METRICS],
                }
            ],
        },
        DIMENSION: function_name,
        **{name: int(counts.get(name, 0)) for name in METRICS},
    }


class Journal:
    """One invocation's log lines and metric counters (thread-safe)."""

    def __init__(self, write: LineWriter, clock: Clock) -> None:
        self._write = write
        self._clock = clock
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def event(self, name: str, **fields: Any) -> None:
        """One JSON line: ``{"event": name, "time": ..., **fields}`` (None fields left out)."""
        line = {"event": name, "time": iso(self._clock.now())}
        line.update({k: v for k, v in fields.items() if v is not None})
        text = orjson.dumps(line, default=str).decode("utf-8")
        with self._lock:
            self._write(text)

    def count(self, metric: str, amount: int = 1) -> None:
        """Add `amount` to `metric` (one of `METRICS`)."""
        with self._lock:
            self.counts[metric] += amount

    def flush(self, function_name: str) -> None:
        """Write the counters as one EMF line, and start again from zero."""
        with self._lock:
            counts = dict(self.counts)
            self.counts.clear()
        document = emf_document(counts, function_name, int(self._clock.now() * 1000))
        text = orjson.dumps(document).decode("utf-8")
        with self._lock:
            self._write(text)
