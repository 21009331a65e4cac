"""Benchmark: listing a bucket through an S3 endpoint with injected per-request latency.

A local moto S3 server sits behind a WSGI middleware that sleeps before every request
(like the round trip to a remote region); the real `BucketLister` lists each bucket with
1 worker and with 8, and the speed-up is printed. Both listings must be identical (every
field of every record, in order). The default 80 ms per page matches the published
single-worker S3 figure (about 12k keys/s, i.e. ~83 ms per 1,000-key page).

Buckets: nested ones (24 prefixes, keys ``part-NNN/object NNNNNN.jpg``) of each size in
``--sizes``, and a flat one (``object NNNNNN.jpg``, no '/') of ``--flat`` keys.

    python -m bench.listing_bench                      # nested 36,000 and flat 100,000
    python -m bench.listing_bench --sizes 36000 360000 --flat 100000
    python -m bench.listing_bench --sizes 36000 --flat 0 --latency-ms 80
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
NESTED_PREFIXES = 24
DEFAULT_SIZES = (36_000,)
DEFAULT_FLAT = 100_000
WORKER_COUNTS = (1, 8)


def _serve(latency: float, buckets: list[tuple[str, str, int]], ready: Any) -> None:
    """In a child process: fill `buckets`, then serve moto's S3 adding `latency` per request.

    The server runs in its own process: real S3 renders pages on its own machines, not on
    the cores and under the GIL of the lister. Responses are cached by request line after
    a warm-up pass: moto renders a 1,000-key page in about 0.3 s of Python, far slower
    than S3.
    """
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    for bucket, kind, size in buckets:
        _fill(bucket, KEYS[kind](size))
    _index_listings()
    app = DomainDispatcherApplication(create_backend_app)
    cache: dict[str, tuple[str, list[tuple[str, str]], bytes]] = {}

    def slow(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        time.sleep(latency)
        line = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}?{environ['QUERY_STRING']}"
        if line not in cache:
            captured: list[Any] = []

            def capture(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
                captured[:] = [status, headers]
                return lambda data: None

            body = b"".join(app(environ, capture))
            cache[line] = (captured[0], captured[1], body)
        status, headers, body = cache[line]
        start_response(status, headers)
        return [body]

    server = make_server("localhost", 0, slow, threaded=True)
    ready.send(server.server_port)
    server.serve_forever()


def _index_listings() -> None:
    """Make moto answer ListObjectsV2 from a sorted index per (bucket, prefix, delimiter).

    moto sorts the whole bucket for every request, seconds per page at 360,000 keys; the
    bench buckets do not change once filled, so the sorted listing is kept and each page
    found by bisection. Pages, tokens and XML are still moto's own.
    """
    from bisect import bisect_right

    from moto.s3.models import FakeKey, S3Backend

    original = S3Backend.list_objects_v2
    index: dict[tuple[str, str | None, str | None], tuple[list[Any], list[str]]] = {}

    def indexed(
        self: Any,
        bucket: Any,
        prefix: str | None,
        delimiter: str | None,
        continuation_token: str | None,
        start_after: str | None,
        max_keys: int,
    ) -> Any:
        if (bucket.name, prefix, delimiter) not in index:
            everything, _, _ = original(self, bucket, prefix, delimiter, None, None, 10**9)
            names = [k.name if isinstance(k, FakeKey) else k for k in everything]
            index[(bucket.name, prefix, delimiter)] = (everything, names)
        everything, names = index[(bucket.name, prefix, delimiter)]
        start = 0
        if continuation_token or start_after:
            limit = (
                self._pagination_tokens.get(continuation_token)
                if continuation_token
                else start_after
            )
            start = bisect_right(names, limit)
        return self._truncate_result(everything[start : start + max_keys + 1], max_keys)

    S3Backend.list_objects_v2 = indexed  # type: ignore[method-assign]


def _fill(bucket: str, keys: Iterable[str]) -> None:
    from moto.s3.models import s3_backends

    backend = s3_backends[ACCOUNT]["aws"]
    backend.create_bucket(bucket, REGION)
    for key in keys:
        backend.put_object(bucket, key, b"")


def nested_keys(total: int) -> Iterable[str]:
    """`total` keys spread over `NESTED_PREFIXES` prefixes."""
    per_prefix = total // NESTED_PREFIXES
    for p in range(NESTED_PREFIXES):
        for i in range(per_prefix):
            yield f"part-{p:03d}/object {i:06d}.jpg"


def flat_keys(total: int) -> Iterable[str]:
    """`total` keys with no '/' at all."""
    for i in range(total):
        yield f"object {i:06d}.jpg"


KEYS: dict[str, Callable[[int], Iterable[str]]] = {"nested": nested_keys, "flat": flat_keys}


def _measure(client: Any, bucket: str, label: str, total: int) -> None:
    from registration.build.sources.s3_listing import BucketLister

    timings: dict[int, float] = {}
    listings: dict[int, list[Any]] = {}
    for workers in WORKER_COUNTS:
        list(BucketLister(client, bucket, workers=workers).iter_objects())  # warm-up
        start = time.perf_counter()
        records = list(BucketLister(client, bucket, workers=workers).iter_objects())
        timings[workers] = time.perf_counter() - start
        listings[workers] = records
        name = f"{label}, {workers} worker(s)"
        print(
            f"{name:<34}{len(records):>10,}{timings[workers]:>9.2f}"
            f"{len(records) / timings[workers]:>12,.0f}",
            flush=True,
        )
    low, high = WORKER_COUNTS[0], WORKER_COUNTS[-1]
    assert listings[low] == listings[high], f"{label}: listings differ"
    assert len(listings[low]) == total, f"{label}: {len(listings[low])} keys, not {total}"
    print(
        f"{label}: speed-up of --list-workers {high} over {low}: "
        f"{timings[low] / timings[high]:.1f}x",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Fill local buckets, list each with 1 and 8 workers, print keys/s and the speed-up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="*",
        default=list(DEFAULT_SIZES),
        help=f"keys in each nested bucket ({NESTED_PREFIXES} prefixes); default 36000",
    )
    parser.add_argument(
        "--flat",
        type=int,
        default=DEFAULT_FLAT,
        help="keys in the flat bucket (0: none); default 100000",
    )
    parser.add_argument("--latency-ms", type=float, default=80.0)
    args = parser.parse_args(argv)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION
    )
    from registration.build.sources.s3_access import make_s3_client

    runs = [(f"nested-{size}", "nested", size) for size in args.sizes]
    if args.flat:
        runs.append((f"flat-{args.flat}", "flat", args.flat))
    context = multiprocessing.get_context("spawn")
    ready, child_end = context.Pipe()
    server = context.Process(
        target=_serve, args=(args.latency_ms / 1000, runs, child_end), daemon=True
    )
    server.start()
    try:
        os.environ["AWS_ENDPOINT_URL"] = f"http://localhost:{ready.recv()}"
        client = make_s3_client(REGION)
        from registration.cli.core import tune_gc

        tune_gc()  # as the `encord-register` process does (`cli.core.entry_point`)
        print(f"{'bucket, workers':<34}{'objects':>10}{'seconds':>9}{'objects/s':>12}")
        for bucket, _, size in runs:
            _measure(client, bucket, f"{bucket}", size)
        print(f"({args.latency_ms:.0f} ms injected per request)")
    finally:
        server.terminate()
        server.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
