"""Benchmark: listing a bucket through an S3 endpoint with injected per-request latency.

A local moto S3 server sits behind a WSGI middleware that sleeps before every request
(like the round trip to a remote region); the real `BucketLister` lists the same bucket
with 1 worker and with 8, and the speed-up is printed. Both listings must be identical.
The default 80 ms per page matches the published single-worker S3 figure (about 12k
keys/s, i.e. ~83 ms per 1,000-key page).

    python -m bench.listing_bench
    python -m bench.listing_bench --prefixes 50 --per-prefix 2000 --latency-ms 80
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

BUCKET = "listing-bench"
ACCOUNT = "123456789012"
REGION = "us-east-1"


def _serve(latency: float) -> tuple[Any, int]:
    """moto's S3 behind a middleware adding `latency` per request.

    Responses are cached by request line after a warm-up pass: moto renders a 1,000-key
    page in about 0.3 s of Python, which in one process would hide the latency the
    workers overlap. Real S3 renders pages on its side, not on this machine's cores.
    """
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

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
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_port


def _fill(prefixes: int, per_prefix: int) -> int:
    from moto.s3.models import s3_backends

    backend = s3_backends[ACCOUNT]["aws"]
    backend.create_bucket(BUCKET, REGION)
    for p in range(prefixes):
        for i in range(per_prefix):
            backend.put_object(BUCKET, f"part-{p:03d}/object {i:06d}.jpg", b"")
    return prefixes * per_prefix


def main(argv: list[str] | None = None) -> int:
    """Fill a local bucket, list it with 1 and 8 workers, print keys/s and the speed-up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefixes", type=int, default=24)
    parser.add_argument("--per-prefix", type=int, default=1500)
    parser.add_argument("--latency-ms", type=float, default=80.0)
    args = parser.parse_args(argv)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION
    )
    from registration.build.sources.s3_access import make_s3_client
    from registration.build.sources.s3_listing import BucketLister

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    server, port = _serve(args.latency_ms / 1000)
    try:
        total = _fill(args.prefixes, args.per_prefix)
        os.environ["AWS_ENDPOINT_URL"] = f"http://localhost:{port}"
        client = make_s3_client(REGION)
        print(f"{'stage':<28}{'objects':>12}{'seconds':>10}{'objects/s':>12}")
        timings = {}
        listings = {}
        for workers in (1, 8):
            list(BucketLister(client, BUCKET, workers=workers).iter_objects())  # warm-up
            start = time.perf_counter()
            keys = [r.key for r in BucketLister(client, BUCKET, workers=workers).iter_objects()]
            timings[workers] = time.perf_counter() - start
            listings[workers] = keys
            label = f"listing, {workers} worker(s)"
            print(
                f"{label:<28}{len(keys):>12,}{timings[workers]:>10.1f}"
                f"{len(keys) / timings[workers]:>12,.0f}",
                flush=True,
            )
        assert listings[1] == listings[8] and len(listings[1]) == total, "listings differ"
        print(
            f"speed-up of --list-workers 8 over 1: {timings[1] / timings[8]:.1f}x "
            f"({args.latency_ms:.0f} ms injected per request)"
        )
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
