"""What valid continuous-registration settings look like: limits, defaults and checks.

Shared by the ``continuous`` object of the app config (`stacks.config_continuous`) and the
props of `EncordContinuousRegistration` (`stacks.continuous_props`), so both say the same
thing about the same mistake. Each ``*_problem`` function returns why a value is unusable and
what to write instead, or None when it is fine. AWS's own limits are named constants here, each
with where it comes from. No aws-cdk-lib here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from registration.build.classify import parse_type_map
from registration.build.grouping import compile_pattern
from registration.build.sidecars import check_sidecar_suffixes
from registration.continuous.settings import (
    DEFAULT_QUIET_SECONDS,
    FUNCTION_TIMEOUT_SECONDS,
    MAX_SQS_DELAY_SECONDS,
)
from registration.encord.connection import DEFAULT_DOMAIN, US_DOMAIN
from registration.errors import UsageError
from stacks import rules

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BATCH_WINDOW_SECONDS",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_OLDEST_MESSAGE_ALARM_SECONDS",
    "DEFAULT_QUIET_SECONDS",
    "FUNCTION_TIMEOUT_SECONDS",
]

# --- Lambda's SQS event source (AWS limits) -------------------------------------------------

DEFAULT_BATCH_SIZE: Final = 100
"""Messages per invocation: one Encord job per batch, so fewer, larger jobs."""
MAX_BATCH_SIZE: Final = 10_000
"""Lambda's largest batch from a standard queue."""
MAX_BATCH_SIZE_WITHOUT_WINDOW: Final = 10
"""Lambda's largest batch without a batching window."""
DEFAULT_BATCH_WINDOW_SECONDS: Final = 10
"""How long Lambda gathers messages before it invokes with fewer than a full batch."""
MAX_BATCH_WINDOW_SECONDS: Final = 300
"""Lambda's longest batching window."""
DEFAULT_MAX_CONCURRENCY: Final = 4
"""Handlers at once: Encord rate-limits its API, and each handler runs one job at a time."""
MIN_MAX_CONCURRENCY: Final = 2
MAX_MAX_CONCURRENCY: Final = 1000
"""Lambda's range for an SQS event source's maximum concurrency."""

# --- groups and alarms (our choices) --------------------------------------------------------

MIN_QUIET_SECONDS: Final = 10
"""Shorter than this, a group would close while its members are still on their way."""
MAX_QUIET_SECONDS: Final = 7 * 24 * 3600
"""A week: a longer quiet period is more likely a unit mistake (milliseconds) than meant."""
DEFAULT_OLDEST_MESSAGE_ALARM_SECONDS: Final = 3600
"""The queue's oldest message this old means the handlers are not keeping up (or failing)."""
MIN_OLDEST_MESSAGE_ALARM_SECONDS: Final = MAX_SQS_DELAY_SECONDS + FUNCTION_TIMEOUT_SECONDS
"""A group check waits in the queue up to SQS's longest delay by design, then is handled."""

# --- EventBridge and Lambda limits ------------------------------------------------------------

MAX_EVENT_PATTERN_CHARS: Final = 2048
"""EventBridge's default quota for one rule's event pattern, in characters."""
MAX_ENVIRONMENT_BYTES: Final = 4096
"""Lambda's limit for all environment variables of a function together."""
TOKEN_ALLOWANCE_CHARS: Final = 256
"""What an unresolved value (a queue URL, a table or bucket name) may take once deployed."""
MAX_MARKER_BYTES: Final = 1024
"""An S3 key is at most 1024 bytes of UTF-8."""

S3_SOURCE: Final = "aws.s3"
OBJECT_CREATED: Final = "Object Created"
"""The EventBridge detail type of S3's object-created events (all of PUT, POST, COPY and
multipart completion). Deletions are a different detail type, so they never reach the handler."""

