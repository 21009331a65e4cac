"""docs/compliance.md's rule tables, generated from cdk-nag's own pack definitions and from the
acknowledgements the constructs make (``make compliance-doc``; a test keeps the page current).

For every rule of every pack (`pack_rules`, read from the cdk-nag package installed), the page
says one of:

- **acknowledged**: the stack does not follow it somewhere; where, and the reason, exactly as
  the constructs acknowledge it (`stacks.compliance.acknowledge`), read from the validation
  report of `DOC_CONFIG` synthesized with every pack, and without any (AwsSolutions' default);
- **fixed by the pack**: the pack's default turns on what the rule asks for (`FIXED`);
- **met**: the stack always does it (`MET`);
- **not applicable**: the rule checks a kind of resource the stack never creates.

A rule of a service the stack creates that is in none of these fails generation, so a new
cdk-nag rule cannot slip through unclassified.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import cdk_nag

from stacks.config_compliance import PACK_NAMES

#: The page, and the markers around the generated part.
DOC_PATH: Final = Path(__file__).resolve().parents[1] / "docs" / "compliance.md"
BEGIN: Final = "<!-- BEGIN GENERATED: python -m stacks.compliance_doc -->"
END: Final = "<!-- END GENERATED -->"

ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"
_KEY: Final = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"

#: Every option at once: created buckets with and without a key of their own, existing buckets,
#: listing, a write prefix, KMS, a Multi-Region Access Point, continuous registration.
DOC_CONFIG: Final[Mapping[str, Any]] = {
    "stackName": "EncordCompliance",
    "trustedPrincipals": ["210987654321"],
    "externalId": "encord-ext-0123456789",
    "buckets": [
        {"name": "existing-data", "prefixes": ["images/", "videos/"]},
        {"name": "scans-data", "prefixes": ["dicom/"], "kmsKeyArn": _KEY, "writePrefix": "out/"},
        {"name": "created-data", "create": True},
        {"name": "created-keyed", "create": True, "kmsKeyArn": _KEY},
    ],
    "allowListing": True,
    "multiRegionAccessPoints": [
        {
            "arn": f"arn:aws:s3::{ACCOUNT}:accesspoint/mfzwi23gnjvgw.mrap",
            "buckets": ["existing-data"],
        }
    ],
    "permissionsBoundaryArn": f"arn:aws:iam::{ACCOUNT}:policy/boundary",
    "continuous": {
        "integration": "My S3",
        "folder": "datasets/live",
        "sshKeySecret": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:encord/key-AbCdEf",
        "watch": ["existing-data", "created-data"],
        "alarmTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:encord-alerts",
    },
}

#: cdk-nag's pack files, by the rule-ID prefix of the pack.
PACK_FILES: Final[Mapping[str, str]] = {
    "AwsSolutions": "aws-solutions",
    "HIPAA.Security": "hipaa-security",
    "NIST.800.53.R5": "nist-800-53-r5",
    "PCI.DSS.321": "pci-dss-321",
    "Serverless": "serverless",
}
#: The cdk-nag rule modules of the services whose resources the stack creates.
CREATED_SERVICES: Final = frozenset(
    {"s3", "lambda", "iam", "cloudwatch", "kms", "dynamodb", "sqs", "eventbridge"}
)

_CREATED_BUCKETS = "each bucket the stack creates"
#: Rules a chosen pack makes the stack follow, by changing a setting's default.
FIXED: Final[Mapping[str, str]] = {
    "S3DefaultEncryptionKMS": f"{_CREATED_BUCKETS} uses SSE-KMS: its own `kmsKeyArn`, else "
    "`encryptionKey` (default under the pack: a key the stack creates)",
    "S3BucketVersioningEnabled": f"`versioned` on {_CREATED_BUCKETS} (default on under the pack)",
    "S3BucketLoggingEnabled": f"`accessLogs` on {_CREATED_BUCKETS} (default on under the pack): "
    "server access logs to `accessLogBucket`, else to a log bucket the stack creates",
    "CloudWatchLogGroupEncrypted": "every function's log group is encrypted with "
    "`encryptionKey` (default under the pack: a key the stack creates)",
    "LambdaConcurrency": "reserved concurrency: 1 for each bucket handler, `maxConcurrency` for "
    "the continuous-registration function",
    "LambdaTracing": "`tracing` (default on under the pack): X-Ray active tracing of every "
    "function",
}
_NOT_APPLICABLE = "not applicable: "
_NO_USERS = "not applicable: the stack creates no IAM users or groups"
_TLS_ONLY = "every bucket the stack creates denies requests without TLS (`enforce_ssl`)"
_PRIVATE = (
    "every bucket the stack creates blocks all public access and has ACLs disabled "
    "(BucketOwnerEnforced); Encord reads through its role, by signed URL"
)
#: Rules the stack follows whatever is chosen, and rules of its services it has nothing for.
MET: Final[Mapping[str, str]] = {
    "CloudWatchAlarmAction": "every continuous-registration alarm notifies "
    "`continuous.alarmTopicArn`, which the configuration requires under these packs",
    "CloudWatchLogGroupRetentionPeriod": "every log group has a retention period (one month "
    "for bucket handlers, three months for continuous registration)",
    "DDB3": "point-in-time recovery is on for the state table",
    "DynamoDBPITREnabled": "point-in-time recovery is on for the state table",
    "DDB4": "not applicable: no DAX cluster",
    "DynamoDBAutoScalingEnabled": "the state table is on demand (PAY_PER_REQUEST), which "
    "needs no auto scaling",
    "EVB1": "not applicable: no event bus is created (the rules are on the default bus)",
    "EventBusDLQ": "each EventBridge rule's SQS target has the dead-letter queue",
    "IAM4": "no AWS managed policy is attached: every role's permissions are this stack's "
    "customer-managed policies",
    "IAMNoInlinePolicy": "no role has an inline policy: permissions are customer-managed "
    "policies attached through their `Roles`",
    "IAMGroupHasUsers": _NO_USERS,
    "IAMUserGroupMembership": _NO_USERS,
    "IAMUserNoPolicies": _NO_USERS,
    "IAMPolicyNoStatementsWithAdminAccess": "no statement allows `*` actions on `*`",
    "IAMPolicyNoStatementsWithFullAccess": "every action is named; no `service:*` action",
    "KMS5": "the key the stack creates rotates every year",
    "KMSBackingKeyRotationEnabled": "the key the stack creates rotates every year",
    "L1": "the bucket handlers run the newest Python runtime the CDK knows",
    "LambdaLatestVersion": "the bucket handlers run the newest Python runtime the CDK knows",
    "LambdaAsyncFailureDestination": "not applicable: no asynchronous invocation "
    "configuration is created",
    "LambdaDefaultMemorySize": "memory is set for every function (128 MB for bucket handlers, "
    "1,024 MB for continuous registration)",
    "LambdaDefaultTimeout": "every function's timeout is set, from its own deadline",
    "LambdaFunctionPublicAccessProhibited": "no function has a permission for a public or "
    "`*` principal",
    "LambdaStarPermissions": "no function permission has a `*` principal or action",
    "S10": _TLS_ONLY,
    "S3BucketSSLRequestsOnly": _TLS_ONLY,
    "S2": _PRIVATE,
    "S3BucketLevelPublicAccessProhibited": _PRIVATE,
    "S3BucketPublicReadProhibited": _PRIVATE,
    "S3BucketPublicWriteProhibited": _PRIVATE,
    "S5": "not applicable: no CloudFront origin",
    "SQS2": "both queues use SSE-SQS",
    "SQSQueueSSE": "both queues use SSE-SQS",
    "SQS3": "the queue sends a message to the dead-letter queue after 5 receives",
    "SQS4": "both queues deny requests without TLS",
}


@dataclass(frozen=True)
class Rule:
    """One rule of a pack: its ID suffix (``S1``, ``LambdaDLQ``) and its cdk-nag module."""

    name: str
    service: str


@dataclass(frozen=True)
class Acknowledged:
    """An acknowledgement in a validation report: pack, rule, where (normalised), reason."""

    pack: str
    rule: str
    where: str
    reason: str


def pack_rules() -> dict[str, list[Rule]]:
    """Every rule of every pack, in the pack's order, read from cdk-nag's installed bundle."""
    bundle = next((Path(cdk_nag.__file__).parent / "_jsii").glob("cdk-nag@*.jsii.tgz"))
    rules: dict[str, list[Rule]] = {}
    with tarfile.open(bundle) as tar:
        for prefix, file in PACK_FILES.items():
            member = tar.extractfile(f"package/lib/packs/{file}.js")
            assert member is not None, f"cdk-nag has no pack {file}"
            source = member.read().decode()
            found: list[Rule] = []
            for call in source.split("this.applyRule(")[1:]:
                rule = re.search(r"rule: ([a-z0-9]+)_1\.([A-Za-z0-9]+)", call)
                assert rule is not None, f"cannot read a rule of {file}"
                override = re.search(r"ruleSuffixOverride: '([^']+)'", call)
                name = override.group(1) if override else rule.group(2)
                found.append(Rule(name=name, service=rule.group(1)))
            rules[prefix] = found
    return rules


def nag_report(
    config: Mapping[str, Any],
    out_dir: Path,
    *,
    chosen: Iterable[str] | None = None,
    also_run: Iterable[str] = (),
) -> dict[str, Any]:
    """cdk-nag's validation report of `config` synthesized as the app does (without bundling
    the continuous function's asset); `chosen` replaces its ``complianceChecks``, and the
    packs of `also_run` run without their defaults. A finding that is neither fixed nor
    acknowledged raises RuntimeError, as in the app (the report is written first)."""
    import aws_cdk as cdk

    from stacks import compliance
    from stacks.access_stack import EncordAccessStack
    from stacks.config import load_config

    raw = dict(config)
    if chosen is not None:
        raw["complianceChecks"] = list(chosen)
    loaded = load_config(raw, region=REGION)
    app = cdk.App(outdir=str(out_dir), context={"aws:cdk:bundling-stacks": []})
    env = cdk.Environment(account=ACCOUNT, region=REGION)
    EncordAccessStack(app, loaded.stack_name, config=loaded, env=env)
    compliance.add_checks(app, dict.fromkeys([*loaded.compliance_checks, *also_run]))
    app.synth()
    return dict(json.loads((out_dir / "validation-report.json").read_text()))


def acknowledged(report: Mapping[str, Any], stack_name: str) -> list[Acknowledged]:
    """The acknowledgements of `report`, each where it applies, bucket names and logical-ID
    suffixes replaced by placeholders so the page does not depend on the sample's names."""
    names = [b["name"] for b in DOC_CONFIG["buckets"]]
    found = []
    for plugin in report["pluginReports"]:
        for suppressed in plugin.get("suppressedViolations", []):
            rule = suppressed["ruleName"].split("-", 1)[1]
            rule = re.sub(r"\[.*\]$", "", rule)  # IAM5[Resource::...]: one finding per resource
            for construct in suppressed["violatingConstructs"]:
                where = construct["constructPath"].removeprefix(f"{stack_name}/")
                where = where.removesuffix("/Resource")
                for name in names:
                    where = where.replace(name, "<bucket>")
                where = re.sub(r"SqsEventSource:\w+", "SqsEventSource", where)
                reason = suppressed["reason"].strip()
                found.append(Acknowledged(plugin["pluginName"], rule, where, reason))
    return found


