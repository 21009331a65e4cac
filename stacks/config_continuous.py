"""The ``continuous`` object of the `encord` config: continuous registration, opt-in.

A pydantic model like the rest of `stacks.config`, checked by the rules the construct's props
use (`stacks.continuous_rules`), so `cdk.json` and a CDK app hear the same words about the
same mistake, and every problem is reported at once. Settings (camelCase, as in `cdk.json`):

- ``integration``, ``folder``, ``sshKeySecret`` (required): the Encord integration that signs
  the URLs, the folder the items go to, and the Secrets Manager secret (complete ARN or name)
  whose value is the Encord SSH private key.
- ``sshKeySecretKmsKeyArn``: the secret's customer-managed KMS key, if it has one.
- ``domain`` (default ``https://api.encord.com``).
- ``watch``: ``[{bucket, prefixes?}]``, buckets of ``encord.buckets`` and prefixes inside the
  ones granted there (default: every configured bucket with its prefixes; an entry without
  ``prefixes`` watches the bucket's granted prefixes).
- ``imageGroups``, ``imageSequences``, ``dicomSeries``, ``typeMap`` (``{"jfif": "image"}``),
  ``sidecarSuffixes``: `manifest`'s grouping, type and sidecar options.
- ``quietPeriodSeconds`` (300), ``groupMarker``: when a group is complete.
- ``batchSize`` (100), ``batchWindowSeconds`` (10), ``maxConcurrency`` (4).
- ``alarmTopicArn`` (none), ``oldestMessageAlarmSeconds`` (3600).
No aws-cdk-lib here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from registration.build.sidecars import DEFAULT_SIDECAR_SUFFIXES
from registration.encord.connection import DEFAULT_DOMAIN
from stacks import config_fields as fields
from stacks import continuous_rules as crules
from stacks import rules

#: The key of the object in the `encord` config.
CONTINUOUS_KEY: Final = "continuous"


def _required(what: str) -> PlainValidator:
    """A required string setting: absent, null or blank is ``missing`` with what to set."""

    def validate(value: Any) -> str:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise fields.invalid(f"missing. Set it to {what}")
        if not isinstance(value, str):
            raise fields.invalid(f"received {rules.show(value)}; expected {what}")
        return value

    return PlainValidator(validate)


def _checked(problem: Callable[[str], str | None], missing: str | None = None) -> PlainValidator:
    """A string setting `problem` (a `stacks.continuous_rules` check) must find no fault with.

    `missing`: what to set when the setting is required and absent.
    """

    def validate(value: Any) -> str:
        if missing is not None and (value is None or value == ""):
            raise fields.invalid(f"missing. Set it to {missing}")
        if not isinstance(value, str):
            raise fields.invalid(f"received {rules.show(value)}; expected a string")
        why = problem(value)
        if why:
            raise fields.invalid(f"{value!r}: {why}")
        return value

    return PlainValidator(validate)


Pattern = Annotated[str, _checked(crules.pattern_problem)]
SecretId = Annotated[
    str,
    _checked(
        crules.secret_problem,
        missing="the name or complete ARN of the Secrets Manager secret holding the Encord SSH key",
    ),
]
Marker = Annotated[str, _checked(crules.marker_problem)]
TopicArn = Annotated[
    str,
    fields.matching(crules.TOPIC_ARN, "an SNS topic ARN such as arn:aws:sns:REGION:ACCOUNT:NAME"),
]
WatchPrefix = Annotated[fields.Text, fields.why_not(crules.prefix_problem)]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel)


class WatchConfig(_Settings):
    """A configured bucket whose new objects are registered, and under which prefixes."""

    bucket: fields.Text
    #: None: the prefixes `encord.buckets` grants in the bucket.
    prefixes: (
        Annotated[
            tuple[WatchPrefix, ...],
            fields.list_of(
                'key prefixes such as ["images/"]', "; leave it out for the granted ones"
            ),
        ]
        | None
    ) = None

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, value: Any) -> Any:
        """``"my-bucket"`` is short for ``{"bucket": "my-bucket"}``."""
        if isinstance(value, str):
            return {"bucket": value}
        if not isinstance(value, dict):
            raise fields.invalid(
                f"expected an object {{bucket, prefixes?}}, received {rules.show(value)}"
            )
        return value

    @field_validator("bucket")
    @classmethod
    def _configured(cls, name: str, info: ValidationInfo) -> str:
        if name not in fields.names_seen(info):
            raise fields.invalid(
                f"{name!r} is not in encord.buckets; list it there too (what Encord may read "
                "there decides what can be registered)"
            )
        region, stack_region = fields.regions_seen(info).get(name), fields.stack_region(info)
        why = crules.stack_region_problem(region, stack_region) if region and stack_region else None
        if why:
            raise fields.invalid(f"{name!r}: {why}")
        return name

    @model_validator(mode="after")
    def _inside_the_grants(self, info: ValidationInfo) -> WatchConfig:
        granted = fields.grants_seen(info).get(self.bucket)
        if granted is None:  # the bucket itself has a problem, reported there
            return self
        prefixes = self.prefixes or tuple(granted[0])
        problems = [
            f"{p!r}: {why}"
            for p in prefixes
            if (why := crules.watch_prefix_problem(p, granted[0])) is not None
        ]
        why = crules.event_pattern_problem(self.bucket, prefixes)
        if problems or why:
            raise fields.invalid("; ".join([*problems, *([why] if why else [])]))
        return self.model_copy(update={"prefixes": prefixes})


class ContinuousConfig(_Settings):
    """Continuous registration (`stacks.continuous.EncordContinuousRegistration`), validated.

    Fields are validated in this order: `batch_size` before `batch_window_seconds` before
    `quiet_period_seconds`, each of which is checked against the ones before it.
    """

    integration: Annotated[
        str, _required("the title or UUID of the Encord integration that signs the URLs")
    ]
    folder: Annotated[
        str, _required("the Encord folder (path or UUID) the items go to, such as datasets/live")
    ]
    ssh_key_secret: SecretId
    #: The customer-managed key the secret is encrypted with (None: the AWS-managed key).
    ssh_key_secret_kms_key_arn: fields.KmsKeyArn | None = None
    domain: Annotated[str, _checked(crules.domain_problem)] = DEFAULT_DOMAIN
    #: None in `cdk.json`: every configured bucket (validated into that list).
    watch: tuple[WatchConfig, ...] | None = Field(default=None, validate_default=True)
    image_groups: Annotated[tuple[Pattern, ...], fields.list_of("folder patterns")] = ()
    image_sequences: Annotated[tuple[Pattern, ...], fields.list_of("folder patterns")] = ()
    dicom_series: Annotated[tuple[Pattern, ...], fields.list_of("folder patterns")] = ()
    type_map: Annotated[
        dict[StrictStr, StrictStr],
        fields.expect('an object of extensions and types, such as {"jfif": "image"}'),
    ] = Field(default_factory=dict)
    sidecar_suffixes: Annotated[
        tuple[fields.Text, ...], fields.list_of("key endings such as .metadata.json")
    ] = DEFAULT_SIDECAR_SUFFIXES
    batch_size: Annotated[
        StrictInt,
        Field(ge=1, le=crules.MAX_BATCH_SIZE),
        fields.expect(f"a whole number from 1 to {crules.MAX_BATCH_SIZE:,} (messages per batch)"),
    ] = crules.DEFAULT_BATCH_SIZE
    batch_window_seconds: Annotated[
        StrictInt,
        Field(ge=0, le=crules.MAX_BATCH_WINDOW_SECONDS),
        fields.expect(
            f"a whole number from 0 to {crules.MAX_BATCH_WINDOW_SECONDS} (seconds Lambda "
            "gathers a batch)"
        ),
    ] = crules.DEFAULT_BATCH_WINDOW_SECONDS
    quiet_period_seconds: Annotated[StrictInt, fields.expect("a whole number of seconds")] = (
        crules.DEFAULT_QUIET_SECONDS
    )
    group_marker: Marker | None = None
    max_concurrency: Annotated[StrictInt, fields.expect("a whole number of functions")] = (
        crules.DEFAULT_MAX_CONCURRENCY
    )
    alarm_topic_arn: TopicArn | None = None
    oldest_message_alarm_seconds: Annotated[
        StrictInt, fields.expect("a whole number of seconds")
    ] = crules.DEFAULT_OLDEST_MESSAGE_ALARM_SECONDS

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, value: Any) -> Any:
        """An object; a required setting left out is reported as missing, with what to set."""
        if not isinstance(value, dict):
            raise fields.invalid(
                "expected an object with at least integration, folder and sshKeySecret, "
                f"received {rules.show(value)}"
            )
        required = ("integration", "folder", "sshKeySecret")
        return {**dict.fromkeys(required), **value}

    @field_validator("ssh_key_secret")
    @classmethod
    def _in_the_stacks_region(cls, secret: str, info: ValidationInfo) -> str:
        region, stack_region = crules.secret_region(secret), fields.stack_region(info)
        why = (
            crules.secret_region_problem(region, stack_region) if region and stack_region else None
        )
        if why:
            raise fields.invalid(why)
        return secret

    @field_validator("ssh_key_secret_kms_key_arn")
    @classmethod
    def _in_the_secrets_region(cls, arn: str | None, info: ValidationInfo) -> str | None:
        secret = info.data.get("ssh_key_secret")
        region = (crules.secret_region(secret) if secret else None) or fields.stack_region(info)
        if arn and region and arn.split(":")[3] != region:
            raise fields.invalid(
                f"the key is in {arn.split(':')[3]} but the secret is in {region}; Secrets "
                "Manager encrypts with a key of its own region: give that key's ARN"
            )
        return arn

    @field_validator("watch", mode="before")
    @classmethod
    def _every_bucket_by_default(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:  # every valid bucket, in its order
            names, stack_region = list(fields.grants_seen(info)), fields.stack_region(info)
            elsewhere = {
                n: r
                for n, r in fields.regions_seen(info).items()
                if r and stack_region and crules.stack_region_problem(r, stack_region)
            }
            if elsewhere:
                raise fields.invalid(
                    f"not set, so every configured bucket is watched, but {sorted(elsewhere)} "
                    f"are not in the stack's region {stack_region} (S3 sends events to "
                    "EventBridge in the bucket's own region): list the buckets to watch"
                )
            return names
        if not isinstance(value, list) or not value:
            raise fields.invalid(
                "expected a non-empty list of {bucket, prefixes?} objects, received "
                f"{rules.show(value)}; leave it out to watch every configured bucket"
            )
        return value

    @field_validator("watch")
    @classmethod
    def _each_bucket_once(cls, watch: tuple[WatchConfig, ...]) -> tuple[WatchConfig, ...]:
        names = [w.bucket for w in watch]
        for name in sorted({n for n in names if names.count(n) > 1}):
            raise fields.invalid(f"bucket {name!r} is watched twice; merge its prefixes")
        return watch

    @field_validator("type_map")
    @classmethod
    def _known_types(cls, type_map: dict[str, str]) -> dict[str, str]:
        problems = [
            why for ext, kind in type_map.items() if (why := crules.type_map_problem(ext, kind))
        ]
        if problems:
            raise fields.invalid("; ".join(problems))
        return type_map

    @field_validator("sidecar_suffixes")
    @classmethod
    def _usable_suffixes(cls, suffixes: tuple[str, ...]) -> tuple[str, ...]:
        why = crules.sidecar_suffixes_problem(suffixes)
        if why:
            raise fields.invalid(why)
        return suffixes

    @field_validator("batch_window_seconds")
    @classmethod
    def _a_batch_lambda_takes(cls, window: int, info: ValidationInfo) -> int:
        size = info.data.get("batch_size")
        why = crules.batch_problem(size, window) if size is not None else None
        if why:
            raise fields.invalid(why)
        return window

    @field_validator("quiet_period_seconds")
    @classmethod
    def _longer_than_a_batch(cls, quiet: int, info: ValidationInfo) -> int:
        why = crules.quiet_problem(quiet, info.data.get("batch_window_seconds", 0))
        if why:
            raise fields.invalid(why)
        return quiet

    @field_validator("max_concurrency")
    @classmethod
    def _in_lambdas_range(cls, concurrency: int) -> int:
        why = crules.concurrency_problem(concurrency)
        if why:
            raise fields.invalid(f"received {concurrency}; {why}")
        return concurrency

    @field_validator("oldest_message_alarm_seconds")
    @classmethod
    def _longer_than_a_check(cls, seconds: int) -> int:
        why = crules.oldest_message_alarm_problem(seconds)
        if why:
            raise fields.invalid(f"received {seconds}; {why}")
        return seconds


def model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model of the ``continuous`` setting at `loc` (a pydantic error location), if any."""
    if not loc or loc[0] != CONTINUOUS_KEY:
        return None
    return WatchConfig if len(loc) > 3 and loc[1] == "watch" else ContinuousConfig
