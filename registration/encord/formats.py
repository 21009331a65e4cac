"""Encord's registration formats: every key this tool writes, and how sure we are of each.

Two forms carry the same items. The JSON *file form* is what `manifest` writes and a person
uploads in the web app; the *typed form* is the SDK's `DataUploadItems`, which `register`
sends (`upload_items`). The SDK's source confirms the typed form; the file form is known
from Encord's documentation and examples, and some of it is still a decision of ours.
`FORMAT_FACTS` at the end says which is which and where to check; changing an unconfirmed
key is a one-line edit here. The JSON Schema in `schemas/registration.schema.json` mirrors
these keys and the tests check the two against each other and against the SDK's models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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

# Item kind -> top-level key of the JSON file (see FORMAT_FACTS for what is confirmed).
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


@dataclass(frozen=True)
class MediaMetadataForm:
    """How one kind's media metadata is spelled: in the JSON file, and in the SDK's typed form.

    `file_key` is the item key in the JSON file; `file_fields` its field names there, in the
    casing Encord's own examples use (the SDK's models take either casing: snake_case field
    names or their camelCase aliases). `sdk_field` is the `DataUpload*` attribute and
    `sdk_class` the `CustomerProvided*Metadata` model that checks it on the register path.
    """

    file_key: str
    sdk_field: str
    sdk_class: str
    file_fields: tuple[str, ...]
    confirmed: str


MEDIA_METADATA: Final[dict[str, MediaMetadataForm]] = {
    IMAGE: MediaMetadataForm(
        "imageMetadata",
        "image_metadata",
        "CustomerProvidedImageMetadata",
        ("mimeType", "fileSize", "height", "width"),
        "SDK model confirmed; camelCase inside the file form as in Encord's image example",
    ),
    VIDEO: MediaMetadataForm(
        "videoMetadata",
        "video_metadata",
        "CustomerProvidedVideoMetadata",
        ("fps", "duration", "width", "height", "file_size", "mime_type"),
        "SDK model confirmed; snake_case inside the file form as in Encord's video example",
    ),
    AUDIO: MediaMetadataForm(
        "audioMetadata",
        "audio_metadata",
        "CustomerProvidedAudioMetadata",
        (
            "duration",
            "file_size",
            "mime_type",
            "sample_rate",
            "bit_depth",
            "codec",
            "num_channels",
        ),
        "SDK model confirmed; snake_case inside the file form as in Encord's audio example",
    ),
    TEXT: MediaMetadataForm(
        "textMetadata",
        "text_metadata",
        "CustomerProvidedTextMetadata",
        ("file_size", "mime_type"),
        "SDK model confirmed; the file-form key and casing are UNCONFIRMED (no Encord example)",
    ),
    PDF: MediaMetadataForm(
        "pdfMetadata",
        "pdf_metadata",
        "CustomerProvidedPdfMetadata",
        ("file_size", "num_pages"),
        "SDK model confirmed; the file-form key and casing are UNCONFIRMED (no Encord example)",
    ),
}
"""Item kind -> its media metadata (NIfTI, groups and series have none in either form)."""

MEDIA_METADATA_KEY: Final[dict[str, str]] = {k: m.file_key for k, m in MEDIA_METADATA.items()}
"""Item kind -> the media-metadata key of its items in the JSON file."""

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


CONFIRMED: Final = "confirmed"
UNCONFIRMED: Final = "unconfirmed"


@dataclass(frozen=True)
class FormatFact:
    """One thing this tool assumes about Encord's formats, how sure it is, and how to check."""

    subject: str
    status: str
    where_to_check: str


FORMAT_FACTS: Final[tuple[FormatFact, ...]] = (
    FormatFact(
        "typed form: DataUploadItems lists (videos, images, image_groups, dicom_series, audio, "
        "text, pdf, nifti), their items' fields, the flags skip_duplicate_urls/upsert_metadata",
        CONFIRMED,
        "the SDK's encord/orm/storage.py (pinned version); tests/unit/encord/test_upload_items.py",
    ),
    FormatFact(
        "typed form: media metadata models CustomerProvided{Image,Video,Audio,Text,Pdf}Metadata "
        "and their fields (MEDIA_METADATA)",
        CONFIRMED,
        "the SDK's encord/orm/storage.py; test_upload_items checks MEDIA_METADATA against it",
    ),
    FormatFact(
        "file form: videos/images/image_groups/audio items with objectUrl, title, "
        "clientMetadata; objectUrl_N and createVideo for image groups and sequences",
        CONFIRMED,
        "Encord's documentation, JSON registration file examples",
    ),
    FormatFact(
        "key frames: clientMetadata['$encord'] with frames (list or dict) and optional config; "
        "a top-level keyframes list is deprecated",
        CONFIRMED,
        "Encord's documentation, key frames and custom metadata pages",
    ),
    FormatFact(
        "file form: dicom_series items list their files as objectUrl_0 ... objectUrl_N",
        UNCONFIRMED,
        "Encord's documentation, DICOM registration; the typed form (dicomFiles) is certain "
        "and is what `register` sends",
    ),
    FormatFact(
        "file form: top-level keys text, pdf and nifti (named after the typed form's lists)",
        UNCONFIRMED,
        "Encord's documentation, JSON registration file; the typed form is certain",
    ),
    FormatFact(
        "file form: casing inside media metadata (camelCase for images, snake_case for video "
        "and audio, as in Encord's examples; textMetadata/pdfMetadata have no example)",
        UNCONFIRMED,
        "Encord's documentation, media metadata examples; the SDK's models accept both casings",
    ),
    FormatFact(
        "CSV form: the column headers per kind (CSV_URL_HEADER, CSV_TITLE_HEADER)",
        UNCONFIRMED,
        "Encord's documentation, CSV upload in the web app",
    ),
    FormatFact(
        "Multi-Region Access Point form: the MRAP ARN followed by the key, encoded like a URL",
        UNCONFIRMED,
        "Encord's documentation, Multi-Region Access Points; registration.build.urls",
    ),
)
"""What is confirmed and what is not; docs/register.md shows this table."""
