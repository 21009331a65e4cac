"""Registration throughput against the local Encord stand-in with a simulated job latency.

    python -m bench.register_bench [--files 100] [--items 10000] [--latency 2.0] [--jobs 1 8]
                                   [--forms typed file]

Writes FILES registration files of ITEMS images each, starts the stand-in in its own
process (`python -m tests.standin`, each job finishing LATENCY seconds after it
starts), then runs `encord-register register` once per `--submit-form` and `--jobs`
value into a fresh folder and prints the wall time of each, the speed-up, and what the
typed form (the SDK's `DataUploadItems`) costs over the file form at the same `--jobs`.
With a latency that dominates, N jobs in flight should take about 1/N of the time of one.
Defaults are small so `make bench` stays quick; the README figure used
`--files 100 --items 10000 --latency 2`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "https://bench-bucket.s3.eu-west-1.amazonaws.com"


def write_manifests(out: Path, files: int, items: int) -> None:
    """FILES registration files of ITEMS images each."""
    out.mkdir(parents=True, exist_ok=True)
    for f in range(1, files + 1):
        images = [
            {
                "objectUrl": f"{BUCKET}/cam{f:03d}/frame-{n:06d}.jpg",
                "title": f"cam{f:03d}/frame-{n:06d}.jpg",
                "clientMetadata": {"camera": f, "frame": n},
            }
            for n in range(items)
        ]
        doc = {"images": images, "skip_duplicate_urls": True}
        (out / f"manifest-{f:05d}.json").write_bytes(orjson.dumps(doc))


def start_standin(
    key_file: Path, latency: float, ready: Path, *extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    """The stand-in in its own process (its own interpreter lock); returns it and its domain.

    `extra`: more stand-in options (such as `--job-latency-per-item SECONDS`).
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.standin",
            "--integration",
            "bench-s3",
            "--public-key-file",
            str(key_file),
            "--job-latency",
            str(latency),
            "--ready-file",
            str(ready),
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if ready.exists() and ready.read_text().startswith("ready "):
            return proc, ready.read_text().split()[1]
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the stand-in did not start")


def run_register(
    domain: str, key_file: Path, manifests: Path, folder: str, jobs: int, state: Path, form: str
) -> float:
    """Wall seconds of one `encord-register register` run (a subprocess, like a user's)."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "registration",
            "register",
            "--manifests",
            str(manifests),
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
            "--submit-form",
            form,
            "--json",
        ],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=3600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        raise RuntimeError(f"register failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.register_bench")
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--forms", nargs="+", choices=["typed", "file"], default=["typed", "file"])
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tests.standin.keys import generate_ssh_key

    with tempfile.TemporaryDirectory(prefix="register-bench-") as tmp:
        work = Path(tmp)
        key_text, _ = generate_ssh_key()
        key_file = work / "key"
        key_file.write_text(key_text)
        key_file.chmod(0o600)
        manifests = work / "manifests"
        write_manifests(manifests, args.files, args.items)
        print(
            f"register: {args.files} files x {args.items:,} items, "
            f"simulated job latency {args.latency}s",
            flush=True,
        )
        times: dict[tuple[str, int], float] = {}
        items = args.files * args.items
        for form in args.forms:
            for jobs in args.jobs:
                ready = work / f"ready-{form}-{jobs}"
                proc, domain = start_standin(key_file, args.latency, ready)
                try:
                    times[form, jobs] = run_register(
                        domain,
                        key_file,
                        manifests,
                        f"bench/{form}-jobs-{jobs}",
                        jobs,
                        work / f"state-{form}-{jobs}.db",
                        form,
                    )
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
                took = times[form, jobs]
                print(
                    f"  --submit-form {form} --jobs {jobs}: {took:.1f} s wall "
                    f"({items / took:,.0f} items/s)",
                    flush=True,
                )
        base = min(args.jobs)
        for form in args.forms:
            for jobs in args.jobs:
                if jobs != base:
                    print(
                        f"  {form}: speed-up --jobs {jobs} vs {base}: "
                        f"{times[form, base] / times[form, jobs]:.2f}x (ideal {jobs / base:.0f}x)",
                        flush=True,
                    )
        if {"typed", "file"} <= set(args.forms):
            for jobs in args.jobs:
                extra = times["typed", jobs] / times["file", jobs] - 1
                print(f"  typed vs file at --jobs {jobs}: {extra:+.1%} wall time", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
