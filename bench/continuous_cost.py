"""What continuous registration costs on AWS, from measured counts and AWS's public prices.

`bench.continuous_bench` counts what a run used (Lambda invocations and their duration, SQS
requests, DynamoDB read and write units, EventBridge events, S3 requests, log bytes, table
bytes); `cost_lines` turns those counts into dollars per million objects with the prices
below. Every price is AWS's published on-demand price in `REGION` as of `PRICES_AS_OF`
(check the pricing pages named beside each before relying on them: prices change, and
other regions differ by a few percent). Free tiers are ignored: at a million objects a
month they would absorb most of this bill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

REGION: Final = "us-east-1"
PRICES_AS_OF: Final = "2026-12-01"

# https://aws.amazon.com/lambda/pricing/ (x86: the function is bundled for manylinux x86_64)
LAMBDA_PER_GB_SECOND: Final = 0.0000166667
LAMBDA_PER_MILLION_REQUESTS: Final = 0.20
# https://aws.amazon.com/sqs/pricing/ (standard queue; every 64 KiB chunk of a payload is
# billed as one request; ReceiveMessage and DeleteMessageBatch made by Lambda's event source
# mapping are billed like any other request)
SQS_PER_MILLION_REQUESTS: Final = 0.40
SQS_BILLING_CHUNK_BYTES: Final = 64 * 1024
# https://aws.amazon.com/dynamodb/pricing/on-demand/ (Standard table class; the November 2024
# price cut halved the older $1.25 / $0.25)
DYNAMODB_PER_MILLION_WRITE_UNITS: Final = 0.625
DYNAMODB_PER_MILLION_READ_UNITS: Final = 0.125
DYNAMODB_STORAGE_PER_GB_MONTH: Final = 0.25
DYNAMODB_PITR_PER_GB_MONTH: Final = 0.20
# https://aws.amazon.com/eventbridge/pricing/ : S3's object-level events are "AWS opt-in data
# events" (S3 sends them only once EventBridge notifications are switched on): unlike AWS
# management events, they are billed at the custom-event price per 64 KB chunk. Delivery by a
# rule to a target in the same account (our queue) has no charge; the queue's SendMessage is
# billed by SQS (counted there).
EVENTBRIDGE_OPT_IN_EVENTS_PER_MILLION: Final = 1.00
EVENTBRIDGE_SAME_ACCOUNT_DELIVERY_PER_MILLION: Final = 0.0
# https://aws.amazon.com/s3/pricing/ (S3 Standard GET/HEAD: the function's HeadObject and
# sidecar GetObject)
S3_GET_PER_THOUSAND: Final = 0.0004
# https://aws.amazon.com/cloudwatch/pricing/ (Logs, standard class, ingestion; storage is
# $0.03 per GB-month on top, after compression, and depends on the retention you set)
CLOUDWATCH_LOGS_PER_GB_INGESTED: Final = 0.50
LAMBDA_PLATFORM_LOG_BYTES: Final = 270
"""Lambda's own START, END and REPORT lines of one invocation, as Lambda writes them (a
36-character request ID, a four-digit duration)."""
LAMBDA_PLATFORM_LOG_EVENTS: Final = 3
LOG_EVENT_OVERHEAD_BYTES: Final = 26
"""CloudWatch Logs counts 26 bytes per log event on top of its message."""
# Fixed monthly costs that do not grow with the objects (for the docs, not per object):
CLOUDWATCH_ALARM_PER_MONTH: Final = 0.10
CLOUDWATCH_CUSTOM_METRIC_PER_MONTH: Final = 0.30
SECRETS_MANAGER_SECRET_PER_MONTH: Final = 0.40

GB: Final = 1024**3
MILLION: Final = 1_000_000


@dataclass(frozen=True)
class Usage:
    """What one measured run used, in the units AWS bills."""

    objects: int
    """Objects put in the bucket (each made one S3 event)."""
    invocations: int
    lambda_seconds: float
    """Sum of the invocations' durations (Lambda bills each rounded up to 1 ms)."""
    memory_mb: int
    """The function's memory size (the construct's setting)."""
    sqs_requests: int
    """Billed SQS requests: EventBridge's deliveries, the handler's sends, the event source's
    receives and deletes (64 KiB chunks counted)."""
    eventbridge_events: int
    dynamodb_write_units: float
    dynamodb_read_units: float
    s3_get_requests: int
    log_bytes: int
    """Bytes the function logged (its own lines, with the per-event overhead)."""
    table_bytes: int
    """The table's size at the end of the run (DynamoDB's item-size rules)."""


