"""Classifying single metadata values: the rules inference and checks share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from registration.metadata_schema import rules


def is_uuid(text: str) -> bool:
    """Whether `text` is a canonical 8-4-4-4-12 hex UUID."""
    return len(text) == 36 and rules.UUID_PATTERN.fullmatch(text) is not None


def is_datetime(text: str) -> bool:
    """Whether `text` is an ISO 8601 date or date-time with a dash-separated date."""
    if len(text) < 10 or text[4] != "-" or rules.DATETIME_PATTERN.fullmatch(text) is None:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False  # e.g. month 13: the shape matched but the date does not exist
    return True


def is_keyframe_list(value: Any) -> bool:
    """A list of non-negative integer frame numbers."""
    return type(value) is list and all(type(v) is int and v >= 0 for v in value)


def kind_name(value: Any) -> str:
    """The JSON kind of `value`, as people say it: number, string, list of strings ..."""
    if value is None:
        return "null"
    if type(value) is bool:
        return "boolean"
    if type(value) in (int, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        if not value:
            return "empty list"
        inner = {kind_name(v) for v in value}
        return f"list of {inner.pop()}s" if len(inner) == 1 else "list of mixed values"
    return type(value).__name__


def preview(value: Any, limit: int = 60) -> str:
    """A short repr of `value` for messages (long strings and lists are cut)."""
    if isinstance(value, list) and len(value) > 4:
        text = f"[{', '.join(repr(v) for v in value[:3])}, ... ({len(value)} items)]"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
