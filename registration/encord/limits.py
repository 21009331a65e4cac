"""Every limit Encord documents for registration files, as named constants (one place).

`chunking` and `items` consume these; nothing else hard-codes a number.
"""

from __future__ import annotations

MAX_ITEMS_PER_FILE = 500_000
"""Documented: at most 500,000 items per file (a group or series counts as one item)."""

MAX_URLS_PER_FILE = 1_000_000
"""Documented: at most 1,000,000 URLs per file (every frame of a group is one URL)."""

MAX_URL_BYTES = 16 * 1024
"""Documented: each URL at most 16 KB."""

MAX_TITLE_CHARS = 300
"""Documented: titles (file names) at most 300 characters."""

DEFAULT_ITEMS_PER_FILE = 10_000
"""Encord's best-practice file size (about 10,000 entries; 2,500 on the Team plan)."""