@dataclass(frozen=True)
class CostLine:
    """One line of the bill: what, how much of it per million objects, and its dollars."""

    service: str
    quantity: str
    dollars: float


def _per_million(value: float, objects: int) -> float:
    return value * MILLION / objects


def cost_lines(usage: Usage) -> list[CostLine]:
    """Dollars per million objects, per service, for `usage` (objects must be > 0)."""
    n = usage.objects
    gb_seconds = usage.lambda_seconds * usage.memory_mb / 1024
    platform = LAMBDA_PLATFORM_LOG_BYTES + LAMBDA_PLATFORM_LOG_EVENTS * LOG_EVENT_OVERHEAD_BYTES
    log_gb = (usage.log_bytes + usage.invocations * platform) / GB
    invocations = _per_million(usage.invocations, n)
    return [
        CostLine(
            "Lambda requests",
            f"{invocations:,.0f} invocations",
            invocations * LAMBDA_PER_MILLION_REQUESTS / MILLION,
        ),
        CostLine(
            "Lambda duration",
            f"{_per_million(gb_seconds, n):,.0f} GB-s ({usage.memory_mb} MB)",
            _per_million(gb_seconds, n) * LAMBDA_PER_GB_SECOND,
        ),
        CostLine(
            "SQS requests",
            f"{_per_million(usage.sqs_requests, n):,.0f} requests",
            _per_million(usage.sqs_requests, n) * SQS_PER_MILLION_REQUESTS / MILLION,
        ),
        CostLine(
            "DynamoDB writes",
            f"{_per_million(usage.dynamodb_write_units, n):,.0f} WRU",
            _per_million(usage.dynamodb_write_units, n)
            * DYNAMODB_PER_MILLION_WRITE_UNITS
            / MILLION,
        ),
        CostLine(
            "DynamoDB reads",
            f"{_per_million(usage.dynamodb_read_units, n):,.0f} RRU",
            _per_million(usage.dynamodb_read_units, n) * DYNAMODB_PER_MILLION_READ_UNITS / MILLION,
        ),
        CostLine(
            "EventBridge (S3 events)",
            f"{_per_million(usage.eventbridge_events, n):,.0f} events",
            _per_million(usage.eventbridge_events, n)
            * (
                EVENTBRIDGE_OPT_IN_EVENTS_PER_MILLION
                + EVENTBRIDGE_SAME_ACCOUNT_DELIVERY_PER_MILLION
            )
            / MILLION,
        ),
        CostLine(
            "S3 GET/HEAD by the function",
            f"{_per_million(usage.s3_get_requests, n):,.0f} requests",
            _per_million(usage.s3_get_requests, n) * S3_GET_PER_THOUSAND / 1000,
        ),
        CostLine(
            "CloudWatch Logs ingestion",
            f"{_per_million(log_gb, n):,.2f} GB",
            _per_million(log_gb, n) * CLOUDWATCH_LOGS_PER_GB_INGESTED,
        ),
    ]


def storage_per_month(usage: Usage) -> CostLine:
    """What the table's records of a million objects cost to keep, per month (with PITR)."""
    gb = _per_million(usage.table_bytes, usage.objects) / GB
    return CostLine(
        "DynamoDB storage + PITR, per month",
        f"{gb:,.2f} GB",
        gb * (DYNAMODB_STORAGE_PER_GB_MONTH + DYNAMODB_PITR_PER_GB_MONTH),
    )


def fixed_per_month(*, alarms: int, metrics: int, secrets: int = 1) -> CostLine:
    """What the stack costs each month whatever it registers: its alarms, the custom metrics
    the function writes (embedded metric format: one per name and dimension) and the secret."""
    dollars = (
        alarms * CLOUDWATCH_ALARM_PER_MONTH
        + metrics * CLOUDWATCH_CUSTOM_METRIC_PER_MONTH
        + secrets * SECRETS_MANAGER_SECRET_PER_MONTH
    )
    return CostLine(
        "fixed, per month", f"{alarms} alarms, {metrics} metrics, {secrets} secret", dollars
    )


def dollars_per_extra_second(usage: Usage) -> float:
    """What one more second of every invocation (waiting longer for Encord) adds per million
    objects: the local stand-in finishes jobs faster than Encord may."""
    invocations = _per_million(usage.invocations, usage.objects)
    return invocations * usage.memory_mb / 1024 * LAMBDA_PER_GB_SECOND


def sqs_chunks(payload_bytes: int) -> int:
    """Billed SQS requests for one call carrying `payload_bytes` (at least one)."""
    return max(1, math.ceil(payload_bytes / SQS_BILLING_CHUNK_BYTES))
