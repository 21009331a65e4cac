"""Concurrent listing gives exactly the sequential listing: order, pagination, interleaving."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from registration.build.sources import s3_listing
from registration.build.sources.s3_listing import BucketLister, normalise_prefixes

BUCKET = "listing-bucket"


@pytest.fixture
def s3(offline_aws: str) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def _fill(keys: list[str]) -> None:
    from moto.s3.models import s3_backends

    backend = s3_backends["123456789012"]["aws"]
    for key in keys:
        backend.put_object(BUCKET, key, b"x")


def test_many_direct_objects_and_prefixes_interleave_in_key_order(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Names chosen so that direct objects sort between sub-prefixes ('-' < '.' < '/' < '0'),
    # more than one page of the delimiter listing, more direct objects than the pending cap.
    monkeypatch.setattr(s3_listing, "_MAX_PENDING_UNITS", 50)
    keys = []
    for i in range(300):
        keys += [f"k{i:04d}-a.jpg", f"k{i:04d}.jpg", f"k{i:04d}/x.jpg", f"k{i:04d}0.jpg"]
    keys += [f"z/{i:05d}.jpg" for i in range(1_100)]
    _fill(keys)
    sequential = [r.key for r in BucketLister(s3, BUCKET, workers=1).iter_objects()]
    concurrent = [r.key for r in BucketLister(s3, BUCKET, workers=4).iter_objects()]
    assert sequential == sorted(keys)
    assert concurrent == sequential


def test_prefixes_are_normalised() -> None:
    assert normalise_prefixes(["b/", "a/", "a/x/", "a/", "c"]) == ["a/", "b/", "c"]
    assert normalise_prefixes([]) == [""]
    assert normalise_prefixes(["", "a/"]) == [""]


def test_consumer_stopping_early_does_not_hang(s3: Any) -> None:
    _fill([f"p{i:02d}/{j:04d}.jpg" for i in range(12) for j in range(300)])
    listing = BucketLister(s3, BUCKET, workers=8).iter_objects()
    first = [next(listing) for _ in range(10)]
    listing.close()  # producers must notice and stop
    assert [r.key for r in first] == [f"p00/{j:04d}.jpg" for j in range(10)]


def test_restore_status_from_the_listing_decides_archived_objects() -> None:
    from botocore.stub import Stubber

    from registration.build.sources import is_archived

    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    stubber = Stubber(client)
    contents = [
        {
            "Key": "a.jpg",
            "Size": 1,
            "StorageClass": "GLACIER",
            "RestoreStatus": {
                "IsRestoreInProgress": False,
                "RestoreExpiryDate": "2030-01-01T00:00:00.000Z",
            },
        },
        {
            "Key": "b.jpg",
            "Size": 1,
            "StorageClass": "GLACIER",
            "RestoreStatus": {"IsRestoreInProgress": True},
        },
        {"Key": "c.jpg", "Size": 1, "StorageClass": "DEEP_ARCHIVE"},
        {"Key": "d.jpg", "Size": 1, "StorageClass": "GLACIER_IR"},
    ]
    stubber.add_response(
        "list_objects_v2",
        {"Contents": contents, "IsTruncated": False, "KeyCount": 4},
        {"Bucket": BUCKET, "Prefix": "", "OptionalObjectAttributes": ["RestoreStatus"]},
    )
    with stubber:
        records = list(BucketLister(client, BUCKET, workers=1).iter_objects())
    assert [(r.key, is_archived(r)) for r in records] == [
        ("a.jpg", False),
        ("b.jpg", True),
        ("c.jpg", True),
        ("d.jpg", False),
    ]
