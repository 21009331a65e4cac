"""The contract between the access stack (`stacks/`) and the helper, in one dependency-free module.

Both sides import these names and nothing else: the stack publishes its `CfnOutput`s under the
output keys and writes the CORS rule; the helper reads the outputs back
(`registration.stack_outputs`) and `verify` checks the same CORS rule. Nothing here imports
aws-cdk-lib, boto3 or the encord SDK, so the stack, the helper and a Lambda bundle can all use
it.

JSON shapes of the structured outputs:

- ``EncordBuckets``: ``[{"name": str, "region": str, "prefixes": [str, ...],
  "created": bool, "writePrefix": str | null, "kmsKeyArn": str | null,
  "corsRuleId": str | null}]``; a prefix of ``""`` means the whole bucket; ``corsRuleId`` is
  the ID of the stack's CORS rule on the bucket (null when the stack leaves its CORS alone;
  absent from older stacks).
- ``EncordMultiRegionAccessPoints``: ``[{"alias": str, "arn": str, "buckets": [str, ...]}]``
- ``EncordCorsOrigins``: ``[str, ...]``
- ``EncordTrustedPrincipals``: ``[str, ...]``, the principals the role trusts, as IAM ARNs
  (an account ID becomes ``arn:aws:iam::ACCOUNT:root``; a stack launched from the template of
  `stacks.launch_template` lists them as given); absent from older stacks.
- ``EncordAllowListing``: ``true`` / ``false``, whether the role may list under the prefixes
  (what Encord's cloud-synced folders need); absent from older stacks.
- ``EncordContinuous``: ``{"queueUrl": str, "queueArn": str, "deadLetterQueueUrl": str,
  "tableName": str, "functionName": str, "region": str}`` when the stack has continuous
  registration (`stacks.continuous`), absent otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

# --- stack outputs -------------------------------------------------------------------------

OUTPUT_ROLE_ARN: Final = "EncordRoleArn"
OUTPUT_EXTERNAL_ID: Final = "EncordExternalId"
OUTPUT_BUCKETS: Final = "EncordBuckets"
OUTPUT_MRAPS: Final = "EncordMultiRegionAccessPoints"
OUTPUT_CORS_ORIGINS: Final = "EncordCorsOrigins"
OUTPUT_TRUSTED_PRINCIPALS: Final = "EncordTrustedPrincipals"
OUTPUT_ALLOW_LISTING: Final = "EncordAllowListing"
OUTPUT_CONTINUOUS: Final = "EncordContinuous"

ALL_OUTPUT_KEYS: Final = (
    OUTPUT_ROLE_ARN,
    OUTPUT_EXTERNAL_ID,
    OUTPUT_BUCKETS,
    OUTPUT_MRAPS,
    OUTPUT_CORS_ORIGINS,
    OUTPUT_TRUSTED_PRINCIPALS,
    OUTPUT_ALLOW_LISTING,
    OUTPUT_CONTINUOUS,
)
REQUIRED_OUTPUT_KEYS: Final = (OUTPUT_ROLE_ARN, OUTPUT_EXTERNAL_ID, OUTPUT_BUCKETS)
"""Outputs every access stack has; the others are optional (older stacks lack some)."""

#: What each output holds, as the stacks describe it (the CDK app's and the launch template's).
OUTPUT_DESCRIPTIONS: Final = {
    OUTPUT_ROLE_ARN: "Role ARN to paste into Encord's New integration dialog",
    OUTPUT_EXTERNAL_ID: "External ID the role requires (the one Encord showed you)",
    OUTPUT_BUCKETS: "Data buckets (JSON): name, region, prefixes, created, writePrefix, "
    "kmsKeyArn, corsRuleId",
    OUTPUT_MRAPS: "Multi-Region Access Points (JSON): alias, arn, buckets",
    OUTPUT_TRUSTED_PRINCIPALS: "Principals the role trusts (JSON); `encord-register verify` "
    "checks them",
    OUTPUT_CORS_ORIGINS: "Origins allowed by the buckets' CORS rule (JSON)",
    OUTPUT_ALLOW_LISTING: "Whether the role may list the prefixes (what Encord cloud-synced "
    "folders need)",
    OUTPUT_CONTINUOUS: "Continuous registration (JSON): queueUrl, queueArn, "
    "deadLetterQueueUrl, tableName, functionName, region",
}

# Field names inside the structured outputs.
BUCKET_NAME: Final = "name"
BUCKET_REGION: Final = "region"
BUCKET_PREFIXES: Final = "prefixes"
BUCKET_CREATED: Final = "created"
BUCKET_WRITE_PREFIX: Final = "writePrefix"
BUCKET_KMS_KEY_ARN: Final = "kmsKeyArn"
BUCKET_CORS_RULE_ID: Final = "corsRuleId"
MRAP_ALIAS: Final = "alias"
MRAP_ARN: Final = "arn"
MRAP_BUCKETS: Final = "buckets"
# Keys of the ``EncordContinuous`` object.
CONTINUOUS_QUEUE_URL: Final = "queueUrl"
CONTINUOUS_QUEUE_ARN: Final = "queueArn"
CONTINUOUS_DLQ_URL: Final = "deadLetterQueueUrl"
CONTINUOUS_TABLE: Final = "tableName"
CONTINUOUS_FUNCTION: Final = "functionName"
CONTINUOUS_REGION: Final = "region"


def bucket_output(
    *,
    name: str,
    region: str,
    prefixes: Sequence[str],
    created: bool,
    write_prefix: str | None,
    kms_key_arn: str | None,
    cors_rule_id: str | None = None,
) -> dict[str, Any]:
    """One entry of the ``EncordBuckets`` output (the stack writes it, the helper reads it)."""
    return {
        BUCKET_NAME: name,
        BUCKET_REGION: region,
        BUCKET_PREFIXES: list(prefixes),
        BUCKET_CREATED: created,
        BUCKET_WRITE_PREFIX: write_prefix,
        BUCKET_KMS_KEY_ARN: kms_key_arn,
        BUCKET_CORS_RULE_ID: cors_rule_id,
    }


def mrap_output(*, alias: str, arn: str, buckets: Sequence[str]) -> dict[str, Any]:
    """One entry of the ``EncordMultiRegionAccessPoints`` output."""
    return {MRAP_ALIAS: alias, MRAP_ARN: arn, MRAP_BUCKETS: list(buckets)}


def continuous_output(
    *,
    queue_url: str,
    queue_arn: str,
    dead_letter_queue_url: str,
    table_name: str,
    function_name: str,
    region: str,
) -> dict[str, Any]:
    """The ``EncordContinuous`` output (continuous registration's queue, table and function)."""
    return {
        CONTINUOUS_QUEUE_URL: queue_url,
        CONTINUOUS_QUEUE_ARN: queue_arn,
        CONTINUOUS_DLQ_URL: dead_letter_queue_url,
        CONTINUOUS_TABLE: table_name,
        CONTINUOUS_FUNCTION: function_name,
        CONTINUOUS_REGION: region,
    }


def principal_arn(principal: str, partition: str = "aws") -> str:
    """A trusted principal as an IAM ARN: an account ID becomes ``arn:PARTITION:iam::ID:root``."""
    return f"arn:{partition}:iam::{principal}:root" if principal.isdigit() else principal


# --- KMS ------------------------------------------------------------------------------------

#: The KMS condition key naming what S3 encrypts: the object's ARN, or the bucket's with an S3
#: Bucket Key. The stack scopes its KMS grants by it; `verify` evaluates them with it.
KMS_S3_ARN_CONTEXT_KEY: Final = "kms:EncryptionContext:aws:s3:arn"

# --- CORS -----------------------------------------------------------------------------------

DEFAULT_CORS_ORIGINS: Final[tuple[str, ...]] = (
    "https://app.encord.com",
    "https://app.us.encord.com",
)
"""Encord's web apps (EU and US), the origins that fetch media in the browser.
Decision (aws-access.md): configurable, never ``*``."""

DEFAULT_CORS_MAX_AGE_SECONDS: Final = 3600
"""How long browsers may cache a preflight answer."""

CORS_METHODS: Final[tuple[str, ...]] = ("GET", "HEAD")
"""Methods Encord's apps use on media: GET, and HEAD for sizes."""

CORS_ALLOWED_HEADERS: Final[tuple[str, ...]] = ("*",)
"""Request headers the rule allows (``Range`` among them: byte-range reads need it)."""

CORS_EXPOSED_HEADERS: Final[tuple[str, ...]] = (
    "ETag",
    "Content-Length",
    "Content-Range",
    "Accept-Ranges",
)
"""Response headers video players and byte-range readers need to see."""

RANGE_HEADER: Final = "Range"
"""Request header of byte-range reads: the GET rule must allow it."""

CORS_RULE_ID_PREFIX: Final = "encord-access-"
MAX_CORS_RULE_ID_CHARS: Final = 255
"""S3's limit on a CORS rule ID."""


def cors_rule_id(owner: str) -> str:
    """``encord-access-<owner>``: the rule ID of versions before the per-bucket IDs.

    The stack's rule is now ``encord-access-<stack>-<region>-<hash>`` (see
    `stacks.bucket_cors.owned_rule_id`); this older form is replaced by it on update.
    """
    return f"{CORS_RULE_ID_PREFIX}{owner}"[:MAX_CORS_RULE_ID_CHARS]


def cors_rule(
    rule_id: str,
    origins: Sequence[str],
    max_age_seconds: int = DEFAULT_CORS_MAX_AGE_SECONDS,
) -> dict[str, Any]:
    """The CORS rule Encord needs, in the shape of S3's ``PutBucketCors`` API (boto3)."""
    return {
        "ID": rule_id,
        "AllowedOrigins": list(origins),
        "AllowedMethods": list(CORS_METHODS),
        "AllowedHeaders": list(CORS_ALLOWED_HEADERS),
        "ExposeHeaders": list(CORS_EXPOSED_HEADERS),
        "MaxAgeSeconds": max_age_seconds,
    }
