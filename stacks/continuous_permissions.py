"""The IAM statements of the continuous-registration function, from plain records.

What the function may do, beyond reading its queue (the SQS event source grants
``sqs:ReceiveMessage``, ``sqs:DeleteMessage``, ``sqs:ChangeMessageVisibility``,
``sqs:GetQueueAttributes`` and ``sqs:GetQueueUrl`` on that queue; the handler itself uses
ChangeMessageVisibility too, to bring busy messages back sooner, see
`registration.continuous.backoff`):

- ``s3:GetObject`` on exactly the watched prefixes (sidecars; HeadObject, which resolves a
  key's spelling and its storage class, is authorised by GetObject), and ``kms:Decrypt`` on a
  bucket's key only through S3 and only for those objects (`stacks.permissions`);
- ``secretsmanager:GetSecretValue`` on the one secret holding the Encord key (and
  ``kms:Decrypt`` on its key, if it is one of yours, only through Secrets Manager and only for
  that secret);
- DynamoDB item actions on the state table, and Query on its listing index;
- ``sqs:SendMessage`` on its own queue (the delayed group and sidecar checks);
- writing to its own log group.

- ``s3:ListBucket`` limited to the watched prefixes (an ``s3:prefix`` condition): when a
  group's marker lands, the handler lists the group's folder so that files whose events are
  still on their way join the group instead of arriving late; and S3 answers HeadObject of a
  missing key with 404 (without ListBucket it would be 403, which the handler cannot tell
  from a denied read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from aws_cdk import aws_iam as iam

from registration.continuous import table as layout
from stacks.permissions import BucketGrant, kms_statements

#: The item actions of the state table. TransactWriteItems is authorised by these (each
#: write of a transaction by its own action, each condition by ConditionCheckItem).
STATE_ACTIONS: Final = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)
#: Secrets Manager's suffix of a secret's ARN (six random characters), as IAM matches it
#: when only the name is known.
NAME_ARN_SUFFIX: Final = "-??????"


@dataclass(frozen=True)
class SecretGrant:
    """The secret holding the Encord key, every value ready for a policy (tokens allowed)."""

    #: The secret's ARN as IAM matches it (complete, or the name's ARN with the suffix pattern).
    arn: str
    #: The secret's region, for ``kms:ViaService``.
    region: str
    #: The ARN of its customer-managed KMS key; None: the AWS-managed key, no grant needed.
    key_arn: str | None = None


@dataclass(frozen=True)
class StateGrant:
    """The state table and the queue the function sends its checks to."""

    table_arn: str
    queue_arn: str


def object_statements(buckets: Sequence[BucketGrant]) -> list[iam.PolicyStatement]:
    """GetObject and ListBucket on each watched prefix, and Decrypt through S3 (with a key)."""
    objects = [b.objects_under(p) for b in buckets for p in b.prefixes]
    return [
        iam.PolicyStatement(sid="ReadWatchedObjects", actions=["s3:GetObject"], resources=objects),
        *(_list_statement(i, bucket) for i, bucket in enumerate(buckets)),
        *kms_statements(buckets),
    ]


def _list_statement(index: int, bucket: BucketGrant) -> iam.PolicyStatement:
    """ListBucket on one bucket, limited to its watched prefixes (none: the whole bucket)."""
    whole = "" in bucket.prefixes
    return iam.PolicyStatement(
        sid=f"ListWatchedPrefixes{index}",
        actions=["s3:ListBucket"],
        resources=[bucket.arn],
        conditions=None
        if whole
        else {"StringLike": {"s3:prefix": [f"{p}*" for p in bucket.prefixes]}},
    )


def secret_statements(secret: SecretGrant) -> list[iam.PolicyStatement]:
    """GetSecretValue on the secret; Decrypt on its key only for it, through Secrets Manager."""
    statements = [
        iam.PolicyStatement(
            sid="ReadEncordKey", actions=["secretsmanager:GetSecretValue"], resources=[secret.arn]
        )
    ]
    if secret.key_arn is not None:
        statements.append(
            iam.PolicyStatement(
                sid="DecryptEncordKey",
                actions=["kms:Decrypt"],
                resources=[secret.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"secretsmanager.{secret.region}.amazonaws.com"
                    },
                    # Secrets Manager names the secret in the encryption context.
                    "StringLike": {"kms:EncryptionContext:SecretARN": secret.arn},
                },
            )
        )
    return statements


def state_statements(state: StateGrant) -> list[iam.PolicyStatement]:
    """Item actions on the table, Query on its listing index, SendMessage on the queue."""
    return [
        iam.PolicyStatement(
            sid="KeepState", actions=list(STATE_ACTIONS), resources=[state.table_arn]
        ),
        iam.PolicyStatement(
            sid="ListState",
            actions=["dynamodb:Query"],
            resources=[f"{state.table_arn}/index/{layout.LISTING_INDEX}"],
        ),
        iam.PolicyStatement(
            sid="SendChecks", actions=["sqs:SendMessage"], resources=[state.queue_arn]
        ),
    ]


def log_statements(log_group_arn: str) -> list[iam.PolicyStatement]:
    """Writing to the function's own log group (its ARN covers its streams)."""
    return [
        iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group_arn],
        )
    ]
