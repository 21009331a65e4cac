"""Every assumption about Encord's registration formats that is not confirmed, in one table.

See the reference on registration formats: which top-level key carries which kind of item,
the CSV header per kind, and how media-metadata objects are named. Changing one of these
is a one-line edit here; the JSON Schema in `schemas/registration.schema.json` mirrors the
top-level keys and is checked against this table by the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

# Kinds of item this tool builds (internal names).
IMAGE: Final = "image"
VIDEO: Final = "video"
AUDIO: Final = "audio"
TEXT: Final = "text"
PDF: Final = "pdf"
NIFTI: Final = "nifti"
DICOM: Final = "dicom"  # one .dcm file: always registered inside a DICOM series
IMAGE_GROUP: Final = "image_group"
IMAGE_SEQUENCE: Final = "image_sequence"
DICOM_SERIES: Final = "dicom_series"

# Kinds an object can be classified as (the values `--type-map EXT=TYPE` accepts).
OBJECT_KINDS: Final = (IMAGE, VIDEO, AUDIO, TEXT, PDF, NIFTI, DICOM)

# Item kind -> top-level key of the JSON file. `text`, `pdf`, `nifti` are unconfirmed
# (typed fields of the SDK's DataUploadItems); `dicom_series` with objectUrl_N is unconfirmed.
TOP_LEVEL_KEY: Final[dict[str, str]] = {
    VIDEO: "videos",
    IMAGE: "images",
    IMAGE_GROUP: "image_groups",
    IMAGE_SEQUENCE: "image_groups",  # an image group with createVideo: true
    DICOM_SERIES: "dicom_series",
    AUDIO: "audio",
    TEXT: "text",
    PDF: "pdf",
    NIFTI: "nifti",
}

# Order of top-level keys inside a file (deterministic output).
TOP_LEVEL_ORDER: Final = (
    "videos",
    "images",
    "image_groups",
    "dicom_series",
    "audio",
    "text",
    "pdf",
    "nifti",
)

ITEM_LISTS: Final = TOP_LEVEL_ORDER
"""Every top-level key of a file that holds a list of items (units Encord registers)."""

# Item kinds whose item holds several URLs as objectUrl_0 ... objectUrl_N.
MULTI_FILE_KINDS: Final = frozenset({IMAGE_GROUP, IMAGE_SEQUENCE, DICOM_SERIES})

MULTI_FILE_LISTS: Final = frozenset(TOP_LEVEL_KEY[k] for k in MULTI_FILE_KINDS)
"""Top-level keys whose items list their files as objectUrl_0 ... objectUrl_N."""

# Keys inside an item.
OBJECT_URL: Final = "objectUrl"
OBJECT_URL_N: Final = "objectUrl_"
"""Prefix of the numbered URL keys of a multi-file item: objectUrl_0, objectUrl_1, ..."""
TITLE: Final = "title"
CLIENT_METADATA: Final = "clientMetadata"
CREATE_VIDEO: Final = "createVideo"

# Item kind -> name of its media-metadata object; spelling inside it is snake_case
# (`file_size`), unconfirmed.
MEDIA_METADATA_KEY: Final[dict[str, str]] = {
    VIDEO: "videoMetadata",
    IMAGE: "imageMetadata",
    AUDIO: "audioMetadata",
}

# CSV form (web upload only). The exact header table is unconfirmed; this is the best
# reading of Encord's docs. `NIfTI title` is our own guess: the docs list no NIfTI column.
CSV_URL_HEADER: Final = "ObjectUrl"
CSV_TITLE_HEADER: Final[dict[str, str]] = {
    IMAGE: "Image title",
    VIDEO: "Video title",
    IMAGE_GROUP: "Image group title",
    IMAGE_SEQUENCE: "Image sequence title",
    DICOM_SERIES: "Series title",
    AUDIO: "Audio title",
    TEXT: "Text title",
    PDF: "PDF title",
    NIFTI: "NIfTI title",
}

# Top-level flags of a JSON file.
SKIP_DUPLICATE_URLS_KEY: Final = "skip_duplicate_urls"
UPSERT_METADATA_KEY: Final = "upsert_metadata"
FLAGS: Final = (SKIP_DUPLICATE_URLS_KEY, UPSERT_METADATA_KEY)

ItemCheck = Callable[[str, dict[str, Any]], str | None]
"""A check on one item before it is written or sent: (top-level key, item) -> the reason to
refuse it, or None to keep it (`--schema` is one)."""
