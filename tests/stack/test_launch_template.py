"""The launch-stack template (`make template`): self-contained, lint-clean, the CDK stack's twin.

The template is evaluated for several parameter sets with an independent evaluator
(`tests.stack.cfn_eval`), and what it would build is compared with what the CDK app
synthesizes for the same configuration: the same trust, the same policy statement for
statement, the same outputs. The committed files in ``dist/`` are what these tests read, and
``make template --check`` (part of ``make test``) keeps them equal to a fresh build.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from registration.contract import ALL_OUTPUT_KEYS, OUTPUT_CONTINUOUS
from registration.stack_outputs import AccessStackOutputs, parse_outputs
from registration.verify.trust import normalise_principal
from stacks import rules
from tests.stack.cfn_eval import Evaluated, TemplateError, evaluate, parameter_problems
from tests.stack.security import security_problems
from tests.stack.synth import synth

ROOT = Path(__file__).resolve().parents[2]
YAML_FILE = ROOT / "dist" / "encord-access.template.yaml"
JSON_FILE = ROOT / "dist" / "encord-access.template.json"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
EXTERNAL_ID = "encord-ext-0123456789"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (``!If [...]``) back into ``{"Fn::If": [...]}``."""


def _construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt":
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct)


def load_yaml(text: str) -> dict[str, Any]:
    return dict(yaml.load(text, Loader=_CfnLoader))


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return dict(json.loads(JSON_FILE.read_text()))


# (template parameters, the same access as the CDK app's `encord` configuration)
CASES: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "one bucket, whole": (
        {"TrustedPrincipals": "210987654321", "ExternalId": EXTERNAL_ID, "BucketNames": "data-one"},
        {"trustedPrincipals": ["210987654321"], "buckets": [{"name": "data-one"}]},
    ),
    "three buckets, prefixes, key, listing, write prefix": (
        {
            "TrustedPrincipals": "arn:aws:iam::210987654321:role/encord,210987654322",
            "ExternalId": EXTERNAL_ID,
            "BucketNames": "data-one,data.two,data-three",
            "Prefixes": "images/,videos/",
            "KmsKeyArn": KEY,
            "AllowListing": "true",
            "WritePrefix": "encord-videos/",
            "MaxSessionDurationHours": "4",
        },
        {
            "trustedPrincipals": ["arn:aws:iam::210987654321:role/encord", "210987654322"],
            "buckets": [
                {
                    "name": name,
                    "prefixes": ["images/", "videos/"],
                    "kmsKeyArn": KEY,
                    "writePrefix": "encord-videos/",
                }
                for name in ("data-one", "data.two", "data-three")
            ],
            "allowListing": True,
            "maxSessionDurationHours": 4,
        },
    ),
    "three buckets, listing only": (
        {
            "TrustedPrincipals": "210987654321",
            "ExternalId": EXTERNAL_ID,
            "BucketNames": "data-one,data-two,data-three",
            "Prefixes": "scans/",
            "AllowListing": "true",
        },
        {
            "trustedPrincipals": ["210987654321"],
            "buckets": [
                {"name": n, "prefixes": ["scans/"]} for n in ("data-one", "data-two", "data-three")
            ],
            "allowListing": True,
        },
    ),
    "whole bucket with a key and listing": (
        {
            "TrustedPrincipals": "210987654321",
            "ExternalId": EXTERNAL_ID,
            "BucketNames": "data-one,data-two",
            "KmsKeyArn": KEY,
            "AllowListing": "true",
            "MaxSessionDurationHours": "12",
        },
        {
            "trustedPrincipals": ["210987654321"],
            "buckets": [{"name": n, "kmsKeyArn": KEY} for n in ("data-one", "data-two")],
            "allowListing": True,
            "maxSessionDurationHours": 12,
        },
    ),
    "every slot filled": (
        {
            "TrustedPrincipals": "210987654321,210987654322,210987654323",
            "ExternalId": EXTERNAL_ID,
            "BucketNames": ",".join(f"bucket-{i}" for i in range(10)),
            "Prefixes": "a/,b/,c/,d/,e/",
            "KmsKeyArn": KEY,
            "AllowListing": "true",
            "WritePrefix": "w/",
        },
        {
            "trustedPrincipals": ["210987654321", "210987654322", "210987654323"],
            "buckets": [
                {
                    "name": f"bucket-{i}",
                    "prefixes": ["a/", "b/", "c/", "d/", "e/"],
                    "kmsKeyArn": KEY,
                    "writePrefix": "w/",
                }
                for i in range(10)
            ],
            "allowListing": True,
        },
    ),
}


