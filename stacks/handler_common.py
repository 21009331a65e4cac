"""What the bucket custom-resource handlers share: their allow-list, S3's refusals explained, and
the answer to CloudFormation.

Both handlers (`stacks/cors_handler/index.py`, `stacks/notifications_handler/index.py`) read,
change and write one part of an existing bucket's configuration. Each function serves only the
buckets its construct names in an environment variable, and refuses any event for another
bucket whoever invokes it; it always answers CloudFormation, with a reason that says what to
change. This module is bundled next to each handler at the same package path
(``stacks/handler_common.py``), so it uses only the standard library and botocore.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Collection, Mapping
from typing import Any

from botocore.exceptions import ClientError

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

Applied = tuple[str, dict[str, str]]
"""What a handler's `apply_event` returns: the physical resource ID and the resource's data."""

WRONG_REGION_CODES = frozenset(
    {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
)
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
REASON_CHARS = 3500
"""CloudFormation shows at most about 4 KB of a custom resource's reason."""


class EventRefused(Exception):
    """The event asks for something this function was not deployed to do."""


def allowed_buckets_from(environ: Mapping[str, str], variable: str) -> frozenset[str]:
    """The buckets named in `variable` (comma-separated; none when unset: all are refused)."""
    return frozenset(b for b in environ.get(variable, "").split(",") if b)


def check_bucket(bucket: str, allowed: Collection[str], instead: str = "") -> None:
    """Refuse (`EventRefused`) a bucket this function was not deployed for; `instead` says
    what the user can do instead."""
    if bucket not in allowed:
        served = ", ".join(sorted(allowed)) or "none"
        raise EventRefused(
            f"bucket {bucket} is not a bucket this function was deployed for (it serves: "
            f"{served}); the event was refused and nothing was changed{instead}"
        )


def error_code(exc: ClientError) -> str:
    """S3's error code of `exc` ('' when it has none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def explain(exc: ClientError, bucket: str, region: str | None, subject: str, actions: str) -> str:
    """A reason for CloudFormation's event log that says what to change: S3 refused to read or
    write the bucket's `subject` (for example "CORS configuration") through `actions`."""
    code = error_code(exc)
    if code == "NoSuchBucket":
        return (
            f"bucket {bucket} does not exist in this account: create it, or set "
            '"create": true for it in the encord configuration'
        )
    if code in WRONG_REGION_CODES:
        return (
            f"bucket {bucket} is not in {region or 'the stack region'}: set its "
            '"region" in the encord configuration'
        )
    if code in ACCESS_DENIED_CODES:
        return (
            f"access denied to the {subject} of {bucket}: a bucket policy or an SCP denies "
            f"{actions} to the stack's handler role"
        )
    return f"{exc.operation_name} on {bucket} failed: {code} {exc}"


def respond(
    event: Mapping[str, Any], status: str, physical: str, data: Mapping[str, str], reason: str
) -> None:
    """PUT the custom resource's answer to CloudFormation's pre-signed URL."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:REASON_CHARS],
            "PhysicalResourceId": physical,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": dict(data),
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's pre-signed https URL
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        response.read()


def serve(
    event: Mapping[str, Any],
    apply: Callable[[], Applied],
    *,
    refusals: tuple[type[Exception], ...],
    fallback_id: str,
    failure: str,
) -> None:
    """Run `apply` for one CloudFormation request and always answer: SUCCESS with its ID and
    data; FAILED with the message of a refusal (an exception of `refusals`), or with `failure`
    logged and the exception's type and text for anything else."""
    LOG.info("%s %s", event.get("RequestType"), event.get("LogicalResourceId"))
    fallback = str(event.get("PhysicalResourceId") or event.get("LogicalResourceId", fallback_id))
    refused: tuple[type[Exception], ...] = (EventRefused, *refusals)
    try:
        physical, data = apply()
    except refused as exc:
        LOG.error("refused: %s", exc)
        respond(event, "FAILED", fallback, {}, str(exc))
        return
    except Exception as exc:
        LOG.exception(failure)
        respond(event, "FAILED", fallback, {}, f"{type(exc).__name__}: {exc}")
        return
    respond(event, "SUCCESS", physical, data, "OK")
