"""Log lines and embedded-metric-format lines: what CloudWatch will read."""

from __future__ import annotations

import json

from registration.continuous import metrics


class Clock:
    def now(self) -> float:
        return 1_700_000_000.25


def test_an_event_is_one_json_line_without_empty_fields() -> None:
    lines: list[str] = []
    journal = metrics.Journal(lines.append, Clock())
    journal.event("skipped", bucket="b", key="a b.jpg", reason="empty_object", detail=None)
    (line,) = lines
    assert "\n" not in line
    assert json.loads(line) == {
        "event": "skipped",
        "time": "2023-11-14T22:13:20.250Z",
        "bucket": "b",
        "key": "a b.jpg",
        "reason": "empty_object",
    }


def test_counters_flush_as_one_emf_document_with_every_metric() -> None:
    lines: list[str] = []
    journal = metrics.Journal(lines.append, Clock())
    journal.count(metrics.LATE_ARRIVALS)
    journal.count(metrics.REGISTERED, 3)
    journal.flush("my-function")
    journal.flush("my-function")  # counters start again from zero
    first, second = (json.loads(line) for line in lines)
    directive = first["_aws"]["CloudWatchMetrics"][0]
    assert first["_aws"]["Timestamp"] == 1_700_000_000_250
    assert directive["Namespace"] == metrics.NAMESPACE
    assert directive["Dimensions"] == [[metrics.DIMENSION]]
    assert [d["Name"] for d in directive["Metrics"]] == list(metrics.METRICS)
    assert first[metrics.DIMENSION] == "my-function"
    assert first[metrics.LATE_ARRIVALS] == 1 and first[metrics.REGISTERED] == 3
    assert all(second[name] == 0 for name in metrics.METRICS)
