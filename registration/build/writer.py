"""Write the outputs of a manifest run: registration files, skipped.jsonl, summary.json.

Files are named ``manifest-00001.json`` (and ``.csv``) in order. Each JSON document is
validated against the shipped schema before it is written; serialisation is orjson in
insertion order, so the same input gives byte-identical files. `FileLayout` knows the bytes
of that form (the wrapper, the list separators, the flags), so a file's size is known exactly
from its items' own sizes before it is written (`chunking` cuts files by bytes with it).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

import orjson

from registration.build.items import BuiltItem
from registration.build.skips import SKIPPED_FILE
from registration.encord import formats as f
from registration.encord.files import manifest_name
from registration.encord.schema import envelope_valid, validate_document
from registration.errors import RegisterError, UsageError

DEFAULT_FORMAT = "json"
FORMATS = (DEFAULT_FORMAT, "csv", "both")
"""`--format`: JSON registration files, the CSV of the web upload, or both."""
SUMMARY_FILE = "summary.json"
_OUR_FILES = ("manifest-[0-9]*.json", "manifest-[0-9]*.csv", SKIPPED_FILE, SUMMARY_FILE)
STAGING_PREFIX = ".manifest-partial-"
"""A run writes into ``--out/.manifest-partial-<pid>-<random>/`` and moves the files into
``--out`` only when it succeeds: a failed run leaves nothing that looks like an earlier run's
output (the staging directory is removed; one left by a killed process is ignored, and
removed by the next run once that process is gone)."""


class OutputDirectory:
    """`--out`: checked and created before anything is read, filled only by a finished run.

    `prepare` refuses a path that cannot be a writable directory and a non-empty directory
    (unless `force`), and creates the staging directory the writer fills; `commit` moves the
    files into place (replacing an earlier run's files with `force`), `abandon` removes them.
    """

    def __init__(self, out_dir: Path, *, force: bool) -> None:
        self.out_dir = out_dir
        self.force = force
        self.staging = out_dir  # until `prepare`

    def prepare(self) -> Path:
        """Check and create `out_dir` and the staging directory; return the staging path."""
        out_dir = self.out_dir
        is_dir = out_dir.is_dir()
        if not is_dir and out_dir.exists():
            raise UsageError(
                f"--out {out_dir} exists and is not a directory",
                hint="choose a directory (it is created when missing)",
            )
        if is_dir and _holds_earlier_files(out_dir) and not self.force:
            raise UsageError(
                f"--out {out_dir} is not empty; refusing to mix runs",
                hint="choose an empty directory, or pass --force to replace its manifest files",
            )
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            prefix = f"{STAGING_PREFIX}{os.getpid()}-"
            self.staging = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir))
        except OSError as exc:
            raise UsageError(
                f"--out {out_dir}: cannot create or write the directory "
                f"({exc.strerror or exc}{_blocker(out_dir)})",
                hint="choose a directory you can write to (it is created when missing)",
            ) from None
        return self.staging

    def commit(self) -> list[Path]:
        """Move the staged files into `out_dir` (after removing an earlier run's files when
        forced); return their new paths in the order written."""
        if self.force:
            for pattern in _OUR_FILES:
                for old in self.out_dir.glob(pattern):
                    old.unlink()
        moved = []
        for path in sorted(self.staging.iterdir(), key=lambda p: (len(p.name), p.name)):
            target = self.out_dir / path.name
            path.replace(target)
            moved.append(target)
        self.staging.rmdir()
        self.staging = self.out_dir
        return moved

    def abandon(self) -> None:
        """Remove what a failed run staged (`out_dir` and any earlier files stay as they were)."""
        if self.staging != self.out_dir:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = self.out_dir


def _blocker(out_dir: Path) -> str:
    """`: a-file is a file` when a part of `out_dir` is an existing non-directory, else ''."""
    for parent in out_dir.parents:
        if parent.exists():
            return "" if parent.is_dir() else f": {parent} is a file"
    return ""


def _holds_earlier_files(out_dir: Path) -> bool:
    """True when `out_dir` holds anything but staging directories; on the way (one pass over
    the directory), remove the staging directories of runs on this machine whose process is
    gone (killed)."""
    earlier = False
    for path in out_dir.iterdir():
        if not path.name.startswith(STAGING_PREFIX):
            earlier = True
            continue
        pid_text = path.name[len(STAGING_PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            shutil.rmtree(path, ignore_errors=True)
    return earlier


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but is not ours to signal
    return True


def build_document(
    chunk: Iterable[BuiltItem], *, skip_duplicate_urls: bool, upsert_metadata: bool
) -> dict[str, Any]:
    """The JSON registration document for one chunk (top-level keys in a fixed order)."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for built in chunk:
        by_key.setdefault(built.top_key, []).append(built.item)
    document: dict[str, Any] = {k: by_key[k] for k in f.TOP_LEVEL_ORDER if k in by_key}
    document[f.SKIP_DUPLICATE_URLS_KEY] = skip_duplicate_urls
    if upsert_metadata:
        document[f.UPSERT_METADATA_KEY] = True
    return document


class FileLayout:
    """The bytes of a JSON registration file as this module writes it, for exact sizes.

    A file is ``{"<top key>":[item,item,...],...,<flags>}`` plus a newline, compact, with the
    flags always last. Its size is `empty` + `list_bytes[top key]` for each top-level list
    present + `len(item) + 1` for each item (its bytes and one separator).
    """

    def __init__(self, *, skip_duplicate_urls: bool, upsert_metadata: bool) -> None:
        flags: dict[str, bool] = {f.SKIP_DUPLICATE_URLS_KEY: skip_duplicate_urls}
        if upsert_metadata:
            flags[f.UPSERT_METADATA_KEY] = True
        self.flags = flags
        self._flag_bytes = orjson.dumps(flags)[1:-1]
        self.empty = len(b"{" + self._flag_bytes + b"}\n")
        """Bytes of a file without items: braces, flags and the final newline."""
        self.list_bytes = {k: len(orjson.dumps(k) + b":[],") - 1 for k in f.TOP_LEVEL_ORDER}
        """Per top-level list present: `"key":[`, `]` and the separator after it, less the
        separator its last item does not need."""
        self._list_heads = {k: orjson.dumps(k) + b":[" for k in f.TOP_LEVEL_ORDER}

    def encode(self, lists: Mapping[str, Sequence[bytes | memoryview]]) -> bytes:
        """The file's bytes from its items' own orjson bytes, per top-level list: what
        `orjson.dumps(build_document(...)) + b"\\n"` gives for the same items."""
        parts = [b"{"]
        for key in f.TOP_LEVEL_ORDER:
            items = lists.get(key)
            if items:
                parts += (self._list_heads[key], b",".join(items), b"],")
        parts += (self._flag_bytes, b"}\n")
        return b"".join(parts)


def csv_rows(chunk: Iterable[BuiltItem]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the CSV form (web upload): one row per URL, title in its kind's column."""
    rows: list[tuple[str, str, str]] = []
    kinds: set[str] = set()
    for built in chunk:
        item, kind = built.item, built.kind
        kinds.add(kind)
        title = item.get(f.TITLE, "")
        if f.OBJECT_URL in item:
            rows.append((kind, item[f.OBJECT_URL], title))
            continue
        for n in range(built.urls):
            rows.append((kind, item[f"{f.OBJECT_URL_N}{n}"], title))
    columns = [k for k in f.CSV_TITLE_HEADER if k in kinds]
    header = [f.CSV_URL_HEADER] + [f.CSV_TITLE_HEADER[k] for k in columns]
    position = {k: i for i, k in enumerate(columns, 1)}
    table = []
    for kind, url, title in rows:
        row = [url] + [""] * len(columns)
        row[position[kind]] = title
        table.append(row)
    return header, table


class EncodedItem(NamedTuple):
    """An item already serialised (orjson), with what a file needs to place it."""

    top_key: str
    data: bytes | memoryview
    kind: str
    urls: int


def skip_line(bucket: str, key: str, reason: str, detail: str | None) -> bytes:
    """One line of skipped.jsonl."""
    line: dict[str, str] = {"bucket": bucket, "key": key, "reason": reason}
    if detail:
        line["detail"] = detail
    return orjson.dumps(line) + b"\n"


def _write_json(path: Path, data: bytes, max_bytes: int | None) -> Path:
    """Write one JSON registration file; an internal error if it is over `max_bytes`."""
    if max_bytes is not None and len(data) > max_bytes:
        raise RegisterError(
            f"internal error: {path.name} would be {len(data):,} bytes, over "
            f"--max-bytes {max_bytes:,}"
        )
    path.write_bytes(data)
    return path


class ManifestWriter:
    """Writes chunk files and skipped.jsonl into one output directory."""

    def __init__(
        self,
        out_dir: Path,
        *,
        fmt: str = "json",
        skip_duplicate_urls: bool = True,
        upsert_metadata: bool = False,
    ) -> None:
        if fmt not in FORMATS:
            raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
        self.out_dir = out_dir
        self.fmt = fmt
        self.skip_duplicate_urls = skip_duplicate_urls
        self.upsert_metadata = upsert_metadata
        self.layout = FileLayout(
            skip_duplicate_urls=skip_duplicate_urls, upsert_metadata=upsert_metadata
        )
        self.files: list[Path] = []
        self._index = 0
        self._skipped: IO[bytes] = (out_dir / SKIPPED_FILE).open("wb")

    def write_chunk(
        self, chunk: Sequence[BuiltItem], *, max_bytes: int | None = None
    ) -> list[Path]:
        """Validate and write one chunk; returns the paths written.

        `max_bytes` is the cap the JSON file was cut to (`chunking`), checked on its bytes.
        """
        self._index += 1
        document = build_document(
            chunk,
            skip_duplicate_urls=self.skip_duplicate_urls,
            upsert_metadata=self.upsert_metadata,
        )
        json_path = self.out_dir / manifest_name(self._index, "json")
        validate_document(document, json_path.name)
        written: list[Path] = []
        if self.fmt in ("json", "both"):
            written.append(_write_json(json_path, orjson.dumps(document) + b"\n", max_bytes))
        if self.fmt in ("csv", "both"):
            written.append(self._write_csv(chunk))
        self.files += written
        return written

    def _write_csv(self, chunk: Sequence[BuiltItem]) -> Path:
        header, rows = csv_rows(chunk)
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\n")
        out.writerow(header)
        out.writerows(rows)
        csv_path = self.out_dir / manifest_name(self._index, "csv")
        csv_path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
        return csv_path

    def write_encoded(
        self,
        lists: Mapping[str, Sequence[bytes | memoryview]],
        items: Sequence[EncodedItem] = (),
        *,
        max_bytes: int,
        suspect: bool = False,
    ) -> list[Path]:
        """Write one chunk of items already serialised, per top-level list (the parallel
        build's), byte for byte as `write_chunk` writes the same items; `items` are the same
        items in order, needed for the CSV form only.

        The items were checked against their list's schema where they were made; the file's
        own shape (its lists, their lengths, the flags) is checked here. A `suspect` chunk
        holds an item the schema refused: the whole document is then validated as
        `write_chunk` does, which names the item and the path.
        """
        self._index += 1
        json_path = self.out_dir / manifest_name(self._index, "json")
        data = self.layout.encode(lists)
        lengths = {key: len(values) for key, values in lists.items()}
        if suspect or not envelope_valid(lengths, self.layout.flags):
            validate_document(orjson.loads(data), json_path.name)
        written: list[Path] = []
        if self.fmt in ("json", "both"):
            written.append(_write_json(json_path, data, max_bytes))
        if self.fmt in ("csv", "both"):
            built = [
                BuiltItem(e.kind, e.top_key, orjson.loads(e.data), e.urls, (), "") for e in items
            ]
            written.append(self._write_csv(built))
        self.files += written
        return written

    def skip(self, bucket: str, key: str, reason: str, detail: str | None) -> None:
        """Append one line to skipped.jsonl."""
        self._skipped.write(skip_line(bucket, key, reason, detail))

    def skip_lines(self, lines: bytes | memoryview) -> None:
        """Append lines made by `skip_line` to skipped.jsonl (the parallel build's)."""
        self._skipped.write(lines)

    def write_summary(self, summary: dict[str, Any]) -> Path:
        """Write summary.json (sorted keys, indented: read by people and scripts)."""
        path = self.out_dir / SUMMARY_FILE
        path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        return path

    def close(self) -> None:
        """Flush and close skipped.jsonl."""
        self._skipped.close()
