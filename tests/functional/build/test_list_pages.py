"""The listing's own ListObjectsV2 readers read every field exactly as botocore does.

Each case sends one real request to moto's S3 (in-process) through a boto3 client, keeps
the raw body, and compares what `parse_list_body` reads from it -- scanned
(`s3_page_scan`) when it can be, and parsed as XML -- with what botocore parsed (and
URL-decoded) from the very same body: keys, sizes, storage classes, restore state,
truncation, continuation token, common prefixes and key count.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from registration.build.sources import ObjectRecord
from registration.build.sources.s3_access import make_s3_client
from registration.build.sources.s3_page_scan import scan_list_body
from registration.build.sources.s3_pages import (
    ListPage,
    fetch_page,
    page_from_parsed,
    parse_list_body,
)

BUCKET = "pages-bucket"
LONG = "long/" + "ü" * 300 + "x" * 300 + ".jpg"  # 1,209 characters' worth, 904 bytes
PLAIN_KEYS = [
    "a b/c d.jpg",
    "plus+sign.jpg",
    "pct%2Fslash.jpg",
    "pct%20space.jpg",
    "café/ü.jpg",
    "cafe\u0301/decomposed.jpg",
    "emoji/📷 😀.png",
    "amp&lt;not-an-entity&amp;.jpg",
    "lt<gt>.jpg",
    "quotes\"'.jpg",
    "eq=q?h#.jpg",
    "tilde~star*.jpg",
    "nbsp\u00a0.jpg",
    "max\U0010fffd.jpg",
    "Case.jpg",
    "case.jpg",
    "CASE.jpg",
    "dir/",
    "dir//double.jpg",
    " leading space",
    "trailing space ",
    "back\\slash",
    LONG,
]
CONTROL_KEYS = ["tab\tkey.jpg", "ctrl\x01key.jpg", "del\x7fkey.jpg", "esc\x1b.jpg"]
"""Keys XML 1.0 cannot carry as text: readable only in URL-encoded listings."""


@pytest.fixture
def s3(offline_aws: str) -> Iterator[Any]:
    with mock_aws():
        client = make_s3_client("us-east-1")
        client.create_bucket(Bucket=BUCKET)
        for i, key in enumerate(PLAIN_KEYS + CONTROL_KEYS):
            storage = {"StorageClass": "GLACIER"} if i % 5 == 0 else {}
            client.put_object(Bucket=BUCKET, Key=key, Body=b"x" * i, **storage)
        yield client


def _both(client: Any, params: dict[str, Any], *, url: bool = True) -> tuple[ListPage, ListPage]:
    """(botocore's reading, ours) of one answer to ListObjectsV2 with `params`."""
    bodies: list[bytes] = []

    def keep(response_dict: dict[str, Any], **_: Any) -> None:
        bodies.append(response_dict["body"])

    def plain(params: dict[str, Any], **_: Any) -> None:
        params.pop("EncodingType", None)  # after botocore added it: a plain XML listing

    events = client.meta.events
    events.register("before-parse.s3.ListObjectsV2", keep)
    if not url:
        events.register_last("before-parameter-build.s3.ListObjectsV2", plain)
    try:
        response = client.list_objects_v2(Bucket=BUCKET, **params)
    finally:
        events.unregister("before-parse.s3.ListObjectsV2", keep)
        events.unregister("before-parameter-build.s3.ListObjectsV2", plain)
    assert len(bodies) == 1
    ours = parse_list_body(BUCKET, bodies[0])
    assert parse_list_body(BUCKET, bodies[0], scan=False) == ours  # the XML parser's reading
    SCANNED.append(scan_list_body(bodies[0]) is not None)
    return page_from_parsed(BUCKET, response), ours


SCANNED: list[bool] = []
"""For each body read by `_both`: whether it could be scanned."""


def _walk(client: Any, url: bool, **params: Any) -> list[tuple[ListPage, ListPage]]:
    pairs = []
    token = None
    while True:
        extra = {"ContinuationToken": token} if token else {}
        pair = _both(client, {**params, **extra}, url=url)
        pairs.append(pair)
        token = pair[0].next_token
        if not pair[0].is_truncated:
            return pairs


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"MaxKeys": 3},
        {"MaxKeys": 4, "Delimiter": "/"},
        {"Delimiter": "/"},
        {"Prefix": "ca", "MaxKeys": 2},
        {"StartAfter": "case.jpg", "MaxKeys": 5},
        {"StartAfter": "café/", "Delimiter": "/"},
        {"OptionalObjectAttributes": ["RestoreStatus"], "MaxKeys": 7},
    ],
    ids=repr,
)
@pytest.mark.parametrize("url", [True, False], ids=["url-encoded", "plain-xml"])
def test_both_parsers_read_every_field_alike(s3: Any, params: dict[str, Any], url: bool) -> None:
    if not url:  # control characters cannot travel in a plain XML listing, for anyone
        for key in CONTROL_KEYS:
            s3.delete_object(Bucket=BUCKET, Key=key)
    SCANNED.clear()
    pairs = _walk(s3, url, **params)
    assert any(SCANNED) == url  # URL-encoded answers are scanned (moto's hold no restore state)
    for botocore_page, ours in pairs:
        assert ours == botocore_page
    keys = [r.key for _, page in pairs for r in page.objects]
    prefixes = [p for _, page in pairs for p in page.common_prefixes]
    expected = sorted(PLAIN_KEYS + ([] if not url else CONTROL_KEYS))
    if "Delimiter" not in params and "Prefix" not in params and "StartAfter" not in params:
        assert keys == sorted(expected, key=lambda k: k.encode("utf-8"))
    assert keys == sorted(keys)  # S3's byte order is Python's str order for these keys
    if params.get("Delimiter") and "StartAfter" not in params:
        assert {"dir/", "café/", "emoji/", "a b/", "long/"} <= set(prefixes)
    assert all(page.key_count == len(page.objects) + len(page.common_prefixes) for _, page in pairs)


