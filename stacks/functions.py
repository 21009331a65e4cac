"""What every function this app creates shares: a role with managed policies only, a log group,
and the hardening the compliance packs ask for (`FunctionHardening`).

Both constructs create functions: the custom-resource handlers of existing buckets
(`stacks.bucket_handler`) and the continuous-registration handler (`stacks.continuous`).
cdk-nag's HIPAA, NIST 800-53 and PCI DSS packs refuse inline policies, unencrypted log groups
and functions without reserved concurrency, and its Serverless pack asks for X-Ray tracing;
each is either always done here (managed policies) or switched on by `FunctionHardening`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from aws_cdk import Acknowledgment, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

#: IAM's limit on a managed policy document, in characters (whitespace not counted).
MAX_POLICY_CHARS: Final = 6144
#: What `ManagedPolicyRole` puts in one policy, by its estimate (`_estimated_chars`): room
#: is left for the document's own keys.
_POLICY_BUDGET: Final = MAX_POLICY_CHARS - 200
#: The longest value a token may resolve to, for the estimate: a partition (``aws-us-gov``),
#: a region, an account, anything else (an ARN).
_TOKEN_CHARS: Final = {"AWS::Partition": 10, "AWS::Region": 14, "AWS::AccountId": 12}
_OTHER_TOKEN_CHARS: Final = 128
#: X-Ray's write actions take no resource ARN, so a tracing function's grant is on ``*``.
_XRAY_PREFIX: Final = "xray:"
_TRACING_REASON: Final = (
    "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions "
    "(the CDK grants them on `*` for active tracing); this policy holds nothing else."
)


@dataclass(frozen=True)
class FunctionHardening:
    """Settings of every function a construct creates (all off by default).

    :param log_key: encrypt the functions' log groups with this key. Its key policy must let
        CloudWatch Logs use it (``logs.<region>.amazonaws.com``; a key created by
        `stacks.access_stack` has that statement).
    :param tracing: X-Ray active tracing (traces are billed per trace recorded).
    :param reserve_concurrency: reserve the concurrency each function needs (1 for a
        custom-resource handler); it comes out of the account's unreserved pool.
    """

    log_key: kms.IKey | None = None
    tracing: bool = False
    reserve_concurrency: bool = False

    @property
    def tracing_mode(self) -> lambda_.Tracing | None:
        """The function's ``tracing``: ACTIVE when on, else the CDK's default (none)."""
        return lambda_.Tracing.ACTIVE if self.tracing else None

    def log_group(
        self, scope: Construct, construct_id: str, retention: logs.RetentionDays
    ) -> logs.LogGroup:
        """A log group deleted with the stack, kept `retention`, encrypted with `log_key`."""
        return logs.LogGroup(
            scope,
            construct_id,
            retention=retention,
            removal_policy=RemovalPolicy.DESTROY,
            encryption_key=self.log_key,
        )


class ManagedPolicyRole(iam.Role):
    """A role whose permissions are customer-managed policies, never inline ones.

    Its statements (`add_statements`, and what the CDK adds through ``add_to_principal_policy``:
    grants, an event source's permissions) go to ``<id>/Policy``, attached through the
    policy's ``Roles``; when that one would pass IAM's `MAX_POLICY_CHARS` (by a conservative
    estimate of the resolved document), to ``<id>/Policy2`` and so on. X-Ray's statements
    (active tracing) go to a policy of their own (``<id>/Tracing``), so the acknowledgement of
    their ``*`` resource covers them and nothing else. A function using the role waits for
    the policies (the CDK makes it depend on them).
    """

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._policies = [iam.ManagedPolicy(self, "Policy", roles=[self])]
        self._chars = 0
        self._tracing: iam.ManagedPolicy | None = None

    @property
    def policy(self) -> iam.ManagedPolicy:
        """The first managed policy of the role's permissions (X-Ray's aside)."""
        return self._policies[0]

    @property
    def policies(self) -> tuple[iam.ManagedPolicy, ...]:
        """Every managed policy of the role's permissions (X-Ray's aside), in order."""
        return tuple(self._policies)

    def add_statements(self, *statements: iam.PolicyStatement) -> None:
        """Add `statements` to the role's policies, starting a new one when the last is full."""
        for statement in statements:
            self._add(statement)

    def add_to_principal_policy(
        self, statement: iam.PolicyStatement
    ) -> iam.AddToPrincipalPolicyResult:
        """Add `statement` to the role's policies (X-Ray's to the tracing policy)."""
        return iam.AddToPrincipalPolicyResult(
            statement_added=True, policy_dependable=self._add(statement)
        )

    def _add(self, statement: iam.PolicyStatement) -> iam.ManagedPolicy:
        if statement.actions and all(a.startswith(_XRAY_PREFIX) for a in statement.actions):
            target = self._tracing_policy()
        else:
            chars = _estimated_chars(Stack.of(self).resolve(statement.to_statement_json()))
            if self._chars and self._chars + chars > _POLICY_BUDGET:
                number = len(self._policies) + 1
                self._policies.append(iam.ManagedPolicy(self, f"Policy{number}", roles=[self]))
                self._chars = 0
            self._chars += chars + 1
            target = self._policies[-1]
        target.add_statements(statement)
        return target

    def _tracing_policy(self) -> iam.ManagedPolicy:
        if self._tracing is None:
            self._tracing = iam.ManagedPolicy(self, "Tracing", roles=[self])
            Validations.of(self._tracing).acknowledge(
                Acknowledgment(
                    id="AwsSolutions::AwsSolutions-IAM5[Resource::*]", reason=_TRACING_REASON
                )
            )
        return self._tracing


def _estimated_chars(value: Any) -> int:
    """At least the characters of `value` once CloudFormation resolves it, without whitespace."""
    if isinstance(value, dict):
        # An intrinsic resolves to a string: its characters and two quotes.
        if set(value) == {"Ref"}:
            return 2 + _TOKEN_CHARS.get(value["Ref"], _OTHER_TOKEN_CHARS)
        if set(value) == {"Fn::GetAtt"} or set(value) == {"Fn::ImportValue"}:
            return 2 + _OTHER_TOKEN_CHARS
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            inner = sum(_estimated_chars(p) - 2 if isinstance(p, (str, dict)) else 0 for p in parts)
            return 2 + inner + len(separator) * len(parts)
        return 2 + sum(len(json.dumps(k)) + 1 + _estimated_chars(v) + 1 for k, v in value.items())
    if isinstance(value, list):
        return 2 + sum(_estimated_chars(v) + 1 for v in value)
    return len(json.dumps(value))
