"""`bench.continuous_cost`: dollars per million objects from a run's counts.

The expected figures are worked out here step by step from AWS's published us-east-1 prices
(pinned by the first test), not with the module's formulas.
"""

from __future__ import annotations

import dataclasses

import pytest

from bench import continuous_cost as cost

# A small run of 2,000 objects: every count times 500 makes a million objects.
RUN = cost.Usage(
    objects=2_000,
    invocations=40,
    lambda_seconds=30.0,
    memory_mb=512,
    sqs_requests=6_000,
    eventbridge_events=2_000,
    dynamodb_write_units=9_000.0,
    dynamodb_read_units=500.0,
    s3_get_requests=2_200,
    log_bytes=1_000_000,
    table_bytes=800_000,
)
GIB = 2**30


def test_the_prices_are_the_published_ones() -> None:
    assert cost.LAMBDA_PER_MILLION_REQUESTS == 0.20
    assert cost.LAMBDA_PER_GB_SECOND == 0.0000166667  # x86
    assert cost.SQS_PER_MILLION_REQUESTS == 0.40  # standard queue
    assert cost.DYNAMODB_PER_MILLION_WRITE_UNITS == 0.625  # on demand, since November 2024
    assert cost.DYNAMODB_PER_MILLION_READ_UNITS == 0.125
    assert (cost.DYNAMODB_STORAGE_PER_GB_MONTH, cost.DYNAMODB_PITR_PER_GB_MONTH) == (0.25, 0.20)
    assert cost.EVENTBRIDGE_OPT_IN_EVENTS_PER_MILLION == 1.00
    assert cost.S3_GET_PER_THOUSAND == 0.0004
    assert cost.CLOUDWATCH_LOGS_PER_GB_INGESTED == 0.50


def test_each_line_per_million_objects() -> None:
    expected = {
        # 40 invocations x 500 = 20,000; $0.20 per million requests
        "Lambda requests": ("20,000 invocations", 20_000 * 0.20 / 1e6),
        # 30 s x 0.5 GB = 15 GB-s, x 500 = 7,500 GB-s; $0.0000166667 per GB-s
        "Lambda duration": ("7,500 GB-s (512 MB)", 7_500 * 0.0000166667),
        # 6,000 x 500 = 3 million requests; $0.40 per million
        "SQS requests": ("3,000,000 requests", 3 * 0.40),
        # 9,000 x 500 = 4.5 million WRU; $0.625 per million
        "DynamoDB writes": ("4,500,000 WRU", 4.5 * 0.625),
        # 500 x 500 = 0.25 million RRU; $0.125 per million
        "DynamoDB reads": ("250,000 RRU", 0.25 * 0.125),
        # 2,000 x 500 = 1 million events; $1.00 per million, delivery to the queue free
        "EventBridge (S3 events)": ("1,000,000 events", 1 * 1.00),
        # 2,200 x 500 = 1.1 million GETs = 1,100 thousands; $0.0004 per thousand
        "S3 GET/HEAD by the function": ("1,100,000 requests", 1_100 * 0.0004),
        # The function's 1,000,000 bytes plus Lambda's START/END/REPORT lines per invocation
        # (270 bytes + 3 events x 26 bytes overhead = 348) x 40 = 1,013,920 bytes, x 500 =
        # 506,960,000 bytes = 0.472 GiB; $0.50 per GB
        "CloudWatch Logs ingestion": ("0.47 GB", 506_960_000 / GIB * 0.50),
    }
    lines = {line.service: line for line in cost.cost_lines(RUN)}
    assert {s: line.quantity for s, line in lines.items()} == {
        s: q for s, (q, _) in expected.items()
    }
    for service, (_, dollars) in expected.items():
        assert lines[service].dollars == pytest.approx(dollars, rel=1e-12), service


def test_the_table_per_month_and_the_fixed_costs() -> None:
    # 800,000 bytes x 500 = 400,000,000 bytes = 0.3725 GiB; $0.25 storage + $0.20 PITR
    storage = cost.storage_per_month(RUN)
    assert storage.quantity == "0.37 GB"
    assert storage.dollars == pytest.approx(400_000_000 / GIB * 0.45, rel=1e-12)
    # 3 alarms x $0.10 + 2 metrics x $0.30 + 1 secret x $0.40
    fixed = cost.fixed_per_month(alarms=3, metrics=2)
    assert fixed.quantity == "3 alarms, 2 metrics, 1 secret"
    assert fixed.dollars == pytest.approx(1.30)


def test_one_more_second_per_invocation() -> None:
    # 20,000 invocations per million objects x 0.5 GB x 1 s = 10,000 GB-s
    assert cost.dollars_per_extra_second(RUN) == pytest.approx(10_000 * 0.0000166667, rel=1e-12)


def test_zero_objects_have_no_per_object_figure() -> None:
    empty = dataclasses.replace(RUN, objects=0)
    with pytest.raises(ZeroDivisionError):
        cost.cost_lines(empty)
    with pytest.raises(ZeroDivisionError):
        cost.storage_per_month(empty)
    with pytest.raises(ZeroDivisionError):
        cost.dollars_per_extra_second(empty)
    assert cost.fixed_per_month(alarms=0, metrics=0, secrets=0).dollars == 0


@pytest.mark.parametrize(
    ("payload_bytes", "requests"),
    [
        (0, 1),  # an empty call is still one request
        (1, 1),
        (64 * 1024, 1),
        (64 * 1024 + 1, 2),
        (256 * 1024, 4),  # AWS's own example: a 256 KB payload is four requests
    ],
)
def test_sqs_bills_started_64_kib_chunks(payload_bytes: int, requests: int) -> None:
    assert cost.sqs_chunks(payload_bytes) == requests
