"""One existing bucket's custom-resource handler: a role that may change only that bucket, the
function, and the custom resource, in the order CloudFormation must delete them.

Both bucket changes this app makes to buckets it does not own (the CORS rule, `stacks.
bucket_cors`; the EventBridge switch, `stacks.event_notifications`) read, change and write one
part of the bucket's configuration, so each imported bucket gets its own handler: a role allowed
only that bucket's part (and its log group), a function that accepts events only for that bucket
(`stacks.handler_common`), and the custom resource. The custom resource depends on the function
(which depends on its role), so when a bucket leaves the configuration CloudFormation deletes
the custom resource, which undoes the change, *before* the function and the permission it
needs. The role's permissions are a managed policy (`stacks.functions.ManagedPolicyRole`), and
the function takes the construct's `FunctionHardening`; the compliance rules that do not apply
to a deploy-time custom resource are acknowledged on it here, with the reasons.
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

from stacks.compliance import acknowledge
from stacks.functions import FunctionHardening, ManagedPolicyRole

RUNTIME: Final = lambda_.Runtime.PYTHON_3_14
"""The handlers need nothing but boto3, which every Python runtime has."""
MEMORY_MB: Final = 128
#: Concurrency reserved for each handler when asked (it serves one bucket, one event at a time).
RESERVED_CONCURRENCY: Final = 1

_NO_VPC_REASON: Final = (
    "A deploy-time custom resource that calls only the S3 API (of one bucket) and "
    "CloudFormation's pre-signed response URL, over TLS, authorised by its role; it holds no "
    "data and serves no network traffic. A VPC would add NAT or endpoints and no control."
)
_NO_DLQ_REASON: Final = (
    "CloudFormation invokes it during a deployment and waits for its answer: the handler "
    "answers every event, and a failed invocation fails that deployment, which shows the "
    "reason and is where it is retried. A queued copy of a deployment event is of no use "
    "later: its response URL expires."
)


@dataclass(frozen=True)
class BucketHandler:
    """What one handler may do and says about itself."""

    bucket_name: str
    bucket_arn: str
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
    hardening: FunctionHardening,
) -> lambda_.Function:
    """The role (``HandlerRole``), function (``Handler``) and custom resource (`resource_id`)
    of one bucket in `group`; the function."""
    role = ManagedPolicyRole(
        group,
        "HandlerRole",
        description=handler.role_description,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
    )
    role.add_statements(
        iam.PolicyStatement(
            sid=handler.sid, actions=list(handler.actions), resources=[handler.bucket_arn]
        ),
        iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        ),
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
        tracing=hardening.tracing_mode,
        reserved_concurrent_executions=RESERVED_CONCURRENCY
        if hardening.reserve_concurrency
        else None,
    )
    function.node.add_dependency(role, *role.policies)
    acknowledge(function, "LambdaInsideVPC", _NO_VPC_REASON)
    acknowledge(function, "LambdaDLQ", _NO_DLQ_REASON)
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
