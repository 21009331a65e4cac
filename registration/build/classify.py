"""Classification of objects by file extension: THE extension table, in one place.

Extensions are matched case-insensitively; double extensions (``.nii.gz``) are tried
before single ones. `--type-map EXT=TYPE` overrides entries of this table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from registration.encord import formats as f
from registration.errors import UsageError

EXTENSION_KINDS: Mapping[str, str] = {
    # images
    "jpg": f.IMAGE,
    "jpeg": f.IMAGE,
    "png": f.IMAGE,
    "webp": f.IMAGE,
    "bmp": f.IMAGE,
    "gif": f.IMAGE,
    "tif": f.IMAGE,
    "tiff": f.IMAGE,
    "avif": f.IMAGE,
    # videos
    "mp4": f.VIDEO,
    "m4v": f.VIDEO,
    "mov": f.VIDEO,
    "webm": f.VIDEO,
    "mkv": f.VIDEO,
    "avi": f.VIDEO,
    "mpeg": f.VIDEO,
    "mpg": f.VIDEO,
    # audio
    "mp3": f.AUDIO,
    "wav": f.AUDIO,
    "flac": f.AUDIO,
    "aac": f.AUDIO,
    "m4a": f.AUDIO,
    "ogg": f.AUDIO,
    "opus": f.AUDIO,
    # text documents
    "txt": f.TEXT,
    "html": f.TEXT,
    "htm": f.TEXT,
    "json": f.TEXT,
    "xml": f.TEXT,
    "md": f.TEXT,
    # documents and medical volumes
    "pdf": f.PDF,
    "nii": f.NIFTI,
    "nii.gz": f.NIFTI,
    "dcm": f.DICOM,
    "dicom": f.DICOM,
}

# Last extensions that may be the second half of a double extension (`.nii.gz`).
_COMPOUND_TAILS = frozenset({"gz"})


def extension_of(key: str) -> str:
    """The lower-case extension of `key`'s file name ('' when it has none); `.nii.gz` whole."""
    base = key[key.rfind("/") + 1 :]
    dot = base.rfind(".")
    if dot < 0:
        return ""
    ext = base[dot + 1 :].lower()
    if ext in _COMPOUND_TAILS:
        prev = base.rfind(".", 0, dot)
        if prev >= 0:
            return base[prev + 1 :].lower()
    return ext


class Classifier:
    """Maps an object key to its kind (`formats.OBJECT_KINDS`) or None when unknown."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        table = dict(EXTENSION_KINDS)
        table.update(overrides or {})
        self.table: Mapping[str, str] = table
        """Extension (as `extension_of` returns it) -> kind, overrides applied."""

    def kind_of(self, key: str) -> str | None:
        """The kind of `key` by its extension, or None (unknown or no extension)."""
        return self.kind_of_extension(extension_of(key))

    def kind_of_extension(self, ext: str) -> str | None:
        """The kind for an extension as `extension_of` returns it, or None."""
        kind = self.table.get(ext)
        if kind is None and "." in ext:
            # `.tar.gz` is not in the table: fall back to the last extension alone.
            kind = self.table.get(ext[ext.rfind(".") + 1 :])
        return kind


def parse_type_map(pairs: Iterable[str]) -> dict[str, str]:
    """Parse `--type-map EXT=TYPE` values; UsageError on a bad pair or an unknown TYPE."""
    result: dict[str, str] = {}
    for pair in pairs:
        ext, sep, kind = pair.partition("=")
        ext = ext.strip().lstrip(".").lower()
        kind = kind.strip().lower()
        if not sep or not ext:
            raise UsageError(f"--type-map {pair!r}: expected EXT=TYPE, e.g. --type-map jfif=image")
        if kind not in f.OBJECT_KINDS:
            raise UsageError(
                f"--type-map {pair!r}: unknown type {kind!r}; "
                f"choose one of {', '.join(f.OBJECT_KINDS)}"
            )
        result[ext] = kind
    return result