def render(rules: Mapping[str, list[Rule]], acks: Mapping[str, list[Acknowledged]]) -> str:
    """The generated part of the page: one section per pack."""
    lines: list[str] = []
    for prefix, pack_list in rules.items():
        pack_acks = acks.get(prefix, [])
        lines += [f"### {prefix}", "", "| Rule | Status | How, or why |", "| --- | --- | --- |"]
        unused: dict[str, list[str]] = {}
        for rule in dict.fromkeys(pack_list):
            rows = _rows(prefix, rule, [a for a in pack_acks if a.rule == rule.name])
            if rows is None:
                unused.setdefault(rule.service, []).append(rule.name)
            lines += rows or []
        lines += [
            "",
            "Not applicable (the stack creates no resource these rules check): "
            + "; ".join(f"{svc}: {', '.join(names)}" for svc, names in sorted(unused.items()))
            + ".",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def _rows(prefix: str, rule: Rule, acks: list[Acknowledged]) -> list[str] | None:
    """The table rows of one rule; None when it is not applicable."""
    rows = []
    if rule.name in FIXED:
        rows.append(f"| {rule.name} | fixed by the pack | {FIXED[rule.name]} |")
    elif rule.name in MET:
        text = MET[rule.name]
        status = "not applicable" if text.startswith(_NOT_APPLICABLE) else "met"
        text = text.removeprefix(_NOT_APPLICABLE)
        rows.append(f"| {rule.name} | {status} | {text} |")
    by_reason: dict[str, list[str]] = {}
    for ack in acks:
        by_reason.setdefault(ack.reason, [])
        if ack.where not in by_reason[ack.reason]:
            by_reason[ack.reason].append(ack.where)
    for reason, wheres in by_reason.items():
        places = ", ".join(f"`{w}`" for w in sorted(wheres))
        rows.append(f"| {rule.name} | acknowledged on {places} | {_cell(reason)} |")
    if rows:
        return rows
    if rule.service in CREATED_SERVICES:
        raise ValueError(
            f"{prefix}-{rule.name} checks {rule.service} resources, which the stack creates, but "
            "it is neither in stacks/compliance_doc.py's FIXED or MET nor acknowledged: "
            "classify it"
        )
    return None


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def generate() -> str:
    """The generated part of the page, from two synths of `DOC_CONFIG` (every pack; none)."""
    acks: dict[str, list[Acknowledged]] = {}
    with tempfile.TemporaryDirectory() as work:
        for chosen, sub in ((PACK_NAMES, "all"), ((), "none")):
            out = Path(work) / sub
            report = nag_report(DOC_CONFIG, out, chosen=chosen)
            for ack in acknowledged(report, str(DOC_CONFIG["stackName"])):
                acks.setdefault(ack.pack, []).append(ack)
    return render(pack_rules(), acks)


def spliced(page: str, generated: str) -> str:
    """`page` with the text between `BEGIN` and `END` replaced by `generated`."""
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n\n{generated}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check``, compare) docs/compliance.md's generated part."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the page is not current")
    args = parser.parse_args(argv)
    page = DOC_PATH.read_text()
    fresh = spliced(page, generate())
    if args.check:
        if fresh != page:
            print(
                "docs/compliance.md is not current: run `make compliance-doc` and commit it",
                file=sys.stderr,
            )
            return 1
        print("docs/compliance.md is current")
        return 0
    DOC_PATH.write_text(fresh)
    print(f"wrote {DOC_PATH.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