def cdk_config(config: dict[str, Any]) -> dict[str, Any]:
    return {"stackName": "LaunchTwin", "externalId": EXTERNAL_ID, **config}


@pytest.fixture(scope="module")
def twins(
    tmp_path_factory: pytest.TempPathFactory, template: dict[str, Any]
) -> dict[str, tuple[Evaluated, Evaluated]]:
    """Per case: (the template evaluated with its parameters, the CDK app's template evaluated)."""
    result = {}
    for name, (params, config) in CASES.items():
        out = tmp_path_factory.mktemp("twin")
        app = synth(cdk_config(config), out).template
        result[name] = (evaluate(template, params), evaluate(app, {}))
    return result


def _one(evaluated: Evaluated, resource_type: str) -> dict[str, Any]:
    """Encord's role or policy (the CDK app also has its CORS handlers' roles)."""
    (resource,) = [
        r
        for logical_id, r in evaluated.of_type(resource_type).items()
        if logical_id.startswith(("EncordAccessEncordRole", "EncordAccessAccessPolicy"))
    ]
    return dict(resource["Properties"])


def _trust(role: dict[str, Any]) -> set[tuple[str, str]]:
    """(principal as an ARN, external ID) of each trusted principal: IAM stores an account ID
    as ``arn:aws:iam::ID:root`` and one statement per principal or one for several alike."""
    pairs = set()
    for statement in role["AssumeRolePolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
        principals = statement["Principal"]["AWS"]
        for principal in principals if isinstance(principals, list) else [principals]:
            arn = rules.ACCOUNT_ID.match(principal) and f"arn:aws:iam::{principal}:root"
            pairs.add((arn or principal, statement["Condition"]["StringEquals"]["sts:ExternalId"]))
    return pairs


def _single_as_scalar(value: Any) -> Any:
    """A policy with each one-element list written as its element, as IAM reads it (the
    template keeps the list when its other slots are empty)."""
    if isinstance(value, dict):
        return {k: _single_as_scalar(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_single_as_scalar(v) for v in value]
        return items[0] if len(items) == 1 and not isinstance(items[0], dict) else items
    return value


def _outputs(evaluated: Evaluated) -> AccessStackOutputs:
    raw = {k: str(v) for k, v in evaluated.outputs.items()}
    return parse_outputs(raw, stack_name="LaunchTest", source="template")


# --- the artifact itself -------------------------------------------------------------------


def test_yaml_and_json_files_hold_the_same_template(template: dict[str, Any]) -> None:
    assert load_yaml(YAML_FILE.read_text()) == template


def test_template_stands_alone(template: dict[str, Any]) -> None:
    """No bootstrap, assets, code or CDK metadata: only the role and its policy."""
    types = sorted(r["Type"] for r in template["Resources"].values())
    assert types == ["AWS::IAM::ManagedPolicy", "AWS::IAM::Role"]
    text = JSON_FILE.read_text()
    for absent in ("BootstrapVersion", "cdk-bootstrap", "AWS::CDK::Metadata", "aws:cdk:", "Lambda"):
        assert absent not in text
    assert "Rules" in template and "CheckBootstrapVersion" not in template["Rules"]


def test_cfn_lint_with_informational_rules_is_clean() -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--include-checks",
            "I",
            "--",
            str(YAML_FILE),
            str(JSON_FILE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_outputs_are_the_cdk_stacks_plus_the_next_commands(template: dict[str, Any]) -> None:
    outputs = set(template["Outputs"])
    assert outputs == (set(ALL_OUTPUT_KEYS) - {OUTPUT_CONTINUOUS}) | {
        "CorsApplyCommand",
        "VerifyCommand",
    }
    evaluated = evaluate(template, CASES["one bucket, whole"][0], stack_name="encord-access")
    assert evaluated.outputs["CorsApplyCommand"] == (
        "encord-register cors apply --stack encord-access --region us-east-1"
    )
    assert evaluated.outputs["VerifyCommand"] == (
        "encord-register verify --stack encord-access --region us-east-1"
    )


# --- the CDK stack's twin ------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
def test_trust_and_policy_equal_the_cdk_stacks(
    case: str, twins: dict[str, tuple[Evaluated, Evaluated]]
) -> None:
    launched, app = twins[case]
    role, app_role = _one(launched, "AWS::IAM::Role"), _one(app, "AWS::IAM::Role")
    assert _trust(role) == _trust(app_role)
    assert role["MaxSessionDuration"] == app_role["MaxSessionDuration"]
    policy = _one(launched, "AWS::IAM::ManagedPolicy")["PolicyDocument"]
    app_policy = _one(app, "AWS::IAM::ManagedPolicy")["PolicyDocument"]
    assert _single_as_scalar(policy) == _single_as_scalar(app_policy)


@pytest.mark.parametrize("case", list(CASES))
def test_outputs_read_as_the_cdk_stacks(
    case: str, twins: dict[str, tuple[Evaluated, Evaluated]]
) -> None:
    launched, app = _outputs(twins[case][0]), _outputs(twins[case][1])
    assert launched.role_arn.startswith("<") and launched.external_id == EXTERNAL_ID
    assert [
        (b.name, b.region, b.prefixes, b.created, b.write_prefix, b.kms_key_arn)
        for b in launched.buckets
    ] == [
        (b.name, b.region, b.prefixes, b.created, b.write_prefix, b.kms_key_arn)
        for b in app.buckets
    ]
    # `cors apply --stack` names the rule after the stack, as the CDK stack's first versions did.
    assert {b.cors_rule_id for b in launched.buckets} == {"encord-access-LaunchTest"}
    assert launched.cors_origins == app.cors_origins
    assert launched.allow_listing == app.allow_listing
    assert launched.mraps == () and launched.continuous is None
    # As given (an account ID stays one); `verify` compares them as IAM ARNs.
    assert {normalise_principal(p) for p in launched.trusted_principals} == {
        normalise_principal(p) for p in app.trusted_principals
    }


@pytest.mark.parametrize("case", list(CASES))
def test_no_security_problems(case: str, twins: dict[str, tuple[Evaluated, Evaluated]]) -> None:
    config = CASES[case][1]
    launched = {"Resources": twins[case][0].resources}
    assert security_problems(launched, cdk_config(config)) == []


def test_a_broken_slot_is_caught_by_the_security_reader(template: dict[str, Any]) -> None:
    """The reader sees through the template: a read grant that ignores its prefix slot fails."""
    broken = json.loads(json.dumps(template))
    (policy,) = [r for r in broken["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    read = policy["Properties"]["PolicyDocument"]["Statement"][0]
    assert read["Action"] == "s3:GetObject"
    # Bucket 1 with prefix 2, switched by the bucket's condition instead of the prefix's.
    assert read["Resource"][1]["Fn::If"][0] == "Prefix2Given"
    read["Resource"][1]["Fn::If"][0] = "Bucket2Given"
    params, config = CASES["three buckets, listing only"]
    evaluated = evaluate(broken, params)
    assert security_problems({"Resources": evaluated.resources}, cdk_config(config)) != []


# --- parameters: the same guidance as the configuration ------------------------------------

GOOD = {
    "TrustedPrincipals": [
        "210987654321",
        "arn:aws:iam::210987654321:root",
        "arn:aws:iam::210987654321:role/encord/access,210987654322",
    ],
    "ExternalId": ["encord-ext-0123456789", "a+b=c,d.e@f:g/h-i_j"],
    "BucketNames": [
        "data",
        "my.data-bucket,other-bucket",
        ",".join(f"b-{i:02}" for i in range(10)),
    ],
    "Prefixes": ["", "images/", "images/,videos/2024/", "a b/ü/", "a/,b/,c/,d/,e/"],
    "KmsKeyArn": ["", KEY],
    "WritePrefix": ["", "encord-videos/"],
    "CorsOrigins": ["https://app.encord.com", "https://app.encord.com,https://localhost:8443"],
}
BAD = {
    "TrustedPrincipals": [
        "",
        "*",
        "21098765432",
        "210987654321, 210987654322",
        "arn:aws:iam::*:root",
    ],
    "ExternalId": ["short", "has space in it", "x" * 1225],
    "BucketNames": [
        "",
        "UPPER",
        "a",
        "data,,more",
        "data, more",
        ",".join(f"b-{i:02}" for i in range(11)),
    ],
    "Prefixes": [
        "/images/",
        "images/*",
        "a//b/",
        "a/../b/",
        "./a/",
        "a,",
        'quo"te/',
        "a/,b/,c/,d/,e/,f/",
    ],
    "KmsKeyArn": [
        "alias/aws/s3",
        "arn:aws:kms:us-east-1:123456789012:alias/data",
        "arn:aws:s3:::x",
    ],
    "WritePrefix": ["/w/", "w*", "a/,b/"],
    "CorsOrigins": [
        "*",
        "http://app.encord.com",
        "https://app.encord.com/",
        "https://*.encord.com",
    ],
}


def _problems(template: dict[str, Any], name: str, value: str) -> list[str]:
    values = {**CASES["one bucket, whole"][0], name: value}
    return [p for p in parameter_problems(template, values) if p.startswith(f"{name}:")]


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in GOOD.items() for v in vs])
def test_parameter_accepts(template: dict[str, Any], name: str, value: str) -> None:
    assert _problems(template, name, value) == []


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in BAD.items() for v in vs])
def test_parameter_refuses_with_guidance(template: dict[str, Any], name: str, value: str) -> None:
    problems = _problems(template, name, value)
    assert problems, f"{name}={value!r} was accepted"
    spec = template["Parameters"][name]
    assert spec["ConstraintDescription"] in " ".join(problems)


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, vs in BAD.items() for v in vs if v])
def test_what_the_parameters_refuse_the_configuration_refuses_too(name: str, value: str) -> None:
    """Each refused value is one the CDK app's configuration checks also refuse (or, for a
    list, an item of it), so the two give the same guidance."""
    items = value.split(",") if name != "ExternalId" else [value]
    check = {
        "TrustedPrincipals": rules.principal_problem,
        "ExternalId": rules.external_id_problem,
        "BucketNames": rules.bucket_name_problem,
        "Prefixes": lambda p: rules.prefix_problem(p, empty_hint=""),
        "WritePrefix": lambda p: rules.prefix_problem(p, empty_hint=""),
        "KmsKeyArn": lambda k: None if rules.KMS_KEY_ARN.match(k) else "not a key ARN",
        "CorsOrigins": rules.origin_problem,
    }[name]
    refused = [i for i in items if check(i.strip()) or i != i.strip()]
    too_many = {"BucketNames": 10, "Prefixes": 5, "TrustedPrincipals": 3}.get(name, 1)
    assert refused or len(items) > too_many or any('"' in i or "\\" in i for i in items)


