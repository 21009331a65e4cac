#!/usr/bin/env python3
"""The CDK app: read the `encord` configuration once, validate it, synthesize the access stack.

Configuration comes from the `encord` object in `cdk.json`'s context; `-c encord='{...}'`
replaces it and `-c encord.SETTING=VALUE` overrides one setting. An invalid configuration
stops synthesis with one message listing every problem (exit code 2, no traceback).
"""

from __future__ import annotations

import os
import sys

from stacks.config import PLACEHOLDER_ACCOUNT, AccessConfig, ConfigError, load_config, merge_context

CONTEXT_KEY = "encord"


def read_config(context: dict[str, object]) -> AccessConfig:
    """The validated configuration from the app's context (cdk.json plus `-c` values)."""
    overrides = {k: v for k, v in context.items() if k.startswith(f"{CONTEXT_KEY}.")}
    return load_config(merge_context(context.get(CONTEXT_KEY), overrides))


def main() -> int:
    """Synthesize the stack; return the process exit code."""
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from stacks.access_stack import EncordAccessStack

    app = cdk.App()
    context = {
        key: value
        for key, value in app.node.get_all_context().items()
        if key == CONTEXT_KEY or key.startswith(f"{CONTEXT_KEY}.")
    }
    try:
        config = read_config(context)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stack = EncordAccessStack(
        app,
        config.stack_name,
        config=config,
        description="Encord by-reference access to S3: cross-account role, policy and CORS",
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION"),
        ),
    )
    if config.uses_placeholder_principal:
        cdk.Annotations.of(stack).add_warning_v2(
            "encord:placeholder-principal",
            f"the trusted principal is the sample account {PLACEHOLDER_ACCOUNT}: replace it "
            "with Encord's principal from its New integration dialog before deploying",
        )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
