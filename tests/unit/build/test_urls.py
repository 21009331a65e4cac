"""Object URLs: every key S3 accepts is encoded once and decodes back exactly."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registration.build.urls import UrlBuilder, decode_key, encode_key
from registration.encord.limits import MAX_URL_BYTES
from registration.errors import UsageError

# S3 keys: any Unicode text (no lone surrogates: not encodable as UTF-8), 1..1024 bytes.
s3_keys = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300
).filter(lambda k: len(k.encode("utf-8")) <= 1024)

AWKWARD_KEYS = [
    "plain/key.jpg",
    "with space/and  two.jpg",
    "plus+sign.png",
    "already%20encoded.png",
    "percent%.png",
    "hash#fragment.png",
    "question?mark=1&b=2.png",
    "semi;colon:equals=.mp4",
    "unicode/ünïcödé/日本語/😀.jpg",
    "new\nline.jpg",
    "tab\tand\rcr.jpg",
    "trailing space .jpg",
    " leading-space.jpg",
    "back\\slash.jpg",
    "quotes'\"<>|.jpg",
    "brackets[1]{2}.jpg",
    "tilde~dash-under_score.dot.jpg",
    "double//slash.jpg",
    "/leading-slash.jpg",
    "./dot/../segments.jpg",
    "nul\x00char.jpg",
    "del\x7fchar.jpg",
    "nbsp\u00a0and\u2028ls.jpg",
    "%2F%252F.jpg",
]

_WHITESPACE = re.compile(r"\s")


@settings(max_examples=300, deadline=None)
@given(s3_keys)
def test_any_key_encodes_to_a_url_without_whitespace_that_decodes_back(key: str) -> None:
    builder = UrlBuilder("my-bucket", "eu-west-1")
    url = builder.url(key)
    assert not _WHITESPACE.search(url)
    assert url.isascii()
    assert unquote(url[len(builder.prefix) :]) == key
    assert builder.key_of(url) == key
    # Encoded exactly once: encoding the encoded form changes every '%' it holds.
    assert encode_key(encode_key(key)) != encode_key(key) or "%" not in encode_key(key)


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_awkward_keys_round_trip_in_every_style(key: str) -> None:
    for builder in (
        UrlBuilder("my-bucket", "us-east-1"),
        UrlBuilder("my-bucket", "us-east-1", style="path"),
        UrlBuilder("my.dotted.bucket", "eu-west-1"),
        UrlBuilder(
            "my-bucket", "", mrap_arn="arn:aws:s3::123456789012:accesspoint/abcdef1234.mrap"
        ),
    ):
        url = builder.url(key)
        assert not _WHITESPACE.search(url), url
        assert decode_key(url[len(builder.prefix) :]) == key
        if url.startswith("https://"):
            parts = urlsplit(url)
            # '#' and '?' in keys must not turn into a fragment or a query.
            assert parts.fragment == "" and parts.query == ""


def test_plus_stays_a_plus_and_percent_is_encoded() -> None:
    builder = UrlBuilder("b", "eu-west-1")
    assert builder.url("a+b c%d") == "https://b.s3.eu-west-1.amazonaws.com/a%2Bb%20c%25d"


def test_url_styles() -> None:
    assert UrlBuilder("data", "eu-west-2").url("x/y.jpg") == (
        "https://data.s3.eu-west-2.amazonaws.com/x/y.jpg"
    )
    assert UrlBuilder("data", "eu-west-2", style="path").url("x/y.jpg") == (
        "https://s3.eu-west-2.amazonaws.com/data/x/y.jpg"
    )
    # Dotted names break virtual-hosted TLS: path style is automatic.
    assert UrlBuilder("my.data", "us-east-1").url("k") == (
        "https://s3.us-east-1.amazonaws.com/my.data/k"
    )
    assert UrlBuilder("data", "cn-north-1").url("k") == (
        "https://data.s3.cn-north-1.amazonaws.com.cn/k"
    )
    mrap = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"
    assert UrlBuilder("data", "eu-west-1", mrap_arn=mrap).url("a b.jpg") == (f"{mrap}/a%20b.jpg")


def test_bad_style_and_bad_mrap_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="url-style"):
        UrlBuilder("b", "eu-west-1", style="weird")
    with pytest.raises(UsageError, match="not an MRAP ARN"):
        UrlBuilder("b", "eu-west-1", mrap_arn="arn:aws:s3:::bucket")


def test_url_length_limit_constant_is_16_kib() -> None:
    assert MAX_URL_BYTES == 16384
