"""Benchmark: metadata-schema inference over 1M items' clientMetadata.

Items are realistic registration items (drone-survey images with 8 metadata keys
including a nested object, videos with key frames and a sampling config, and 1% of
images with a 512-float embedding), generated fresh in batches outside the timed
region; only `SchemaInferrer.add` is timed. Peak memory is the process's max RSS,
printed after 10% of the items and at the end: inference keeps counters only, so the
two should match.

    python -m bench.schema_bench                  # 1M items
    python -m bench.schema_bench --items 200000
"""

from __future__ import annotations

import argparse
import random
import resource
import time
import uuid
from collections.abc import Iterator
from typing import Any

TARGET_RATE = 100_000
BATCH = 10_000
BUCKET_URL = "https://bench-bucket.s3.eu-west-1.amazonaws.com/"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batches(total: int, seed: int = 5) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Fresh items, `BATCH` at a time (each batch is dropped before the next is made)."""
    rng = random.Random(seed)
    flights = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(5_000)]
    notes = [f"pass {i} over field {rng.randint(1, 10_000)}" for i in range(20_000)]
    embedding = [rng.uniform(-1, 1) for _ in range(512)]
    made = 0
    while made < total:
        batch = []
        for i in range(made, min(total, made + BATCH)):
            if i % 10 == 9:
                batch.append(
                    (
                        "videos",
                        {
                            "objectUrl": f"{BUCKET_URL}clips/{i:08d}.mp4",
                            "clientMetadata": {
                                "keyframes": [0, 12 + i % 50, 120 + i % 7],
                                "config": {"sampling_rate": 0, "keyframe_mode": "frame"},
                                "weather": ("sunny", "rain", "overcast")[i % 3],
                                "flight_id": flights[i % len(flights)],
                            },
                        },
                    )
                )
                continue
            metadata: dict[str, Any] = {
                "score": rng.random(),
                "frame_index": i,
                "is_night": i % 5 == 0,
                "captured_at": f"2024-05-{1 + i % 28:02d}T{i % 24:02d}:15:00Z",
                "flight_id": flights[i % len(flights)],
                "weather": ("sunny", "rain", "overcast")[i % 3],
                "operator_note": notes[i % len(notes)],
                "camera": {"model": ("M3E", "P4")[i % 2], "iso": 100 * (1 + i % 4)},
            }
            if i % 100 == 3:
                metadata["clip"] = list(embedding)
            batch.append(
                (
                    "images",
                    {"objectUrl": f"{BUCKET_URL}survey/{i:08d}.jpg", "clientMetadata": metadata},
                )
            )
        made += len(batch)
        yield batch


def run_check(total: int, schema: Any) -> dict[str, float]:
    """Check `total` fresh items against `schema` (what `--schema` adds per item)."""
    from registration.metadata_schema.check import make_schema_check

    check = make_schema_check(schema)
    elapsed = 0.0
    refused = 0
    for batch in batches(total):
        start = time.perf_counter()
        for media_type, item in batch:
            if check(media_type, item) is not None:
                refused += 1
        elapsed += time.perf_counter() - start
    if refused:
        raise SystemExit(f"{refused} items refused by the schema inferred from them")
    return {"items": float(total), "seconds": elapsed, "peak_mb": _peak_mb()}


def run(total: int) -> dict[str, Any]:
    """Infer a schema from `total` items; returns the figures."""
    from registration.metadata_schema.inference import SchemaInferrer

    inferrer = SchemaInferrer()
    add = inferrer.add
    elapsed = 0.0
    early_peak = 0.0
    for batch in batches(total):
        start = time.perf_counter()
        for media_type, item in batch:
            add(media_type, item)
        elapsed += time.perf_counter() - start
        if not early_peak and inferrer.items >= total // 10:
            early_peak = _peak_mb()
    start = time.perf_counter()
    result = inferrer.result()
    elapsed += time.perf_counter() - start
    if result.conflicts:
        raise SystemExit(f"unexpected conflicts: {[c.describe() for c in result.conflicts]}")
    return {
        "items": float(result.items),
        "keys": float(len(result.schema)),
        "seconds": elapsed,
        "peak_mb_10pct": early_peak,
        "peak_mb": _peak_mb(),
        "schema": result.schema,
    }


def main(argv: list[str] | None = None) -> int:
    """Print items/s and peak memory of schema inference."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    r = run(args.items)
    print(f"{'stage':<34}{'items':>12}{'seconds':>10}{'items/s':>12}{'peak MB':>10}")
    label = f"schema inference ({args.items:,})"
    print(
        f"{label:<34}{int(r['items']):>12,}{r['seconds']:>10.1f}"
        f"{r['items'] / r['seconds']:>12,.0f}{r['peak_mb']:>10.0f}",
        flush=True,
    )
    c = run_check(args.items, r["schema"])
    label = f"schema check, --schema ({args.items:,})"
    print(
        f"{label:<34}{int(c['items']):>12,}{c['seconds']:>10.1f}"
        f"{c['items'] / c['seconds']:>12,.0f}{c['peak_mb']:>10.0f}"
    )
    print(
        f"peak RSS after 10% of the items: {r['peak_mb_10pct']:.0f} MB, at the end: "
        f"{r['peak_mb']:.0f} MB ({int(r['keys'])} keys typed); target >= {TARGET_RATE:,} items/s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
