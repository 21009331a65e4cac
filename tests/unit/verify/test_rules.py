"""The pure parts of `verify`: trust analysis, CORS matching, archive states, encryption,
target building, preflight answers, rendering, and the first-call credential rule."""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from registration.contract import DEFAULT_CORS_ORIGINS
from registration.errors import AuthError, UsageError
from registration.stack_outputs import AccessStackOutputs, BucketOutput
from registration.verify.aws import AwsClients, custom_endpoint
from registration.verify.cors_rules import check_origin
from registration.verify.encryption import default_encryption, names_aws_managed_key
from registration.verify.model import Report, Status, failed, not_checked, passed
from registration.verify.preflight import object_url, send_preflight
from registration.verify.render import human_lines, to_json
from registration.verify.storage import archive_problem
from registration.verify.target import TargetFlags, build_target
from registration.verify.trust import analyse_trust, principal_mismatch

ENCORD = "arn:aws:iam::111122223333:root"
ORIGIN = "https://app.encord.com"


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def grant(condition: dict[str, Any] | None = None, principal: Any = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal or {"AWS": ENCORD},
        "Action": "sts:AssumeRole",
    }
    if condition is not None:
        statement["Condition"] = condition
    return statement


# ----------------------------------------------------------------------------- trust


def test_trust_with_the_external_id() -> None:
    analysis = analyse_trust(
        trust(grant({"StringEquals": {"sts:ExternalId": "abc"}})), expected_external_id="abc"
    )
    assert analysis.aws_principals == (ENCORD,)
    assert not analysis.wildcard
    assert analysis.external_id_problems == []


@pytest.mark.parametrize(
    ("condition", "problem", "missing"),
    [
        (None, "has no sts:ExternalId condition", True),
        ({"StringLike": {"sts:ExternalId": "*"}}, "checks sts:ExternalId with StringLike", True),
        (
            {"StringEquals": {"sts:ExternalId": "other"}},
            "requires an external ID that differs from the expected one",
            False,
        ),
        (
            {"StringEquals": {"sts:ExternalId": ["abc", "other"]}},
            "accepts other external IDs besides the expected one",
            False,
        ),
    ],
)
def test_trust_problems(condition: Any, problem: str, missing: bool) -> None:
    (finding,) = analyse_trust(trust(grant(condition)), "abc").external_id_problems
    assert finding.problem is not None and finding.problem.startswith(problem)
    assert finding.missing is missing
    assert "abc" not in finding.problem


def test_every_grant_needs_the_external_id() -> None:
    good = grant({"StringEquals": {"sts:ExternalId": "abc"}})
    second = grant(principal={"AWS": "arn:aws:iam::999988887777:root"})
    second["Sid"] = "Legacy"
    bad = analyse_trust(trust(good, second), "abc").external_id_problems
    assert [(b.where, b.principals) for b in bad] == [
        ("statement 'Legacy'", ("arn:aws:iam::999988887777:root",))
    ]


def test_trust_wildcards_and_other_statements() -> None:
    assert analyse_trust(trust(grant(principal="*")), None).wildcard
    assert analyse_trust(trust(grant(principal={"AWS": ["*"]})), None).wildcard
    not_principal = {"Effect": "Allow", "NotPrincipal": {"AWS": ENCORD}, "Action": "sts:*"}
    assert analyse_trust(trust(not_principal), None).wildcard
    web = {"Effect": "Allow", "Principal": {"Federated": "x"}, "Action": "sts:TagSession"}
    assert analyse_trust(trust(web), None).grants == ()


def test_unknown_external_id_only_needs_one_pinned_value() -> None:
    pinned = analyse_trust(trust(grant({"StringEquals": {"sts:ExternalId": "abc"}})), None)
    assert pinned.external_id_problems == []


def test_principal_mismatch_normalises_account_ids() -> None:
    assert principal_mismatch([ENCORD], ["111122223333"]) == ([], [])
    assert principal_mismatch([ENCORD], ["arn:aws:iam::1:role/x"]) == (
        [ENCORD],
        ["arn:aws:iam::1:role/x"],
    )


# ----------------------------------------------------------------------------- CORS


RULE = {
    "ID": "encord",
    "AllowedOrigins": [ORIGIN],
    "AllowedMethods": ["GET", "HEAD"],
    "AllowedHeaders": ["*"],
    "ExposeHeaders": ["ETag", "Content-Length", "Content-Range", "Accept-Ranges"],
}


def test_cors_rule_that_serves_the_origin() -> None:
    finding = check_origin([RULE], ORIGIN)
    assert finding.ok
    assert finding.rule_ids == ("encord",)


