"""The ``cors-preflight`` check: ask the bucket's endpoint what a browser would ask.

One OPTIONS request per origin, to a sample object's URL (or a key under the first
prefix when there is no sample: S3 answers preflights from the CORS rules alone).
"""

from __future__ import annotations

from collections.abc import Sequence

from registration.verify.checks_bucket import fix_cors
from registration.verify.model import CheckResult, failed, not_checked, passed
from registration.verify.preflight import Transport, object_url, send_preflight, urllib_transport

CORS_PREFLIGHT = "cors-preflight"
PROBE_KEY = "encord-verify-preflight"


def preflight_key(sample_keys: list[str], prefixes: tuple[str, ...]) -> str:
    """The key to send the preflight for: the first sample, else a key under a prefix."""
    if sample_keys:
        return sample_keys[0]
    return (prefixes[0] if prefixes else "") + PROBE_KEY


def check_preflight(
    bucket: str,
    region: str,
    key: str,
    origins: tuple[str, ...],
    *,
    endpoint: str | None,
    transport: Transport = urllib_transport,
    stack_args: Sequence[str] = (),
) -> list[CheckResult]:
    """Send the preflight from each origin; PASSED when the answer allows that origin."""
    url = object_url(bucket, region, key, endpoint)
    results: list[CheckResult] = []
    for origin in origins:
        subject = f"s3://{bucket} for {origin}"
        try:
            answer = send_preflight(url, origin, transport=transport)
        except (OSError, ValueError) as exc:
            why = f"could not send OPTIONS {url} ({type(exc).__name__}: {exc})"
            results.append(not_checked(CORS_PREFLIGHT, subject, why))
            continue
        if answer.allows(origin):
            results.append(
                passed(
                    CORS_PREFLIGHT,
                    subject,
                    f"OPTIONS {url} answered {answer.status} with "
                    f"Access-Control-Allow-Origin: {answer.allow_origin}",
                )
            )
            continue
        got = (
            f"Access-Control-Allow-Origin: {answer.allow_origin}"
            if answer.allow_origin
            else "no Access-Control-Allow-Origin"
        )
        results.append(
            failed(
                CORS_PREFLIGHT,
                subject,
                f"the preflight from {origin} was refused: OPTIONS {url} answered "
                f"{answer.status} with {got}",
                fix_cors(bucket, origin, stack_args, origins),
            )
        )
    return results
