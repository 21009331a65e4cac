"""`encord-register cors`: which rule goes on which bucket, and putting it there or taking it away.

The merge itself is `registration.cors_merge`, the code the access stack's custom resource runs,
so the command and the stack agree on every rule they leave in place. This module turns what
the user asked for (buckets, origins, a rule ID, or a deployed stack's outputs) into
`CorsTarget` records, and carries them out one bucket at a time.

Why the command exists: the custom resource only runs when its properties change, so a rule
deleted by hand stays missing after `cdk deploy` ("no changes"); ``cors apply --stack NAME``
puts the stack's own rule back, with the stack's rule ID, so the stack still owns it (its update
replaces it in place, its deletion removes it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from registration.aws_errors import DENIED_CODES, MISSING_BUCKET_CODES, error_code, error_message
from registration.contract import (
    DEFAULT_CORS_MAX_AGE_SECONDS,
    DEFAULT_CORS_ORIGINS,
    cors_rule,
    cors_rule_id,
)
from registration.cors_merge import (
    DEFAULT_BOUNDS,
    Bounds,
    CorsConflictError,
    CorsLimitError,
    Outcome,
    delete_rules,
    put_rule,
)
from registration.errors import AuthError, RemoteError, UsageError
from registration.stack_outputs import AccessStackOutputs

DEFAULT_RULE_ID: Final = cors_rule_id("cli")
"""The rule ID `cors apply` uses for a bucket named without a stack and without --rule-id."""

S3ClientFactory = Callable[[str | None], Any]


@dataclass(frozen=True)
class CorsTarget:
    """One bucket and the rule to put on it (or the rule ID to take off)."""

    bucket: str
    region: str | None
    rule_id: str
    origins: tuple[str, ...]
    max_age_seconds: int = DEFAULT_CORS_MAX_AGE_SECONDS

    def rule(self) -> dict[str, Any]:
        """The rule, in the shape of S3's API."""
        return cors_rule(self.rule_id, self.origins, self.max_age_seconds)


@dataclass(frozen=True)
class CorsResult:
    """What one bucket holds after the command: the rule in place or gone, and the others."""

    target: CorsTarget
    changed: bool
    other_rules: int


def plan_targets(
    *,
    outputs: AccessStackOutputs | None,
    buckets: Sequence[str],
    origins: Sequence[str],
    rule_id: str | None,
    region: str | None,
    max_age_seconds: int = DEFAULT_CORS_MAX_AGE_SECONDS,
) -> list[CorsTarget]:
    """The buckets to act on: the stack's (all, or those named), or the buckets named.

    From a stack, each bucket's rule ID and the origins are the stack's (`--origin` and
    `--rule-id` override them); an older stack without per-bucket rule IDs used
    ``encord-access-<stack name>``. Without a stack, ``--bucket`` is required and the
    defaults are Encord's origins and `DEFAULT_RULE_ID`.
    """
    wanted = tuple(dict.fromkeys(buckets))
    if outputs is None:
        if not wanted:
            raise UsageError(
                "name the bucket(s) with --bucket NAME, or the access stack with --stack NAME "
                "or --stack-outputs FILE"
            )
        return [
            CorsTarget(
                bucket=name,
                region=region,
                rule_id=rule_id or DEFAULT_RULE_ID,
                origins=tuple(origins) or DEFAULT_CORS_ORIGINS,
                max_age_seconds=max_age_seconds,
            )
            for name in wanted
        ]
    unknown = [name for name in wanted if outputs.bucket(name) is None]
    if unknown:
        held = ", ".join(b.name for b in outputs.buckets) or "none"
        raise UsageError(
            f"bucket(s) {', '.join(unknown)} are not in stack {outputs.stack_name} "
            f"(it has: {held}); leave out --stack to name any bucket"
        )
    chosen = [b for b in outputs.buckets if not wanted or b.name in wanted]
    return [
        CorsTarget(
            bucket=b.name,
            region=region or b.region or None,
            rule_id=rule_id or b.cors_rule_id or cors_rule_id(outputs.stack_name),
            origins=tuple(origins) or outputs.cors_origins or DEFAULT_CORS_ORIGINS,
            max_age_seconds=max_age_seconds,
        )
        for b in chosen
    ]


def apply_rule(
    target: CorsTarget, client_for: S3ClientFactory, bounds: Bounds = DEFAULT_BOUNDS
) -> CorsResult:
    """Put the target's rule on its bucket, keeping every other rule (idempotent)."""
    outcome = _guarded(
        target, lambda s3: put_rule(s3, target.bucket, target.rule(), bounds=bounds), client_for
    )
    return CorsResult(target, outcome.changed, outcome.others(target.rule_id))


def remove_rule(
    target: CorsTarget, client_for: S3ClientFactory, bounds: Bounds = DEFAULT_BOUNDS
) -> CorsResult:
    """Take the target's rule off its bucket, keeping every other rule (idempotent)."""
    outcome = _guarded(
        target,
        lambda s3: delete_rules(s3, target.bucket, [target.rule_id], bounds=bounds),
        client_for,
    )
    return CorsResult(target, outcome.changed, outcome.others(target.rule_id))


def _guarded(
    target: CorsTarget, merge: Callable[[Any], Outcome], client_for: S3ClientFactory
) -> Outcome:
    """Run `merge` on the target's bucket; AWS and merge failures become the helper's errors."""
    from botocore.exceptions import ClientError

    where = f"s3://{target.bucket}"
    try:
        return merge(client_for(target.region))
    except CorsLimitError as exc:
        raise UsageError(f"{where}: {exc}") from exc
    except CorsConflictError as exc:
        raise RemoteError(str(exc)) from exc
    except ClientError as exc:
        code = error_code(exc)
        if code in MISSING_BUCKET_CODES:
            raise UsageError(
                f"{where} does not exist, or these credentials cannot see it",
                hint="check the bucket name and that the credentials belong to its account",
            ) from exc
        if code in DENIED_CODES:
            raise AuthError(
                f"access denied to the CORS configuration of {where} ({exc.operation_name}: "
                f"{error_message(exc) or code})",
                hint="the credentials need s3:GetBucketCORS and s3:PutBucketCORS on the bucket",
            ) from exc
        raise
