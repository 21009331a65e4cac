"""Read back what `encord-register manifest` wrote: items by title, skipped lines, summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_output(out: Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Every item of the `manifest-*.json` files by title, `skipped.jsonl`, `summary.json`."""
    items: dict[str, Any] = {}
    for path in sorted(out.glob("manifest-*.json")):
        for value in json.loads(path.read_text()).values():
            if isinstance(value, list):
                items.update({item["title"]: item for item in value})
    skipped = [json.loads(line) for line in (out / "skipped.jsonl").read_text().splitlines()]
    summary = json.loads((out / "summary.json").read_text())
    return items, skipped, summary