def test_parameters_are_in_the_console_groups(template: dict[str, Any]) -> None:
    interface = template["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for g in interface["ParameterGroups"] for p in g["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"])
    assert set(interface["ParameterLabels"]) == set(template["Parameters"])
    assert template["Parameters"]["ExternalId"]["NoEcho"] is True
    assert template["Parameters"]["ExternalId"]["MinLength"] == rules.MIN_EXTERNAL_ID_CHARS


def test_a_write_prefix_needs_read_prefixes(template: dict[str, Any]) -> None:
    params = {**CASES["one bucket, whole"][0], "WritePrefix": "encord-videos/"}
    with pytest.raises(TemplateError, match="outside all of them"):
        evaluate(template, params)
    evaluate(template, {**params, "Prefixes": "images/"})  # fine with read prefixes


def test_too_many_buckets_are_refused_with_the_limit(template: dict[str, Any]) -> None:
    params = {
        **CASES["one bucket, whole"][0],
        "BucketNames": ",".join(f"bucket-{i}" for i in range(11)),
    }
    with pytest.raises(TemplateError, match=re.escape("1 to 10 comma-separated bucket names")):
        evaluate(template, params)


def test_the_docs_parameter_table_is_the_templates(template: dict[str, Any]) -> None:
    """docs/launch-template.md lists every parameter once, with the template's default."""
    page = (ROOT / "docs" / "launch-template.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", page, flags=re.MULTILINE)
    assert [name for name, _ in rows] == list(template["Parameters"])
    for name, shown in rows:
        spec = template["Parameters"][name]
        if "Default" not in spec:
            assert shown.strip() == "(required)", name
        elif spec["Default"] == "":
            assert shown.startswith("empty"), name
        else:
            assert shown.strip() == f"`{spec['Default']}`", name
