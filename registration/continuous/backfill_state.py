"""The checkpoints of `continuous backfill`: how far each source and bucket prefix got.

One JSON file (`--state`, default `DEFAULT_STATE_FILE`), rewritten atomically (a temporary file
renamed over it) after every batch the queue acknowledged. It names the queue it belongs to: a
file of another stack's queue is refused, not silently reused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson

from registration.errors import InputError, UsageError

STATE_VERSION: Final = 1
DEFAULT_STATE_FILE: Final = Path(".encord-register") / "backfill-state.json"
"""Where the checkpoints are kept unless `--state` says (relative to the current directory)."""


@dataclass
class ScopeState:
    """How far one source and bucket prefix got."""

    last_key: str | None = None
    objects: int = 0
    messages: int = 0
    done: bool = False

    def to_json(self) -> dict[str, Any]:
        """As stored."""
        return {
            "lastKey": self.last_key,
            "objects": self.objects,
            "messages": self.messages,
            "done": self.done,
            "updatedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        }


class Checkpoints:
    """The state file: one `ScopeState` per scope, rewritten atomically on every change."""

    def __init__(self, path: Path, queue_url: str) -> None:
        self.path = path
        self.queue_url = queue_url
        self.scopes: dict[str, ScopeState] = {}
        if path.exists():
            self._load()

    def _load(self) -> None:
        try:
            doc = orjson.loads(self.path.read_bytes())
            if doc.get("version") != STATE_VERSION:
                raise ValueError(f"version {doc.get('version')!r}")
            queue = doc["queueUrl"]
            scopes = {
                name: ScopeState(
                    s.get("lastKey"), int(s["objects"]), int(s["messages"]), bool(s["done"])
                )
                for name, s in doc["scopes"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                f"backfill state file {self.path} cannot be read ({exc})",
                source=str(self.path),
                hint="pass another --state, or delete the file to start over",
            ) from None
        if queue != self.queue_url:
            raise UsageError(
                f"backfill state file {self.path} belongs to queue {queue}, not {self.queue_url}",
                hint="pass another --state for this stack, or --restart to start over here",
            )
        self.scopes = scopes

    def scope(self, name: str) -> ScopeState:
        """The state of scope `name` (a fresh one when it has none)."""
        return self.scopes.setdefault(name, ScopeState())

    def forget(self, names: Iterable[str]) -> None:
        """Start these scopes over."""
        for name in names:
            self.scopes.pop(name, None)
        self.save()

    def save(self) -> None:
        """Write the file (a temporary file renamed over it: never half-written)."""
        doc = {
            "version": STATE_VERSION,
            "queueUrl": self.queue_url,
            "scopes": {name: s.to_json() for name, s in sorted(self.scopes.items())},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("wb") as handle:
            handle.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.path)
