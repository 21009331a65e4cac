"""The build stage's entry point: a source, options and an output directory in; files out.

`build_manifests` writes ``manifest-NNNNN.json`` (and ``.csv``), ``skipped.jsonl`` and
``summary.json`` and returns the `ManifestSummary`. It takes frozen records, never parsed
command-line arguments, so the CLI, a Lambda and tests call it the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from registration.build.pipeline import ManifestSummary, run_pipeline
from registration.build.plan import SourcePlan, pipeline_options
from registration.build.sidecars import BodyReader
from registration.build.spec import BuildOptions, OutputSpec, SourceSpec
from registration.build.writer import ManifestWriter, OutputDirectory
from registration.encord.formats import ItemCheck
from registration.errors import UsageError
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
            summary = run_pipeline(sources, pipeline, writer, reporter, item_checks=item_checks)
        finally:
            writer.close()
        writer.write_summary(summary.to_json())
        moved = {path.name: path for path in out.commit()}
    except BaseException:
        out.abandon()  # nothing half-written stays behind to make the next run refuse
        raise
    summary.files = [moved[path.name] for path in summary.files]
    return summary
