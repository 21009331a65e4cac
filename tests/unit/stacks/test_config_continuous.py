"""The ``continuous`` object of the `encord` config: defaults, and every mistake said at once."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from stacks.config import ConfigError, config_from_context, load_config

SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:encord/key-AbCdEf"
BASE: dict[str, Any] = {
    "trustedPrincipals": ["210987654321"],
    "externalId": "encord-ext-123",
    "buckets": [
        {"name": "camera-data", "prefixes": ["drone/", "scans/"]},
        {"name": "far-data", "region": "us-east-1"},
        {"name": "new-data", "create": True},
    ],
}
CONTINUOUS: dict[str, Any] = {
    "integration": "My S3",
    "folder": "datasets/live",
    "sshKeySecret": "encord/key",
    "watch": ["camera-data", {"bucket": "new-data", "prefixes": ["incoming/"]}],
}


def config_with(region: str | None = "eu-west-1", **changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(BASE)
    continuous = {**copy.deepcopy(CONTINUOUS), **changes}
    config["continuous"] = {k: v for k, v in continuous.items() if v is not None}
    return config


def problems_of(region: str | None = "eu-west-1", **changes: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(config_with(**changes), region=region)
    return caught.value.problems


def test_continuous_is_off_unless_configured() -> None:
    assert load_config(BASE).continuous is None


def test_defaults() -> None:
    config = load_config(config_with(), region="eu-west-1")
    continuous = config.continuous
    assert continuous is not None
    assert continuous.domain == "https://api.encord.com"
    assert [(w.bucket, w.prefixes) for w in continuous.watch or ()] == [
        ("camera-data", ("drone/", "scans/")),  # a bare name: the granted prefixes
        ("new-data", ("incoming/",)),
    ]
    assert (continuous.batch_size, continuous.batch_window_seconds) == (100, 10)
    assert (continuous.quiet_period_seconds, continuous.group_marker) == (300, None)
    assert continuous.max_concurrency == 4
    assert continuous.sidecar_suffixes == (".metadata.json", ".json")
    assert continuous.type_map == {} and continuous.alarm_topic_arn is None
    assert continuous.oldest_message_alarm_seconds == 3600
    assert continuous.ssh_key_secret_kms_key_arn is None


def test_watch_defaults_to_every_bucket_with_its_prefixes() -> None:
    config = copy.deepcopy(BASE)
    config["buckets"] = BASE["buckets"][:1] + BASE["buckets"][2:]  # all in the stack's region
    config["continuous"] = {k: v for k, v in CONTINUOUS.items() if k != "watch"}
    continuous = load_config(config, region="eu-west-1").continuous
    assert continuous is not None
    assert [(w.bucket, w.prefixes) for w in continuous.watch or ()] == [
        ("camera-data", ("drone/", "scans/")),
        ("new-data", ("",)),
    ]


def test_the_default_watch_names_the_buckets_in_another_region() -> None:
    (problem,) = problems_of(watch=None)
    assert problem.startswith("encord.continuous.watch: not set, so every configured bucket")
    assert "['far-data']" in problem and "list the buckets to watch" in problem


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"integration": None}, "encord.continuous.integration: missing. Set it to the title"),
        ({"folder": " "}, "encord.continuous.folder: missing"),
        ({"sshKeySecret": None}, "encord.continuous.sshKeySecret: missing. Set it to the name"),
        ({"sshKeySecret": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k"}, "partial ARN"),
        ({"sshKeySecret": "has space"}, "a secret name is 1-512 characters"),
        ({"sshKeySecret": SECRET.replace("eu-west-1", "us-east-1")}, "replicate the secret"),
        ({"sshKeySecretKmsKeyArn": "alias/encord"}, "a KMS key ARN"),
        (
            {"sshKeySecretKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/mrk-" + "0" * 32},
            "the key is in us-east-1 but the secret is in eu-west-1",
        ),
        ({"domain": "api.encord.com"}, "expected Encord's API address"),
        ({"watch": []}, "expected a non-empty list of {bucket, prefixes?} objects"),
        ({"watch": ["unknown-data"]}, "'unknown-data' is not in encord.buckets"),
        ({"watch": ["camera-data", "camera-data"]}, "'camera-data' is watched twice"),
        ({"watch": ["far-data"]}, "S3 sends its events to EventBridge in the bucket's own region"),
        (
            {"watch": [{"bucket": "camera-data", "prefixes": ["videos/"]}]},
            "'videos/': outside the prefixes Encord may read in this bucket",
        ),
        ({"watch": [{"bucket": "camera-data", "prefixes": ["/drone/"]}]}, "leading slash"),
        ({"watch": [{"bucket": "camera-data", "prefix": ["drone/"]}]}, "prefix: unknown setting"),
        ({"watch": [7]}, "expected an object {bucket, prefixes?}"),
        ({"imageGroups": ["re:("]}, "imageGroups[0]: 're:(': bad regular expression"),
        ({"imageSequences": "drone/*"}, "non-empty list of folder patterns"),
        ({"dicomSeries": [""]}, "empty pattern"),
        ({"typeMap": {"jfif": "picture"}}, "unknown type 'picture'"),
        ({"typeMap": ["jfif=image"]}, "expected an object of extensions and types"),
        ({"sidecarSuffixes": ["a/b"]}, "no '/'"),
        ({"groupMarker": "done/_COMPLETE"}, "a name, not a path"),
        ({"quietPeriodSeconds": 5}, "10 seconds to 7 days"),
        ({"quietPeriodSeconds": 5.5}, "a whole number of seconds"),
        ({"quietPeriodSeconds": 20, "batchWindowSeconds": 30}, "longer than the batching window"),
        ({"batchSize": 0}, "from 1 to 10,000"),
        ({"batchSize": 20, "batchWindowSeconds": 0}, "at least 1 second (Lambda's rule)"),
        ({"batchWindowSeconds": 301}, "from 0 to 300"),
        ({"maxConcurrency": 1}, "2 to 1000 handlers at once"),
        ({"alarmTopicArn": "encord-alerts"}, "an SNS topic ARN"),
        ({"oldestMessageAlarmSeconds": 600}, "at least 1200 seconds"),
        ({"sshKeySecrets": "x"}, "encord.continuous.sshKeySecrets: unknown setting"),
    ],
)
def test_each_mistake_has_its_message(changes: dict[str, Any], expected: str) -> None:
    problems = problems_of(**changes)
    assert any(expected in p for p in problems), problems


def test_unknown_settings_list_the_known_ones() -> None:
    (problem,) = problems_of(quietPeriod=300)
    assert (
        "encord.continuous.quietPeriod: unknown setting. Known settings: alarmTopicArn" in problem
    )
    assert "quietPeriodSeconds" in problem and "sshKeySecret" in problem


def test_continuous_must_be_an_object() -> None:
    with pytest.raises(ConfigError, match=r"encord\.continuous: expected an object"):
        load_config({**BASE, "continuous": True})


def test_every_problem_is_reported_at_once() -> None:
    config = copy.deepcopy(BASE)
    config["buckets"][0]["prefixes"] = ["/bad"]  # a bucket problem, reported there
    config["continuous"] = {
        "folder": "datasets/live",
        "sshKeySecret": "has space",
        "watch": ["camera-data", "nowhere-data"],
        "imageGroups": ["re:("],
        "typeMap": {"x": "y"},
        "batchSize": 50,
        "batchWindowSeconds": 0,
        "maxConcurrency": 2000,
        "alarmTopicArn": "x",
    }
    with pytest.raises(ConfigError) as caught:
        load_config(config, region="eu-west-1")
    problems = caught.value.problems
    assert [p.split(":", 1)[0] for p in problems] == [
        "encord.buckets[0] (camera-data).prefixes[0]",
        "encord.continuous.integration",
        "encord.continuous.sshKeySecret",
        "encord.continuous.watch[1].bucket",
        "encord.continuous.imageGroups[0]",
        "encord.continuous.typeMap",
        "encord.continuous.batchWindowSeconds",
        "encord.continuous.maxConcurrency",
        "encord.continuous.alarmTopicArn",
    ]
    assert f"({len(problems)} problems)" in str(caught.value)


def test_a_command_line_value_sets_the_object() -> None:
    context = {"encord": BASE, "encord.continuous": json.dumps(CONTINUOUS)}
    config = config_from_context(context, region="eu-west-1")
    assert config.continuous is not None and config.continuous.integration == "My S3"
