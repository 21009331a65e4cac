"""Read the access stack's outputs back: from `cdk deploy --outputs-file` JSON or CloudFormation.

The output keys and the JSON shapes of the structured outputs are the contract in
`registration.contract`, which the stack (`stacks/`) writes with. This module must not
import aws-cdk-lib.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registration import contract as c
from registration.errors import InputError, UsageError


@dataclass(frozen=True)
class BucketOutput:
    """One data bucket as the stack describes it."""

    name: str
    region: str
    prefixes: tuple[str, ...] = ("",)
    created: bool = False
    write_prefix: str | None = None
    kms_key_arn: str | None = None
    #: The ID of the stack's CORS rule on the bucket (None: not managed, or an older stack).
    cors_rule_id: str | None = None


@dataclass(frozen=True)
class MrapOutput:
    """One Multi-Region Access Point as the stack describes it."""

    alias: str
    arn: str
    buckets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContinuousOutput:
    """Continuous registration's resources (`stacks.continuous`), as the stack describes them."""

    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    table_name: str
    function_name: str
    region: str


@dataclass(frozen=True)
class AccessStackOutputs:
    """Everything the helper needs from a deployed access stack."""

    stack_name: str
    role_arn: str
    external_id: str
    buckets: tuple[BucketOutput, ...]
    mraps: tuple[MrapOutput, ...] = ()
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    trusted_principals: tuple[str, ...] = field(default_factory=tuple)
    #: Whether the role may list under the prefixes (None: an older stack that does not say).
    allow_listing: bool | None = None
    #: Continuous registration's resources (None: the stack has none).
    continuous: ContinuousOutput | None = None

    def bucket(self, name: str) -> BucketOutput | None:
        """The configured bucket called `name`, if any."""
        return next((b for b in self.buckets if b.name == name), None)

    def mrap_for_bucket(self, name: str) -> MrapOutput | None:
        """The Multi-Region Access Point that fronts bucket `name`, if one is configured."""
        return next((m for m in self.mraps if name in m.buckets), None)


def _json_output(raw: dict[str, str], key: str, source: str) -> Any:
    try:
        return json.loads(raw.get(key) or "[]")
    except json.JSONDecodeError as exc:
        raise InputError(
            f"stack output {key} is not valid JSON ({exc.msg})",
            source=source,
            hint="redeploy the access stack with this version of the project",
        ) from exc


def parse_outputs(raw: dict[str, str], *, stack_name: str, source: str) -> AccessStackOutputs:
    """Build `AccessStackOutputs` from one stack's output key -> value mapping."""
    missing = [k for k in c.REQUIRED_OUTPUT_KEYS if k not in raw]
    if missing:
        raise InputError(
            f"stack {stack_name!r} in {source} has no output(s) {', '.join(missing)}",
            source=source,
            hint="is this the Encord access stack? Deploy it with "
            "`npx cdk deploy --outputs-file cdk-outputs.json`",
        )
    try:
        buckets = tuple(
            BucketOutput(
                name=b[c.BUCKET_NAME],
                region=b[c.BUCKET_REGION],
                prefixes=tuple(b.get(c.BUCKET_PREFIXES) or [""]),
                created=bool(b.get(c.BUCKET_CREATED, False)),
                write_prefix=b.get(c.BUCKET_WRITE_PREFIX),
                kms_key_arn=b.get(c.BUCKET_KMS_KEY_ARN),
                cors_rule_id=b.get(c.BUCKET_CORS_RULE_ID),
            )
            for b in _json_output(raw, c.OUTPUT_BUCKETS, source)
        )
        mraps = tuple(
            MrapOutput(
                alias=m[c.MRAP_ALIAS], arn=m[c.MRAP_ARN], buckets=tuple(m.get(c.MRAP_BUCKETS) or ())
            )
            for m in _json_output(raw, c.OUTPUT_MRAPS, source)
        )
        continuous_raw = raw.get(c.OUTPUT_CONTINUOUS)
        continuous = (
            _continuous(_json_output(raw, c.OUTPUT_CONTINUOUS, source)) if continuous_raw else None
        )
    except (KeyError, TypeError) as exc:
        raise InputError(
            f"stack output of {stack_name!r} has an unexpected shape (missing {exc})",
            source=source,
            hint="redeploy the access stack with this version of the project",
        ) from exc
    origins = tuple(str(o) for o in _json_output(raw, c.OUTPUT_CORS_ORIGINS, source))
    principals = tuple(str(p) for p in _json_output(raw, c.OUTPUT_TRUSTED_PRINCIPALS, source))
    return AccessStackOutputs(
        stack_name=stack_name,
        role_arn=raw[c.OUTPUT_ROLE_ARN],
        external_id=raw[c.OUTPUT_EXTERNAL_ID],
        buckets=buckets,
        mraps=mraps,
        cors_origins=origins,
        trusted_principals=principals,
        allow_listing=_flag(raw.get(c.OUTPUT_ALLOW_LISTING)),
        continuous=continuous,
    )