_PARTITION = r"aws(?:-cn|-us-gov|-iso|-iso-b)?"  # as in stacks.rules
SECRET_ARN: Final = re.compile(
    rf"^arn:{_PARTITION}:secretsmanager:([a-z0-9-]+):(\d{{12}}):secret:[\w/+=.@-]+$"
)
_COMPLETE_SECRET_ARN: Final = re.compile(r"-[A-Za-z0-9]{6}$")
SECRET_NAME: Final = re.compile(r"^[\w/+=.@-]{1,512}$")
TOPIC_ARN: Final = re.compile(rf"^arn:{_PARTITION}:sns:[a-z0-9-]+:\d{{12}}:[\w-]{{1,256}}$")
_DOMAIN: Final = re.compile(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?/?$")

KEY_STORE_HINT: Final = (
    "give the secret's complete ARN (it ends in '-' and six characters, as the Secrets Manager "
    "console shows it) or its name; its SecretString is the Encord SSH private key"
)


def domain_problem(domain: str) -> str | None:
    """Why `domain` is not an Encord API address, or None."""
    if _DOMAIN.match(domain):
        return None
    return f"expected Encord's API address: {DEFAULT_DOMAIN} ({US_DOMAIN} for the US)"


def secret_problem(secret: str) -> str | None:
    """Why `secret` names no Secrets Manager secret (a complete ARN or a name), or None."""
    if secret.startswith("arn:"):
        if not SECRET_ARN.match(secret):
            return f"not a Secrets Manager secret ARN; {KEY_STORE_HINT}"
        if not _COMPLETE_SECRET_ARN.search(secret):
            return (
                f"a partial ARN (no '-XXXXXX' suffix) matches no secret reliably; {KEY_STORE_HINT}"
            )
        return None
    if not SECRET_NAME.match(secret):
        return (
            "a secret name is 1-512 characters of letters, digits and / _ + = . @ -; "
            + KEY_STORE_HINT
        )
    return None


def secret_region(secret: str) -> str | None:
    """The region of a secret ARN; None for a name (it is in the stack's region)."""
    match = SECRET_ARN.match(secret)
    return match.group(1) if match else None


def secret_region_problem(secret_region: str, stack_region: str) -> str | None:
    """Why the handler in `stack_region` would not read a secret of `secret_region`, or None."""
    if secret_region == stack_region:
        return None
    return (
        f"the secret is in {secret_region} but the handler runs in {stack_region}; replicate "
        f"the secret to {stack_region} (Secrets Manager: Replicate secret) and give that ARN"
    )


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` (a folder glob, or ``re:REGEX``) cannot group folders, or None."""
    try:
        compile_pattern(pattern, "pattern")
    except UsageError as exc:
        return exc.message.removeprefix(f"pattern {pattern!r}: ")
    return None


def type_map_problem(extension: str, kind: str) -> str | None:
    """Why ``extension -> kind`` is not a usable type-map entry, or None."""
    try:
        parse_type_map([f"{extension}={kind}"])
    except UsageError as exc:
        return exc.message.removeprefix("--type-map ")
    return None


def type_map_pairs(type_map: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The entries as `manifest` takes them (``EXT=TYPE``), for `BuildOptions.type_map`."""
    return tuple(f"{ext}={kind}" for ext, kind in type_map)


def sidecar_suffixes_problem(suffixes: Sequence[str]) -> str | None:
    """Why `suffixes` cannot name sidecar files, or None."""
    try:
        check_sidecar_suffixes(suffixes)
    except UsageError as exc:
        return exc.message.removeprefix("--sidecar-suffix ").removeprefix("--sidecar-suffix: ")
    return None


def marker_problem(marker: str) -> str | None:
    """Why `marker` cannot be the object name that completes a group, or None."""
    if not marker.strip() or marker.strip() != marker:
        return "expected an object name such as '_COMPLETE' (no spaces around it)"
    if "/" in marker or marker in (".", ".."):
        return "a name, not a path: the marker completes the group of the folder it lands in"
    if len(marker.encode("utf-8")) > MAX_MARKER_BYTES:
        return f"longer than an S3 key ({MAX_MARKER_BYTES} bytes)"
    return None


def batch_problem(size: int, window_seconds: float) -> str | None:
    """Why Lambda would refuse this batch size and window, or None."""
    if not 1 <= size <= MAX_BATCH_SIZE:
        return f"the batch size must be 1 to {MAX_BATCH_SIZE:,} messages (received {size})"
    if not 0 <= window_seconds <= MAX_BATCH_WINDOW_SECONDS:
        return (
            f"the batching window must be 0 to {MAX_BATCH_WINDOW_SECONDS} seconds "
            f"(received {window_seconds:g})"
        )
    if size > MAX_BATCH_SIZE_WITHOUT_WINDOW and window_seconds < 1:
        return (
            f"a batch of more than {MAX_BATCH_SIZE_WITHOUT_WINDOW} messages needs a batching "
            "window of at least 1 second (Lambda's rule); set one, or lower the batch size"
        )
    return None


def quiet_problem(quiet_seconds: float, window_seconds: float) -> str | None:
    """Why this quiet period cannot complete groups reliably, or None."""
    if not MIN_QUIET_SECONDS <= quiet_seconds <= MAX_QUIET_SECONDS:
        return (
            f"the quiet period must be {MIN_QUIET_SECONDS} seconds to 7 days "
            f"(received {quiet_seconds:g} seconds; the default is {DEFAULT_QUIET_SECONDS})"
        )
    if quiet_seconds <= window_seconds:
        return (
            f"the quiet period ({quiet_seconds:g} s) must be longer than the batching window "
            f"({window_seconds:g} s): members still waiting for their batch would arrive after "
            "their group was registered"
        )
    return None


def concurrency_problem(concurrency: int) -> str | None:
    """Why Lambda would refuse this maximum concurrency, or None."""
    if MIN_MAX_CONCURRENCY <= concurrency <= MAX_MAX_CONCURRENCY:
        return None
    return (
        f"{MIN_MAX_CONCURRENCY} to {MAX_MAX_CONCURRENCY} handlers at once (Lambda's range); "
        f"keep it small to stay under Encord's rate limits (default {DEFAULT_MAX_CONCURRENCY})"
    )


def oldest_message_alarm_problem(seconds: float) -> str | None:
    """Why this alarm threshold would fire for healthy queues, or None."""
    if seconds >= MIN_OLDEST_MESSAGE_ALARM_SECONDS:
        return None
    return (
        f"at least {MIN_OLDEST_MESSAGE_ALARM_SECONDS} seconds: a group check waits up to "
        f"{MAX_SQS_DELAY_SECONDS} seconds in the queue by design, then up to the handler's "
        f"timeout ({FUNCTION_TIMEOUT_SECONDS} s)"
    )


def watch_prefix_problem(prefix: str, granted: Iterable[str]) -> str | None:
    """Why watching `prefix` registers what Encord cannot read, or None.

    `granted` are the bucket's read prefixes (``""``: the whole bucket). A watched prefix
    must lie inside one of them: Encord could not read an object registered from outside.
    """
    granted = tuple(granted)
    if any(prefix.startswith(g) for g in granted):
        return None
    return (
        f"outside the prefixes Encord may read in this bucket ({list(granted)}): it could not "
        "open what was registered from there; watch a prefix inside them, or grant it first"
    )


def stack_region_problem(bucket_region: str, stack_region: str) -> str | None:
    """Why events of a bucket in `bucket_region` never reach a stack in `stack_region`, or None."""
    if bucket_region == stack_region:
        return None
    return (
        f"the bucket is in {bucket_region} but the stack deploys to {stack_region}; S3 sends "
        "its events to EventBridge in the bucket's own region, so none would arrive. Watch it "
        f"from a stack in {bucket_region}"
    )


def event_pattern(bucket_name: str, prefixes: Sequence[str]) -> dict[str, Any]:
    """The EventBridge pattern of objects created in `bucket_name` under `prefixes`.

    No prefix (or ``""``) is the whole bucket: no key filter at all.
    """
    detail: dict[str, Any] = {"bucket": {"name": [bucket_name]}}
    if prefixes and "" not in prefixes:
        detail["object"] = {"key": [{"prefix": p} for p in dict.fromkeys(prefixes)]}
    return {"source": [S3_SOURCE], "detail-type": [OBJECT_CREATED], "detail": detail}


def event_pattern_problem(bucket_name: str, prefixes: Sequence[str]) -> str | None:
    """Why one EventBridge rule cannot hold this bucket's pattern, or None."""
    size = len(json.dumps(event_pattern(bucket_name, prefixes), separators=(",", ":")))
    if size <= MAX_EVENT_PATTERN_CHARS:
        return None
    return (
        f"the event pattern of these prefixes takes {size:,} characters; EventBridge allows "
        f"{MAX_EVENT_PATTERN_CHARS:,} per rule: watch fewer (shorter, common) prefixes"
    )


def prefix_problem(prefix: str) -> str | None:
    """Why `prefix` is not a usable watched prefix (`stacks.rules`' shape check), or None."""
    return rules.prefix_problem(prefix, empty_hint="watch no prefixes for the whole bucket")


#: How an unresolved value (a CDK token) appears in synthesized text.
_TOKEN: Final = re.compile(r"\$\{Token\[[^\]]+\]\}")


def environment_bytes(settings_json: str, variable: str) -> int:
    """What `settings_json` in `variable` may take of Lambda's environment once deployed.

    Each unresolved value counts as `TOKEN_ALLOWANCE_CHARS`.
    """
    tokens = len(_TOKEN.findall(settings_json))
    literal = len(variable) + len(_TOKEN.sub("", settings_json).encode("utf-8"))
    return literal + tokens * TOKEN_ALLOWANCE_CHARS