def test_fetch_page_reads_the_raw_body_and_leaves_other_calls_to_botocore(s3: Any) -> None:
    params = {"Bucket": BUCKET, "OptionalObjectAttributes": ["RestoreStatus"], "MaxKeys": 6}
    ours = fetch_page(s3, BUCKET, params)
    again = s3.list_objects_v2(**params)  # same client, after the hook is installed
    assert "Contents" in again and "RawListObjectsV2Root" not in again
    assert ours == page_from_parsed(BUCKET, again)
    assert ours.is_truncated and ours.next_token


def test_a_client_without_the_hook_still_works(offline_aws: str) -> None:
    """A plain boto3 client (default timestamp parser) gives the same page."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        for key in PLAIN_KEYS:
            client.put_object(Bucket=BUCKET, Key=key, Body=b"")
        page = fetch_page(client, BUCKET, {"Bucket": BUCKET})
        assert page == page_from_parsed(BUCKET, client.list_objects_v2(Bucket=BUCKET))
        assert [r.key for r in page.objects] == sorted(PLAIN_KEYS)


_NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def _body(contents: str, extra: str = "", encoded: bool = True) -> bytes:
    encoding = "<EncodingType>url</EncodingType>" if encoded else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult {_NS}>'
        f"<Name>{BUCKET}</Name><Prefix></Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
        f"{encoding}<IsTruncated>true</IsTruncated>"
        f"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
        f"{contents}{extra}</ListBucketResult>"
    ).encode()


def _botocore_reading(body: bytes) -> dict[str, Any]:
    """botocore's own parse of `body`, then its URL decoding, as a client would do."""
    from botocore.handlers import decode_list_object_v2
    from botocore.parsers import create_parser

    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    shape = client.meta.service_model.operation_model("ListObjectsV2").output_shape
    parsed: dict[str, Any] = create_parser("rest-xml").parse(
        {"body": body, "headers": {}, "status_code": 200}, shape
    )
    decode_list_object_v2(parsed, {"encoding_type_auto_set": True})
    return parsed


@pytest.mark.parametrize("encoded", [True, False])
def test_restore_status_and_other_fields_as_s3_writes_them(encoded: bool) -> None:
    key = "cold%20caf%C3%A9%2Bx.jpg" if encoded else "cold café+x &amp; y.jpg"
    contents = (
        f"<Contents><Key>{key}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        '<ETag>"e"</ETag><ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm>'
        "<ChecksumType>FULL_OBJECT</ChecksumType><Size>12</Size>"
        "<StorageClass>GLACIER</StorageClass><RestoreStatus>"
        "<IsRestoreInProgress>false</IsRestoreInProgress>"
        "<RestoreExpiryDate>2030-01-01T00:00:00.000Z</RestoreExpiryDate></RestoreStatus>"
        "</Contents>"
        "<Contents><Key>warming.jpg</Key><Size>0</Size><StorageClass>DEEP_ARCHIVE</StorageClass>"
        "<RestoreStatus><IsRestoreInProgress>true</IsRestoreInProgress></RestoreStatus>"
        "</Contents>"
        "<Contents><Key>nosize</Key><StorageClass></StorageClass></Contents>"
    )
    prefix = "a%2Bb%20c/" if encoded else "a+b c/"
    body = _body(contents, f"<CommonPrefixes><Prefix>{prefix}</Prefix></CommonPrefixes>", encoded)
    assert scan_list_body(body) is None  # restore states: parsed as XML
    ours = parse_list_body(BUCKET, body)
    assert ours == page_from_parsed(BUCKET, _botocore_reading(body))
    assert ours.objects[0] == ObjectRecord(
        BUCKET, "cold café+x.jpg" if encoded else "cold café+x & y.jpg", 12, "GLACIER", True
    )
    assert ours.objects[1].restored is False and ours.objects[2].size is None
    assert ours.common_prefixes == ["a+b c/"]
    assert ours.next_token == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="  # never decoded
    assert ours.is_truncated and ours.key_count == 3


