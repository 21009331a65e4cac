"""Adaptive file size against fixed sizes, registering the same items against the stand-in.

    python -m bench.adaptive_bench [--items 100000] [--latency 2.0] [--latency-per-item 0.0001]
                                   [--sizes 500 1000 2000 5000 10000] [--jobs 4]

Writes a keys file of ITEMS image keys, then, for each fixed size and for `--adaptive`, starts
a fresh stand-in (`python -m tests.standin`) whose jobs take LATENCY seconds plus
LATENCY_PER_ITEM per item, and runs `encord-register register` building the files itself
from the keys file (`--trust-keys`: no S3), `--no-adaptive --max-items SIZE` or `--adaptive`
(up to the default 10,000 items), into a fresh folder. For each it prints the wall time, the
time until the first items were registered (the first job the client saw finish, counted from
the start of the command, which builds the files first: the same for all), and the jobs sent;
then the best fixed size, adaptive's excess over it, and when adaptive's first items arrived
against 10,000-item files.

The default latency is 2 s per job plus 0.1 ms per item. Encord publishes no job timings;
a job's fixed cost (queueing, fetching the file, bookkeeping) in seconds is what users report
and what `register_bench` uses, and 0.1 ms per item makes a 10,000-item job 3 s, so the fixed
cost dominates at every size Encord recommends: the case where small files cost the most and
adaptive sizing has the most to lose. A larger cost per item (try `--latency-per-item 0.001`)
narrows the gap between sizes.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import orjson

from bench.register_bench import ROOT, start_standin

BUCKET, REGION = "bench-bucket", "eu-west-1"


def write_keys(path: Path, items: int) -> None:
    """ITEMS image keys, one JSON object a line (`--keys-file`)."""
    with path.open("wb") as out:
        for n in range(items):
            out.write(orjson.dumps({"key": f"cam{n // 10_000:03d}/frame-{n:07d}.jpg", "size": 1}))
            out.write(b"\n")


def run_register(
    domain: str, key_file: Path, keys: Path, folder: str, jobs: int, state: Path, size: int | None
) -> tuple[float, float, int]:
    """(wall seconds, seconds until the first job was seen finished, jobs) of one run."""
    sizing = ["--adaptive"] if size is None else ["--no-adaptive", "--max-items", str(size)]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    started_at = time.time()
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "registration",
            "register",
            "--keys-file",
            str(keys),
            "--trust-keys",
            "--bucket",
            BUCKET,
            "--region",
            REGION,
            "--ssh-key-file",
            str(key_file),
            "--encord-domain",
            domain,
            "--integration",
            "bench-s3",
            "--folder",
            folder,
            "--jobs",
            str(jobs),
            "--state",
            str(state),
            *sizing,
            "--json",
        ],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=3600,
        env=env,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"register failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    db = sqlite3.connect(state)
    try:
        rows = db.execute("SELECT finished_at FROM submissions").fetchall()
    finally:
        db.close()
    first = min(datetime.fromisoformat(r[0]).timestamp() for r in rows) - started_at
    return wall, first, len(rows)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.adaptive_bench")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per job")
    parser.add_argument("--latency-per-item", type=float, default=0.0001, help="seconds per item")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 5000, 10_000])
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.standin.keys import generate_ssh_key

    with tempfile.TemporaryDirectory(prefix="adaptive-bench-") as tmp:
        work = Path(tmp)
        key_text, _ = generate_ssh_key()
        key_file = work / "key"
        key_file.write_text(key_text)
        key_file.chmod(0o600)
        keys = work / "keys.jsonl"
        write_keys(keys, args.items)
        print(
            f"adaptive: {args.items:,} items, --jobs {args.jobs}, simulated job latency "
            f"{args.latency} s + {args.latency_per_item * 1000:g} ms per item",
            flush=True,
        )
        results: dict[str, tuple[float, float, int]] = {}
        configs: list[int | None] = [*args.sizes, None]
        for size in configs:
            name = "adaptive" if size is None else f"{size:,}"
            ready = work / f"ready-{name}"
            extra = ("--job-latency-per-item", str(args.latency_per_item))
            proc, domain = start_standin(key_file, args.latency, ready, *extra)
            try:
                results[name] = run_register(
                    domain,
                    key_file,
                    keys,
                    f"bench/adaptive-{name.replace(',', '')}",
                    args.jobs,
                    work / f"state-{name.replace(',', '')}" / "state.sqlite",
                    size,
                )
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            wall, first, jobs = results[name]
            label = "--adaptive" if size is None else f"--no-adaptive --max-items {size}"
            print(
                f"  {label}: {wall:.1f} s wall, first items after {first:.1f} s, {jobs} jobs",
                flush=True,
            )
        fixed = {k: v for k, v in results.items() if k != "adaptive"}
        best = min(fixed, key=lambda k: fixed[k][0])
        adaptive = results["adaptive"]
        print(f"  best fixed size: {best} items per file ({fixed[best][0]:.1f} s)", flush=True)
        print(
            f"  adaptive vs best fixed: {adaptive[0] / fixed[best][0] - 1:+.1%} wall time",
            flush=True,
        )
        largest = f"{max(args.sizes):,}"
        print(
            f"  first items: adaptive {adaptive[1]:.1f} s, {largest}-item files "
            f"{fixed[largest][1]:.1f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
