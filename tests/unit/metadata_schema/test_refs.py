"""How reports name items: the exact key of every URL the manifest builds."""

from __future__ import annotations

import pytest

from registration.build.urls import URL_STYLES, UrlBuilder
from registration.metadata_schema.refs import item_ref, object_ref

KEYS = ["/leading.jpg", "//double/slash.jpg", "a b+c%d?e#f.jpg", "ünï/😀.png", "x/y.jpg"]


@pytest.mark.parametrize("bucket", ["s3-foo", "s3", "my.dotted", "Legacy_Upper", "data"])
@pytest.mark.parametrize("style", URL_STYLES)
def test_object_ref_gives_the_exact_key_for_every_bucket_and_style(bucket: str, style: str) -> None:
    builder = UrlBuilder(bucket, "eu-west-1", style=style)
    for key in KEYS:
        assert object_ref(builder.url(key)) == key


def test_a_bucket_named_s3_dash_is_not_taken_for_an_endpoint() -> None:
    # Read as path style before, this lost its first folder ("images/").
    url = "https://s3-foo.s3.eu-west-1.amazonaws.com/images/cat.jpg"
    assert object_ref(url) == "images/cat.jpg"
    assert item_ref({"objectUrl_0": "https://s3.eu-west-1.amazonaws.com/b//k.jpg"}) == "/k.jpg"


def test_other_references_come_back_unchanged() -> None:
    mrap = "arn:aws:s3::123456789012:accesspoint/abc.mrap"
    assert object_ref(f"{mrap}/a%20b.jpg") == "a b.jpg"
    assert object_ref("https://example.com/a.jpg") == "https://example.com/a.jpg"
    assert item_ref({"title": "t"}) == "t"
    assert item_ref({}) == "<item without objectUrl or title>"
