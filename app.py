#!/usr/bin/env python3
"""The CDK app: read the `encord` configuration once, build the access stack, run cdk-nag.

Configuration comes from the `encord` object in `cdk.json`'s context; `-c encord='{...}'`
replaces it (also written on several lines: `stacks.cli_context`) and
`-c encord.SETTING=VALUE` overrides one setting (`stacks.config`). An invalid
configuration stops synthesis with one message listing every problem (exit code 2, no
traceback), as does a prop the construct refuses. The environment (``CDK_DEFAULT_ACCOUNT`` /
``CDK_DEFAULT_REGION``, set by the CDK CLI) is read here and nowhere else; the region also
lets the configuration check that each bucket's KMS key is in the bucket's region.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import aws_cdk as cdk

from stacks import compliance
from stacks.access_stack import EncordAccessStack
from stacks.cli_context import ancestor_command_lines, restore_cut_values
from stacks.config import PLACEHOLDER_ACCOUNT, AccessConfig, ConfigError, config_from_context
from stacks.continuous_bundle import bundle_failure
from stacks.continuous_props import EncordContinuousPropsError
from stacks.encord_access_props import EncordAccessPropsError

#: Exit code of an invalid configuration (the CDK CLI then exits 1 and shows the message).
EXIT_INVALID_CONFIG = 2
#: Exit code when the continuous handler's Lambda asset cannot be built (pip failed).
EXIT_BUNDLING_FAILED = 1
#: Exit code when cdk-nag finds what is neither fixed nor acknowledged.
EXIT_CHECKS_FAILED = 3


def environment(environ: Mapping[str, str]) -> cdk.Environment:
    """The account and region the CDK CLI resolved (from the profile or the environment)."""
    return cdk.Environment(
        account=environ.get("CDK_DEFAULT_ACCOUNT"), region=environ.get("CDK_DEFAULT_REGION")
    )


def add_access_stack(
    app: cdk.App, config: AccessConfig, env: cdk.Environment | None = None
) -> EncordAccessStack:
    """Add the access stack to `app`: tags, the placeholder warning, and cdk-nag on every synth
    (AwsSolutions and the ``complianceChecks`` packs).

    Bucket regions default to the region the stack is deployed to.
    """
    stack = EncordAccessStack(
        app,
        config.stack_name,
        config=config,
        description="Encord by-reference access to S3: cross-account role, policy and CORS",
        env=env,
    )
    for key, value in sorted(config.tags.items()):
        cdk.Tags.of(stack).add(key, value)  # every resource of the stack that takes tags
    if config.uses_placeholder_principal:
        cdk.Annotations.of(stack).add_warning_v2(
            "encord:placeholder-principal",
            f"the trusted principal is the sample account {PLACEHOLDER_ACCOUNT}: replace it "
            "with Encord's principal from its New integration dialog before deploying",
        )
    compliance.add_checks(app, config.compliance_checks)
    return stack


def main() -> int:
    """Synthesize the stack; return the process exit code."""
    app = cdk.App()
    env = environment(os.environ)
    try:
        # A multi-line `-c encord='{...}'` reaches the app cut at its first line break.
        context = restore_cut_values(
            app.node.get_all_context(), ancestor_command_lines(os.getpid())
        )
        config = config_from_context(context, region=env.region)
        add_access_stack(app, config, env)
    except (ConfigError, EncordAccessPropsError, EncordContinuousPropsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    except RuntimeError as exc:
        # The continuous handler's local bundling (pip) failed: its message says what to do.
        failure = bundle_failure(exc)
        if failure is None:
            raise
        print(f"error: {failure}", file=sys.stderr)
        return EXIT_BUNDLING_FAILED
    try:
        app.synth()
    except RuntimeError as exc:
        # A cdk-nag finding that is neither fixed nor acknowledged.
        message = compliance.validation_failure(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return EXIT_CHECKS_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
