"""Item titles: the object key (or its file name), shortened deterministically to the limit.

A title over `MAX_TITLE_CHARS` keeps its tail (the most specific part of a path) behind a
short stable hash of the full title, so two different long titles never shorten to the
same string, and the same title always shortens the same way.
"""

from __future__ import annotations

import hashlib

from registration.encord.limits import MAX_TITLE_CHARS

DEFAULT_TITLE_MODE = "key"
TITLE_MODES = (DEFAULT_TITLE_MODE, "basename")
"""`--title`: the whole key, or only the file name."""
_HASH_CHARS = 16  # 64 bits of SHA-256: collisions between shortened titles are negligible
_SEPARATOR = "~"


def base_title(key: str, mode: str) -> str:
    """The unshortened title of an object or folder `key` for `--title MODE`."""
    key = key.rstrip("/") if key.endswith("/") and len(key) > 1 else key
    if mode == "basename":
        return key[key.rfind("/") + 1 :] or key
    return key


def shorten(title: str, limit: int = MAX_TITLE_CHARS) -> str:
    """`title` itself when within `limit` characters, else `<hash>~<tail>` of exactly `limit`."""
    if len(title) <= limit:
        return title
    digest = hashlib.sha256(title.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    tail = title[len(title) - (limit - _HASH_CHARS - len(_SEPARATOR)) :]
    return f"{digest}{_SEPARATOR}{tail}"
