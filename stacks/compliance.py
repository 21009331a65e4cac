"""cdk-nag's packs by their ``complianceChecks`` names, and the one way this app acknowledges a
rule that does not apply.

AwsSolutions always runs (`add_checks`); the packs of `stacks.config_compliance.PACK_NAMES`
run when chosen. A rule the app does not follow is acknowledged next to the construct it is
about, with `acknowledge`: for every pack that has the rule (`RULE_PACKS`), on that construct
only, with the reason a reviewer reads in docs/compliance.md (generated from these
acknowledgements, `stacks.compliance_doc`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

import aws_cdk as cdk
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NagPack,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)
from constructs import IConstruct

AWS_SOLUTIONS: Final = "AwsSolutions"
HIPAA: Final = "HIPAA.Security"
NIST: Final = "NIST.800.53.R5"
PCI: Final = "PCI.DSS.321"
SERVERLESS: Final = "Serverless"

#: cdk-nag's rule-ID prefix of each pack, by its ``complianceChecks`` name.
PACK_PREFIXES: Final[Mapping[str, str]] = {
    "hipaa": HIPAA,
    "nist-800-53-r5": NIST,
    "pci-dss-3.2.1": PCI,
    "serverless": SERVERLESS,
}
_PACK_CLASSES: Final[Mapping[str, type[NagPack]]] = {
    "hipaa": HIPAASecurityChecks,
    "nist-800-53-r5": NIST80053R5Checks,
    "pci-dss-3.2.1": PCIDSS321Checks,
    "serverless": ServerlessChecks,
}

#: The packs that have each rule this app acknowledges somewhere (checked against cdk-nag's
#: own pack definitions by tests/stack/test_compliance.py).
RULE_PACKS: Final[Mapping[str, tuple[str, ...]]] = {
    "LambdaInsideVPC": (HIPAA, NIST, PCI),
    "LambdaDLQ": (HIPAA, NIST, SERVERLESS),
    "LambdaEventSourceMappingDestination": (SERVERLESS,),
    "LambdaLatestVersion": (SERVERLESS,),
    "SQSRedrivePolicy": (SERVERLESS,),
    "DynamoDBInBackupPlan": (HIPAA, NIST),
    "S3BucketReplicationEnabled": (HIPAA, NIST, PCI),
    "S3DefaultEncryptionKMS": (HIPAA, NIST, PCI),
}


def add_checks(app: cdk.App, chosen: Iterable[str]) -> None:
    """Run AwsSolutions and the `chosen` packs (``complianceChecks`` names) on every synth."""
    packs = [AwsSolutionsChecks(app), *(_PACK_CLASSES[name](app) for name in chosen)]
    cdk.Validations.of(app).add_plugins(*packs)


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge `rule` (``LambdaInsideVPC``) on `scope` for every pack that has it."""
    for prefix in RULE_PACKS[rule]:
        cdk.Validations.of(scope).acknowledge(
            cdk.Acknowledgment(id=f"{prefix}::{prefix}-{rule}", reason=reason)
        )


#: How the CDK reports findings that fail synthesis (a RuntimeError from ``app.synth()``).
_REPORT = re.compile(
    r"ValidationFailed:.*?report can be found in: (\S+validation-report\.json)", re.DOTALL
)


def validation_failure(exc: BaseException) -> str | None:
    """A message for findings that failed synthesis: each rule ID and where; None when `exc` is
    something else. The CDK has printed each finding's description above it."""
    match = _REPORT.search(str(exc))
    if match is None:
        return None
    findings: list[str] = []
    report = Path(match.group(1))
    if report.is_file():
        for plugin in json.loads(report.read_text()).get("pluginReports", []):
            for violation in plugin.get("violations", []):
                for where in violation.get("violatingConstructs", []):
                    path = where.get("constructPath", "?").removesuffix("/Resource")
                    findings.append(f"{violation['ruleName']} on {path}")
    listed = "".join(f"\n  - {f}" for f in findings) or f" (see {report})"
    return (
        f"cdk-nag found {len(findings) or 'some'} finding(s) that are neither fixed nor "
        f"acknowledged:{listed}\nEach is described above. A setting of the `encord` "
        "configuration written as false (versioned, accessLogs, tracing) turns off what the "
        "chosen complianceChecks pack asks for; docs/compliance.md says what each rule needs."
    )
