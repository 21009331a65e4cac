"""Why an object was not included: every skip reason, named once, and the file that lists them."""

from __future__ import annotations

from collections.abc import Callable

from registration.encord.limits import MAX_CLIENT_METADATA_BYTES, MAX_URL_BYTES

SKIPPED_FILE = "skipped.jsonl"
"""One JSON line per object not included (bucket, key, reason, detail), beside the files."""

FOLDER_MARKER = "folder_marker"
EMPTY_OBJECT = "empty_object"
UNKNOWN_TYPE = "unknown_type"
ARCHIVED = "archived_not_restored"
URL_TOO_LONG = "url_too_long"
BAD_SIDECAR = "bad_sidecar"
BAD_KEYFRAMES = "bad_keyframes"
SIDECAR_SUPERSEDED = "sidecar_superseded"
SIDECAR_OF_SKIPPED = "sidecar_of_skipped_object"
SIDECAR_OF_FRAME = "sidecar_of_group_frame"
DUPLICATE_KEY = "duplicate_key"
GROUP_TOO_LARGE = "group_too_large"
CHECK_FAILED = "item_check"
ITEM_TOO_LARGE = "item_too_large"
METADATA_TOO_LARGE = "metadata_too_large"
DOT_SEGMENT = "dot_segment_key"
NOT_FOUND = "not_found"
GROUP_MARKER = "group_marker"

REASONS: dict[str, str] = {
    FOLDER_MARKER: "a folder marker (key ends with '/'), not a file",
    EMPTY_OBJECT: "the object is empty (0 bytes)",
    UNKNOWN_TYPE: "the extension is not a type Encord registers (see --type-map)",
    ARCHIVED: "in an archive storage class/tier and not restored (Encord cannot read it)",
    URL_TOO_LONG: f"the object URL is longer than Encord's {MAX_URL_BYTES // 1024} KB limit",
    BAD_SIDECAR: "the sidecar metadata file is not a readable JSON object",
    BAD_KEYFRAMES: "the sidecar's key frames ($encord frames/config, or the deprecated "
    "keyframes list) are not valid; the object is included without this sidecar",
    SIDECAR_SUPERSEDED: "another sidecar of the same object, with a longer suffix, is used "
    "(the detail names it)",
    SIDECAR_OF_SKIPPED: "the sidecar of an object that was skipped",
    SIDECAR_OF_FRAME: "a sidecar of one frame of a group (group metadata comes from "
    "--metadata keyed by the folder)",
    DUPLICATE_KEY: "the same key was listed more than once",
    GROUP_TOO_LARGE: "the group has more frames than one registration file may hold",
    CHECK_FAILED: "refused by an item check",
    ITEM_TOO_LARGE: "the item's JSON does not fit a registration file of --max-bytes even alone",
    METADATA_TOO_LARGE: "the item's clientMetadata is over Encord's "
    f"{MAX_CLIENT_METADATA_BYTES // 1_000_000} MB per-item limit",
    DOT_SEGMENT: "the key has a '.' or '..' path segment (a/../b.jpg): HTTP clients resolve "
    "its URL to another object, so no URL can point at it",
    NOT_FOUND: "a key of --keys-file that is not in the bucket (HeadObject answered 404)",
    GROUP_MARKER: "the group marker object of continuous registration (groupMarker): it "
    "completes its folder's group and is never registered itself",
}

SkipSink = Callable[[str, str, str, str | None], None]
"""skip(bucket, key, reason, detail): records one object that is not included."""
