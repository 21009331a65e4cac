"""How an item is named in reports: the object key it points at (or its title)."""

from __future__ import annotations

from typing import Any

from registration.build.urls import parse_url


def object_ref(url: str) -> str:
    """The object key inside an Encord object URL, for people to read.

    Every URL form the manifest builds (virtual-hosted, path style, Multi-Region Access Point
    ARN) gives back the exact key, read with the URL builder's own inverse
    (`urls.parse_url`): a bucket named `s3-...` is not taken for an endpoint, and leading or
    doubled slashes of the key are kept. Anything else comes back unchanged.
    """
    location = parse_url(url)
    return location.key if location is not None else url


def item_ref(item: dict[str, Any]) -> str:
    """A short name for a registration item: its object key, first frame's key, or title."""
    url = item.get("objectUrl") or item.get("objectUrl_0")
    if isinstance(url, str) and url:
        return object_ref(url)
    title = item.get("title")
    return title if isinstance(title, str) and title else "<item without objectUrl or title>"
