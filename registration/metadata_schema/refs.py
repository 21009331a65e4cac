"""How an item is named in reports: the object key it points at (or its title)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

_MRAP_MARKER = ".mrap/"


def object_ref(url: str) -> str:
    """The object key inside an Encord object URL, for people to read.

    Virtual-hosted and path-style S3 URLs and Multi-Region Access Point ARNs give the
    decoded key (`images/a b.jpg`); anything else comes back unchanged.
    """
    if url.startswith("arn:") and _MRAP_MARKER in url:
        return unquote(url.split(_MRAP_MARKER, 1)[1])
    if not url.startswith(("https://", "http://")):
        return url
    parts = urlsplit(url)
    path = unquote(parts.path).lstrip("/")
    host = parts.hostname or ""
    # Path style (`s3.<region>.amazonaws.com/<bucket>/<key>`): drop the bucket.
    if host.startswith("s3.") or host.startswith("s3-") or host == "s3.amazonaws.com":
        path = path.split("/", 1)[1] if "/" in path else path
    return path or url


def item_ref(item: dict[str, Any]) -> str:
    """A short name for a registration item: its object key, first frame's key, or title."""
    url = item.get("objectUrl") or item.get("objectUrl_0")
    if isinstance(url, str) and url:
        return object_ref(url)
    title = item.get("title")
    return title if isinstance(title, str) and title else "<item without objectUrl or title>"
