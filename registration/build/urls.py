"""Object URLs Encord can fetch: each key percent-encoded exactly once.

The bucket/region part is built once per bucket (`UrlBuilder`); per object only the key
is encoded, with a fast path for keys that need no encoding. Decoding the URL's key part
with `urllib.parse.unquote` gives back the exact S3 key, for any key S3 accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import unquote

from registration.errors import UsageError

DEFAULT_URL_STYLE = "virtual"
URL_STYLES = (DEFAULT_URL_STYLE, "path")
"""`--url-style`: virtual-hosted or path-style (dotted bucket names always use path style)."""

# RFC 3986 unreserved characters plus "/", the only characters left as they are.
_SAFE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")
_NEEDS_NOTHING = re.compile(r"[A-Za-z0-9/._~-]*").fullmatch
needs_no_encoding = _NEEDS_NOTHING
"""True (a match) when a key has only unreserved characters and '/': nothing to encode."""


class _EncodingTable(dict[int, str]):
    """Code point -> its encoded form, filled on first use (`str.translate` runs in C).

    Same result as `urllib.parse.quote(key, safe="/")`, about five times faster.
    """

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in _SAFE_CHARS:
            value = char
        else:
            value = "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
        self[code] = value
        return value


ENCODING_TABLE = _EncodingTable()
"""`key.translate(ENCODING_TABLE)` encodes a key (callers that already checked it needs it)."""
_MRAP_ARN = re.compile(r"arn:aws[a-z-]*:s3::\d{12}:accesspoint/[A-Za-z0-9.-]+\.mrap")


def encode_key(key: str) -> str:
    """Percent-encode `key` once (UTF-8), keeping unreserved characters and '/'."""
    if _NEEDS_NOTHING(key):
        return key
    return key.translate(ENCODING_TABLE)


def decode_key(encoded: str) -> str:
    """Inverse of `encode_key` (never `unquote_plus`: '+' is a literal in S3 keys)."""
    return unquote(encoded, errors="strict")


def _dns_suffix(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


@dataclass(frozen=True)
class UrlBuilder:
    """Builds object URLs for one bucket: virtual-hosted, path style, or an MRAP ARN."""

    bucket: str
    region: str
    style: str = "virtual"
    mrap_arn: str | None = None

    def __post_init__(self) -> None:
        if self.style not in URL_STYLES:
            raise UsageError(f"--url-style {self.style!r}: choose one of {', '.join(URL_STYLES)}")
        if self.mrap_arn is not None and not _MRAP_ARN.fullmatch(self.mrap_arn):
            raise UsageError(
                f"Multi-Region Access Point {self.mrap_arn!r} is not an MRAP ARN "
                "(arn:aws:s3::ACCOUNT:accesspoint/ALIAS.mrap)"
            )

    @property
    def effective_style(self) -> str:
        """'mrap', 'path' or 'virtual': dotted bucket names force path style (TLS)."""
        if self.mrap_arn:
            return "mrap"
        if "." in self.bucket:
            return "path"
        return self.style

    @cached_property
    def prefix(self) -> str:
        """Everything before the encoded key (computed once per bucket)."""
        style = self.effective_style
        if style == "mrap":
            return f"{self.mrap_arn}/"
        host = f"s3.{self.region}.{_dns_suffix(self.region)}"
        if style == "path":
            return f"https://{host}/{self.bucket}/"
        return f"https://{self.bucket}.{host}/"

    def url(self, key: str) -> str:
        """The URL of object `key` in this bucket."""
        return self.prefix + encode_key(key)

    def key_of(self, url: str) -> str:
        """The exact S3 key a URL built by this builder points at."""
        prefix = self.prefix
        if not url.startswith(prefix):
            raise ValueError(f"{url!r} is not a URL of bucket {self.bucket}")
        return decode_key(url[len(prefix) :])
