"""The build stage: list objects and write Encord registration files.

source (`sources/`: S3 listing, S3 Inventory, a keys file) -> sidecar metadata
(`sidecars`, `bulk_metadata`, key frames brought to Encord's `$encord` form by `keyframes`)
-> classify and group (`classify`, `grouping`) -> items
(`items`, `titles`, `urls`) -> item checks -> files (`chunking`, `writer`), every object
not included going to skipped.jsonl with its reason (`skips`). `pipeline` chains the
stages as iterators; `plan` resolves a `spec.SourceSpec` into buckets; `manifests` is the
entry point.
"""
