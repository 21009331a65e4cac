"""What a manifest build is asked to do, as frozen records: the source, the options, the output.

The CLI parses its flags into these (`registration.cli.options`); a Lambda or another
program builds them directly. Values are checked where they are used, and a bad one raises
`UsageError` naming the flag a CLI user would have passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registration.build.bulk_metadata import DEFAULT_DUPLICATE_POLICY
from registration.build.sidecars import DEFAULT_SIDECAR_SUFFIXES
from registration.build.sources.s3_listing import DEFAULT_LIST_WORKERS
from registration.build.titles import DEFAULT_TITLE_MODE
from registration.build.urls import DEFAULT_URL_STYLE
from registration.build.writer import DEFAULT_FORMAT


@dataclass(frozen=True)
class SourceSpec:
    """Where the objects come from: one of a bucket listing, an inventory, a keys file, or a stack.

    `prefixes` empty means the stack's prefixes (with a stack) or the whole bucket.
    `stack_outputs`/`stack` name the access stack whose buckets, prefixes, regions and
    Multi-Region Access Points are used; `bucket`, `prefixes`, `region` and `mrap_arn` override.
    """

    bucket: str | None = None
    prefixes: tuple[str, ...] = ()
    inventory: str | None = None
    keys_file: Path | None = None
    stack_outputs: Path | None = None
    stack: str | None = None
    region: str | None = None
    mrap_arn: str | None = None
    list_workers: int = DEFAULT_LIST_WORKERS
    head_intelligent_tiering: bool = False
    trust_keys: bool = False
    """`--trust-keys`: use a keys file's keys without one HeadObject each (`key_check`)."""

    @property
    def given(self) -> bool:
        """True when any source was named (a bucket, an inventory, a keys file or a stack)."""
        return any((self.bucket, self.inventory, self.keys_file, self.stack_outputs, self.stack))


@dataclass(frozen=True)
class BuildOptions:
    """How objects become items: classification, grouping, metadata, titles, URLs, file size."""

    type_map: tuple[str, ...] = ()
    """`EXT=TYPE` overrides of the extension table."""
    image_groups: tuple[str, ...] = ()
    image_sequences: tuple[str, ...] = ()
    dicom_series: tuple[str, ...] = ()
    """Folder patterns (globs, or `re:REGEX`) that become multi-file items."""
    metadata_file: Path | None = None
    metadata_duplicates: str = DEFAULT_DUPLICATE_POLICY
    """`--metadata-duplicates`: rows of `metadata_file` that give one key different metadata
    are refused (`refuse`), or the `first` / `last` of them is used (`bulk_metadata`)."""
    sidecar_suffixes: tuple[str, ...] = DEFAULT_SIDECAR_SUFFIXES
    """Key endings that make an object another's sidecar (`--sidecar-suffix`; the longest
    whose data file exists wins, `sidecars` says the whole rule)."""
    keyframe_sampling_rate: float | None = None
    keyframe_mode: str | None = None
    """`--keyframe-sampling-rate` / `--keyframe-mode`: the key-frame `config` written where
    the metadata gives key frames without one (`keyframes.KeyframeDefaults`); None: none."""
    title: str = DEFAULT_TITLE_MODE
    """`key` or `basename` (`titles.TITLE_MODES`)."""
    url_style: str = DEFAULT_URL_STYLE
    """`virtual` or `path` (`urls.URL_STYLES`)."""
    max_items: int | None = None
    """Items per file; None: the `plan`'s, or `limits.DEFAULT_ITEMS_PER_FILE` (10,000)."""
    max_bytes: int | None = None
    """Bytes per JSON file at most; None: the `plan`'s, or `limits.DEFAULT_MAX_BYTES`."""
    plan: str | None = None
    """Encord plan whose file defaults apply (`limits.PLANS`: free, team, enterprise)."""
    skip_duplicate_urls: bool = True
    upsert_metadata: bool = False
    workers: int | None = None
    """Processes building an inventory's items (`--workers`); None: one per CPU. The files
    are the same whatever the number (`parallel`)."""


@dataclass(frozen=True)
class OutputSpec:
    """Where the files go: a directory, the format, and whether an earlier run's files go."""

    out_dir: Path
    fmt: str = DEFAULT_FORMAT
    """`json`, `csv` or `both` (`writer.FORMATS`)."""
    force: bool = False
