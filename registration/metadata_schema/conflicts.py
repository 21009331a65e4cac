"""Conflicts found while inferring a schema, and how they read in a report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: The pseudo-key under which items whose clientMetadata is not an object are reported.
NOT_AN_OBJECT_KEY = "<clientMetadata>"


def singular(label: str) -> str:
    """`strings` -> `string`, `lists of numbers` -> `list of numbers` (labels are plural)."""
    first, sep, rest = label.partition(" ")
    if first.endswith("s") and first not in {"is", "was"}:
        first = first[:-1]
    return first + sep + rest


def counted(n: int, noun: str) -> str:
    """`1 value`, `3 values` (`noun` is plural)."""
    return f"{n:,} {noun if n != 1 else singular(noun)}"


@dataclass(frozen=True)
class KindCount:
    """How many values of one kind a key had, and the first item that had one."""

    label: str
    count: int
    first_ref: str

    def to_json(self) -> dict[str, Any]:
        """JSON form for `--json` reports."""
        return {"kind": self.label, "count": self.count, "first": self.first_ref}


@dataclass(frozen=True)
class Conflict:
    """A key whose values do not fit one schema type (or break a reserved-key rule).

    `counts` lists each kind of value seen, most frequent first, with the first item
    that had it; `hint` says how to resolve it.
    """

    key: str
    reason: str
    counts: tuple[KindCount, ...]
    hint: str

    def describe(self) -> str:
        """One line: `score: values of different types: 9,812 numbers, 3 strings (first at ...)`."""
        parts = []
        for i, kc in enumerate(self.counts):
            text = f"{kc.count:,} {kc.label if kc.count != 1 else singular(kc.label)}"
            if i > 0 or len(self.counts) == 1:
                text += f" (first at {kc.first_ref})"
            parts.append(text)
        tally = ", ".join(parts)
        return f"{self.key}: {self.reason}: {tally}" if tally else f"{self.key}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        """JSON form for `--json` reports."""
        return {
            "key": self.key,
            "reason": self.reason,
            "counts": [kc.to_json() for kc in self.counts],
            "hint": self.hint,
        }


def format_conflicts(conflicts: Iterable[Conflict]) -> list[str]:
    """Report lines for people: one per conflict, each followed by its hint."""
    lines = []
    for conflict in conflicts:
        lines.append(f"  {conflict.describe()}")
        lines.append(f"      -> {conflict.hint}")
    return lines
