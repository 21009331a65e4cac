"""`encord-register verify`: check, before registering, that Encord can read the data."""

from __future__ import annotations

import argparse

from registration.cli import options
from registration.cli.console import Console
from registration.contract import DEFAULT_CORS_ORIGINS
from registration.exit_codes import ExitStatus
from registration.stack_outputs import load_stack_outputs
from registration.verify.model import DEFAULT_SAMPLE

HELP = "check the role, bucket CORS, encryption, regions and sample objects Encord will read"
DESCRIPTION = """\
Check what Encord needs to read the data through the access stack's role, with your own
AWS credentials (read access to IAM, S3 and KMS):

  role            the role exists; the principals it trusts (never `*`)
  external-id     every sts:AssumeRole grant requires the expected external ID
  region          the bucket is in the region URLs will name
  requester-pays  off (browsers cannot send the requester-pays header)
  encryption      SSE-S3, or SSE-KMS with a customer key the role may kms:Decrypt
                  (the AWS-managed aws/s3 key cannot work across accounts)
  cors-rules      each origin may GET and HEAD, with Range and the range headers
  cors-preflight  a real OPTIONS request from each origin to the bucket's endpoint
  get-object      the role may s3:GetObject sample keys of every prefix (IAM policy
                  simulator, else local evaluation of the role's policies)
  list-bucket     with allowListing: the role may s3:ListBucket under each prefix
                  (what Encord's cloud-synced folders need)
  object-encryption, storage-class
                  the samples' own KMS keys; no archived objects that are not restored
  mrap            the stack's Multi-Region Access Points exist and are ready

Each check PASSes, FAILs (with the fix) or is SKIPped (not checked, with why). The exit
code is 0 unless a check failed (6).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `encord-register verify`."""
    src = parser.add_argument_group("what to check (the stack outputs, or flags; flags win)")
    options.add_stack_options(src)
    src.add_argument("--role-arn", metavar="ARN", help="the role Encord assumes")
    src.add_argument(
        "--external-id",
        metavar="ID",
        help="the external ID Encord shows for the integration (never printed)",
    )
    src.add_argument(
        "--principal",
        action="append",
        default=[],
        metavar="ARN",
        help="a principal the role must trust (repeatable; default: report what it trusts)",
    )
    src.add_argument(
        "--bucket", action="append", default=[], metavar="NAME", help="a bucket (repeatable)"
    )
    src.add_argument(
        "--prefix",
        action="append",
        default=[],
        metavar="P",
        help="a prefix to sample (repeatable; default: the stack's prefixes, or the whole bucket)",
    )
    src.add_argument(
        "--origin",
        action="append",
        default=[],
        metavar="URL",
        help="an origin that must load the media (repeatable; default: the stack's CORS "
        f"origins, or {' and '.join(DEFAULT_CORS_ORIGINS)})",
    )
    src.add_argument(
        "--region", help="the region URLs name (default: the stack's, else HeadBucket)"
    )
    run = parser.add_argument_group("run")
    run.add_argument(
        "--sample",
        type=int,
        default=DEFAULT_SAMPLE,
        metavar="N",
        help=f"sample objects per prefix (default {DEFAULT_SAMPLE}; folder markers and empty "
        "objects skipped)",
    )
    run.add_argument(
        "--no-preflight",
        dest="preflight",
        action="store_false",
        help="do not send the CORS preflight OPTIONS request",
    )
    options.add_json_option(run, "the checks and their results")


def run(args: argparse.Namespace, console: Console) -> int:
    """Entry of `encord-register verify`: run the checks, print them, return the exit code."""
    from registration.verify.aws import AwsClients
    from registration.verify.render import human_lines, to_json
    from registration.verify.runner import run_checks
    from registration.verify.target import TargetFlags, build_target

    flags = TargetFlags(
        role_arn=args.role_arn,
        external_id=args.external_id,
        buckets=args.bucket,
        prefixes=args.prefix,
        origins=args.origin,
        principals=args.principal,
        region=args.region,
        sample=args.sample,
        preflight=args.preflight,
        stack_args=options.stack_args(args),
    )
    target = build_target(flags, load_stack_outputs(args.stack_outputs, args.stack, args.region))
    report = run_checks(target, AwsClients(default_region=args.region))
    status = ExitStatus.OK if report.ok else ExitStatus.CHECKS_FAILED
    if args.json:
        console.emit_json(to_json(report, int(status)))
    else:
        for line in human_lines(report):
            console.info(line)
    return int(status)
