"""The CORS merge the custom resource and `encord-register cors` share: no lost update, bounded.

Real boto3 against moto's S3 in-process. Concurrent writers are interleaved at exact points
with botocore event hooks on the writer's own client (after its read, after its write), so
each race happens every run, not by chance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from registration.cors_merge import (
    Bounds,
    CorsConflictError,
    delete_rules,
    put_rule,
    read_rules,
)

BUCKET = "shared-data"
CUSTOMER = {"ID": "customer", "AllowedOrigins": ["https://x.example"], "AllowedMethods": ["GET"]}
PERSON = {"ID": "person", "AllowedOrigins": ["https://p.example"], "AllowedMethods": ["GET"]}
NO_WAIT = Bounds(attempts=4, deadline_seconds=30, settle_seconds=0)


def rule(rule_id: str) -> dict[str, Any]:
    return {
        "ID": rule_id,
        "AllowedOrigins": ["https://app.encord.com"],
        "AllowedMethods": ["GET", "HEAD"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 3600,
    }


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER]})
        yield client


def client_with_hook(event: str, hook: Callable[[], None], *, once: bool = True) -> Any:
    """A fresh S3 client that runs `hook` after each (or the first) `event` call."""
    client = boto3.client("s3", region_name="us-east-1")
    fired: list[bool] = []

    def run(**_: Any) -> None:
        if once and fired:
            return
        fired.append(True)
        hook()

    client.meta.events.register(f"after-call.s3.{event}", run)
    return client


def ids(s3: Any) -> list[str]:
    return [str(r.get("ID")) for r in read_rules(s3, BUCKET)]


def test_two_stacks_writing_at_once_both_keep_their_rule(s3: Any) -> None:
    """Stack B writes between stack A's read and write; A's write drops B's rule; B's
    confirming read (after its settle wait, by which time A has written) sees that, and B
    merges again. The read-modify-write without the confirmation loses B's rule."""
    a_wrote, b_wrote = threading.Event(), threading.Event()
    b_result: list[Any] = []

    def b_settles(_seconds: float) -> None:
        b_wrote.set()
        a_wrote.wait(10)  # B's confirming read comes after A's write

    def stack_b() -> None:
        client = boto3.client("s3", region_name="us-east-1")
        b_result.append(put_rule(client, BUCKET, rule("encord-access-B"), sleep=b_settles))

    b_thread = threading.Thread(target=stack_b)

    def between_a_read_and_write() -> None:
        b_thread.start()
        assert b_wrote.wait(10)  # B has read and written; A now writes what it read before

    a_client = client_with_hook("GetBucketCors", between_a_read_and_write)
    a_client.meta.events.register("after-call.s3.PutBucketCors", lambda **_: a_wrote.set())
    a_result = put_rule(a_client, BUCKET, rule("encord-access-A"), bounds=NO_WAIT)
    b_thread.join(10)

    assert sorted(ids(s3)) == ["customer", "encord-access-A", "encord-access-B"]
    assert a_result.attempts == 1 and b_result[0].attempts == 2  # B noticed and merged again


def test_a_person_overwriting_after_the_write_is_noticed_and_merged_again(s3: Any) -> None:
    """Someone writes a configuration read before our write (so without our rule) right after
    it: the confirming read sees our rule gone; the second round keeps their rule and ours."""

    def person_writes_a_stale_configuration() -> None:
        person = boto3.client("s3", region_name="us-east-1")
        person.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER, PERSON]})

    handler = client_with_hook("PutBucketCors", person_writes_a_stale_configuration)
    outcome = put_rule(handler, BUCKET, rule("encord-access-A"), bounds=NO_WAIT)
    assert ids(s3) == ["customer", "person", "encord-access-A"]
    assert outcome.changed and outcome.attempts == 2


def test_a_writer_that_keeps_overwriting_fails_clearly_within_the_bound(s3: Any) -> None:
    def overwrite() -> None:
        boto3.client("s3", region_name="us-east-1").put_bucket_cors(
            Bucket=BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER]}
        )

    handler = client_with_hook("PutBucketCors", overwrite, once=False)
    writes: list[str] = []
    handler.meta.events.register("after-call.s3.PutBucketCors", lambda **_: writes.append("w"))
    with pytest.raises(CorsConflictError) as caught:
        put_rule(handler, BUCKET, rule("encord-access-A"), bounds=NO_WAIT)
    message = str(caught.value)
    assert message.startswith(f"bucket {BUCKET}: another writer kept overwriting")
    assert "after 4 attempt(s)" in message and "find what else changes" in message
    assert len(writes) == NO_WAIT.attempts  # bounded: exactly the attempts allowed
    assert ids(s3) == ["customer"]


def test_the_deadline_bounds_the_attempts_too(s3: Any) -> None:
    clock = iter(float(t) for t in range(0, 1000, 7))

    def overwrite() -> None:
        boto3.client("s3", region_name="us-east-1").put_bucket_cors(
            Bucket=BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER]}
        )

    handler = client_with_hook("PutBucketCors", overwrite, once=False)
    bounds = Bounds(attempts=50, deadline_seconds=20, settle_seconds=1)
    with pytest.raises(CorsConflictError, match=r"after [1-3] attempt"):
        put_rule(
            handler,
            BUCKET,
            rule("encord-access-A"),
            bounds=bounds,
            sleep=lambda s: None,
            clock=lambda: next(clock),
        )


def test_removal_is_confirmed_too_and_keeps_the_other_rules(s3: Any) -> None:
    put_rule(s3, BUCKET, rule("encord-access-A"), bounds=NO_WAIT)

    def stale_write_with_our_rule() -> None:  # someone writes what they read before
        boto3.client("s3", region_name="us-east-1").put_bucket_cors(
            Bucket=BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER, rule("encord-access-A")]}
        )

    handler = client_with_hook("PutBucketCors", stale_write_with_our_rule)
    outcome = delete_rules(handler, BUCKET, ["encord-access-A"], bounds=NO_WAIT)
    assert ids(s3) == ["customer"] and outcome.attempts == 2


def test_nothing_is_written_when_the_rule_is_in_place(s3: Any) -> None:
    put_rule(s3, BUCKET, rule("encord-access-A"), bounds=NO_WAIT)
    writes: list[str] = []
    s3.meta.events.register("before-call.s3.PutBucketCors", lambda **_: writes.append("w"))
    outcome = put_rule(s3, BUCKET, rule("encord-access-A"), bounds=NO_WAIT)
    assert not outcome.changed and writes == []
