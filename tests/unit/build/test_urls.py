"""Object URLs: every key S3 accepts is encoded once and decodes back exactly."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registration.build.urls import (
    URL_STYLES,
    ObjectLocation,
    UrlBuilder,
    decode_key,
    encode_key,
    has_dot_segment,
    parse_url,
)
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


# --- dot segments (a URL that HTTP clients would send for another object) ------------------

_DOT_SEGMENT_SPELLINGS = {".", "..", "%2e", ".%2e", "%2e.", "%2e%2e"}


def _client_path(path: str) -> str:
    """The path an HTTP client sends for `path`: RFC 3986 section 5.2.4's dot-segment removal,
    with the WHATWG URL standard's rule that `%2e` (either case) in a segment is a dot."""
    output: list[str] = []
    segments = path.split("/")
    for n, segment in enumerate(segments):
        last = n == len(segments) - 1
        spelled = segment.lower()
        if spelled in _DOT_SEGMENT_SPELLINGS:
            if spelled.replace("%2e", ".") == ".." and len(output) > 1:
                output.pop()
            if last:
                output.append("")
            continue
        output.append(segment)
    return "/".join(output)


def _sent_key(builder: UrlBuilder, url: str) -> str | None:
    """The key of the object an HTTP client would fetch for `url` (None: not this bucket)."""
    parts = urlsplit(url)
    sent = f"{parts.scheme}://{parts.netloc}{_client_path(parts.path)}"
    location = parse_url(sent)
    return location.key if location is not None and location.bucket == builder.bucket else None


def test_the_client_path_model_removes_dot_segments() -> None:
    """The model above is the one that makes `a/../b.jpg` dangerous: prove it is not a no-op."""
    url = UrlBuilder("b", "eu-west-1").url("a/../b.jpg")
    assert url == "https://b.s3.eu-west-1.amazonaws.com/a/../b.jpg"
    assert _client_path(urlsplit(url).path) == "/b.jpg"
    assert _client_path("/a/%2E%2e/b.jpg") == "/b.jpg"
    assert _client_path("/a//b/./c/") == "/a//b/c/"


@pytest.mark.parametrize(
    ("key", "dotted"),
    [
        ("a/../b.jpg", True),
        ("./x.jpg", True),
        ("a/./b", True),
        ("../up.jpg", True),
        ("a/..", True),
        ("a/.", True),
        ("..", True),
        (".", True),
        ("a/.../b.jpg", False),  # three dots are a name
        ("a/.hidden/b.jpg", False),
        (".env", False),
        ("a..b/c.jpg", False),
        ("a/%2E%2E/b.jpg", False),  # percent signs are encoded (%25): no dots reach a client
        ("a\\..\\b.jpg", False),  # backslashes are encoded (%5C): no separators reach one
    ],
)
def test_keys_with_dot_segments_are_found(key: str, dotted: bool) -> None:
    assert has_dot_segment(key) is dotted


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([".", "..", "a", "%2E", "%2e%2E", "b c", "", "\\..", "..."]),
        min_size=1,
        max_size=6,
    )
    .map("/".join)
    .filter(bool)
    | s3_keys
)
def test_every_url_of_a_key_without_dot_segments_reaches_that_key(key: str) -> None:
    """What an HTTP client sends for a built URL names the key itself, in every style."""
    for builder in (
        UrlBuilder("my-bucket", "us-east-1"),
        UrlBuilder("my-bucket", "us-east-1", style="path"),
        UrlBuilder("Legacy_Bucket", "us-east-1"),
    ):
        url = builder.url(key)
        reaches = _sent_key(builder, url)
        if has_dot_segment(key):  # the reason these keys are skipped: no URL reaches them
            assert reaches != key, (key, url)
        else:
            assert reaches == key, (key, url)


# --- bucket names that cannot be a virtual host ---------------------------------------------


@pytest.mark.parametrize(
    ("bucket", "style"),
    [
        ("data", "virtual"),
        ("s3-data", "virtual"),
        ("a1-b2", "virtual"),
        ("my.data", "path"),
        ("MyData", "path"),  # legacy us-east-1 names: uppercase
        ("my_data", "path"),  # legacy: underscore
        ("d" * 64, "path"),  # legacy: longer than a DNS label
        ("-data", "path"),
    ],
)
def test_buckets_that_are_not_dns_labels_use_path_style(bucket: str, style: str) -> None:
    builder = UrlBuilder(bucket, "us-east-1")
    assert builder.effective_style == style
    if style == "path":
        assert builder.url("k.jpg") == f"https://s3.us-east-1.amazonaws.com/{bucket}/k.jpg"
    else:
        assert builder.url("k.jpg") == f"https://{bucket}.s3.us-east-1.amazonaws.com/k.jpg"


# --- the inverse: parse_url ----------------------------------------------------------------

INVERSE_KEYS = [
    *AWKWARD_KEYS,
    "//two-leading.jpg",
    "/",
    "a/b/",
    "space at end ",
    "100%",
    "%",
    "%zz",
    "+",
    "?",
    "#",
    "??##",
    "ünï/😀",
]
BUCKETS = ["s3-foo", "s3", "my.dotted.bucket", "s3.dotted", "Legacy_Upper", "plain-bucket"]


@pytest.mark.parametrize("bucket", BUCKETS)
@pytest.mark.parametrize("style", URL_STYLES)
@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1", "cn-north-1"])
def test_parse_url_is_the_inverse_of_the_builder(bucket: str, style: str, region: str) -> None:
    builder = UrlBuilder(bucket, region, style=style)
    for key in INVERSE_KEYS:
        assert parse_url(builder.url(key)) == ObjectLocation(bucket, key), key


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(BUCKETS), st.sampled_from(URL_STYLES), s3_keys)
def test_parse_url_inverts_any_key(bucket: str, style: str, key: str) -> None:
    assert parse_url(UrlBuilder(bucket, "eu-west-1", style=style).url(key)) == (bucket, key, None)


def test_parse_url_reads_mrap_arns_and_refuses_what_it_did_not_build() -> None:
    mrap = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"
    for key in INVERSE_KEYS:
        url = UrlBuilder("data", "", mrap_arn=mrap).url(key)
        assert parse_url(url) == ObjectLocation(None, key, mrap)
    for url in (
        "https://example.com/a.jpg",
        "https://s3.eu-west-1.amazonaws.com/bucket-only",
        "https://b.s3.eu-west-1.amazonaws.com/",
        "ftp://b.s3.eu-west-1.amazonaws.com/k",
        "s3://b/k",
        "not a url",
        f"{mrap}",
    ):
        assert parse_url(url) is None, url
    # Legacy endpoints and query strings of URLs made elsewhere.
    assert parse_url("https://s3-eu-west-1.amazonaws.com/b/k%20x") == ("b", "k x", None)
    assert parse_url("https://b.s3.amazonaws.com/k?versionId=1") == ("b", "k", None)
