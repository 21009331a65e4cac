"""The existing-bucket CORS handler: merges by rule ID, keeps the customer's rules, answers CFN.

Runs the handler's code against moto's S3 in-process (real boto3 calls), and its Lambda entry
point against a local HTTP server standing in for CloudFormation's pre-signed response URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from registration.cors_merge import Bounds, CorsLimitError
from stacks.cors_handler import index
from tests.unit.stacks.conftest import CloudFormationAnswers

BUCKET = "customer-data"
CUSTOMER = {"ID": "customer", "AllowedOrigins": ["https://x.example"], "AllowedMethods": ["GET"]}
OTHER = {"ID": "other-tool", "AllowedOrigins": ["https://y.example"], "AllowedMethods": ["PUT"]}
FAST = Bounds(attempts=3, deadline_seconds=5, settle_seconds=0)


def props(
    origins: list[str], rule_id: str = "encord-access-Stack", bucket: str = BUCKET
) -> dict[str, Any]:
    return {
        "BucketName": bucket,
        "Region": "us-east-1",
        "RuleId": rule_id,
        "AllowedOrigins": origins,
        "AllowedMethods": ["GET", "HEAD"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag", "Content-Length", "Content-Range", "Accept-Ranges"],
        "MaxAgeSeconds": "3600",  # CloudFormation sends every scalar as a string
    }


def ours(origins: list[str], rule_id: str = "encord-access-Stack") -> dict[str, Any]:
    return {
        "ID": rule_id,
        "AllowedOrigins": origins,
        "AllowedMethods": ["GET", "HEAD"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag", "Content-Length", "Content-Range", "Accept-Ranges"],
        "MaxAgeSeconds": 3600,
    }


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def rules(s3: Any) -> list[dict[str, Any]]:
    try:
        return list(s3.get_bucket_cors(Bucket=BUCKET)["CORSRules"])
    except s3.exceptions.ClientError:
        return []


def apply(
    s3: Any, request: str, properties: dict[str, Any], physical_id: str | None = None
) -> tuple[str, dict[str, str]]:
    event: dict[str, Any] = {"RequestType": request, "ResourceProperties": properties}
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    return index.apply_event(
        event, lambda region: s3, allowed_buckets={BUCKET, "no-such-bucket"}, bounds=FAST
    )


def test_create_keeps_every_other_rule_in_order(s3: Any) -> None:
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER, OTHER]})
    physical_id, data = apply(s3, "Create", props(["https://app.encord.com"]))
    assert physical_id == f"{BUCKET}/encord-access-Stack"
    assert data == {"RuleId": "encord-access-Stack", "OtherRules": "2"}
    assert rules(s3) == [CUSTOMER, OTHER, ours(["https://app.encord.com"])]


def test_create_on_a_bucket_without_cors(s3: Any) -> None:
    apply(s3, "Create", props(["https://app.encord.com"]))
    assert rules(s3) == [ours(["https://app.encord.com"])]


def test_create_twice_is_idempotent(s3: Any) -> None:
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER]})
    apply(s3, "Create", props(["https://app.encord.com"]))
    apply(s3, "Create", props(["https://app.encord.com"]))
    assert rules(s3) == [CUSTOMER, ours(["https://app.encord.com"])]


def test_update_replaces_our_rule_in_place(s3: Any) -> None:
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER]})
    physical_id, _ = apply(s3, "Create", props(["https://app.encord.com"]))
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [*rules(s3), OTHER]})
    origins = ["https://app.encord.com", "https://app.us.encord.com"]
    apply(s3, "Update", props(origins), physical_id)
    assert rules(s3) == [CUSTOMER, ours(origins), OTHER]


def test_delete_removes_only_our_rule(s3: Any) -> None:
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER]})
    physical_id, _ = apply(s3, "Create", props(["https://app.encord.com"]))
    apply(s3, "Delete", props(["https://app.encord.com"]), physical_id)
    assert rules(s3) == [CUSTOMER]


def test_delete_of_the_last_rule_removes_the_configuration(s3: Any) -> None:
    physical_id, _ = apply(s3, "Create", props(["https://app.encord.com"]))
    apply(s3, "Delete", props(["https://app.encord.com"]), physical_id)
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchCORSConfiguration"):
        s3.get_bucket_cors(Bucket=BUCKET)


def test_delete_leaves_another_stacks_rule_alone(s3: Any) -> None:
    apply(s3, "Create", props(["https://app.encord.com"], rule_id="encord-access-A"))
    physical_id, _ = apply(
        s3, "Create", props(["https://app.us.encord.com"], rule_id="encord-access-B")
    )
    apply(
        s3, "Delete", props(["https://app.us.encord.com"], rule_id="encord-access-B"), physical_id
    )
    assert rules(s3) == [ours(["https://app.encord.com"], rule_id="encord-access-A")]


def test_delete_after_the_bucket_is_gone_succeeds(s3: Any) -> None:
    physical_id, _ = apply(s3, "Create", props(["https://app.encord.com"]))
    s3.delete_bucket(Bucket=BUCKET)
    assert apply(s3, "Delete", props(["https://app.encord.com"]), physical_id)[0] == physical_id


def test_a_missing_bucket_says_what_to_do(s3: Any) -> None:
    with pytest.raises(
        RuntimeError, match=r'bucket no-such-bucket does not exist .* "create": true'
    ):
        apply(s3, "Create", props(["https://app.encord.com"], bucket="no-such-bucket"))


def test_the_hundred_rule_limit_is_explained(s3: Any) -> None:
    full = [
        {"ID": f"r{i}", "AllowedOrigins": ["https://x.example"], "AllowedMethods": ["GET"]}
        for i in range(100)
    ]
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": full})
    with pytest.raises(CorsLimitError, match="S3 allows 100"):
        apply(s3, "Create", props(["https://app.encord.com"]))
    assert len(rules(s3)) == 100  # nothing changed


def test_lambda_entry_point_reports_success_and_failure(
    s3: Any, cloudformation: CloudFormationAnswers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index.apply_event, "__defaults__", (lambda region: s3,))
    monkeypatch.setitem(index.apply_event.__kwdefaults__, "bounds", FAST)
    monkeypatch.setenv(index.ALLOWED_BUCKETS_ENV, f"{BUCKET},gone")
    base = {
        "StackId": "stack",
        "RequestId": "req",
        "LogicalResourceId": "Cors",
        "ResponseURL": cloudformation.url,
    }
    index.handler(
        {**base, "RequestType": "Create", "ResourceProperties": props(["https://app.encord.com"])},
        None,
    )
    index.handler(
        {
            **base,
            "RequestType": "Create",
            "ResourceProperties": props(["https://a.example"], bucket="gone"),
        },
        None,
    )
    ok, failed = cloudformation.received
    assert ok["Status"] == "SUCCESS" and ok["PhysicalResourceId"] == f"{BUCKET}/encord-access-Stack"
    assert ok["RequestId"] == "req" and ok["Data"]["RuleId"] == "encord-access-Stack"
    assert failed["Status"] == "FAILED" and "bucket gone does not exist" in failed["Reason"]
    assert rules(s3) == [ours(["https://app.encord.com"])]


def test_lambda_entry_point_refuses_a_bucket_it_was_not_deployed_for(
    s3: Any, cloudformation: CloudFormationAnswers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever may invoke the function, it changes only the bucket(s) it serves."""
    monkeypatch.setattr(index.apply_event, "__defaults__", (lambda region: s3,))
    monkeypatch.setenv(index.ALLOWED_BUCKETS_ENV, "another-bucket")
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER]})
    base = {
        "StackId": "s",
        "RequestId": "r",
        "LogicalResourceId": "Cors",
        "ResponseURL": cloudformation.url,
    }
    index.handler(
        {**base, "RequestType": "Create", "ResourceProperties": props(["https://evil.example"])},
        None,
    )
    index.handler(
        {
            **base,
            "RequestType": "Delete",
            "PhysicalResourceId": f"{BUCKET}/customer",
            "ResourceProperties": props(["https://app.encord.com"]),
        },
        None,
    )
    created, deleted = cloudformation.received
    for answer in (created, deleted):
        assert answer["Status"] == "FAILED"
        assert f"bucket {BUCKET} is not a bucket this function was deployed for" in answer["Reason"]
        assert "it serves: another-bucket" in answer["Reason"]
    assert rules(s3) == [CUSTOMER]  # nothing changed