def test_cors_wildcard_origins() -> None:
    rule = {**RULE, "AllowedOrigins": ["https://*.encord.com"]}
    assert check_origin([rule], "https://app.us.encord.com").ok
    assert check_origin([rule], "HTTPS://APP.ENCORD.COM").ok
    assert check_origin([rule], "https://app.encord.com").wildcard_origin
    assert not check_origin([rule], "https://encord.com.evil.example").ok


def test_cors_first_matching_rule_decides() -> None:
    narrow = {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "ExposeHeaders": ["ETag"]}
    finding = check_origin([narrow, RULE], ORIGIN)
    assert finding.problems == (
        "the matching rule (used for GET from https://app.encord.com) does not expose "
        "Content-Length, Content-Range, Accept-Ranges",
        "the matching rule (used for GET from https://app.encord.com) does not allow the "
        "Range request header",
    )


def test_cors_missing_method_and_case_insensitive_headers() -> None:
    rule = {
        **RULE,
        "AllowedMethods": ["GET"],
        "AllowedHeaders": ["range"],
        "ExposeHeaders": ["etag", "CONTENT-LENGTH", "content-range", "accept-ranges"],
    }
    assert check_origin([rule], ORIGIN).problems == (
        "no CORS rule allows HEAD from origin https://app.encord.com",
    )


def test_cors_no_rule_for_the_origin() -> None:
    assert check_origin([RULE], "https://app.us.encord.com").problems == (
        "no CORS rule allows origin https://app.us.encord.com",
    )


# ----------------------------------------------------------------------------- storage, SSE


@pytest.mark.parametrize(
    ("head", "problem"),
    [
        ({}, None),
        ({"StorageClass": "STANDARD_IA"}, None),
        ({"StorageClass": "GLACIER_IR"}, None),
        ({"StorageClass": "GLACIER"}, "GLACIER, not restored"),
        (
            {"StorageClass": "DEEP_ARCHIVE", "Restore": 'ongoing-request="true"'},
            "DEEP_ARCHIVE, restore in progress",
        ),
        (
            {
                "StorageClass": "GLACIER",
                "Restore": 'ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"',
            },
            None,
        ),
        ({"StorageClass": "INTELLIGENT_TIERING"}, None),
        (
            {"StorageClass": "INTELLIGENT_TIERING", "ArchiveStatus": "DEEP_ARCHIVE_ACCESS"},
            "INTELLIGENT_TIERING DEEP_ARCHIVE_ACCESS, not restored",
        ),
    ],
)
def test_archive_problem(head: Mapping[str, Any], problem: str | None) -> None:
    assert archive_problem(head) == problem


def test_default_encryption_and_aws_managed_names() -> None:
    assert default_encryption(None).algorithm is None
    kms = {
        "ServerSideEncryptionConfiguration": {
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        }
    }
    setting = default_encryption(kms)
    assert setting.uses_kms and setting.key_id is None
    assert names_aws_managed_key(None)
    assert names_aws_managed_key("arn:aws:kms:eu-west-1:123456789012:alias/aws/s3")
    assert not names_aws_managed_key("arn:aws:kms:eu-west-1:123456789012:key/1234")


# ----------------------------------------------------------------------------- target


OUTPUTS = AccessStackOutputs(
    stack_name="EncordAccess",
    role_arn="arn:aws:iam::123456789012:role/encord",
    external_id="ext",
    buckets=(BucketOutput("b1", "eu-west-1", ("images/",)), BucketOutput("b2", "us-east-1")),
    cors_origins=("https://app.encord.com",),
)


def test_target_from_outputs_with_flag_overrides() -> None:
    target = build_target(TargetFlags(), OUTPUTS)
    assert [(b.name, b.region, b.prefixes) for b in target.buckets] == [
        ("b1", "eu-west-1", ("images/",)),
        ("b2", "us-east-1", ("",)),
    ]
    assert target.origins == ("https://app.encord.com",)
    narrowed = build_target(
        TargetFlags(buckets=["b1"], prefixes=["x/"], region="eu-north-1"), OUTPUTS
    )
    assert [(b.name, b.region, b.prefixes) for b in narrowed.buckets] == [
        ("b1", "eu-north-1", ("x/",))
    ]


def test_target_from_flags_only() -> None:
    target = build_target(TargetFlags(buckets=["data"], role_arn=OUTPUTS.role_arn), None)
    assert target.origins == DEFAULT_CORS_ORIGINS
    assert target.external_id is None
    assert [(b.name, b.region, b.prefixes) for b in target.buckets] == [("data", None, ("",))]


def test_target_problems_are_reported_together() -> None:
    with pytest.raises(UsageError) as caught:
        build_target(TargetFlags(role_arn="encord", origins=["*"], sample=0), None)
    message = str(caught.value)
    assert "--role-arn 'encord' is not an IAM role ARN" in message
    assert "origin '*' is not an http(s) origin" in message
    assert "--sample 0" in message


