"""Which prefix a cloud-synced folder may mirror: decided from the stack outputs alone."""

from __future__ import annotations

import pytest

from registration.encord.cloud_sync import (
    check_metadata_suffix,
    normalise_prefix,
    sync_target,
)
from registration.errors import UsageError
from registration.stack_outputs import AccessStackOutputs, BucketOutput


def outputs(*buckets: BucketOutput, allow_listing: bool | None = True) -> AccessStackOutputs:
    return AccessStackOutputs(
        stack_name="EncordAccess",
        role_arn="arn:aws:iam::123456789012:role/r",
        external_id="x",
        buckets=buckets,
        allow_listing=allow_listing,
    )


DATA = BucketOutput("data", "eu-west-1", ("images/", "videos/raw/"))
WHOLE = BucketOutput("whole", "eu-west-1", ("",))


@pytest.mark.parametrize(
    ("prefix", "url"),
    [
        ("images/", "s3://data/images/"),
        ("images", "s3://data/images/"),
        ("/images/2026", "s3://data/images/2026/"),
        ("videos/raw/cam1/", "s3://data/videos/raw/cam1/"),
    ],
)
def test_a_granted_prefix_or_one_under_it(prefix: str, url: str) -> None:
    assert sync_target(outputs(DATA, WHOLE), bucket="data", prefix=prefix).remote_url == url


@pytest.mark.parametrize("prefix", ["", "videos/", "imagesX/", "other/"])
def test_a_prefix_outside_the_grant_is_refused(prefix: str) -> None:
    with pytest.raises(UsageError, match="is outside what the stack lets Encord read and list"):
        sync_target(outputs(DATA), prefix=prefix)


def test_defaults_need_one_bucket_and_one_prefix() -> None:
    assert sync_target(outputs(WHOLE)).remote_url == "s3://whole/"
    assert sync_target(outputs(WHOLE), prefix="a/b").remote_url == "s3://whole/a/b/"
    with pytest.raises(UsageError, match="name one with --bucket"):
        sync_target(outputs(DATA, WHOLE))
    with pytest.raises(UsageError, match="grants 2 prefixes of s3://data"):
        sync_target(outputs(DATA))
    with pytest.raises(UsageError, match="is not a bucket of the stack"):
        sync_target(outputs(DATA), bucket="nope")


@pytest.mark.parametrize(("flag", "said"), [(False, "allowListing is false"), (None, "not set")])
def test_no_listing_grant_is_refused_with_the_fix(flag: bool | None, said: str) -> None:
    with pytest.raises(UsageError) as refused:
        sync_target(outputs(WHOLE, allow_listing=flag))
    assert said in str(refused.value)
    assert '"allowListing": true' in str(refused.value.hint)


def test_prefixes_and_suffixes() -> None:
    assert normalise_prefix("") == ""
    assert normalise_prefix("a") == "a/"
    assert check_metadata_suffix(".meta.json") == ".meta.json"
    for bad in ("", "a/b", "x" * 129):
        with pytest.raises(UsageError, match="--metadata-suffix"):
            check_metadata_suffix(bad)
