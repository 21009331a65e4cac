"""The compliance settings of the `encord` config: pack defaults, written settings, mistakes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from stacks.config import AccessConfig, ConfigError, config_from_context, load_config
from stacks.config_compliance import CreatedBucketHardening, Hardening

REGION = "eu-west-1"
STACK_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OWN_KEY = "arn:aws:kms:eu-west-1:123456789012:key/mrk-" + "a" * 32
OTHER_REGION_KEY = STACK_KEY.replace("eu-west-1", "us-east-1")
TOPIC = "arn:aws:sns:eu-west-1:123456789012:encord-alerts"
BASE: dict[str, Any] = {
    "trustedPrincipals": ["210987654321"],
    "externalId": "encord-ext-123",
    "buckets": [
        {"name": "camera-data", "prefixes": ["drone/"]},  # existing: never hardened
        {"name": "new-data", "create": True},
    ],
}
#: The minimal valid `continuous` object (as in test_config_continuous.py).
CONTINUOUS: dict[str, Any] = {
    "integration": "My S3",
    "folder": "datasets/live",
    "sshKeySecret": "encord/key",
    "watch": ["camera-data", {"bucket": "new-data", "prefixes": ["incoming/"]}],
}


def config_with(*, buckets: list[Any] | None = None, **settings: Any) -> dict[str, Any]:
    config = copy.deepcopy(BASE)
    if buckets is not None:
        config["buckets"] = buckets
    config.update(settings)
    return config


def load(region: str | None = REGION, **settings: Any) -> AccessConfig:
    return load_config(config_with(**settings), region=region)


def problems_of(region: str | None = REGION, **settings: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(region=region, **settings)
    return caught.value.problems


def created(key: str | None, versioned: bool, access_logs: bool) -> CreatedBucketHardening:
    return CreatedBucketHardening(key=key, versioned=versioned, access_logs=access_logs)


# --- defaults -------------------------------------------------------------------------------


def test_without_packs_nothing_changes() -> None:
    config = load()
    assert config.compliance_checks == ()
    assert (config.encryption_key, config.access_log_bucket, config.tracing) == (None, None, None)
    assert [(b.versioned, b.access_logs) for b in config.buckets] == [(None, None), (None, None)]
    assert config.hardening == Hardening(
        key=None,
        tracing=False,
        reserve_concurrency=False,
        created={"new-data": created(None, versioned=False, access_logs=False)},
    )
    assert config.hardening.needs_log_bucket is False


@pytest.mark.parametrize(
    ("pack", "data", "tracing", "concurrency"),
    [
        ("hipaa", True, False, True),
        ("nist-800-53-r5", True, False, True),
        ("pci-dss-3.2.1", True, False, False),
        ("serverless", False, True, False),
    ],
)
def test_each_pack_turns_on_its_defaults(
    pack: str, data: bool, tracing: bool, concurrency: bool
) -> None:
    hardening = load(complianceChecks=[pack]).hardening
    key = "create" if data else None
    assert hardening == Hardening(
        key=key,
        tracing=tracing,
        reserve_concurrency=concurrency,
        created={"new-data": created(key, versioned=data, access_logs=data)},
    )
    assert hardening.needs_log_bucket is data


def test_packs_add_up() -> None:
    hardening = load(complianceChecks=["serverless", "pci-dss-3.2.1"]).hardening
    assert hardening == Hardening(
        key="create",
        tracing=True,
        reserve_concurrency=False,
        created={"new-data": created("create", versioned=True, access_logs=True)},
    )


def test_existing_buckets_are_not_hardened() -> None:
    config = load(buckets=["camera-data", "other-data"], complianceChecks=["hipaa"])
    assert config.hardening.created == {}
    assert config.hardening.needs_log_bucket is False
    assert config.hardening.key == "create"  # the stack's log groups still use it


# --- the names of the packs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("serverless", ("serverless",)),  # one name is short for a list of one
        (
            ["serverless", "pci-dss-3.2.1", "hipaa", "serverless"],
            ("hipaa", "pci-dss-3.2.1", "serverless"),  # the order of PACK_NAMES, each once
        ),
        (
            ["nist-800-53-r5", "hipaa", "serverless", "pci-dss-3.2.1"],
            ("hipaa", "nist-800-53-r5", "pci-dss-3.2.1", "serverless"),
        ),
        ([], ()),
    ],
)
def test_compliance_checks_are_normalised(written: Any, expected: tuple[str, ...]) -> None:
    assert load(complianceChecks=written).compliance_checks == expected


def test_an_unknown_pack_is_named_with_the_known_ones() -> None:
    (problem,) = problems_of(complianceChecks=["hipaa", "sox"])
    assert problem == (
        "encord.complianceChecks: unknown ['sox']; expected a list of any of hipaa, "
        "nist-800-53-r5, pci-dss-3.2.1, serverless (AwsSolutions always runs)"
    )


@pytest.mark.parametrize("written", [{"hipaa": True}, 7, ["hipaa", 1], True])
def test_compliance_checks_must_be_a_list_of_names(written: Any) -> None:
    (problem,) = problems_of(complianceChecks=written)
    assert problem.startswith("encord.complianceChecks: received ")
    assert problem.endswith(
        "; expected a list of any of hipaa, nist-800-53-r5, pci-dss-3.2.1, serverless "
        "(AwsSolutions always runs)"
    )


# --- written settings win -------------------------------------------------------------------


def test_settings_written_false_stay_false_under_the_packs() -> None:
    config = load(
        buckets=[{"name": "new-data", "create": True, "versioned": False, "accessLogs": False}],
        complianceChecks=["hipaa", "serverless"],
        tracing=False,
    )
    assert config.hardening == Hardening(
        key="create",
        tracing=False,
        reserve_concurrency=True,
        created={"new-data": created("create", versioned=False, access_logs=False)},
    )
    assert config.hardening.needs_log_bucket is False


def test_settings_written_true_apply_without_packs() -> None:
    config = load(
        buckets=[
            {"name": "logged-data", "create": True, "accessLogs": True},
            {"name": "versioned-data", "create": True, "versioned": True},
        ],
        tracing=True,
        encryptionKey="create",
    )
    assert config.hardening == Hardening(
        key="create",
        tracing=True,
        reserve_concurrency=False,
        created={
            "logged-data": created("create", versioned=False, access_logs=True),
            "versioned-data": created("create", versioned=True, access_logs=False),
        },
    )
    assert config.hardening.needs_log_bucket is True


def test_one_created_bucket_opting_out_of_logs_leaves_the_others_logging() -> None:
    config = load(
        buckets=[
            {"name": "quiet-data", "create": True, "accessLogs": False},
            {"name": "new-data", "create": True},
        ],
        complianceChecks=["pci-dss-3.2.1"],
    )
    assert {n: c.access_logs for n, c in config.hardening.created.items()} == {
        "quiet-data": False,
        "new-data": True,
    }
    assert config.hardening.needs_log_bucket is True


# --- keys -----------------------------------------------------------------------------------


def test_a_created_buckets_own_key_wins_over_the_stack_key() -> None:
    config = load(
        buckets=[
            {"name": "own-key-data", "create": True, "kmsKeyArn": OWN_KEY},
            {"name": "new-data", "create": True},
        ],
        complianceChecks=["hipaa"],
    )
    assert config.hardening.key == "create"
    assert {n: c.key for n, c in config.hardening.created.items()} == {
        "own-key-data": OWN_KEY,
        "new-data": "create",
    }


def test_a_given_encryption_key_is_the_stack_key_and_the_buckets_default() -> None:
    config = load(
        buckets=[
            {"name": "own-key-data", "create": True, "kmsKeyArn": OWN_KEY},
            {"name": "new-data", "create": True},
        ],
        complianceChecks=["nist-800-53-r5"],
        encryptionKey=STACK_KEY,
    )
    assert config.encryption_key == STACK_KEY
    assert config.hardening.key == STACK_KEY
    assert {n: c.key for n, c in config.hardening.created.items()} == {
        "own-key-data": OWN_KEY,
        "new-data": STACK_KEY,
    }


def test_a_given_encryption_key_applies_without_packs() -> None:
    hardening = load(encryptionKey=STACK_KEY).hardening
    assert hardening.key == STACK_KEY
    assert hardening.created == {"new-data": created(STACK_KEY, versioned=False, access_logs=False)}


@pytest.mark.parametrize(
    "written",
    [
        "Create",
        "alias/encord",
        "arn:aws:kms:eu-west-1:123456789012:alias/encord",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        True,
    ],
)
def test_a_malformed_encryption_key_says_what_is_expected(written: Any) -> None:
    (problem,) = problems_of(encryptionKey=written)
    assert problem.startswith("encord.encryptionKey: received ")
    assert problem.endswith(
        '; expected "create" (the stack creates a key) or a KMS key ARN '
        "(arn:aws:kms:REGION:ACCOUNT:key/KEY-ID) whose key policy lets CloudWatch Logs use it"
    )


def test_an_encryption_key_in_another_region_than_the_stack() -> None:
    (problem,) = problems_of(encryptionKey=OTHER_REGION_KEY)
    assert problem == (
        "encord.encryptionKey: the key is in us-east-1 but the stack deploys to eu-west-1: it "
        "encrypts the stack's log groups and created buckets, which need a key in eu-west-1; "
        'give a key of eu-west-1, or "create"'
    )


def test_the_encryption_keys_region_is_not_checked_when_the_stacks_is_unknown() -> None:
    assert load(region=None, encryptionKey=OTHER_REGION_KEY).hardening.key == OTHER_REGION_KEY


# --- buckets and logs -----------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["versioned", "accessLogs"])
@pytest.mark.parametrize("create", [False, None])
def test_versioning_and_logs_are_for_created_buckets_only(setting: str, create: Any) -> None:
    bucket: dict[str, Any] = {"name": "camera-data", setting: True}
    if create is not None:
        bucket["create"] = create
    (problem,) = problems_of(buckets=[bucket])
    assert problem == (
        f"encord.buckets[0] (camera-data).{setting}: the stack does not change the versioning "
        'or logging of a bucket it does not create; remove it, or set "create": true for a '
        "bucket the stack creates"
    )


@pytest.mark.parametrize("setting", ["versioned", "accessLogs", "tracing"])
def test_flags_must_be_true_or_false(setting: str) -> None:
    if setting == "tracing":
        problems = problems_of(tracing="yes")
        where = "encord.tracing"
    else:
        problems = problems_of(buckets=[{"name": "new-data", "create": True, setting: "yes"}])
        where = f"encord.buckets[0] (new-data).{setting}"
    assert problems == [f"{where}: received 'yes'; expected true or false"]


def test_an_access_log_bucket_is_taken_as_written() -> None:
    config = load(complianceChecks=["hipaa"], accessLogBucket="my-access-logs")
    assert config.access_log_bucket == "my-access-logs"
    assert config.hardening.needs_log_bucket is True


def test_giving_an_access_log_bucket_turns_access_logs_on_without_packs() -> None:
    config = load(accessLogBucket="my-access-logs")
    assert [c.access_logs for c in config.hardening.created.values()] == [True]
    assert config.hardening.needs_log_bucket is True
    assert config.hardening.key is None  # nothing else changes
    opted_out = load(
        accessLogBucket="my-access-logs",
        buckets=[{"name": "new-data", "create": True, "accessLogs": False}],
    )
    assert opted_out.hardening.needs_log_bucket is False


@pytest.mark.parametrize("name", ["camera-data", "new-data"])
def test_the_access_log_bucket_cannot_be_a_data_bucket(name: str) -> None:
    (problem,) = problems_of(accessLogBucket=name)
    assert problem == (
        f"encord.accessLogBucket: {name!r} is one of encord.buckets; server access logs need a "
        "bucket of their own (leave `accessLogBucket` out and the stack creates one)"
    )


@pytest.mark.parametrize("name", ["Access_Logs", "ab"])
def test_the_access_log_bucket_must_be_a_valid_name(name: str) -> None:
    (problem,) = problems_of(accessLogBucket=name)
    assert problem.startswith(f"encord.accessLogBucket: {name!r} is not a valid bucket name: ")


def test_the_access_log_bucket_must_be_a_string() -> None:
    assert problems_of(accessLogBucket=["logs-bucket"]) == [
        'encord.accessLogBucket: received ["logs-bucket"]; expected a string'
    ]


def test_every_compliance_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load(
            buckets=[
                {"name": "camera-data", "versioned": True},
                {"name": "new-data", "create": True, "accessLogs": "yes"},
            ],
            complianceChecks=["hipaa", "sox"],
            encryptionKey=OTHER_REGION_KEY,
            accessLogBucket="camera-data",
            tracing=1,
        )
    problems = caught.value.problems
    assert [p.split(":", 1)[0] for p in problems] == [
        "encord.buckets[0] (camera-data).versioned",
        "encord.buckets[1] (new-data).accessLogs",
        "encord.complianceChecks",
        "encord.encryptionKey",
        "encord.accessLogBucket",
        "encord.tracing",
    ]
    message = str(caught.value)
    assert "(6 problems)" in message
    for fragment in (
        'set "create": true',
        "received 'yes'; expected true or false",
        "unknown ['sox']",
        "the key is in us-east-1",
        "'camera-data' is one of encord.buckets",
        "received 1; expected true or false",
    ):
        assert fragment in message


# --- continuous registration's alarms -------------------------------------------------------


def with_continuous(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(CONTINUOUS), **changes}


@pytest.mark.parametrize(
    ("packs", "named"),
    [
        (["hipaa"], "hipaa"),
        (["nist-800-53-r5"], "nist-800-53-r5"),
        (["nist-800-53-r5", "serverless", "hipaa"], "hipaa and nist-800-53-r5"),
    ],
)
def test_hipaa_and_nist_need_an_alarm_topic(packs: list[str], named: str) -> None:
    (problem,) = problems_of(complianceChecks=packs, continuous=with_continuous())
    assert problem == (
        f"encord.complianceChecks: {named} need continuous.alarmTopicArn: every alarm must "
        "notify someone (rule CloudWatchAlarmAction); set it to the ARN of the SNS topic the "
        "continuous-registration alarms should notify"
    )


@pytest.mark.parametrize("packs", [["pci-dss-3.2.1"], ["serverless"], []])
def test_other_packs_need_no_alarm_topic(packs: list[str]) -> None:
    config = load(complianceChecks=packs, continuous=with_continuous())
    assert config.continuous is not None
    assert config.continuous.alarm_topic_arn is None


def test_hipaa_and_nist_accept_continuous_with_an_alarm_topic() -> None:
    config = load(
        complianceChecks=["hipaa", "nist-800-53-r5"],
        continuous=with_continuous(alarmTopicArn=TOPIC),
    )
    assert config.continuous is not None
    assert config.continuous.alarm_topic_arn == TOPIC


def test_the_missing_alarm_topic_is_reported_with_the_other_problems() -> None:
    problems = problems_of(complianceChecks=["hipaa"], continuous=with_continuous(), tracing="yes")
    assert [p.split(":", 1)[0] for p in problems] == ["encord.complianceChecks", "encord.tracing"]


def test_hipaa_without_continuous_needs_no_alarm_topic() -> None:
    assert load(complianceChecks=["hipaa"]).continuous is None


# --- the command line -----------------------------------------------------------------------


def test_command_line_values_set_the_compliance_settings() -> None:
    context = {
        "encord": BASE,
        "encord.complianceChecks": '["hipaa"]',
        "encord.tracing": "true",
        "encord.encryptionKey": STACK_KEY,  # not JSON: taken as the string
        "encord.accessLogBucket": "my-access-logs",
    }
    config = config_from_context(context, region=REGION)
    assert config.compliance_checks == ("hipaa",)
    assert config.access_log_bucket == "my-access-logs"
    assert config.hardening == Hardening(
        key=STACK_KEY,
        tracing=True,
        reserve_concurrency=True,
        created={"new-data": created(STACK_KEY, versioned=True, access_logs=True)},
    )


def test_a_command_line_pack_name_is_checked_like_cdk_json() -> None:
    context = {"encord": json.dumps(BASE), "encord.complianceChecks": '["hipaa", "gdpr"]'}
    with pytest.raises(ConfigError) as caught:
        config_from_context(context, region=REGION)
    assert caught.value.problems == [
        "encord.complianceChecks: unknown ['gdpr']; expected a list of any of hipaa, "
        "nist-800-53-r5, pci-dss-3.2.1, serverless (AwsSolutions always runs)"
    ]