# ----------------------------------------------------------------------------- preflight


def fake_transport(status: int, headers: dict[str, str]) -> Any:
    sent: list[urllib.request.Request] = []

    def transport(request: urllib.request.Request, timeout: float) -> tuple[int, dict[str, str]]:
        sent.append(request)
        return status, headers

    transport.sent = sent  # type: ignore[attr-defined]
    return transport


def test_preflight_request_and_answer() -> None:
    transport = fake_transport(200, {"access-control-allow-origin": ORIGIN})
    url = object_url("data", "eu-west-1", "a b/ü+.jpg")
    assert url == "https://data.s3.eu-west-1.amazonaws.com/a%20b/%C3%BC%2B.jpg"
    answer = send_preflight(url, ORIGIN, transport=transport)
    assert answer.allows(ORIGIN)
    (request,) = transport.sent
    assert request.get_method() == "OPTIONS"
    assert request.get_header("Origin") == ORIGIN
    assert request.get_header("Access-control-request-method") == "GET"


def test_preflight_refused_and_endpoints() -> None:
    answer = send_preflight("http://x/b/k", ORIGIN, transport=fake_transport(403, {}))
    assert not answer.allows(ORIGIN)
    assert object_url("b", "eu-west-1", "k 1", "http://localhost:5000/") == (
        "http://localhost:5000/b/k%201"
    )
    assert object_url("dotted.bucket", "eu-west-1", "k").startswith(
        "https://s3.eu-west-1.amazonaws.com/dotted.bucket/"
    )
    with pytest.raises(ValueError, match="not an http"):
        send_preflight("file:///etc/passwd", ORIGIN, transport=fake_transport(200, {}))


def test_custom_endpoint_detection() -> None:
    aws_client = boto3.client(
        "s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    assert custom_endpoint(aws_client) is None
    local = boto3.client(
        "s3",
        region_name="eu-west-1",
        endpoint_url="http://localhost:4566",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    assert custom_endpoint(local) == "http://localhost:4566"


# ----------------------------------------------------------------------------- render


def test_render_human_and_json() -> None:
    report = Report()
    report.add(
        passed("role", "arn:r", "exists"),
        failed("cors-rules", "s3://b for o", "no rule", "add one"),
        not_checked("get-object", "s3://b/k", "cannot decide", method="local policy evaluation"),
    )
    assert human_lines(report) == [
        "PASS  role        arn:r: exists",
        "FAIL  cors-rules  s3://b for o: no rule",
        "  fix: add one",
        "SKIP  get-object  s3://b/k: cannot decide [local policy evaluation]",
        "1 passed, 1 failed, 1 not checked",
    ]
    document = to_json(report, 6)
    assert document["summary"] == {"passed": 1, "failed": 1, "not_checked": 1}
    assert document["checks"][1] == {
        "status": "FAILED",
        "name": "cors-rules",
        "subject": "s3://b for o",
        "message": "no rule",
        "fix": "add one",
        "method": None,
    }
    assert not report.ok
    assert Status.NOT_CHECKED.label == "SKIP"


# ----------------------------------------------------------------------------- credentials


def _stubbed() -> tuple[Any, Stubber]:
    iam = boto3.client(
        "iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    return iam, Stubber(iam)


def test_access_denied_on_the_first_call_is_an_auth_error() -> None:
    aws = AwsClients()
    iam, stub = _stubbed()
    stub.add_client_error("get_role", "AccessDenied", "not authorized to iam:GetRole")
    with stub, pytest.raises(AuthError, match="access denied to iam:GetRole, the first call"):
        aws.call(iam, "get_role", "iam:GetRole", RoleName="r")


def test_access_denied_later_is_left_to_the_check() -> None:
    from botocore.exceptions import ClientError

    aws = AwsClients()
    iam, stub = _stubbed()
    role = {
        "Path": "/",
        "RoleName": "r",
        "RoleId": "AROAEXAMPLE123456789",
        "Arn": "arn:aws:iam::123456789012:role/r",
        "CreateDate": "2024-01-01T00:00:00Z",
    }
    stub.add_response("get_role", {"Role": role})
    stub.add_client_error("list_role_policies", "AccessDenied", "no")
    stub.add_client_error("get_role", "InvalidClientTokenId", "bad token")
    with stub:
        aws.call(iam, "get_role", "iam:GetRole", RoleName="r")
        with pytest.raises(ClientError):
            aws.call(iam, "list_role_policies", "iam:ListRolePolicies", RoleName="r")
        with pytest.raises(AuthError, match="AWS rejected the credentials"):
            aws.call(iam, "get_role", "iam:GetRole", RoleName="r")