def test_unset_allow_list_refuses_everything(s3: Any) -> None:
    with pytest.raises(index.EventRefused, match="it serves: none"):
        index.apply_event(
            {"RequestType": "Create", "ResourceProperties": props(["https://app.encord.com"])},
            lambda region: s3,
            allowed_buckets=index.allowed_buckets_from({}),
            bounds=FAST,
        )
    assert rules(s3) == []


def test_former_rule_ids_are_replaced_in_place(s3: Any) -> None:
    """A rule left by an earlier version (ID ``encord-access-<stack>``) is replaced cleanly."""
    legacy = ours(["https://old.example"], rule_id="encord-access-Stack")
    s3.put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER, legacy, OTHER]})
    new_id = "encord-access-Stack-us-east-1-0123abcd"
    properties = {**props(["https://app.encord.com"], rule_id=new_id)}
    properties["ReplacesRuleIds"] = ["encord-access-Stack"]
    physical_id, _ = apply(s3, "Create", properties)
    assert physical_id == f"{BUCKET}/{new_id}"
    assert rules(s3) == [CUSTOMER, ours(["https://app.encord.com"], rule_id=new_id), OTHER]


def test_the_old_resources_delete_after_a_replacement_removes_only_the_old_rule(s3: Any) -> None:
    """CloudFormation creates the new resource, then deletes the old one by its physical ID."""
    old_id, _ = apply(
        s3, "Create", props(["https://app.encord.com"], rule_id="encord-access-Stack")
    )
    new = props(["https://app.encord.com"], rule_id="encord-access-Stack-us-east-1-0123abcd")
    new["ReplacesRuleIds"] = ["encord-access-Stack"]
    apply(s3, "Create", new)
    apply(s3, "Delete", props(["https://app.encord.com"]), old_id)  # the old resource goes
    assert rules(s3) == [
        ours(["https://app.encord.com"], rule_id="encord-access-Stack-us-east-1-0123abcd")
    ]
