"""Benchmark: the manifest stage on a synthetic S3 Inventory, against a naive baseline.

Prints objects/s and peak memory of:
- `pipeline`: `build_manifests` with `--workers` processes (default: one per CPU; the
  inventory's data files and key ranges in worker processes, files written in key order);
- `pipeline-1`: the same with one process (`--workers 1`), for the speed-up of the workers;
- `naive`: everything in memory, one `jsonschema` validation of the whole document,
  `json.dump` (skipped above --naive-max objects: it needs minutes and gigabytes).

Peak memory is that of the whole process tree: the largest sum, sampled every 50 ms, of the
proportional set size (PSS: shared pages split between the processes sharing them) of the
process and its workers; `rss` also gives the largest resident size of one process.

Sidecar bodies are served by a local function instead of S3 GETs (those are network-bound
and fetched concurrently in production); everything else is the real code path.

    python -m bench.manifest_bench                 # 1M objects
    python -m bench.manifest_bench --sizes 1000000 10000000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATE = 250_000
TARGET_SPEEDUP = 8
TARGET_PEAK_MB = 300


def _pipeline(manifest: Path, out: Path, workers: int | None = None) -> dict[str, float]:
    from bench.synthetic import SIDECAR_BODY
    from registration.build.manifests import build_manifests
    from registration.build.spec import BuildOptions, OutputSpec, SourceSpec
    from registration.cli.core import tune_gc
    from registration.reporter import SILENT

    tune_gc()  # as the `encord-register` process does (`cli.core.entry_point`)
    source = SourceSpec(inventory=str(manifest), region="eu-west-1")
    options = BuildOptions(image_groups=("groups/*",), workers=workers)
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


def _pipeline_1(manifest: Path, out: Path) -> dict[str, float]:
    return _pipeline(manifest, out, workers=1)


class TreeMemory:
    """Samples the PSS of this process and its descendants; keeps the largest sum."""

    def __init__(self, every: float = 0.05) -> None:
        import threading

        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _tree(pid: int) -> list[int]:
        pids, todo = [], [pid]
        while todo:
            current = todo.pop()
            pids.append(current)
            for task in Path(f"/proc/{current}/task").glob("*/children"):
                with contextlib.suppress(OSError):
                    todo += [int(child) for child in task.read_text().split()]
        return pids

    @staticmethod
    def _pss_kb(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _run(self, every: float) -> None:
        import os

        while not self._stop.wait(every):
            total = sum(self._pss_kb(pid) for pid in self._tree(os.getpid()))
            self.peak_kb = max(self.peak_kb, total)


def _measure(mode: str, manifest: Path, out: Path) -> dict[str, float]:
    """Run one mode in a fresh interpreter; its figures, peak tree PSS and largest RSS (MB)."""
    code = (
        "import json, resource, sys; from pathlib import Path; "
        "from bench.manifest_bench import TreeMemory, _pipeline, _pipeline_1, _naive\n"
        f"with TreeMemory() as memory: r = _{mode.replace('-', '_')}(Path(sys.argv[1]), "
        "Path(sys.argv[2]))\n"
        "r['peak_mb'] = memory.peak_kb / 1024\n"
        "r['rss_mb'] = max(resource.getrusage(who).ru_maxrss for who in "
        "(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024\n"
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
    """Generate inventories of the given sizes and print the figures of every mode."""
    from registration.processes import default_workers

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--naive-max", type=int, default=1_000_000)
    parser.add_argument(
        "--one-worker-max",
        type=int,
        default=1_000_000,
        help="largest size also built with --workers 1",
    )
    parser.add_argument(
        "--unsorted",
        action="store_true",
        help="list the inventory's data files out of key order (exercises the merge)",
    )
    args = parser.parse_args(argv)
    from bench.synthetic import write_inventory

    print(f"workers: {default_workers()} (the CPUs of this process)")
    header = f"{'stage':<36}{'objects':>12}{'seconds':>9}{'objects/s':>12}{'peak MB':>9}"
    print(f"{header}{'rss MB':>8}{'vs naive':>10}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="manifest-bench-") as tmp:
            root = Path(tmp)
            manifest = write_inventory(root / "inventory", size, unsorted=args.unsorted)
            modes = ["pipeline"]
            modes += ["pipeline-1"] if size <= args.one_worker_max else []
            modes += ["naive"] if size <= args.naive_max else []
            rates: dict[str, float] = {}
            results = {}
            for mode in modes:
                results[mode] = r = _measure(mode, manifest, root / f"out-{mode}")
                rates[mode] = r["objects"] / r["seconds"]
            for mode in modes:
                r = results[mode]
                label = f"manifest {mode} ({size:,}{', unsorted' if args.unsorted else ''})"
                versus = f"{rates[mode] / rates['naive']:.1f}x" if "naive" in rates else "-"
                print(
                    f"{label:<36}{int(r['objects']):>12,}{r['seconds']:>9.1f}"
                    f"{rates[mode]:>12,.0f}{r['peak_mb']:>9.0f}{r['rss_mb']:>8.0f}{versus:>10}",
                    flush=True,
                )
    print(
        f"targets: >= {TARGET_RATE:,} objects/s and >= {TARGET_SPEEDUP}x naive at 1M; "
        f"peak < {TARGET_PEAK_MB} MB at 10M"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
