"""`EncordAccessStack`: the thin stack that composes `EncordAccess` and publishes its outputs.

The output keys are the constants of `registration.stack_outputs`, the contract with the
registration helper (`encord-register ... --stack-outputs cdk-outputs.json` or `--stack NAME`).
"""

from __future__ import annotations

import os
from typing import Any

from aws_cdk import Annotations, App, Aws, CfnOutput, Environment, Stack, Tags, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from registration.stack_outputs import (
    OUTPUT_BUCKETS,
    OUTPUT_CORS_ORIGINS,
    OUTPUT_EXTERNAL_ID,
    OUTPUT_MRAPS,
    OUTPUT_ROLE_ARN,
    OUTPUT_TRUSTED_PRINCIPALS,
)
from stacks.config import PLACEHOLDER_ACCOUNT, AccessConfig
from stacks.encord_access import EncordAccess
from stacks.permissions import bucket_region


class EncordAccessStack(Stack):
    """The access stack: one `cdk deploy` gives Encord what Step 1 of its guide asks for."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: AccessConfig, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.access = EncordAccess(self, "EncordAccess", config=config)
        CfnOutput(
            self,
            OUTPUT_ROLE_ARN,
            key=OUTPUT_ROLE_ARN,
            value=self.access.role.role_arn,
            description="Role ARN to paste into Encord's New integration dialog",
        )
        CfnOutput(
            self,
            OUTPUT_EXTERNAL_ID,
            key=OUTPUT_EXTERNAL_ID,
            value=config.external_id,
            description="External ID the role requires (the one Encord showed you)",
        )
        buckets = [
            {
                "name": b.name,
                "region": bucket_region(b),
                "prefixes": list(b.prefixes),
                "created": b.create,
                "writePrefix": b.write_prefix,
                "kmsKeyArn": b.kms_key_arn,
            }
            for b in config.buckets
        ]
        mraps = [{"alias": m.alias, "arn": m.arn, "buckets": list(m.buckets)} for m in config.mraps]
        CfnOutput(
            self,
            OUTPUT_BUCKETS,
            key=OUTPUT_BUCKETS,
            value=self.to_json_string(buckets),
            description="Data buckets (JSON): name, region, prefixes, created, writePrefix, "
            "kmsKeyArn",
        )
        CfnOutput(
            self,
            OUTPUT_MRAPS,
            key=OUTPUT_MRAPS,
            value=self.to_json_string(mraps),
            description="Multi-Region Access Points (JSON): alias, arn, buckets",
        )
        principals = [
            f"arn:{Aws.PARTITION}:iam::{p}:root" if p.isdigit() else p
            for p in config.trusted_principals
        ]
        CfnOutput(
            self,
            OUTPUT_TRUSTED_PRINCIPALS,
            key=OUTPUT_TRUSTED_PRINCIPALS,
            value=self.to_json_string(principals),
            description="Principals the role trusts (JSON); `encord-register verify` checks them",
        )
        CfnOutput(
            self,
            OUTPUT_CORS_ORIGINS,
            key=OUTPUT_CORS_ORIGINS,
            value=self.to_json_string(list(config.cors_origins)),
            description="Origins allowed by the buckets' CORS rule (JSON)",
        )


def add_access_stack(app: App, config: AccessConfig) -> EncordAccessStack:
    """Add the access stack to `app`, with cdk-nag's AwsSolutions checks on every synth.

    The environment comes from the CLI (`CDK_DEFAULT_ACCOUNT` / `CDK_DEFAULT_REGION`), so
    bucket regions default to the region the stack is deployed to.
    """
    stack = EncordAccessStack(
        app,
        config.stack_name,
        config=config,
        description="Encord by-reference access to S3: cross-account role, policy and CORS",
        env=Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION"),
        ),
    )
    for key, value in sorted(config.tags.items()):
        Tags.of(stack).add(key, value)  # every resource of the stack that takes tags
    if config.uses_placeholder_principal:
        Annotations.of(stack).add_warning_v2(
            "encord:placeholder-principal",
            f"the trusted principal is the sample account {PLACEHOLDER_ACCOUNT}: replace it "
            "with Encord's principal from its New integration dialog before deploying",
        )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack
