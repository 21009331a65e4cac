"""A registration file's document in the SDK's typed form, `encord.orm.storage.DataUploadItems`.

The JSON file on disk stays in Encord's documented file form (a person can upload it in the
web app, and the state store fingerprints it); `register` sends each file as the typed
form the SDK defines, so every kind of item reaches Encord in a shape the SDK's own
pydantic models have checked before anything leaves the machine.

The translation is mechanical: single-file items keep their keys (the file form already
uses the models' camelCase aliases, and media metadata is accepted in either casing);
image groups and DICOM series list their files as `objectUrl_0 ... objectUrl_N` in the
file form and as `images: [{url}]` / `dicomFiles: [{url, title}]` in the typed form. A
document the models refuse raises `ItemsRefused` with one `ItemProblem` per error, each
naming the item and the JSON path *in the file*, so the user can find and fix it there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

from registration.encord import formats as f
from registration.encord.limits import MAX_TITLE_CHARS
from registration.encord.schema import item_label, json_path
from registration.errors import InputError

if TYPE_CHECKING:
    from encord.orm.storage import DataUploadItems

TYPED_LIST_KEY: Final[dict[str, str]] = {
    "videos": "videos",
    "images": "images",
    "image_groups": "imageGroups",
    "dicom_series": "dicomSeries",
    "audio": "audio",
    "text": "text",
    "pdf": "pdf",
    "nifti": "nifti",
}
"""File-form item list -> the `DataUploadItems` alias it goes to (confirmed in the SDK)."""

TYPED_FLAG_KEY: Final[dict[str, str]] = {
    f.SKIP_DUPLICATE_URLS_KEY: "skipDuplicateUrls",
    f.UPSERT_METADATA_KEY: "upsertMetadata",
}

GROUP_FILES_KEY: Final[dict[str, str]] = {"image_groups": "images", "dicom_series": "dicomFiles"}
"""Multi-file list -> the typed item's list of files (`DataUploadImageGroupImage` /
`DataUploadDicomSeriesDicomFile`, each with a `url`)."""

MAX_PROBLEMS_SHOWN: Final = 20
"""Problems spelled out in an `ItemsRefused` message; `problems` holds them all."""

_FILE_LIST_KEY = {typed: file for file, typed in TYPED_LIST_KEY.items()}
_FILE_FLAG_KEY = {typed: file for file, typed in TYPED_FLAG_KEY.items()}


@dataclass(frozen=True)
class ItemProblem:
    """One thing the SDK's models refuse: the item, the JSON path in the file, and why."""

    item: str | None
    path: str
    message: str

    def to_json(self) -> dict[str, str | None]:
        """The problem as the register report lists it."""
        return {"item": self.item, "path": self.path, "error": self.message}

    def __str__(self) -> str:
        where = f"item {self.item}, " if self.item else ""
        return f"{where}at {self.path}: {self.message}"


