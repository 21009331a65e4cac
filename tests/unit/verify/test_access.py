"""`AccessDecider`: IAM's policy simulator when it answers, local evaluation otherwise.

moto has no simulator, so its answers are stubbed here with botocore's Stubber (the
functional tests cover the local path against moto).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from registration.verify.access import AccessDecider, PoliciesUnavailable
from registration.verify.aws import AwsClients
from registration.verify.checks_preflight import check_preflight
from registration.verify.model import Status
from registration.verify.policy_eval import Decision

ROLE_ARN = "arn:aws:iam::123456789012:role/encord"
RESOURCE = "arn:aws:s3:::data/images/a.jpg"
READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}],
}


@pytest.fixture
def aws() -> AwsClients:
    session = boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1"
    )
    clients = AwsClients(session)
    clients.call(_Nothing(), "noop", "first call")  # later denials are the checks' to report
    return clients


class _Nothing:
    def noop(self) -> None:
        return None


def _simulated(decision: str, **extra: Any) -> dict[str, Any]:
    result = {"EvalActionName": "s3:GetObject", "EvalResourceName": RESOURCE}
    return {"EvaluationResults": [{**result, "EvalDecision": decision, **extra}]}


def test_simulator_allows(aws: AwsClients) -> None:
    decider = AccessDecider(aws, ROLE_ARN, {"RoleName": "encord"})
    with Stubber(aws.client("iam")) as stub:
        stub.add_response(
            "simulate_principal_policy",
            _simulated("allowed", MatchedStatements=[{"SourcePolicyId": "encord-read"}]),
            {
                "PolicySourceArn": ROLE_ARN,
                "ActionNames": ["s3:GetObject"],
                "ResourceArns": [RESOURCE],
                "ContextEntries": ANY,
            },
        )
        answer = decider.decide("s3:GetObject", RESOURCE)
    assert answer.method == "policy simulator"
    assert answer.evaluation.decision is Decision.ALLOWED
    assert answer.evaluation.reason == f"s3:GetObject on {RESOURCE} is allowed (encord-read)"


def test_simulator_denies_or_lacks_context(aws: AwsClients) -> None:
    decider = AccessDecider(aws, ROLE_ARN, {"RoleName": "encord"})
    with Stubber(aws.client("iam")) as stub:
        stub.add_response("simulate_principal_policy", _simulated("implicitDeny"))
        stub.add_response(
            "simulate_principal_policy",
            _simulated("implicitDeny", MissingContextValues=["aws:SourceVpce"]),
        )
        denied = decider.decide("s3:GetObject", RESOURCE).evaluation
        unknown = decider.decide("s3:GetObject", RESOURCE).evaluation
    assert denied.decision is Decision.IMPLICIT_DENY
    assert unknown.decision is Decision.UNKNOWN
    assert "aws:SourceVpce" in unknown.reason


def test_falls_back_to_local_evaluation_once(aws: AwsClients) -> None:
    decider = AccessDecider(aws, ROLE_ARN, {"RoleName": "encord"})
    arn = "arn:aws:iam::123456789012:policy/encord-read"
    with Stubber(aws.client("iam")) as stub:
        stub.add_client_error("simulate_principal_policy", "AccessDenied", "no simulator for you")
        stub.add_response(
            "list_attached_role_policies",
            {"AttachedPolicies": [{"PolicyName": "encord-read", "PolicyArn": arn}]},
        )
        stub.add_response(
            "get_policy", {"Policy": {"Arn": arn, "DefaultVersionId": "v2", "PolicyName": "r"}}
        )
        stub.add_response(
            "get_policy_version",
            {"PolicyVersion": {"Document": json.dumps(READ), "VersionId": "v2"}},
        )
        stub.add_response("list_role_policies", {"PolicyNames": []})
        first = decider.decide("s3:GetObject", RESOURCE)
        second = decider.decide("s3:GetObject", "arn:aws:s3:::other/a.jpg")  # no more calls
    assert (first.method, first.evaluation.decision) == (
        "local policy evaluation",
        Decision.ALLOWED,
    )
    assert second.evaluation.decision is Decision.IMPLICIT_DENY
    assert decider.simulator_problem == "AccessDenied: no simulator for you"


def test_policies_that_cannot_be_read(aws: AwsClients) -> None:
    decider = AccessDecider(aws, ROLE_ARN, {"RoleName": "encord"})
    with Stubber(aws.client("iam")) as stub:
        stub.add_client_error("simulate_principal_policy", "AccessDenied", "no")
        stub.add_client_error("list_attached_role_policies", "AccessDenied", "no list")
        with pytest.raises(PoliciesUnavailable, match="AccessDenied: no list"):
            decider.decide("s3:GetObject", RESOURCE)


def test_preflight_network_error_is_not_checked() -> None:
    def unreachable(request: Any, timeout: float) -> Any:
        raise OSError("connection refused")

    origins = ("https://app.encord.com",)
    (result,) = check_preflight(
        "data", "eu-west-1", "a.jpg", origins, endpoint=None, transport=unreachable
    )
    assert result.status is Status.NOT_CHECKED
    assert result.message == (
        "could not send OPTIONS https://data.s3.eu-west-1.amazonaws.com/a.jpg "
        "(OSError: connection refused)"
    )
