"""The `encord` configuration: defaults, overrides, and one clear message per mistake."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from registration.contract import DEFAULT_CORS_ORIGINS
from stacks.config import ConfigError, config_from_context, load_config, merge_context

REPO = Path(__file__).resolve().parents[3]
GOOD: dict[str, Any] = {
    "trustedPrincipals": ["210987654321"],
    "externalId": "encord-ext-123",
    "buckets": [{"name": "data-bucket", "prefixes": ["images/"]}],
}


def problems_of(**changes: Any) -> list[str]:
    config = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    return caught.value.problems


def test_defaults() -> None:
    config = load_config(GOOD)
    assert config.cors_origins == DEFAULT_CORS_ORIGINS
    assert config.cors_max_age_seconds == 3600
    assert config.allow_listing is False
    assert config.max_session_hours == 1
    assert config.stack_name == "EncordAccess"
    (bucket,) = config.buckets
    assert bucket.create is False and bucket.prefixes == ("images/",)


def test_prefixes_default_to_the_whole_bucket_and_a_bucket_may_be_a_bare_name() -> None:
    config = load_config({**GOOD, "buckets": ["whole-bucket"]})
    assert config.buckets[0].prefixes == ("",)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"externalId": None}, "encord.externalId: missing"),
        ({"externalId": ""}, "New integration"),
        ({"trustedPrincipals": None}, "encord.trustedPrincipals: missing"),
        ({"trustedPrincipals": []}, "New integration"),
        ({"trustedPrincipals": ["12345"]}, "neither a 12-digit AWS account ID nor an IAM ARN"),
        ({"trustedPrincipals": ["arn:aws:iam::21098765432:root"]}, "neither a 12-digit"),
        ({"trustedPrincipals": ["arn:aws:s3:::bucket"]}, "neither a 12-digit"),
        ({"trustedPrincipals": ["*"]}, "would let anyone assume the role"),
        ({"trustedPrincipals": ["arn:aws:iam::*:root"]}, "would let anyone assume the role"),
        ({"corsOrigins": ["*"]}, "a wildcard origin"),
        ({"corsOrigins": ["https://*.encord.com"]}, "a wildcard origin"),
        ({"corsOrigins": ["http://app.encord.com"]}, "must use https://"),
        ({"corsOrigins": ["https://app.encord.com/"]}, "without a path or trailing slash"),
        ({"corsOrigins": []}, "non-empty list of https origins"),
        ({"buckets": [{"name": "My_Bucket"}]}, "is not a valid bucket name"),
        ({"buckets": [{"name": "ab"}]}, "is not a valid bucket name"),
        ({"buckets": [{"name": "192.168.1.1"}]}, "IP address"),
        ({"buckets": [{"name": "a..b"}]}, "'..'"),
        ({"buckets": None}, "encord.buckets: missing"),
        ({"buckets": [{"name": "data", "prefixes": [""]}]}, "an empty prefix"),
        ({"buckets": [{"name": "data", "prefixes": []}]}, "non-empty list of key prefixes"),
        ({"buckets": [{"name": "data", "prefixes": ["/images/"]}]}, "drop the leading slash"),
        ({"buckets": [{"name": "data", "prefixes": ["images/*"]}]}, "wildcards are not allowed"),
        ({"buckets": [{"name": "data", "prefixes": ["a//b/"]}]}, "path segments"),
        ({"buckets": [{"name": "data", "writePrefix": ""}]}, "writePrefix: '': an empty prefix"),
        (
            {
                "buckets": [
                    {"name": "data", "kmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:alias/aws/s3"}
                ]
            },
            "an alias ARN or the AWS-managed aws/s3 key",
        ),
        ({"buckets": [{"name": "data", "kmsKeyArn": "1234abcd-12ab"}]}, "a KMS key ARN"),
        ({"buckets": [{"name": "data", "region": "europe"}]}, "an AWS region"),
        ({"buckets": [{"name": "data"}, {"name": "data"}]}, "is listed twice"),
        ({"buckets": [{"name": "data", "create": "yes"}]}, "expected true or false"),
        (
            {"buckets": [{"name": "data", "create": True, "region": "eu-west-1"}]},
            "a bucket the stack creates lives in the stack's region",
        ),
        ({"buckets": [{"name": "data", "prefix": ["a/"]}]}, "prefix: unknown setting"),
        ({"maxSessionDurationHours": 0}, "from 1 to 12"),
        ({"maxSessionDurationHours": 13}, "from 1 to 12"),
        ({"maxSessionDurationHours": 1.5}, "from 1 to 12"),
        ({"allowListing": "true"}, "expected true or false"),
        ({"roleName": "has space"}, "encord.roleName"),
        ({"permissionsBoundaryArn": "boundary"}, "an IAM managed policy ARN"),
        (
            {
                "multiRegionAccessPoints": [
                    {"arn": "arn:aws:s3:::bucket", "buckets": ["data-bucket"]}
                ]
            },
            "Multi-Region Access Point ARN",
        ),
        (
            {
                "multiRegionAccessPoints": [
                    {"arn": "arn:aws:s3::123456789012:accesspoint/abc.mrap", "buckets": ["other"]}
                ]
            },
            "are not in encord.buckets",
        ),
        ({"extrnalId": "x"}, "encord.extrnalId: unknown setting"),
        ({"tags": {"team": 1}}, "encord.tags"),
    ],
)
def test_each_mistake_has_its_message(changes: dict[str, Any], expected: str) -> None:
    problems = problems_of(**changes)
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_at_once_with_what_was_received() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(
            {
                "trustedPrincipals": ["*"],
                "buckets": [
                    {"name": "Bad_Name", "prefixes": ["/x"]},
                    {"name": "ok-bucket"},
                    {"name": "ok-bucket"},
                ],
                "corsOrigins": ["http://example.com"],
                "maxSessionDurationHours": 24,
            }
        )
    message = str(caught.value)
    assert "(7 problems)" in message
    for fragment in (
        "'*'",
        "externalId: missing",
        "'Bad_Name'",
        "'/x'",
        "listed twice",
        "http://example.com",
        "received 24",
    ):
        assert fragment in message
    assert "cdk.json" in message


def test_merge_context_overrides_single_settings_and_whole_objects() -> None:
    base = {"externalId": "a", "buckets": ["x-bucket"]}
    merged = merge_context(
        base, {"encord.externalId": "b", "encord.allowListing": "true", "other": 1}
    )
    assert merged == {"externalId": "b", "buckets": ["x-bucket"], "allowListing": True}
    assert merge_context(json.dumps(GOOD), {}) == GOOD  # `-c encord='{...}'` arrives as a string


def test_config_from_context_reads_the_object_and_its_overrides_only() -> None:
    context = {"encord": json.dumps(GOOD), "encord.externalId": "encord-ext-456", "other.key": "x"}
    config = config_from_context(context)
    assert config.external_id == "encord-ext-456"
    assert config.trusted_principals == ("210987654321",)
    with pytest.raises(ConfigError, match="encord: missing"):
        config_from_context({"other.key": "x"})


def test_multi_region_access_point_alias_and_account() -> None:
    arn = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"
    config = load_config(
        {**GOOD, "multiRegionAccessPoints": [{"arn": arn, "buckets": ["data-bucket"]}]}
    )
    assert config.mraps[0].alias == "mfzwi23gnjvgw.mrap"
    assert config.mraps[0].account == "123456789012"


def _run_app(
    context: dict[str, Any], tmp_path: Path, **environ: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(tmp_path),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        **environ,
    }
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.xdist_group("cdk")
def test_app_stops_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    result = _run_app({"encord": {**GOOD, "externalId": None, "corsOrigins": ["*"]}}, tmp_path)
    assert result.returncode == 2
    assert "invalid `encord` configuration (2 problems)" in result.stderr
    assert "externalId: missing" in result.stderr and "a wildcard origin" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not list(tmp_path.glob("*.template.json"))


@pytest.mark.xdist_group("cdk")
def test_app_applies_single_setting_overrides(tmp_path: Path) -> None:
    context = {
        "encord": GOOD,
        "encord.stackName": "OverriddenStack",
        "encord.corsMaxAgeSeconds": "600",
    }
    result = _run_app(context, tmp_path)
    assert result.returncode == 0, result.stderr
    template = json.loads((tmp_path / "OverriddenStack.template.json").read_text())
    custom = [r for r in template["Resources"].values() if r["Type"] == "Custom::EncordBucketCors"]
    assert custom[0]["Properties"]["MaxAgeSeconds"] == "600"


# --- issue 11: external ID, write prefix, access points, KMS region, JSON in -c values ------

KEY_EU = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MRAP = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"
SAMPLE = json.loads((REPO / "cdk.json").read_text())["context"]["encord"]


@pytest.mark.parametrize(
    ("external_id", "expected"),
    [
        (SAMPLE["externalId"], "the sample's placeholder, not your external ID; copy it from"),
        ("<the external ID from the dialog>", "the sample's placeholder"),
        ("ab", "only 2 characters, but an external ID must have at least 8"),
        ("x" * 1225, "AWS allows at most 1224"),
    ],
)
def test_an_external_id_that_cannot_be_encords_is_refused(external_id: str, expected: str) -> None:
    (problem,) = problems_of(externalId=external_id)
    assert problem.startswith("encord.externalId: received ")
    assert expected in problem
    if "1224" not in expected:
        assert "Integrations > New integration > AWS S3" in problem


def test_the_sample_configuration_is_refused_until_the_external_id_is_encords() -> None:
    with pytest.raises(ConfigError, match="the sample's placeholder") as caught:
        load_config(SAMPLE)
    assert len(caught.value.problems) == 1
    config = load_config({**SAMPLE, "externalId": "0f3c9a6e-sample-encord-external-id"})
    assert config.uses_placeholder_principal  # still only a warning


@pytest.mark.parametrize(
    ("bucket", "why"),
    [
        ({"prefixes": ["images/"], "writePrefix": "images/"}, "equals the read prefix 'images/'"),
        (
            {"prefixes": ["images/"], "writePrefix": "images/encord/"},
            "sits inside the read prefix 'images/'",
        ),
        ({"prefixes": ["images/cats/"], "writePrefix": "images/"}, "contains the read prefix"),
        ({"prefixes": ["images"], "writePrefix": "images-videos/"}, "sits inside the read prefix"),
        ({"writePrefix": "encord-videos/"}, "the whole bucket is readable"),
    ],
)
def test_a_write_prefix_over_the_data_read_is_refused(bucket: dict[str, Any], why: str) -> None:
    (problem,) = problems_of(buckets=[{"name": "data-bucket", **bucket}])
    assert problem.startswith("encord.buckets[0] (data-bucket).writePrefix: ")
    assert why in problem and "could overwrite your source data" in problem


def test_a_write_prefix_beside_the_read_prefixes_is_accepted() -> None:
    bucket = {"name": "data-bucket", "prefixes": ["images/"], "writePrefix": "encord-videos/"}
    (loaded,) = load_config({**GOOD, "buckets": [bucket]}).buckets
    assert loaded.write_prefix == "encord-videos/"


@pytest.mark.parametrize(
    ("second", "shown"),
    [
        ({"prefixes": ["dicom/"]}, "'scans-b': prefixes ['dicom/']"),
        ({"prefixes": ["images/"], "writePrefix": "encord/"}, "write prefix 'encord/'"),
        ({}, "'scans-b': prefixes the whole bucket"),
    ],
)
def test_an_access_point_over_buckets_with_different_grants_is_refused(
    second: dict[str, Any], shown: str
) -> None:
    buckets = [{"name": "scans-a", "prefixes": ["images/"]}, {"name": "scans-b", **second}]
    mraps = [{"arn": MRAP, "buckets": ["scans-a", "scans-b"]}]
    (problem,) = problems_of(buckets=buckets, multiRegionAccessPoints=mraps)
    assert problem.startswith("encord.multiRegionAccessPoints[0].buckets: ")
    assert "must have the same prefixes and write prefix" in problem
    assert "'scans-a': prefixes ['images/'], write prefix None" in problem and shown in problem


def test_an_access_point_over_buckets_with_the_same_grants_is_accepted() -> None:
    buckets = [{"name": n, "prefixes": ["images/", "videos/"]} for n in ("scans-a", "scans-b")]
    mraps = [{"arn": MRAP, "buckets": ["scans-a", "scans-b"]}]
    config = load_config({**GOOD, "buckets": buckets, "multiRegionAccessPoints": mraps})
    assert config.mraps[0].buckets == ("scans-a", "scans-b")


def test_a_kms_key_in_another_region_than_its_bucket_is_refused() -> None:
    (problem,) = problems_of(
        buckets=[{"name": "data-bucket", "region": "us-east-1", "kmsKeyArn": KEY_EU}]
    )
    assert problem.startswith("encord.buckets[0] (data-bucket).kmsKeyArn: ")
    assert "the key is in eu-west-1 but the bucket is in us-east-1" in problem
    # Without `region` the bucket is in the stack's region, which the app passes when known.
    bucket = {"name": "data-bucket", "kmsKeyArn": KEY_EU}
    assert load_config({**GOOD, "buckets": [bucket]}).buckets[0].kms_key_arn == KEY_EU
    with pytest.raises(ConfigError, match="the bucket is in us-east-1"):
        load_config({**GOOD, "buckets": [bucket]}, region="us-east-1")
    with pytest.raises(ConfigError, match="the bucket is in us-east-1"):
        load_config({**GOOD, "buckets": [{**bucket, "create": True}]}, region="us-east-1")
    assert load_config({**GOOD, "buckets": [bucket]}, region="eu-west-1").buckets


def test_bad_json_in_a_context_value_shows_the_json_error_and_where() -> None:
    trailing = '{"trustedPrincipals": ["210987654321"], "buckets": ["data-bucket"],}'
    with pytest.raises(ConfigError) as caught:
        config_from_context({"encord": trailing})
    (problem,) = caught.value.problems
    assert problem.startswith("encord: not valid JSON: Expecting property name enclosed in")
    assert "at line 1 column 68, just after '..." in problem
    assert problem.endswith(
        '"buckets": ["data-bucket"],\' (JSON allows no comma before a closing ] or })'
    )
    assert "no comma before a closing ] or }" in problem
    with pytest.raises(ConfigError) as caught:
        config_from_context({"encord": GOOD, "encord.buckets": '[{"name": "data-bucket"},]'})
    (problem,) = caught.value.problems
    assert problem.startswith("encord.buckets: not valid JSON: Expecting value at line 1 column 26")


def test_multi_line_json_is_accepted_and_a_first_line_alone_says_why() -> None:
    pretty = json.dumps(GOOD, indent=2)
    assert "\n" in pretty
    assert config_from_context({"encord": pretty}).external_id == GOOD["externalId"]
    assert merge_context({}, {"encord.buckets": '[\n"data-bucket"\n]'}) == {
        "buckets": ["data-bucket"]
    }
    # The CDK CLI keeps a -c value up to its first newline: the app receives "{" alone.
    with pytest.raises(ConfigError) as caught:
        config_from_context({"encord": pretty.splitlines()[0]})
    (problem,) = caught.value.problems
    assert "the CDK CLI passed only the first one" in problem
    assert "Write it on one line" in problem and "cdk.json" in problem


@pytest.mark.xdist_group("cdk")
def test_app_checks_the_key_against_the_region_it_deploys_to(tmp_path: Path) -> None:
    bucket = {"name": "data-bucket", "prefixes": ["images/"], "kmsKeyArn": KEY_EU}
    result = _run_app(
        {"encord": {**GOOD, "buckets": [bucket]}}, tmp_path, CDK_DEFAULT_REGION="us-east-1"
    )
    assert result.returncode == 2
    assert "encord.buckets[0] (data-bucket).kmsKeyArn: the key is in eu-west-1" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
