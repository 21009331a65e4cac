"""One ListObjectsV2 page: sent by botocore, its XML body parsed here.

botocore's generic REST-XML parser walks the service model for every element: a 1,000-key
page costs it tens of milliseconds, ElementTree (C expat) about 6 ms here, and the usual
URL-encoded page is read faster still by `s3_page_scan` (about 3.6 ms), all of it holding
the GIL that the listing workers share. So the request still goes through the client --
signing, credentials, endpoints and access points, retries, error mapping all unchanged --
but a ``before-parse`` handler takes the body of a successful answer for itself and gives
botocore an empty result to parse. It runs before botocore's own check for an error
inside a status-200 answer (which would parse every page once more), and leaves such
bodies, and cut-off ones, to that check, which makes botocore retry them as before. The
handler acts only inside `fetch_page` (a thread-local flag), so every other call on the
same client is parsed by botocore as before. Without a raw body (botocore's ``Stubber``,
which answers before any HTTP) the page is read from botocore's dict, with the same result.

botocore asks for URL-encoded keys (``EncodingType=url``) whenever the caller does not, and
decodes Key, Prefix, StartAfter, Delimiter and CommonPrefixes with ``unquote_plus``; the
parser here decodes the same fields the same way when the body says it is URL-encoded.
"""

from __future__ import annotations

import threading
import weakref
import xml.etree.ElementTree as ET
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

from registration.build.sources import ObjectRecord
from registration.build.sources.s3_page_scan import ScannedPage, scan_list_body

RAW_BODY_FIELD = "RawListObjectsV2Root"
"""Where the handler leaves the scanned page or the parsed XML root in botocore's response
dict."""
_EVENTS = "before-parse.s3.*"
_HANDLER_ID = "encord-register-raw-list-body"
_EMPTY_RESULT = b"<ListBucketResult></ListBucketResult>"
_capturing = threading.local()
_installed: weakref.WeakSet[Any] = weakref.WeakSet()
_install_lock = threading.Lock()


class ListPage(NamedTuple):
    """What the listing reads from one ListObjectsV2 answer."""

    objects: list[ObjectRecord]
    common_prefixes: list[str]
    is_truncated: bool
    next_token: str | None
    key_count: int | None


def _restored(in_progress: bool, expiry: object) -> bool:
    """True when an archived object has a finished restore (a temporary copy exists)."""
    return not in_progress and bool(expiry)


def page_from_parsed(bucket: str, response: dict[str, Any]) -> ListPage:
    """A page from botocore's parsed response dict."""
    objects = []
    for obj in response.get("Contents", ()):
        restore = obj.get("RestoreStatus")
        restored = None
        if restore is not None:
            restored = _restored(
                restore.get("IsRestoreInProgress", False), restore.get("RestoreExpiryDate")
            )
        objects.append(
            ObjectRecord(bucket, obj["Key"], obj.get("Size"), obj.get("StorageClass"), restored)
        )
    key_count = response.get("KeyCount")
    return ListPage(
        objects=objects,
        common_prefixes=[p["Prefix"] for p in response.get("CommonPrefixes", ())],
        is_truncated=bool(response.get("IsTruncated", False)),
        next_token=response.get("NextContinuationToken"),
        key_count=None if key_count is None else int(key_count),
    )


def _decode_all(values: list[str]) -> list[str]:
    """``unquote_plus`` of each value, in one call: URL-encoded values hold no newline, and
    percent escapes never span one, so joining on it decodes each value exactly."""
    if not values:
        return values
    decoded = unquote_plus("\n".join(values)).split("\n")
    if len(decoded) != len(values):  # a raw newline after all: one by one
        return [unquote_plus(value) for value in values]
    return decoded


def _parse_xml(body: bytes) -> ET.Element:
    """The root element, read as botocore reads S3 answers (expat, with its limits)."""
    parser = ET.XMLParser(target=ET.TreeBuilder(), encoding="utf-8")  # noqa: S314
    parser.feed(body)
    return parser.close()


def _from_scan(bucket: str, scanned: ScannedPage) -> ListPage:
    """A page from a scanned answer (always URL-encoded)."""
    keys = _decode_all(scanned.keys)
    return ListPage(
        objects=[
            ObjectRecord(bucket, key, size, storage_class)
            for key, size, storage_class in zip(
                keys, scanned.sizes, scanned.storage_classes, strict=True
            )
        ],
        common_prefixes=_decode_all(scanned.common_prefixes),
        is_truncated=scanned.is_truncated,
        next_token=scanned.next_token,
        key_count=scanned.key_count,
    )


