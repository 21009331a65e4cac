"""Benchmark: the manifest stage on a synthetic S3 Inventory, against a naive baseline.

Prints objects/s and peak memory (max RSS of a fresh process per run) of:
- `pipeline`: `build_manifests` (streaming, external sort, jsonschema-rs per chunk, orjson);
- `naive`: everything in memory, one `jsonschema` validation of the whole document,
  `json.dump` (skipped above --naive-max objects: it needs minutes and gigabytes).

Sidecar bodies are served by a local function instead of S3 GETs (those are network-bound
and fetched concurrently in production); everything else is the real code path.

    python -m bench.manifest_bench                 # 1M objects
    python -m bench.manifest_bench --sizes 1000000 10000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATE = 100_000
TARGET_PEAK_MB = 300


def _pipeline(manifest: Path, out: Path) -> dict[str, float]:
    from bench.synthetic import SIDECAR_BODY
    from registration.build.manifests import build_manifests
    from registration.build.spec import BuildOptions, OutputSpec, SourceSpec
    from registration.reporter import SILENT

    source = SourceSpec(inventory=str(manifest), region="eu-west-1")
    options = BuildOptions(image_groups=("groups/*",))
    start = time.perf_counter()
    summary = build_manifests(
        source, options, OutputSpec(out, force=True), SILENT, body_reader=lambda r: SIDECAR_BODY
    )
    elapsed = time.perf_counter() - start
    return {"objects": summary.objects_seen, "seconds": elapsed, "items": summary.items}


def _naive(manifest: Path, out: Path) -> dict[str, float]:
    """Read everything, build one document in memory, validate it once, json.dump it."""
    import csv
    import gzip
    from urllib.parse import quote, unquote_plus

    import jsonschema

    from registration.encord.schema import registration_schema

    start = time.perf_counter()
    spec = json.loads(manifest.read_text())
    rows = []
    for entry in spec["files"]:
        path = manifest.parent / "data" / Path(entry["key"]).name
        with gzip.open(path, "rt", newline="") as fh:
            rows += [(unquote_plus(r[1]), int(r[2])) for r in csv.reader(fh)]
    rows.sort()
    prefix = "https://bench-bucket.s3.eu-west-1.amazonaws.com/"
    doc: dict[str, list[dict[str, object]]] = {"images": [], "videos": [], "audio": []}
    for key, size in rows:
        if size == 0 or key.endswith(".json"):
            continue
        kind = {"jpg": "images", "png": "images", "mp4": "videos", "wav": "audio"}.get(
            key.rsplit(".", 1)[-1]
        )
        if kind:
            doc[kind].append({"objectUrl": prefix + quote(key), "title": key})
    # The baseline writes one file, so it cannot honour the per-file item limit: drop it.
    schema = json.loads(
        json.dumps(registration_schema()).replace('"maxItems": 500000', '"minItems": 0')
    )
    jsonschema.Draft202012Validator(schema).validate(doc)
    with (out / "naive.json").open("w") as fh:
        json.dump(doc, fh)
    return {"objects": len(rows), "seconds": time.perf_counter() - start, "items": 0}


def _measure(mode: str, manifest: Path, out: Path) -> dict[str, float]:
    """Run one mode in a fresh interpreter; returns its figures and peak RSS in MB."""
    code = (
        "import json, resource, sys; from pathlib import Path; "
        "from bench.manifest_bench import _pipeline, _naive; "
        f"r = _{mode}(Path(sys.argv[1]), Path(sys.argv[2])); "
        "r['peak_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; "
        "print(json.dumps(r))"
    )
    out.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", code, str(manifest), str(out)],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"{mode} run failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    """Generate inventories of the given sizes and print the figures of both modes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--naive-max", type=int, default=1_000_000)
    parser.add_argument(
        "--unsorted",
        action="store_true",
        help="list the inventory's data files out of key order (exercises the merge)",
    )
    args = parser.parse_args(argv)
    from bench.synthetic import write_inventory

    print(f"{'stage':<28}{'objects':>12}{'seconds':>10}{'objects/s':>12}{'peak MB':>10}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="manifest-bench-") as tmp:
            root = Path(tmp)
            manifest = write_inventory(root / "inventory", size, unsorted=args.unsorted)
            modes = ["pipeline"] + (["naive"] if size <= args.naive_max else [])
            for mode in modes:
                r = _measure(mode, manifest, root / f"out-{mode}")
                rate = r["objects"] / r["seconds"]
                label = f"manifest {mode} ({size:,}{', unsorted' if args.unsorted else ''})"
                print(
                    f"{label:<28}{int(r['objects']):>12,}{r['seconds']:>10.1f}"
                    f"{rate:>12,.0f}{r['peak_mb']:>10.0f}",
                    flush=True,
                )
    print(f"targets: >= {TARGET_RATE:,} objects/s at 1M; peak < {TARGET_PEAK_MB} MB at 10M")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
