"""The build stage's entry point: a source, options and an output directory in; files out.

`build_manifests` writes ``manifest-NNNNN.json`` (and ``.csv``), ``skipped.jsonl`` and
``summary.json`` and returns the `ManifestSummary`. It takes frozen records, never parsed
command-line arguments, so the CLI, a Lambda and tests call it the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from registration.build.parallel import run_parallel
from registration.build.pipeline import BucketSource, PipelineOptions, run_pipeline
from registration.build.plan import SourcePlan, pipeline_options
from registration.build.sidecars import BodyReader
from registration.build.spec import BuildOptions, OutputSpec, SourceSpec
from registration.build.summary import ManifestSummary, summarise
from registration.build.writer import ManifestWriter, OutputDirectory
from registration.encord.formats import ItemCheck
from registration.errors import UsageError
from registration.processes import can_fork, default_workers
from registration.reporter import Reporter


def build_manifests(
    source: SourceSpec,
    options: BuildOptions,
    output: OutputSpec,
    reporter: Reporter,
    *,
    item_checks: Sequence[ItemCheck] = (),
    s3_client: Any = None,
    body_reader: BodyReader | None = None,
) -> ManifestSummary:
    """Read `source`, build items with `options`, and write the files `output` asks for.

    `item_checks` run on every built item before chunking; an item a check refuses goes to
    skipped.jsonl with the check's reason. `s3_client` and `body_reader` replace the default
    boto3 client and the S3 GetObject of sidecars.
    """
    pipeline = pipeline_options(options)
    workers = options.workers if options.workers is not None else default_workers()
    if workers < 1:
        raise UsageError(f"--workers {workers}: must be at least 1")
    if not can_fork():
        workers = 1
    if options.upsert_metadata and not options.skip_duplicate_urls:
        raise UsageError("--upsert-metadata needs --skip-duplicate-urls (the default)")
    # Before any S3 call: a path that cannot be written should not cost a listing.
    out = OutputDirectory(output.out_dir, force=output.force)
    staging = out.prepare()
    try:
        sources = SourcePlan(source, options, s3_client, keyframes=pipeline.keyframes).sources()
        if body_reader is not None:
            for bucket_source in sources:
                bucket_source.body_reader = body_reader
        writer = ManifestWriter(
            staging,
            fmt=output.fmt,
            skip_duplicate_urls=options.skip_duplicate_urls,
            upsert_metadata=options.upsert_metadata,
        )
        try:
            summary = _build(sources, pipeline, writer, reporter, item_checks, workers)
        finally:
            writer.close()
        writer.write_summary(summary.to_json())
        moved = {path.name: path for path in out.commit()}
    except BaseException:
        out.abandon()  # nothing half-written stays behind to make the next run refuse
        raise
    summary.files = [moved[path.name] for path in summary.files]
    return summary


def _build(
    sources: Sequence[BucketSource],
    options: PipelineOptions,
    writer: ManifestWriter,
    reporter: Reporter,
    item_checks: Sequence[ItemCheck],
    workers: int,
) -> ManifestSummary:
    """Build every source into `writer`: an inventory with `workers` processes when more
    than one (`parallel`), else in this process (`pipeline`); the summary."""
    metadata_file = options.metadata_file
    if metadata_file is not None:
        for line in metadata_file.warnings():
            reporter.warn(line)
    if workers > 1 and len(sources) == 1 and sources[0].splittable is not None:
        totals = run_parallel(sources[0], options, writer, reporter, item_checks, workers)
    else:
        totals = run_pipeline(sources, options, writer, reporter, item_checks=item_checks)
    return summarise(
        totals,
        writer.files,
        rules=options.rules,
        metadata=options.metadata,
        metadata_file=metadata_file,
        converted_before=options.keyframes.converted,
        notes=[source.notes() for source in sources],
        reporter=reporter,
    )
