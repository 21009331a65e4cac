"""Every limit Encord documents for registration files, as named constants (one place).

`chunking`, `items` and the pipeline consume these; nothing else hard-codes a number. The
plans' file defaults (`--plan`) are one table, `PLANS`, each value with its source and whether
Encord's documentation confirms it.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_ITEMS_PER_FILE = 500_000
"""Documented: at most 500,000 items per file (a group or series counts as one item)."""

MAX_URLS_PER_FILE = 1_000_000
"""Documented: at most 1,000,000 URLs per file (every frame of a group is one URL)."""

MAX_URL_BYTES = 16 * 1024
"""Documented: each URL at most 16 KB."""

MAX_TITLE_CHARS = 300
"""Documented: titles (file names) at most 300 characters."""

DEFAULT_ITEMS_PER_FILE = 10_000
"""Encord's best-practice file size: at most 10,000 entries per file (Enterprise; 2,500 on the
Team plan, see `PLANS`). A recommendation: `--max-items` may go up to `MAX_ITEMS_PER_FILE`."""

MAX_CLIENT_METADATA_BYTES = 10_000_000
"""Documented: custom metadata (`clientMetadata`) at most 10 MB per item (Encord's custom
metadata and best-practices pages). Read as 10,000,000 bytes of the item's `clientMetadata`
serialised as compact JSON: the smaller of the decimal and binary readings of "10 MB", so an
item kept is under the limit either way. Measured on the bytes written to the file; Encord
stores it as jsonb, whose size it does not document."""

MAX_FILE_BYTES = 100_000_000
"""Documented (best-practices page): a registration JSON file at most 100 MB on the
Enterprise and Team plans. Read as 100,000,000 bytes, the smaller of the decimal and binary
readings of "100 MB". The largest `--max-bytes` accepted."""

MAX_FILE_BYTES_FREE = 10_000_000
"""Documented (best-practices page): a registration JSON file at most 10 MB on the Free plan
(10,000,000 bytes, the smaller reading)."""

DEFAULT_MAX_BYTES = 99_000_000
"""`--max-bytes` default: 1% under `MAX_FILE_BYTES`. The file itself is counted exactly (the
bytes on disk, wrapper, separators and flags included), so the margin is not for counting
error: it leaves room for what the file form does not show. When `register` submits a file,
the request also carries the integration, a file name and `ignoreErrors` (well under 1 KB), and
the SDK's typed form adds `externalFileType` to every item (about 30 bytes, 300 KB for 10,000
items). Not covered: the SDK's JSON puts a space after every `,` and `:`, which adds about 5%
to float-heavy metadata (embeddings); Encord documents the limit for the file, not the
request, so that is left unconfirmed (lower `--max-bytes` if Encord refuses a request)."""


def with_margin(documented_bytes: int) -> int:
    """The default file-size cap for a documented limit: 1% under it (`DEFAULT_MAX_BYTES`)."""
    return documented_bytes - documented_bytes // 100


@dataclass(frozen=True)
class Plan:
    """The registration-file defaults of one Encord plan (`--plan`), and where each comes from.

    `max_items` and `max_bytes` are what `--max-items` and `--max-bytes` default to with this
    plan; `file_bytes_limit` is the documented file size, the largest `--max-bytes` accepted.
    """

    name: str
    max_items: int
    items_source: str
    items_confirmed: bool
    file_bytes_limit: int
    bytes_source: str
    bytes_confirmed: bool

    @property
    def max_bytes(self) -> int:
        """The default byte cap: 1% under the documented file size."""
        return with_margin(self.file_bytes_limit)


_BEST_PRACTICES = "Encord docs, best practices (registration JSON file size and entries)"

PLANS: dict[str, Plan] = {
    "free": Plan(
        name="free",
        max_items=2_500,
        items_source="not documented for the Free plan: the smallest documented count "
        "(Team's 2,500) is used",
        items_confirmed=False,
        file_bytes_limit=MAX_FILE_BYTES_FREE,
        bytes_source=_BEST_PRACTICES + ": 10 MB on Free",
        bytes_confirmed=True,
    ),
    "team": Plan(
        name="team",
        max_items=2_500,
        items_source=_BEST_PRACTICES + ": 2,500 entries on Team",
        items_confirmed=True,
        file_bytes_limit=MAX_FILE_BYTES,
        bytes_source=_BEST_PRACTICES + ": 100 MB on Team and Enterprise",
        bytes_confirmed=True,
    ),
    "enterprise": Plan(
        name="enterprise",
        max_items=DEFAULT_ITEMS_PER_FILE,
        items_source=_BEST_PRACTICES + ": 10,000 entries on Enterprise",
        items_confirmed=True,
        file_bytes_limit=MAX_FILE_BYTES,
        bytes_source=_BEST_PRACTICES + ": 100 MB on Team and Enterprise",
        bytes_confirmed=True,
    ),
}
"""`--plan NAME` -> the item and byte defaults of that Encord plan. Without `--plan` the
defaults are `DEFAULT_ITEMS_PER_FILE` and `DEFAULT_MAX_BYTES` (the Enterprise values)."""