def _flag(value: str | None) -> bool | None:
    """A boolean output (CloudFormation writes ``true``/``false``); None when absent."""
    if value is None:
        return None
    return str(value).strip().lower() == "true"


def _continuous(value: Any) -> ContinuousOutput:
    """The ``EncordContinuous`` object (KeyError/TypeError on a wrong shape, as for buckets)."""
    return ContinuousOutput(
        queue_url=value[c.CONTINUOUS_QUEUE_URL],
        queue_arn=value[c.CONTINUOUS_QUEUE_ARN],
        dead_letter_queue_url=value[c.CONTINUOUS_DLQ_URL],
        table_name=value[c.CONTINUOUS_TABLE],
        function_name=value[c.CONTINUOUS_FUNCTION],
        region=value[c.CONTINUOUS_REGION],
    )


def load_outputs_file(path: Path, stack_name: str | None = None) -> AccessStackOutputs:
    """Read `cdk deploy --outputs-file` JSON: ``{stack_name: {key: value}}``.

    With several stacks in the file, `stack_name` picks one; otherwise the one stack
    that carries the access-stack outputs is used.
    """
    source = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(
            f"stack outputs file {path} does not exist",
            source=source,
            hint="write it with `npx cdk deploy --outputs-file cdk-outputs.json`",
        ) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read stack outputs file {path}: {exc}", source=source) from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise InputError(
            f"{path} is not a `cdk deploy --outputs-file` file "
            "(expected {stack: {key: value}})",
            source=source,
        )
    if stack_name is not None:
        if stack_name not in data:
            held = ", ".join(sorted(data)) or "none"
            raise UsageError(f"stack {stack_name!r} is not in {path}; it holds: {held}")
        return parse_outputs(data[stack_name], stack_name=stack_name, source=source)
    candidates = [name for name, outs in data.items() if c.OUTPUT_ROLE_ARN in outs]
    if len(candidates) != 1:
        raise UsageError(
            f"{path} holds {len(candidates)} access stacks ({', '.join(candidates) or 'none'}); "
            "name one with --stack"
        )
    return parse_outputs(data[candidates[0]], stack_name=candidates[0], source=source)


def load_outputs_from_cloudformation(stack_name: str, cloudformation: Any) -> AccessStackOutputs:
    """Read the access stack's outputs from CloudFormation (a boto3 client) by name."""
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", str(exc))
        raise UsageError(
            f"cannot read stack {stack_name!r} from CloudFormation: {code} {message}",
            hint="check the stack name, the region (AWS_REGION) and your AWS credentials",
        ) from exc
    raw = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return parse_outputs(raw, stack_name=stack_name, source=f"CloudFormation stack {stack_name}")


def load_stack_outputs(
    outputs_file: Path | None, stack: str | None, region: str | None = None
) -> AccessStackOutputs | None:
    """The access stack's outputs a command was pointed at, or None when it names no stack.

    `outputs_file` (``cdk deploy --outputs-file``) wins; with only `stack`, the outputs are
    read from CloudFormation in `region` (default: boto3's).
    """
    if outputs_file is not None:
        return load_outputs_file(outputs_file, stack)
    if stack is None:
        return None
    import boto3

    try:
        client = boto3.session.Session().client("cloudformation", region_name=region)
    except Exception as exc:
        raise UsageError(f"cannot create a CloudFormation client: {exc}") from exc
    return load_outputs_from_cloudformation(stack, client)
