"""The setting types of the app config: pydantic types whose problems are worded for users.

Each type checks one kind of `cdk.json` value and, when it is wrong, says so in the words of
`stacks.rules` (``received X; expected ...`` or ``'<value>': <why>``) rather than pydantic's.
`stacks.config` builds its models from them and turns each problem into one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    PlainValidator,
    StrictBool,
    StrictStr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from stacks import rules

#: Key of the validation context that holds the bucket names seen so far.
BUCKET_NAMES: Final = "bucket_names"
#: Key of the validation context that holds each valid bucket's read and write prefixes.
BUCKET_GRANTS: Final = "bucket_grants"
#: Key of the validation context that holds the region the stack deploys to (None: unknown).
STACK_REGION: Final = "stack_region"
#: Key of the validation context that holds each valid bucket's region (None: the stack's).
BUCKET_REGIONS: Final = "bucket_regions"
#: The error type of the problems worded here.
PROBLEM: Final = "encord"


def invalid(reason: str) -> PydanticCustomError:
    """A problem in our words; pydantic reports it at the setting's path."""
    return PydanticCustomError(PROBLEM, "{reason}", {"reason": reason})


def expect(expected: str) -> WrapValidator:
    """Report any type or range error of the setting as ``received X; expected ...``."""

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise invalid(f"received {rules.show(value)}; expected {expected}") from None

    return WrapValidator(validate)


def matching(pattern: re.Pattern[str], expected: str) -> PlainValidator:
    """A string setting that must match `pattern`; otherwise ``received X; expected ...``."""

    def validate(value: Any) -> str:
        if isinstance(value, str) and pattern.match(value):
            return value
        raise invalid(f"received {rules.show(value)}; expected {expected}")

    return PlainValidator(validate)


def why_not(problem: Callable[[str], str | None]) -> AfterValidator:
    """Report ``problem(value)`` (a `stacks.rules` check) as ``'<value>': <problem>``."""

    def validate(value: str) -> str:
        why = problem(value)
        if why:
            raise invalid(f"{value!r}: {why}")
        return value

    return AfterValidator(validate)


def list_of(what: str, hint: str = "", *, missing: str | None = None) -> WrapValidator:
    """A list setting: an empty or non-list value is one problem; items are checked in turn."""

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if missing is not None and value in (None, "", []):
            raise invalid(f"missing. {missing}")
        if not isinstance(value, list) or not value:
            raise invalid(
                f"expected a non-empty list of {what}, received {rules.show(value)}{hint}"
            )
        return handler(value)

    return WrapValidator(validate)


def names_seen(info: ValidationInfo) -> set[str]:
    """The bucket names validated so far (`buckets` is validated before the access points)."""
    context = info.context if isinstance(info.context, dict) else {}
    seen: set[str] = context.setdefault(BUCKET_NAMES, set())
    return seen


def grants_seen(info: ValidationInfo) -> dict[str, tuple[tuple[str, ...], str | None]]:
    """Each valid bucket validated so far: its read prefixes and write prefix."""
    context = info.context if isinstance(info.context, dict) else {}
    grants: dict[str, tuple[tuple[str, ...], str | None]] = context.setdefault(BUCKET_GRANTS, {})
    return grants


def regions_seen(info: ValidationInfo) -> dict[str, str | None]:
    """Each valid bucket validated so far: its region (None: the stack's)."""
    context = info.context if isinstance(info.context, dict) else {}
    regions: dict[str, str | None] = context.setdefault(BUCKET_REGIONS, {})
    return regions


def stack_region(info: ValidationInfo) -> str | None:
    """The region the stack deploys to, when the app knows it."""
    context = info.context if isinstance(info.context, dict) else {}
    region = context.get(STACK_REGION)
    return region if isinstance(region, str) else None


def _bucket_name(name: str, info: ValidationInfo) -> str:
    """A valid name, not listed before: the one check across list items pydantic lacks."""
    why = rules.bucket_name_problem(name)
    if why:
        raise invalid(f"{name!r} is not a valid bucket name: {why}")
    seen = names_seen(info)
    if name in seen:
        raise invalid(f"bucket {name!r} is listed twice; merge its prefixes into one entry")
    seen.add(name)
    return name


def _log_bucket_name(name: str, info: ValidationInfo) -> str:
    """A valid bucket name that is not one of the data buckets."""
    why = rules.bucket_name_problem(name)
    if why:
        raise invalid(f"{name!r} is not a valid bucket name: {why}")
    if name in names_seen(info):
        raise invalid(
            f"{name!r} is one of encord.buckets; server access logs need a bucket of their own "
            "(leave `accessLogBucket` out and the stack creates one)"
        )
    return name


def _named_keys(tags: dict[str, str]) -> dict[str, str]:
    if not all(tags):
        raise ValueError("a tag needs a key")  # reworded by the `expect` around it
    return tags


def _external_id(value: Any) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise invalid(f"received {rules.show(value)}; expected the external ID, a string")
    why = rules.external_id_problem(value)
    if why:
        raise invalid(why if not value.strip() else f"received {rules.show(value)}; {why}")
    return value


Text = Annotated[StrictStr, expect("a string")]
Principal = Annotated[Text, why_not(rules.principal_problem)]
Origin = Annotated[Text, why_not(rules.origin_problem)]
Prefix = Annotated[
    Text,
    why_not(
        lambda p: rules.prefix_problem(
            p, empty_hint="leave `prefixes` out to grant the whole bucket"
        )
    ),
]
WritePrefix = Annotated[
    Text, why_not(lambda p: rules.prefix_problem(p, empty_hint=rules.WRITE_PREFIX_HINT))
]
BucketName = Annotated[Text, AfterValidator(_bucket_name)]
LogBucketName = Annotated[Text, AfterValidator(_log_bucket_name)]
Flag = Annotated[StrictBool, expect("true or false")]
KmsKeyArn = Annotated[
    str,
    matching(
        rules.KMS_KEY_ARN,
        "a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID); an alias ARN or the "
        "AWS-managed aws/s3 key cannot be granted cross-account",
    ),
]
Region = Annotated[str, matching(rules.REGION, "an AWS region such as eu-west-1")]
MrapArn = Annotated[
    str,
    matching(rules.MRAP_ARN, f"a Multi-Region Access Point ARN such as {rules.MRAP_ARN_EXAMPLE}"),
]
RoleName = Annotated[
    str, matching(rules.ROLE_NAME, f"{rules.ROLE_NAME_RULE}; or leave it out for a generated name")
]
PolicyArn = Annotated[
    str,
    matching(
        rules.POLICY_ARN,
        "an IAM managed policy ARN such as arn:aws:iam::123456789012:policy/Boundary",
    ),
]
StackName = Annotated[
    str,
    matching(
        rules.STACK_NAME,
        "letters, digits and hyphens, starting with a letter (at most 128 characters)",
    ),
]
Tags = Annotated[
    dict[StrictStr, StrictStr],
    AfterValidator(_named_keys),
    expect("an object of string keys and values"),
]
#: Required: absent, null and "" are all reported as missing.
ExternalId = Annotated[str, PlainValidator(_external_id)]