class ItemsRefused(InputError):
    """The SDK's models refuse a document: nothing of it may be sent.

    An `InputError`, so it ends the command with the same exit code as any other invalid
    registration file.
    """

    def __init__(self, source: str, problems: list[ItemProblem]) -> None:
        shown = "; ".join(str(p) for p in problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        if more > 0:
            shown += f"; and {more} more"
        super().__init__(
            f"{source}: refused by the encord SDK's models, nothing of it was sent: {shown}",
            source=source,
            hint="fix these items in the file (or in the sidecars and --metadata they came "
            "from, then run `manifest` again)",
        )
        self.problems = problems


def typed_document(document: dict[str, Any]) -> dict[str, Any]:
    """The document keyed by the typed form's aliases, groups and series translated."""
    typed: dict[str, Any] = {}
    for file_key, value in document.items():
        flag = TYPED_FLAG_KEY.get(file_key)
        if flag is not None:
            typed[flag] = value
            continue
        files_key = GROUP_FILES_KEY.get(file_key)
        typed[TYPED_LIST_KEY[file_key]] = (
            value if files_key is None else [_typed_group(item, files_key) for item in value]
        )
    return typed


def _typed_group(item: dict[str, Any], files_key: str) -> dict[str, Any]:
    """A file-form group or series as its typed form (files in `objectUrl_N` order)."""
    out: dict[str, Any] = {}
    files: list[tuple[int, str]] = []
    start = len(f.OBJECT_URL_N)
    for key, value in item.items():
        if key.startswith(f.OBJECT_URL_N) and key[start:].isdigit():
            files.append((int(key[start:]), value))
        else:
            out[key] = value
    files.sort()
    if files_key == GROUP_FILES_KEY["dicom_series"]:
        # The model requires a DICOM file's title (it may be None, but the SDK drops None
        # on the wire and its own model then misses the key): the URL's last segment, as
        # Encord derives a title when none is given.
        out[files_key] = [{"url": url, "title": file_title(url)} for _, url in files]
    else:
        out[files_key] = [{"url": url} for _, url in files]
    return out


def file_title(url: str) -> str:
    """A file's title from its URL: the last path segment, percent-decoded, within limits."""
    return unquote(url.rsplit("/", 1)[-1])[:MAX_TITLE_CHARS] or url[-MAX_TITLE_CHARS:]


def upload_items(document: dict[str, Any], source: str) -> DataUploadItems:
    """The SDK's `DataUploadItems` for a file-form document; `ItemsRefused` when refused.

    `document` has been checked against the shipped JSON Schema (its keys are known ones).
    """
    from encord.orm.storage import DataUploadItems
    from pydantic import ValidationError

    unknown = list(unknown_media_fields(document))
    try:
        items = DataUploadItems.model_validate(typed_document(document))
    except ValidationError as exc:
        problems = list(_problems(document, exc.errors(include_url=False)))
        raise ItemsRefused(source, unknown + problems) from None
    if unknown:
        raise ItemsRefused(source, unknown)
    return items


@cache
def _media_fields() -> dict[str, tuple[str, frozenset[str]]]:
    """Item list -> (its media-metadata key, every spelling the SDK's model has a field for)."""
    from encord.orm import storage

    table: dict[str, tuple[str, frozenset[str]]] = {}
    for kind, form in f.MEDIA_METADATA.items():
        fields = getattr(storage, form.sdk_class).model_fields
        names = {name for name in fields} | {info.alias for info in fields.values() if info.alias}
        table[f.TOP_LEVEL_KEY[kind]] = (form.file_key, frozenset(names))
    return table


def unknown_media_fields(document: dict[str, Any]) -> Iterator[ItemProblem]:
    """Media-metadata fields the SDK's models do not define (the models would drop them)."""
    for list_key, (media_key, known) in _media_fields().items():
        for index, entry in enumerate(document.get(list_key) or ()):
            media = entry.get(media_key)
            if not isinstance(media, dict):
                continue
            for name in media:
                if name not in known:
                    yield problem_at(
                        document,
                        (TYPED_LIST_KEY[list_key], index, media_key, name),
                        f"not a field of the SDK's {media_key}; it would be dropped",
                    )


def _problems(document: dict[str, Any], errors: list[Any]) -> Iterator[ItemProblem]:
    for error in errors:
        yield problem_at(document, tuple(error.get("loc", ())), str(error.get("msg", "invalid")))


def problem_at(document: dict[str, Any], loc: tuple[Any, ...], message: str) -> ItemProblem:
    """An error at `loc` (a typed-form location) as the item and JSON path in the file."""
    if not loc:
        return ItemProblem(None, "$", message)
    head = str(loc[0])
    list_key = _FILE_LIST_KEY.get(head)
    if list_key is None:
        return ItemProblem(None, json_path((_FILE_FLAG_KEY.get(head, head),)), message)
    if len(loc) < 2 or not isinstance(loc[1], int):
        return ItemProblem(None, json_path((list_key,)), message)
    index = loc[1]
    parts: list[Any] = [list_key, index]
    rest = list(loc[2:])
    if list_key in GROUP_FILES_KEY and rest[:1] == [GROUP_FILES_KEY[list_key]] and len(rest) > 1:
        # images[3].url / dicomFiles[3].url are objectUrl_3 in the file.
        parts.append(f"{f.OBJECT_URL_N}{rest[1]}")
        rest = rest[3:] if len(rest) > 2 and rest[2] == "url" else rest[2:]
    return ItemProblem(item_label(document, list_key, index), json_path(parts + rest), message)
