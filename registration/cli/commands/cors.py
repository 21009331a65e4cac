"""`encord-register cors apply|remove`: put Encord's CORS rule on a bucket, or take it off."""

from __future__ import annotations

import argparse
import functools
from typing import Any

from registration.cli import options
from registration.cli.console import Console
from registration.contract import DEFAULT_CORS_MAX_AGE_SECONDS, DEFAULT_CORS_ORIGINS
from registration.cors_apply import (
    DEFAULT_RULE_ID,
    CorsResult,
    apply_rule,
    plan_targets,
    remove_rule,
)
from registration.exit_codes import ExitStatus
from registration.stack_outputs import load_stack_outputs

HELP = "put Encord's CORS rule on a bucket (apply) or take it off (remove), keeping other rules"
DESCRIPTION = """\
Put the CORS rule Encord's web apps need on existing buckets, or take it off, with the same
merge the access stack's custom resource runs: only the rule with this rule ID is added,
replaced or removed; every other rule stays as it is, in its place. Running it again changes
nothing. After writing, it reads the configuration again and retries (within a bound) when
another writer changed it at the same moment.

  apply   add the rule, or replace the rule with the same ID
  remove  remove the rule with that ID

With --stack NAME (or --stack-outputs FILE) the buckets, the origins and each bucket's rule ID
are the deployed stack's, so the stack keeps owning the rule: this is the fix `verify` gives
when the rule is missing (`cdk deploy` does not re-run the custom resource when nothing in
the stack changed). Without a stack, name the buckets with --bucket.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `encord-register cors apply|remove`."""
    actions = parser.add_subparsers(dest="cors_action", metavar="ACTION", required=True)
    for name, help_text in (
        ("apply", "add Encord's rule, or replace the rule with the same ID"),
        ("remove", "remove the rule with that ID"),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text)
        _add_target_arguments(action)


def _add_target_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_argument_group("which buckets (the stack outputs, or flags; flags win)")
    options.add_stack_options(src)
    src.add_argument(
        "--bucket",
        action="append",
        default=[],
        metavar="NAME",
        help="a bucket (repeatable; with a stack: only these of its buckets)",
    )
    src.add_argument("--region", help="the buckets' region (default: the stack's, else boto3's)")
    rule = parser.add_argument_group("the rule")
    rule.add_argument(
        "--origin",
        "--origins",
        dest="origins",
        action="extend",
        nargs="+",
        default=[],
        metavar="URL",
        help="https origin(s) allowed to load the media (repeatable; default: the stack's "
        f"CORS origins, or {' and '.join(DEFAULT_CORS_ORIGINS)})",
    )
    rule.add_argument(
        "--rule-id",
        metavar="ID",
        help="the rule's ID (default: each bucket's rule ID from the stack, or "
        f"{DEFAULT_RULE_ID} without a stack)",
    )
    rule.add_argument(
        "--max-age",
        type=int,
        default=DEFAULT_CORS_MAX_AGE_SECONDS,
        metavar="SECONDS",
        help="how long browsers may cache a preflight answer "
        f"(default {DEFAULT_CORS_MAX_AGE_SECONDS})",
    )
    options.add_json_option(parser, "what each bucket holds afterwards")


def run(args: argparse.Namespace, console: Console) -> int:
    """Entry of `encord-register cors`: apply or remove the rule on each bucket."""
    import boto3
    from botocore.config import Config

    targets = plan_targets(
        outputs=load_stack_outputs(args.stack_outputs, args.stack, args.region),
        buckets=args.bucket,
        origins=args.origins,
        rule_id=args.rule_id,
        region=args.region,
        max_age_seconds=args.max_age,
    )
    session = boto3.session.Session()
    config = Config(retries={"mode": "standard", "max_attempts": 5})

    @functools.cache  # one client per region, shared by the buckets there
    def client_for(region: str | None) -> Any:
        return session.client("s3", region_name=region, config=config)

    act = apply_rule if args.cors_action == "apply" else remove_rule
    results: list[CorsResult] = []
    for target in targets:
        result = act(target, client_for)
        results.append(result)
        if not args.json:
            console.info(_describe(result, args.cors_action))
    if args.json:
        console.emit_json(
            [
                {
                    "bucket": r.target.bucket,
                    "ruleId": r.target.rule_id,
                    "action": args.cors_action,
                    "changed": r.changed,
                    "otherRules": r.other_rules,
                    **({"origins": list(r.target.origins)} if args.cors_action == "apply" else {}),
                }
                for r in results
            ]
        )
    return int(ExitStatus.OK)


def _describe(result: CorsResult, action: str) -> str:
    target, kept = result.target, f"{result.other_rules} other rule(s) kept"
    where = f"s3://{target.bucket}: rule {target.rule_id}"
    if action == "apply":
        what = "put in place" if result.changed else "already in place, nothing written"
        return f"{where} {what} for {', '.join(target.origins)} ({kept})"
    what = "removed" if result.changed else "not there, nothing to remove"
    return f"{where} {what} ({kept})"
