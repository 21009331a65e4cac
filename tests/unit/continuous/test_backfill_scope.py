"""What a backfill may send: the watched buckets and prefixes, narrowed, never widened."""

from __future__ import annotations

from pathlib import Path

import pytest

from registration.build.spec import SourceSpec
from registration.continuous.backfill import plan_scopes, scope_prefixes
from registration.continuous.settings import WatchedBucket
from registration.errors import UsageError

CAMS = WatchedBucket("cams", "eu-west-1", ("drone/", "scans/", "drone/f1/"))
ALL = WatchedBucket("all", "us-east-1", ("",))


def test_the_default_is_every_watched_bucket_and_prefix() -> None:
    scopes = plan_scopes(SourceSpec(), (CAMS, ALL))
    assert [(s.bucket.name, s.prefixes) for s in scopes] == [
        ("cams", ("drone/", "scans/")),  # normalised: drone/f1/ is under drone/
        ("all", ("",)),
    ]


def test_prefixes_narrow_and_outside_ones_are_refused() -> None:
    assert scope_prefixes(CAMS, ("drone/f2/", "scans/p1/")) == ("drone/f2/", "scans/p1/")
    assert scope_prefixes(ALL, ("anything/",)) == ("anything/",)
    with pytest.raises(UsageError, match="'other/', 'dron' is outside"):
        scope_prefixes(CAMS, ("drone/a/", "other/", "dron"))


def test_buckets_and_keys_files() -> None:
    scopes = plan_scopes(SourceSpec(bucket="all", prefixes=("x/",)), (CAMS, ALL))
    assert [(s.bucket.name, s.prefixes) for s in scopes] == [("all", ("x/",))]
    with pytest.raises(UsageError, match="bucket 'nope' is not watched"):
        plan_scopes(SourceSpec(bucket="nope"), (CAMS, ALL))
    with pytest.raises(UsageError, match="--keys-file needs --bucket: 2 buckets are watched"):
        plan_scopes(SourceSpec(keys_file=Path("k.txt")), (CAMS, ALL))
    (scope,) = plan_scopes(SourceSpec(keys_file=Path("k.txt")), (CAMS,))
    assert scope.bucket == CAMS