def test_an_unreadable_body_raises_botocores_parser_error() -> None:
    from botocore.parsers import ResponseParserError

    with pytest.raises(ResponseParserError):
        parse_list_body(BUCKET, b"<ListBucketResult><Contents><Key>cut off")


_S3_CONTENTS = (
    "<Contents><Key>{key}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
    "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>"
    "<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>"
    "<Size>{size}</Size><Owner><ID>o1</ID><DisplayName>me</DisplayName></Owner>"
    "<StorageClass>{cls}</StorageClass></Contents>"
)


def _s3_body(extra: str = "", **fields: str) -> bytes:
    """An answer written as S3 writes one: every field of each object, ETags escaped."""
    contents = "".join(
        _S3_CONTENTS.format(key=key, size=size, cls=cls)
        for key, size, cls in [
            ("a%20b/%F0%9F%93%B7%2Bc.jpg", "0", "STANDARD"),
            ("amp%26lt%3B.jpg", "12345678901", "GLACIER"),
            ("", "3", ""),
        ]
    )
    return _body(contents + fields.get("contents", ""), extra)


def test_a_full_s3_answer_is_scanned_and_read_as_botocore_reads_it() -> None:
    body = _s3_body("<CommonPrefixes><Prefix>p%2Bq%20r/</Prefix></CommonPrefixes>")
    assert scan_list_body(body) is not None
    ours = parse_list_body(BUCKET, body)
    assert ours == parse_list_body(BUCKET, body, scan=False)
    assert ours == page_from_parsed(BUCKET, _botocore_reading(body))
    assert [r.key for r in ours.objects] == ["a b/📷+c.jpg", "amp&lt;.jpg", ""]
    assert ours.objects[1].size == 12345678901 and ours.objects[2].storage_class == ""
    assert ours.common_prefixes == ["p+q r/"]


@pytest.mark.parametrize(
    "body",
    [
        _body(
            "<Contents><Key>x</Key><Size>1</Size><StorageClass>S</StorageClass></Contents>",
            encoded=False,
        ),
        _s3_body(contents="<Contents><Key>no-size</Key><StorageClass>S</StorageClass></Contents>"),
        _s3_body(
            contents="<Contents><Key>k</Key><Size> 1</Size><StorageClass>S</StorageClass>"
            "</Contents>"
        ),
        _s3_body(
            contents="<Contents><Key>a&amp;b</Key><Size>1</Size><StorageClass>S</StorageClass></Contents>"
        ),
        _s3_body(
            contents="<Contents><Key><![CDATA[k]]></Key><Size>1</Size><StorageClass>S</StorageClass></Contents>"
        ),
        _s3_body(
            contents="<Contents><Key>cr\r</Key><Size>1</Size><StorageClass>S</StorageClass></Contents>"
        ),
        _s3_body("<CommonPrefixes><Prefix>a&amp;b/</Prefix></CommonPrefixes>"),
        _s3_body(
            "<!-- <Contents><Key>k</Key><Size>1</Size><StorageClass>S</StorageClass></Contents> -->"
        ),
        _s3_body("<IsTruncated>false</IsTruncated>"),  # twice: which one counts is XML's
        _s3_body()
        .replace(b"<Contents>", b"<s3:Contents>")
        .replace(b"</Contents>", b"</s3:Contents>"),
        _s3_body()[:-40],  # cut off
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code></Error>',
    ],
    ids=[
        "not-url-encoded",
        "no-size",
        "spaced-size",
        "entity",
        "cdata",
        "carriage-return",
        "entity-in-prefix",
        "comment",
        "repeated-field",
        "namespace-prefix",
        "cut-off",
        "error",
    ],
)
def test_what_the_scan_cannot_prove_it_leaves_to_the_xml_parser(body: bytes) -> None:
    assert scan_list_body(body) is None
