"""Synthesize the access stack in-process (as `cdk synth` would, cdk-nag included) for tests."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: A configuration that turns every feature on: created and existing buckets, listing,
#: a write prefix, a KMS key, a Multi-Region Access Point, two principals.
FULL_CONFIG: dict[str, Any] = {
    "stackName": "EncordAccessFull",
    "trustedPrincipals": ["arn:aws:iam::210987654321:role/encord-access", "210987654322"],
    "externalId": "encord-ext-0123456789",
    "buckets": [
        {"name": "existing-data", "prefixes": ["images/", "videos/"]},
        {
            "name": "scans.eu",
            "prefixes": ["dicom/"],
            "region": "eu-west-1",
            "kmsKeyArn": (
                "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            ),
            "writePrefix": "encord-videos/",
        },
        {"name": "created-data", "create": True},
    ],
    "corsOrigins": ["https://app.encord.com", "https://app.us.encord.com"],
    "allowListing": True,
    "multiRegionAccessPoints": [
        {
            "arn": "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap",
            "buckets": ["existing-data"],
        }
    ],
    "maxSessionDurationHours": 4,
    "roleName": "encord-access-role",
    "permissionsBoundaryArn": "arn:aws:iam::123456789012:policy/boundary",
    "tags": {"team": "ml"},
}

#: The smallest useful configuration: one existing bucket, one prefix.
MINIMAL_CONFIG: dict[str, Any] = {
    "trustedPrincipals": ["210987654321"],
    "externalId": "ext-minimal",
    "buckets": [{"name": "data-bucket", "prefixes": ["images/"]}],
}


@dataclass
class Synthesized:
    """A synthesized access stack: its template and cdk-nag's report."""

    template: dict[str, Any]
    validation_report: dict[str, Any]
    out_dir: Path

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """The template's resources of `resource_type`, by logical ID."""
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == resource_type}

    def one(self, resource_type: str) -> dict[str, Any]:
        """The properties of the single resource of `resource_type`."""
        found = list(self.resources(resource_type).values())
        assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
        return dict(found[0]["Properties"])


def synth(config: dict[str, Any], out_dir: Path, *, extra: Any = None) -> Synthesized:
    """Synthesize `config` into `out_dir` as app.py does; `extra(stack)` may mutate the stack."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk

    from app import add_access_stack
    from stacks.config import load_config

    app = cdk.App(outdir=str(out_dir))
    stack = add_access_stack(app, load_config(config))
    if extra is not None:
        extra(stack)
    app.synth()
    template = json.loads((out_dir / f"{stack.stack_name}.template.json").read_text())
    report_file = out_dir / "validation-report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    return Synthesized(template=template, validation_report=report, out_dir=out_dir)