def parse_list_body(
    bucket: str, body: bytes | ET.Element | ScannedPage, *, scan: bool = True
) -> ListPage:
    """A page from the raw XML body (or its scan, or its parsed root) of a successful
    ListObjectsV2 answer.

    Fields are read exactly as botocore reads them (an empty element is ''), and keys and
    prefixes are URL-decoded when the body carries ``<EncodingType>url</EncodingType>``.
    A body is scanned (`s3_page_scan`) when it can be, else parsed as XML; ``scan=False``
    always parses it (the tests compare both readings).
    """
    from botocore.parsers import ResponseParserError

    if isinstance(body, ScannedPage):
        return _from_scan(bucket, body)
    if isinstance(body, bytes):
        scanned = scan_list_body(body) if scan else None
        if scanned is not None:
            return _from_scan(bucket, scanned)
        try:
            body = _parse_xml(body)
        except ET.ParseError as exc:
            raise ResponseParserError(f"unreadable ListObjectsV2 answer: {exc}") from exc
    root = body
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    key_tag, size_tag, class_tag = ns + "Key", ns + "Size", ns + "StorageClass"
    restore_tag, progress_tag = ns + "RestoreStatus", ns + "IsRestoreInProgress"
    expiry_tag = ns + "RestoreExpiryDate"
    keys: list[str] = []
    fields: list[tuple[int | None, str | None, bool | None]] = []
    for element in root.iterfind(ns + "Contents"):
        size = element.findtext(size_tag)
        restore = element.find(restore_tag)
        restored = None
        if restore is not None:
            restored = _restored(
                restore.findtext(progress_tag) == "true", restore.findtext(expiry_tag)
            )
        keys.append(element.findtext(key_tag) or "")
        fields.append((None if size is None else int(size), element.findtext(class_tag), restored))
    prefixes = [e.findtext(ns + "Prefix") or "" for e in root.iterfind(ns + "CommonPrefixes")]
    if root.findtext(ns + "EncodingType") == "url":
        keys, prefixes = _decode_all(keys), _decode_all(prefixes)
    key_count = root.findtext(ns + "KeyCount")
    return ListPage(
        objects=[
            ObjectRecord(bucket, key, size, storage_class, restored)
            for key, (size, storage_class, restored) in zip(keys, fields, strict=True)
        ],
        common_prefixes=prefixes,
        is_truncated=root.findtext(ns + "IsTruncated") == "true",
        next_token=root.findtext(ns + "NextContinuationToken"),
        key_count=None if key_count is None else int(key_count),
    )


def _take_body(
    operation_model: Any,
    response_dict: dict[str, Any],
    customized_response_dict: dict[str, Any],
    **_: Any,
) -> None:
    """For `fetch_page` only: read a successful ListObjectsV2 body here (scanned when it can
    be, else parsed), and leave botocore an empty result. A body that is not XML, or is an
    S3 ``<Error>`` sent with status 200, is left alone: botocore's own check (which runs
    next) turns it into a retried 500."""
    if (
        not getattr(_capturing, "active", False)
        or operation_model.name != "ListObjectsV2"
        or response_dict.get("status_code") != 200
    ):
        return
    scanned = scan_list_body(response_dict["body"])
    if scanned is not None:
        customized_response_dict[RAW_BODY_FIELD] = scanned
        response_dict["body"] = _EMPTY_RESULT
        return
    try:
        root = _parse_xml(response_dict["body"])
    except ET.ParseError:
        return
    if root.tag == "Error":
        return
    customized_response_dict[RAW_BODY_FIELD] = root
    response_dict["body"] = _EMPTY_RESULT


def _install(client: Any) -> None:
    """Register `_take_body` on the client, ahead of botocore's check for errors inside
    status-200 answers, which would otherwise parse every page a second time."""
    events = client.meta.events
    if events in _installed:
        return
    with _install_lock:
        if events in _installed:
            return
        from botocore import handlers

        events.register_first(_EVENTS, _take_body, unique_id=_HANDLER_ID)
        check = getattr(handlers, "_handle_200_error", None)
        if check is not None:  # re-registered after ours, still before all others
            events.unregister(_EVENTS, check)
            events.register_first(_EVENTS, check)
        _installed.add(events)


def fetch_page(client: Any, bucket: str, params: dict[str, Any]) -> ListPage:
    """Call ListObjectsV2 with `params` through `client` and read the answer.

    Errors are botocore's own (``ClientError`` and friends), raised by the client.
    """
    _install(client)
    _capturing.active = True
    try:
        response = client.list_objects_v2(**params)
    finally:
        _capturing.active = False
    body = response.get(RAW_BODY_FIELD)
    if body is None:
        return page_from_parsed(bucket, response)
    return parse_list_body(bucket, body)
