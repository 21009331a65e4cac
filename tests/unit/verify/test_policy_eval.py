"""The local IAM policy evaluator: pure functions on policy documents."""

from __future__ import annotations

from typing import Any

import pytest

from registration.verify.policy_eval import (
    Decision,
    NamedPolicy,
    Request,
    action_matches,
    condition_holds,
    evaluate,
    evaluate_with_boundary,
    resource_matches,
    statements,
    wildcard_match,
)

OBJECT = "arn:aws:s3:::data-bucket/images/cat.jpg"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(
    action: Any = "s3:GetObject", resource: Any = "arn:aws:s3:::data-bucket/images/*", **extra: Any
) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def named(*statements: dict[str, Any]) -> list[NamedPolicy]:
    return [("policy p", doc(*statements))]


def decide(*statements: dict[str, Any], resource: str = OBJECT, **context: str) -> Decision:
    return evaluate(named(*statements), Request("s3:GetObject", resource, context)).decision


# ----------------------------------------------------------------------------- wildcards


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("*", "anything/at:all", True),
        ("arn:aws:s3:::b/images/*", "arn:aws:s3:::b/images/a/b/c.jpg", True),
        ("arn:aws:s3:::b/images/*", "arn:aws:s3:::b/images/", True),
        ("arn:aws:s3:::b/images/*", "arn:aws:s3:::b/videos/a.mp4", False),
        ("arn:aws:s3:::b/img?.jpg", "arn:aws:s3:::b/img1.jpg", True),
        ("arn:aws:s3:::b/img?.jpg", "arn:aws:s3:::b/img12.jpg", False),
        ("arn:aws:s3:::b/a.jpg", "arn:aws:s3:::b/a.jpg", True),
        ("arn:aws:s3:::b/a.jpg", "arn:aws:s3:::b/A.jpg", False),  # resources: case matters
        ("arn:aws:s3:::b/a+b (1).jpg", "arn:aws:s3:::b/a+b (1).jpg", True),  # regex chars literal
        ("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/*", True),  # escaped wildcard is literal
        ("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/x", False),
    ],
)
def test_wildcard_match(pattern: str, value: str, expected: bool) -> None:
    assert wildcard_match(pattern, value) is expected


def test_actions_match_without_case() -> None:
    assert action_matches({"Action": "S3:getobject"}, "s3:GetObject")
    assert action_matches({"Action": ["s3:List*", "s3:Get*"]}, "s3:GetObject")
    assert not action_matches({"Action": "s3:PutObject"}, "s3:GetObject")
    assert action_matches({"NotAction": "s3:PutObject"}, "s3:GetObject")
    assert not action_matches({"NotAction": ["s3:*"]}, "s3:GetObject")
    assert not action_matches({}, "s3:GetObject")  # neither Action nor NotAction


def test_resources_and_not_resources() -> None:
    assert resource_matches({"Resource": ["arn:aws:s3:::other/*", "*"]}, OBJECT) is True
    assert resource_matches({"Resource": "arn:aws:s3:::other/*"}, OBJECT) is False
    assert resource_matches({"NotResource": "arn:aws:s3:::other/*"}, OBJECT) is True
    assert resource_matches({"NotResource": "arn:aws:s3:::data-bucket/*"}, OBJECT) is False


def test_policy_variables_are_undecided_unless_they_cannot_match() -> None:
    statement = {"Resource": "arn:aws:s3:::data-bucket/${aws:username}/*"}
    assert resource_matches(statement, OBJECT) is None
    other = {"Resource": "arn:aws:s3:::other-bucket/${aws:username}/*"}
    assert resource_matches(other, OBJECT) is False


def test_single_statement_object() -> None:
    single = {"Version": "2012-10-17", "Statement": allow()}
    assert statements(single) == [allow()]
    assert evaluate([("p", single)], Request("s3:GetObject", OBJECT)).allowed


# ----------------------------------------------------------------------------- decisions


def test_allow_on_the_prefix() -> None:
    result = evaluate(named(allow(Sid="Read")), Request("s3:GetObject", OBJECT))
    assert result.decision is Decision.ALLOWED
    assert result.reason == f"s3:GetObject on {OBJECT} is allowed by statement 'Read' of policy p"


def test_implicit_deny_outside_the_prefix() -> None:
    outside = "arn:aws:s3:::data-bucket/videos/a.mp4"
    result = evaluate(named(allow()), Request("s3:GetObject", outside))
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.reason == f"no Allow statement matches s3:GetObject on {outside}"


def test_other_action_is_not_granted() -> None:
    assert decide(allow(action="s3:PutObject")) is Decision.IMPLICIT_DENY


def test_explicit_deny_wins_over_allow() -> None:
    result = evaluate(
        [("managed", doc(allow())), ("inline", doc(deny(Sid="NoImages")))],
        Request("s3:GetObject", OBJECT),
    )
    assert result.decision is Decision.EXPLICIT_DENY
    assert "denied by statement 'NoImages' of inline" in result.reason


def test_deny_with_not_action_covers_everything_else() -> None:
    lockdown = {"Effect": "Deny", "NotAction": "s3:PutObject", "Resource": "*"}
    assert decide(allow(), lockdown) is Decision.EXPLICIT_DENY


