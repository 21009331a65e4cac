"""Read registration files back (for `register`, `verify`, ...): list, load, iterate URLs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from registration.errors import InputError
from registration.validate import validate_document

_MANIFEST_NAME = re.compile(r"manifest-\d{5,}\.json")
_URL_KEY = re.compile(r"objectUrl(_\d+)?")


def iter_manifest_paths(directory: Path) -> list[Path]:
    """The `manifest-NNNNN.json` files in `directory`, in order; InputError when there are none."""
    if not directory.is_dir():
        raise InputError(
            f"{directory} is not a directory of registration files",
            source=str(directory),
            hint="write them with `encord-register manifest --out DIR`",
        )
    paths = sorted(
        (p for p in directory.iterdir() if _MANIFEST_NAME.fullmatch(p.name)),
        key=lambda p: (len(p.name), p.name),
    )
    if not paths:
        raise InputError(
            f"no manifest-*.json files in {directory}",
            source=str(directory),
            hint="write them with `encord-register manifest --out DIR`",
        )
    return paths


def load_manifest(path: Path) -> dict[str, Any]:
    """Read one registration file and validate it against the shipped schema.

    A missing, corrupt or invalid file raises InputError naming the file (and, for schema
    errors, the item and JSON path).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}", source=str(path)) from exc
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"{path} is not valid JSON ({exc})",
            source=str(path),
            hint="re-create it with `encord-register manifest --force`",
        ) from exc
    validate_document(document, str(path))
    if not isinstance(document, dict):  # the schema requires an object; keeps mypy honest
        raise InputError(f"{path}: expected a JSON object", source=str(path))
    return document


def iter_object_urls(doc: dict[str, Any]) -> Iterator[str]:
    """Every objectUrl / objectUrl_N in a registration document, in file order."""
    for value in doc.values():
        if not isinstance(value, list):
            continue
        for item in value:
            if not isinstance(item, dict):
                continue
            for key, url in item.items():
                if isinstance(url, str) and _URL_KEY.fullmatch(key):
                    yield url
