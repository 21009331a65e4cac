"""A real CORS preflight: what a browser on Encord's origin asks before a GET.

``OPTIONS`` to the object's URL with ``Origin`` and ``Access-Control-Request-Method:
GET``; S3 answers from the bucket's CORS rules and names the origin in
``Access-Control-Allow-Origin`` when a rule allows it. Uses urllib (no extra
dependency); the transport is injectable for tests.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from registration.build.urls import UrlBuilder, encode_key

TIMEOUT_SECONDS = 10.0

Transport = Callable[[urllib.request.Request, float], tuple[int, Mapping[str, str]]]
"""Sends a request; returns (status, headers). Raises OSError when nothing came back."""


@dataclass(frozen=True)
class PreflightAnswer:
    """What the endpoint answered: HTTP status and the allowed origin (None if absent)."""

    url: str
    status: int
    allow_origin: str | None

    def allows(self, origin: str) -> bool:
        """True when the answer lets `origin` make the GET."""
        return 200 <= self.status < 300 and self.allow_origin in (origin, "*")


def object_url(bucket: str, region: str, key: str, endpoint: str | None = None) -> str:
    """The URL a browser fetches: path style on a custom endpoint, else the helper's URL."""
    if endpoint:
        return f"{endpoint.rstrip('/')}/{bucket}/{encode_key(key)}"
    return UrlBuilder(bucket, region).url(key)


def urllib_transport(
    request: urllib.request.Request, timeout: float
) -> tuple[int, Mapping[str, str]]:
    """Send with urllib; HTTP error statuses are answers too (S3 refuses preflights with 403)."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), dict(response.headers.items())
    except urllib.error.HTTPError as exc:
        return int(exc.code), dict(exc.headers.items()) if exc.headers else {}


def send_preflight(
    url: str, origin: str, *, transport: Transport = urllib_transport
) -> PreflightAnswer:
    """Send the preflight for a GET from `origin`; raises OSError on network failure."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        method="OPTIONS",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
    )
    status, headers = transport(request, TIMEOUT_SECONDS)
    lowered = {k.lower(): v for k, v in headers.items()}
    return PreflightAnswer(url, status, lowered.get("access-control-allow-origin"))
