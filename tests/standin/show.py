"""Print what a running Encord stand-in holds: every folder and the items registered into it.

    python -m tests.standin.show [--domain URL]     (default: $ENCORD_DOMAIN)

Reads the stand-in's inspection endpoints (``/_standin/folders`` and
``/_standin/folders/<uuid>/items``); `make demo` prints the same lines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def describe_folders(domain: str) -> list[str]:
    """One line per folder (its path and item count), then one per item, sorted by title."""
    lines = []
    for folder in _get(f"{domain}/_standin/folders"):
        items = _get(f"{domain}/_standin/folders/{folder['uuid']}/items")
        lines.append(f"folder {folder.get('path') or folder['name']}: {len(items)} item(s)")
        for item in sorted(items, key=lambda i: i["title"]):
            urls = item["urls"] or [item["url"]]
            extra = f" +{len(urls) - 1} more" if len(urls) > 1 else ""
            meta = (
                f"  metadata={json.dumps(item['clientMetadata'])}" if item["clientMetadata"] else ""
            )
            lines.append(f"  [{item['type']}] {item['title']}  <- {urls[0]}{extra}{meta}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m tests.standin.show`."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.standin.show", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--domain",
        default=os.environ.get("ENCORD_DOMAIN"),
        help="the stand-in's domain, http://127.0.0.1:PORT (default: $ENCORD_DOMAIN)",
    )
    args = parser.parse_args(argv)
    if not args.domain or not args.domain.startswith("http://"):
        parser.error("give the stand-in's --domain http://127.0.0.1:PORT (or set ENCORD_DOMAIN)")
    try:
        lines = describe_folders(args.domain.rstrip("/"))
    except (OSError, urllib.error.URLError) as exc:
        print(f"error: cannot reach the stand-in at {args.domain}: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines) if lines else "no folders yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