def test_deny_elsewhere_does_not_apply() -> None:
    assert decide(allow(), deny(resource="arn:aws:s3:::data-bucket/secret/*")) is Decision.ALLOWED


def test_statement_without_effect_allow_is_ignored() -> None:
    assert decide({"Effect": "allow", "Action": "*", "Resource": "*"}) is Decision.IMPLICIT_DENY


# ----------------------------------------------------------------------------- conditions


def test_condition_on_known_key() -> None:
    secure = allow(Condition={"Bool": {"aws:SecureTransport": "true"}})
    assert decide(secure, **{"aws:SecureTransport": "true"}) is Decision.ALLOWED
    assert decide(secure, **{"aws:securetransport": "false"}) is Decision.IMPLICIT_DENY


def test_condition_on_unknown_key_is_unknown() -> None:
    vpc = allow(Condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}})
    result = evaluate(named(vpc), Request("s3:GetObject", OBJECT))
    assert result.decision is Decision.UNKNOWN
    assert "its value is not known here" in result.reason


def test_unknown_deny_makes_an_allow_unknown() -> None:
    ip_deny = deny(Condition={"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}})
    result = evaluate(named(allow(), ip_deny), Request("s3:GetObject", OBJECT))
    assert result.decision is Decision.UNKNOWN
    assert "is allowed unless statement #2 of policy p applies" in result.reason
    assert "NotIpAddress is not evaluated locally" in result.reason


def test_unknown_deny_without_allow_is_still_implicit_deny() -> None:
    ip_deny = deny(Condition={"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}})
    assert decide(ip_deny) is Decision.IMPLICIT_DENY


def test_string_operators() -> None:
    via = {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}

    def holds(operator: str, value: Any) -> bool | None:
        statement = {"Condition": {operator: {"kms:ViaService": value}}}
        return condition_holds(statement, Request("kms:Decrypt", "k", via)).holds

    assert holds("StringEquals", "s3.eu-west-1.amazonaws.com") is True
    assert holds("StringEquals", ["s3.us-east-1.amazonaws.com", "s3.eu-west-1.amazonaws.com"])
    assert holds("StringEquals", "S3.EU-WEST-1.amazonaws.com") is False
    assert holds("StringEqualsIgnoreCase", "S3.EU-WEST-1.amazonaws.com") is True
    assert holds("StringLike", "s3.*.amazonaws.com") is True
    assert holds("StringNotLike", "s3.*.amazonaws.com") is False
    assert holds("StringNotEquals", "s3.us-east-1.amazonaws.com") is True
    assert holds("StringEqualsIfExists", "s3.us-east-1.amazonaws.com") is False
    assert holds("ForAnyValue:StringEquals", ["x", "s3.eu-west-1.amazonaws.com"]) is True
    assert holds("NumericLessThan", "3") is None


def test_if_exists_on_unknown_key_holds() -> None:
    statement = {"Condition": {"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}}
    assert condition_holds(statement, Request("s3:GetObject", OBJECT)).holds is True


def test_null_condition() -> None:
    statement = {"Condition": {"Null": {"aws:SecureTransport": "true"}}}
    known = Request("s3:GetObject", OBJECT, {"aws:SecureTransport": "true"})
    assert condition_holds(statement, known).holds is False
    assert condition_holds(statement, Request("s3:GetObject", OBJECT)).holds is None


def test_all_condition_keys_must_hold() -> None:
    statement = {
        "Condition": {
            "StringEquals": {"aws:PrincipalAccount": "123456789012"},
            "Bool": {"aws:SecureTransport": "true"},
        }
    }
    context = {"aws:PrincipalAccount": "123456789012", "aws:SecureTransport": "false"}
    assert condition_holds(statement, Request("a", "r", context)).holds is False
    context["aws:SecureTransport"] = "true"
    assert condition_holds(statement, Request("a", "r", context)).holds is True


# ----------------------------------------------------------------------------- boundary


def test_boundary_must_allow_too() -> None:
    request = Request("s3:GetObject", OBJECT)
    boundary = [("boundary", doc(allow(resource="arn:aws:s3:::other/*")))]
    result = evaluate_with_boundary(named(allow()), boundary, request)
    assert result.decision is Decision.IMPLICIT_DENY
    assert result.reason.startswith("the permission boundary does not allow it")
    wide = [("boundary", doc(allow(action="s3:*", resource="*")))]
    assert evaluate_with_boundary(named(allow()), wide, request).allowed
    assert evaluate_with_boundary(named(allow()), None, request).allowed


def test_boundary_deny_wins() -> None:
    request = Request("s3:GetObject", OBJECT)
    boundary = [("boundary", doc(allow(action="*", resource="*"), deny()))]
    result = evaluate_with_boundary(named(allow()), boundary, request)
    assert result.decision is Decision.EXPLICIT_DENY
    assert result.reason.endswith("(permission boundary)")


def test_identity_deny_is_reported_before_the_boundary() -> None:
    request = Request("s3:GetObject", OBJECT)
    result = evaluate_with_boundary(named(deny()), [("b", doc(deny()))], request)
    assert result.decision is Decision.EXPLICIT_DENY
    assert "(permission boundary)" not in result.reason
