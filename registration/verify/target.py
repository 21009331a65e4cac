"""What to verify: the access stack's outputs, with explicit flags taking precedence.

Pure: `build_target` takes the parsed values and the outputs (already loaded), checks
them, and returns a `VerifyTarget`; every problem is reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from registration.contract import DEFAULT_CORS_ORIGINS
from registration.errors import UsageError
from registration.stack_outputs import AccessStackOutputs
from registration.verify.model import (
    DEFAULT_SAMPLE,
    BucketTarget,
    MrapTarget,
    VerifyTarget,
)

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
_ORIGIN = re.compile(r"https?://[^/\s]+")
MAX_SAMPLE = 100


@dataclass(frozen=True)
class TargetFlags:
    """The flags of `verify` that say what to check (None / empty: not given)."""

    role_arn: str | None = None
    external_id: str | None = None
    buckets: Sequence[str] = ()
    prefixes: Sequence[str] = ()
    origins: Sequence[str] = ()
    principals: Sequence[str] = ()
    region: str | None = None
    sample: int = DEFAULT_SAMPLE
    preflight: bool = True
    stack_args: Sequence[str] = ()


def _buckets(flags: TargetFlags, outputs: AccessStackOutputs | None) -> tuple[BucketTarget, ...]:
    names = list(flags.buckets) or ([b.name for b in outputs.buckets] if outputs else [])
    result: list[BucketTarget] = []
    for name in dict.fromkeys(names):
        known = outputs.bucket(name) if outputs else None
        prefixes = tuple(flags.prefixes) or (known.prefixes if known else ("",))
        region = flags.region or (known.region if known else None)
        kms = known.kms_key_arn if known else None
        result.append(BucketTarget(name, region, prefixes or ("",), kms))
    return tuple(result)


def build_target(flags: TargetFlags, outputs: AccessStackOutputs | None) -> VerifyTarget:
    """Merge flags over the stack outputs into what to check; UsageError on bad values."""
    problems: list[str] = []
    role_arn = flags.role_arn or (outputs.role_arn if outputs else None)
    external_id = flags.external_id or (outputs.external_id if outputs else None)
    buckets = _buckets(flags, outputs)
    origins = (
        tuple(flags.origins) or (outputs.cors_origins if outputs else ()) or DEFAULT_CORS_ORIGINS
    )
    mraps = tuple(MrapTarget(m.alias, m.arn) for m in outputs.mraps) if outputs else ()
    if role_arn is None and not buckets:
        problems.append(
            "nothing to verify: give --stack-outputs cdk-outputs.json, --stack NAME, "
            "or --role-arn and/or --bucket"
        )
    if role_arn is not None and not _ROLE_ARN.fullmatch(role_arn):
        problems.append(
            f"--role-arn {role_arn!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        )
    for origin in origins:
        if origin == "*" or not _ORIGIN.fullmatch(origin):
            problems.append(
                f"origin {origin!r} is not an http(s) origin such as https://app.encord.com"
            )
    if not 1 <= flags.sample <= MAX_SAMPLE:
        problems.append(f"--sample {flags.sample}: must be between 1 and {MAX_SAMPLE}")
    if flags.prefixes and not buckets:
        problems.append("--prefix needs a bucket (--bucket or the stack outputs)")
    if problems:
        raise UsageError("; ".join(problems))
    return VerifyTarget(
        role_arn=role_arn,
        external_id=external_id,
        buckets=buckets,
        origins=origins,
        mraps=mraps,
        principals=tuple(flags.principals) or (outputs.trusted_principals if outputs else ()),
        sample=flags.sample,
        preflight=flags.preflight,
        stack_args=tuple(flags.stack_args) if outputs else (),
        allow_listing=bool(outputs and outputs.allow_listing),
    )
