"""The props records of `EncordContinuousRegistration`, and the checks its constructor runs first.

`check_props` looks at every prop and returns every problem, each with the value received and
what to change (the words of `stacks.continuous_rules`, shared with the ``continuous`` object of
`cdk.json`); the construct raises them together as one `EncordContinuousPropsError`. Values
that are unresolved tokens are only known at deploy time and are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from aws_cdk import Annotations, Duration, Stack, Token
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from stacks import continuous_rules as crules
from stacks import rules
from stacks.encord_access_props import PropProblem, known_bucket_name

__all__ = [
    "MIN_PYTHON",
    "EncordContinuousPropsError",
    "PropProblem",
    "WatchedS3Bucket",
    "check_props",
]

#: The oldest Python the handler's code (the `registration` package) runs on.
MIN_PYTHON: Final = (3, 11)
#: The ID of the synth warning about a bucket whose region the stack's may not be.
REGION_WARNING_ID: Final = "encord:continuous-bucket-region"


@dataclass(frozen=True)
class WatchedS3Bucket:
    """A bucket whose new objects are registered, and under which prefixes.

    :param bucket: the bucket: a `s3.Bucket` of your app, or one imported with
        ``s3.Bucket.from_bucket_attributes(self, id, bucket_name=...)``. It must be in the
        stack's region: S3 sends its events to EventBridge there.
    :param prefixes: key prefixes to watch (``"images/"``). Default: the whole bucket.
    :param key: the KMS key the objects are encrypted with (SSE-KMS); the handler gets
        ``kms:Decrypt`` on it through S3 only, to read sidecars. Default: the bucket's
        ``encryption_key`` when it has one, otherwise no KMS grant (SSE-S3 needs none).
    """

    bucket: s3.IBucket
    prefixes: Sequence[str] = ()
    key: kms.IKey | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefixes", tuple(self.prefixes))

    def watched_prefixes(self) -> tuple[str, ...]:
        """The prefixes without repeats; ``("",)`` for the whole bucket."""
        unique = tuple(dict.fromkeys(self.prefixes))
        return ("",) if not unique or "" in unique else unique


class EncordContinuousPropsError(ValueError):
    """The props of an `EncordContinuousRegistration` are unusable; `problems` lists every one."""

    def __init__(self, path: str, problems: Sequence[PropProblem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"EncordContinuousRegistration {path}: {count} invalid "
            f"prop{'s' if count != 1 else ''}:\n{lines}"
        )


def _literal(value: str | None) -> bool:
    return value is not None and not Token.is_unresolved(value)


def _bucket_problems(scope: Construct, buckets: Sequence[WatchedS3Bucket]) -> list[PropProblem]:
    if not buckets:
        return [PropProblem("buckets", "[]", "pass at least one WatchedS3Bucket(bucket=...)")]
    problems = []
    seen: set[str] = set()
    stack_region = Stack.of(scope).region
    for i, entry in enumerate(buckets):
        where = f"buckets[{i}]"
        name = known_bucket_name(entry.bucket)
        label = name or entry.bucket.node.path
        if entry.bucket.node.path in seen:
            problems.append(
                PropProblem(
                    f"{where}.bucket", repr(label), "listed twice; merge its prefixes into one"
                )
            )
        seen.add(entry.bucket.node.path)
        for j, prefix in enumerate(entry.prefixes):
            why = crules.prefix_problem(prefix) if _literal(prefix) else None
            if why:
                problems.append(PropProblem(f"{where}.prefixes[{j}]", repr(prefix), why))
        literal = all(_literal(p) for p in entry.prefixes)
        why = crules.event_pattern_problem(name, entry.prefixes) if name and literal else None
        if why:
            problems.append(
                PropProblem(f"{where}.prefixes", f"{len(entry.prefixes)} prefixes", why)
            )
        bucket_region = entry.bucket.env.region
        if _literal(bucket_region) and _literal(stack_region):
            why = crules.stack_region_problem(bucket_region, stack_region)
            if why:
                problems.append(PropProblem(f"{where}.bucket", repr(label), why))
        elif _literal(bucket_region):
            Annotations.of(scope).add_warning_v2(
                REGION_WARNING_ID,
                f"{where} ({label}) is in {bucket_region}: deploy this stack to {bucket_region}, "
                "or no event of the bucket reaches it (S3 sends events in the bucket's region)",
            )
        if entry.key is not None and hasattr(entry.key, "alias_name"):
            problems.append(
                PropProblem(
                    f"{where}.key",
                    f"the alias {entry.key.alias_name}",
                    "pass the key itself (kms.Key.from_key_arn): an alias cannot be granted "
                    "kms:Decrypt",
                )
            )
    return problems


def _text_problems(integration: str, folder: str) -> list[PropProblem]:
    wanted = {
        "integration": (integration, "the Encord integration that signs the URLs (title or UUID)"),
        "folder": (folder, "the Encord folder the items go to (path or UUID)"),
    }
    return [
        PropProblem(prop, rules.show(value), f"pass {what}")
        for prop, (value, what) in wanted.items()
        if _literal(value) and not value.strip()
    ]


def _secret_problems(
    scope: Construct, secret: secretsmanager.ISecret, secret_key: kms.IKey | None
) -> list[PropProblem]:
    problems = []
    region, stack_region = secret.env.region, Stack.of(scope).region
    if _literal(region) and _literal(stack_region):
        why = crules.secret_region_problem(region, stack_region)
        if why:
            problems.append(PropProblem("ssh_key_secret", secret.secret_arn, why))
    if secret_key is not None and hasattr(secret_key, "alias_name"):
        problems.append(
            PropProblem(
                "ssh_key_secret_key",
                f"the alias {secret_key.alias_name}",
                "pass the key itself (kms.Key.from_key_arn): an alias cannot be granted "
                "kms:Decrypt",
            )
        )
    return problems


def _build_problems(
    image_groups: Sequence[str],
    image_sequences: Sequence[str],
    dicom_series: Sequence[str],
    type_map: Mapping[str, str],
    sidecar_suffixes: Sequence[str],
    group_marker: str | None,
) -> list[PropProblem]:
    problems = []
    for prop, patterns in (
        ("image_groups", image_groups),
        ("image_sequences", image_sequences),
        ("dicom_series", dicom_series),
    ):
        for i, pattern in enumerate(patterns):
            why = crules.pattern_problem(pattern)
            if why:
                problems.append(PropProblem(f"{prop}[{i}]", repr(pattern), why))
    for extension, kind in type_map.items():
        why = crules.type_map_problem(extension, kind)
        if why:
            problems.append(PropProblem(f"type_map[{extension!r}]", repr(kind), why))
    why = crules.sidecar_suffixes_problem(sidecar_suffixes)
    if why:
        problems.append(PropProblem("sidecar_suffixes", rules.show(list(sidecar_suffixes)), why))
    if group_marker is not None:
        why = crules.marker_problem(group_marker)
        if why:
            problems.append(PropProblem("group_marker", repr(group_marker), why))
    return problems


def _seconds(duration: Duration) -> float:
    return duration.to_seconds(integral=False)


def _timing_problems(
    quiet_period: Duration,
    batch_size: int,
    batch_window: Duration,
    max_concurrency: int,
    oldest_message_alarm: Duration,
) -> list[PropProblem]:
    problems = []
    window = _seconds(batch_window)
    why = crules.batch_problem(batch_size, window)
    if why:
        shown = f"batch_size={batch_size}, batch_window={batch_window.to_human_string()}"
        problems.append(PropProblem("batch_size", shown, why))
    why = crules.quiet_problem(_seconds(quiet_period), window)
    if why:
        problems.append(PropProblem("quiet_period", quiet_period.to_human_string(), why))
    why = crules.concurrency_problem(max_concurrency)
    if why:
        problems.append(PropProblem("max_concurrency", str(max_concurrency), why))
    why = crules.oldest_message_alarm_problem(_seconds(oldest_message_alarm))
    if why:
        problems.append(
            PropProblem("oldest_message_alarm", oldest_message_alarm.to_human_string(), why)
        )
    return problems


def _runtime_problems(runtime: lambda_.Runtime) -> list[PropProblem]:
    version = runtime.name.removeprefix("python").split(".")
    if (
        runtime.family == lambda_.RuntimeFamily.PYTHON
        and len(version) == 2
        and all(v.isdigit() for v in version)
        and (int(version[0]), int(version[1])) >= MIN_PYTHON
    ):
        return []
    oldest = ".".join(map(str, MIN_PYTHON))
    return [
        PropProblem(
            "runtime",
            runtime.name,
            f"pass a Python runtime of {oldest} or later (lambda_.Runtime.PYTHON_3_13): the "
            "handler is the `registration` package",
        )
    ]


def check_props(
    scope: Construct,
    *,
    buckets: Sequence[WatchedS3Bucket],
    ssh_key_secret: secretsmanager.ISecret,
    ssh_key_secret_key: kms.IKey | None,
    domain: str,
    integration: str,
    folder: str,
    image_groups: Sequence[str],
    image_sequences: Sequence[str],
    dicom_series: Sequence[str],
    type_map: Mapping[str, str],
    sidecar_suffixes: Sequence[str],
    quiet_period: Duration,
    group_marker: str | None,
    batch_size: int,
    batch_window: Duration,
    max_concurrency: int,
    oldest_message_alarm: Duration,
    runtime: lambda_.Runtime,
) -> list[PropProblem]:
    """Every problem with the props of the construct in `scope` (empty when none).

    A bucket in a region the stack's may not be (the stack's is unknown) is not a problem
    but a warning, added to `scope`.
    """
    problems = _bucket_problems(scope, buckets)
    problems += _secret_problems(scope, ssh_key_secret, ssh_key_secret_key)
    if _literal(domain):
        why = crules.domain_problem(domain)
        if why:
            problems.append(PropProblem("domain", repr(domain), why))
    problems += _text_problems(integration=integration, folder=folder)
    problems += _build_problems(
        image_groups, image_sequences, dicom_series, type_map, sidecar_suffixes, group_marker
    )
    problems += _timing_problems(
        quiet_period, batch_size, batch_window, max_concurrency, oldest_message_alarm
    )
    problems += _runtime_problems(runtime)
    return problems
