#!/usr/bin/env python3
"""The CDK app: read the `encord` configuration once, validate it, synthesize the access stack.

Configuration comes from the `encord` object in `cdk.json`'s context; `-c encord='{...}'`
replaces it and `-c encord.SETTING=VALUE` overrides one setting. An invalid configuration
stops synthesis with one message listing every problem (exit code 2, no traceback).
"""

from __future__ import annotations

import sys

from stacks.config import AccessConfig, ConfigError, load_config, merge_context

CONTEXT_KEY = "encord"


def read_config(context: dict[str, object]) -> AccessConfig:
    """The validated configuration from the app's context (cdk.json plus `-c` values)."""
    overrides = {k: v for k, v in context.items() if k.startswith(f"{CONTEXT_KEY}.")}
    return load_config(merge_context(context.get(CONTEXT_KEY), overrides))


def main() -> int:
    """Synthesize the stack; return the process exit code."""
    import aws_cdk as cdk

    from stacks.access_stack import add_access_stack

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
    add_access_stack(app, config)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
