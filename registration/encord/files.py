"""Registration files in Encord's JSON format: find them, load them (validated), walk their units.

Used by every stage that reads files back: `register` sends them, `schema` reads their
metadata, `--schema` filters them. A unit is one item Encord registers (a video, an image,
an image group, a DICOM series, ...); the item-list keys and URL keys come from `formats`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from registration.encord import formats as f
from registration.encord.schema import validate_document
from registration.errors import InputError

_MANIFEST_NAME = re.compile(r"manifest-\d{5,}\.json")
_URL_KEY = re.compile(rf"{f.OBJECT_URL}(_\d+)?")


def manifest_name(index: int, suffix: str) -> str:
    """`manifest-00001.json` for index 1 (the name `manifest` writes, `register` reads)."""
    return f"manifest-{index:05d}.{suffix}"


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


def read_bytes(path: Path) -> bytes:
    """The raw bytes of a registration file; InputError naming it when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}", source=str(path)) from None


def parse_manifest(raw: bytes, path: Path, *, validated: bool = False) -> dict[str, Any]:
    """A registration document from its bytes, validated against the shipped schema.

    A corrupt or invalid document raises InputError naming the file (and, for schema
    errors, the item and JSON path). `validated` skips the schema when these exact bytes
    were validated before (the caller has checked their hash).
    """
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"{path} is not valid JSON ({exc})",
            source=str(path),
            hint="re-create it with `encord-register manifest --force`",
        ) from exc
    if not validated:
        validate_document(document, str(path))
    if not isinstance(document, dict):  # the schema requires an object; keeps mypy honest
        raise InputError(f"{path}: expected a JSON object", source=str(path))
    return document


def load_manifest(path: Path) -> dict[str, Any]:
    """Read one registration file and validate it against the shipped schema."""
    return parse_manifest(read_bytes(path), path)


def iter_items(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every `(top-level key, item)` of a document, in file order."""
    for list_key in f.ITEM_LISTS:
        items = document.get(list_key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    yield list_key, item


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


def unit_urls(list_key: str, entry: dict[str, Any]) -> tuple[str, ...]:
    """The object URLs of one unit (an item under `list_key`), in order."""
    if list_key not in f.MULTI_FILE_LISTS:
        url = entry.get(f.OBJECT_URL)
        return (url,) if isinstance(url, str) and url else ()
    start = len(f.OBJECT_URL_N)
    numbered = sorted(
        (int(k[start:]), v)
        for k, v in entry.items()
        if k.startswith(f.OBJECT_URL_N) and k[start:].isdigit()
    )
    return tuple(str(v) for _, v in numbered)


def count_units(doc: dict[str, Any]) -> int:
    """How many units (items Encord registers) a document holds."""
    return sum(len(doc.get(list_key) or []) for list_key in f.ITEM_LISTS)


def iter_unit_urls(doc: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    """The URL tuple of every unit, in document order."""
    for list_key in f.ITEM_LISTS:
        for entry in doc.get(list_key) or []:
            yield unit_urls(list_key, entry)


def select_units(doc: dict[str, Any], urls: Iterable[str]) -> dict[str, Any]:
    """A copy of `doc` holding only the units that reference any of `urls` (flags kept)."""
    wanted = set(urls)
    out: dict[str, Any] = {flag: doc[flag] for flag in f.FLAGS if flag in doc}
    for list_key in f.ITEM_LISTS:
        kept = [e for e in doc.get(list_key) or [] if wanted.intersection(unit_urls(list_key, e))]
        if kept:
            out[list_key] = kept
    return out


def with_skip_duplicates(doc: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy with `skip_duplicate_urls` forced on."""
    return {**doc, f.SKIP_DUPLICATE_URLS_KEY: True}
