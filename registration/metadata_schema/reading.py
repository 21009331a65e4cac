"""Where the metadata to infer a schema from comes from: registration files, or a source.

A source (a bucket, an inventory, a stack ...) is first built into registration files in
a temporary directory, exactly as `manifest` would write them, then read back.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from registration.build.manifests import build_manifests
from registration.build.spec import BuildOptions, OutputSpec, SourceSpec
from registration.encord.files import iter_items, iter_manifest_paths, load_manifest
from registration.metadata_schema.inference import (
    InferenceOptions,
    InferenceResult,
    SchemaInferrer,
)
from registration.reporter import SILENT, Reporter

_PROGRESS_EVERY = 8192


def iter_manifest_items(directory: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every `(top-level key, item)` of the registration files in `directory`, file by file."""
    for path in iter_manifest_paths(directory):
        yield from iter_items(load_manifest(path))


def _infer(
    items: Iterator[tuple[str, dict[str, Any]]], options: InferenceOptions, reporter: Reporter
) -> InferenceResult:
    inferrer = SchemaInferrer(options)
    add = inferrer.add
    for media_type, item in items:
        add(media_type, item)
        if inferrer.items % _PROGRESS_EVERY == 0:
            reporter.progress("items read", inferrer.items)
    return inferrer.result()


def infer_from_manifests(
    directory: Path, options: InferenceOptions, reporter: Reporter
) -> InferenceResult:
    """Infer one schema from the metadata of the registration files in `directory`."""
    return _infer(iter_manifest_items(directory), options, reporter)


def infer_from_source(
    source: SourceSpec,
    build: BuildOptions,
    options: InferenceOptions,
    reporter: Reporter,
) -> InferenceResult:
    """Build registration files for `source` in a temporary directory and infer from them."""
    with tempfile.TemporaryDirectory(prefix="encord-schema-") as tmp:
        out = Path(tmp) / "manifests"
        build_manifests(source, build, OutputSpec(out), SILENT)
        return _infer(iter_manifest_items(out), options, reporter)
