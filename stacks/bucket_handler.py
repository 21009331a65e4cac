"""One existing bucket's custom-resource handler: a role that may change only that bucket, the
function, and the custom resource, in the order CloudFormation must delete them.

Both bucket changes this app makes to buckets it does not own (the CORS rule, `stacks.
bucket_cors`; the EventBridge switch, `stacks.event_notifications`) read, change and write one
part of the bucket's configuration, so each imported bucket gets its own handler: a role allowed
only that bucket's part (and its log group), a function that accepts events only for that bucket
(`stacks.handler_common`), and the custom resource. The custom resource depends on the function
(which depends on its role), so when a bucket leaves the configuration CloudFormation deletes
the custom resource, which undoes the change, *before* the function and the permission it
needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from aws_cdk import CustomResource, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

RUNTIME: Final = lambda_.Runtime.PYTHON_3_14
"""The handlers need nothing but boto3, which every Python runtime has."""
MEMORY_MB: Final = 128


@dataclass(frozen=True)
class BucketHandler:
    """What one handler may do and says about itself."""

    bucket_name: str
    bucket_arn: str
    policy_name: str
    """The role's inline policy (``BucketCors``, ``BucketNotifications``)."""
    sid: str
    actions: Sequence[str]
    """The S3 actions on the bucket (and nothing else but its own logs)."""
    role_description: str
    function_description: str
    allowed_buckets_env: str
    """The environment variable the handler reads its one bucket from."""
    resource_type: str
    timeout: Duration
    service_timeout: Duration


def add_bucket_handler(
    group: Construct,
    handler: BucketHandler,
    code: lambda_.Code,
    log_group: logs.ILogGroup,
    resource_id: str,
    properties: Mapping[str, Any],
) -> lambda_.Function:
    """The role (``HandlerRole``), function (``Handler``) and custom resource (`resource_id`)
    of one bucket in `group`; the function."""
    role = iam.Role(
        group,
        "HandlerRole",
        description=handler.role_description,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        inline_policies={
            handler.policy_name: iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid=handler.sid,
                        actions=list(handler.actions),
                        resources=[handler.bucket_arn],
                    ),
                    iam.PolicyStatement(
                        sid="WriteOwnLogs",
                        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                        resources=[log_group.log_group_arn],
                    ),
                ]
            )
        },
    )
    function = lambda_.Function(
        group,
        "Handler",
        description=handler.function_description,
        runtime=RUNTIME,
        handler="index.handler",
        code=code,
        timeout=handler.timeout,
        memory_size=MEMORY_MB,
        role=role,
        log_group=log_group,
        environment={handler.allowed_buckets_env: handler.bucket_name},
    )
    function.node.add_dependency(role)
    resource = CustomResource(
        group,
        resource_id,
        service_token=function.function_arn,
        resource_type=handler.resource_type,
        service_timeout=handler.service_timeout,
        properties=dict(properties),
    )
    # Deleted before its function and role (and so before the permission it needs).
    resource.node.add_dependency(function)
    return function
