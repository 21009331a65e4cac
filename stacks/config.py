"""The app's configuration: the `encord` object of `cdk.json`, parsed once into a typed model.

`config_from_context` is the only reader of the app's context: it applies the `-c` overrides
(`merge_context`) and validates the result (`load_config`), which raises one `ConfigError`
listing *every* problem, each saying what was received and what to change. The models are
pydantic, built from the setting types of `stacks.config_fields`; what pydantic cannot express
is the `stacks.rules` checks (shared with the `EncordAccess` props) and the checks across
entries (a bucket listed twice; an access point fronting a bucket that is not listed, or
buckets whose prefixes differ). A `-c` value that is broken JSON is reported with the JSON
error and its position.
No aws-cdk-lib here, so the rules are tested quickly.
Long: the models share one validation context (names, grants and regions seen), read in order.

Settings (camelCase, as written in `cdk.json`):

- ``trustedPrincipals``: Encord's AWS principal(s), account IDs or IAM ARNs, copied from
  Encord's *New integration* dialog. Several are allowed so a principal can be rotated.
- ``externalId``: the external ID from the same dialog. Always required.
- ``buckets``: ``[{name, create?, prefixes?, kmsKeyArn?, writePrefix?, region?}]``.
- ``corsOrigins`` (default Encord's EU and US apps), ``corsMaxAgeSeconds`` (default 3600).
- ``allowListing`` (default false): ``s3:ListBucket`` for Encord cloud-synced folders.
- ``multiRegionAccessPoints``: ``[{arn, buckets}]``.
- ``maxSessionDurationHours`` (1-12, default 1), ``roleName``, ``permissionsBoundaryArn``,
  ``tags``, ``stackName``.
- ``continuous``: opt-in continuous registration (`stacks.config_continuous`).
- ``complianceChecks``, ``encryptionKey``, ``accessLogBucket``, ``tracing``, and a created
  bucket's ``versioned`` and ``accessLogs``: `stacks.config_compliance`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from registration.contract import DEFAULT_CORS_MAX_AGE_SECONDS, DEFAULT_CORS_ORIGINS
from stacks import config_compliance as compliance
from stacks import config_fields as fields
from stacks import rules
from stacks.config_continuous import ContinuousConfig, model_at

#: The context key of the configuration: `cdk.json`'s ``context.encord``, ``-c encord...``.
CONTEXT_KEY: Final = "encord"
DEFAULT_STACK_NAME: Final = "EncordAccess"
DEFAULT_MAX_SESSION_HOURS: Final = 1
#: AWS's documentation example account: the sample `cdk.json` uses it as a placeholder.
PLACEHOLDER_ACCOUNT: Final = "111122223333"
#: How much of the text before a JSON error its message shows.
_JSON_CONTEXT_CHARS: Final = 40


class ConfigError(Exception):
    """The configuration is invalid; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid `encord` configuration ({len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}):\n{lines}\n"
            "Edit the `encord` object in cdk.json (or the `-c encord...` values you passed) "
            "and run again. docs/access-stack.md describes every setting."
        )


# --- the models -----------------------------------------------------------------------------


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel)


class BucketConfig(_Settings):
    """One data bucket Encord may read."""

    name: fields.BucketName
    create: fields.Flag = False
    #: Key prefixes Encord may read; ``("",)`` is the whole bucket (the default).
    prefixes: Annotated[
        tuple[fields.Prefix, ...],
        fields.list_of(
            'key prefixes such as ["images/"]', "; leave it out to grant the whole bucket"
        ),
    ] = ("",)
    # Validated in this order: `region` before the key, whose region must match it, and
    # `prefixes` before `write_prefix`, which must stay outside them.
    #: None: the stack's region.
    region: fields.Region | None = None
    kms_key_arn: fields.KmsKeyArn | None = None
    write_prefix: fields.WritePrefix | None = None
    #: Created buckets only; None: the default of the chosen packs (`stacks.config_compliance`).
    versioned: fields.Flag | None = None
    access_logs: fields.Flag | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, value: Any) -> Any:
        """``"my-bucket"`` is short for ``{"name": "my-bucket"}``."""
        if isinstance(value, str):
            return {"name": value}
        if not isinstance(value, dict):
            raise fields.invalid(
                f"expected an object with at least `name`, received {rules.show(value)}"
            )
        return value

    @field_validator("prefixes", mode="wrap")
    @classmethod
    def _whole_bucket_or_sorted(
        cls, value: Any, handler: ValidatorFunctionWrapHandler
    ) -> tuple[str, ...]:
        if value is None:
            return ("",)
        return tuple(sorted(set(handler(value))))

    @field_validator("region")
    @classmethod
    def _not_for_created(cls, region: str | None, info: ValidationInfo) -> str | None:
        if region is not None and info.data.get("create"):
            raise fields.invalid(
                "a bucket the stack creates lives in the stack's region; remove `region`, or "
                "deploy the stack to that region (CDK_DEFAULT_REGION / --profile)"
            )
        return region

    @field_validator("kms_key_arn")
    @classmethod
    def _in_the_buckets_region(cls, arn: str | None, info: ValidationInfo) -> str | None:
        """The key must be in the bucket's region (unknown when neither says which)."""
        if arn is None or "region" not in info.data:  # `region` itself was wrong
            return arn
        bucket_region = info.data["region"] or fields.stack_region(info)
        why = rules.key_region_problem(arn.split(":")[3], bucket_region) if bucket_region else None
        if why:
            raise fields.invalid(why)
        return arn

    @field_validator("write_prefix")
    @classmethod
    def _outside_the_read_prefixes(cls, write: str | None, info: ValidationInfo) -> str | None:
        prefixes = info.data.get("prefixes")
        why = rules.write_prefix_problem(write, prefixes) if write and prefixes else None
        if why:
            raise fields.invalid(f"{write!r}: {why}")
        return write

    @field_validator("versioned", "access_logs")
    @classmethod
    def _created_only(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        if value is not None and not info.data.get("create", True):
            raise fields.invalid(
                "the stack does not change the versioning or logging of a bucket it does not "
                'create; remove it, or set "create": true for a bucket the stack creates'
            )
        return value

    @model_validator(mode="after")
    def _remember_grants(self, info: ValidationInfo) -> BucketConfig:
        """Note what this bucket grants, for the access points that front it."""
        fields.grants_seen(info)[self.name] = (self.prefixes, self.write_prefix)
        fields.regions_seen(info)[self.name] = self.region
        return self


class MrapConfig(_Settings):
    """A Multi-Region Access Point in front of some of the configured buckets."""

    arn: fields.MrapArn
    buckets: Annotated[tuple[fields.Text, ...], fields.list_of("bucket names")]

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise fields.invalid(
                f"expected an object {{arn, buckets}}, received {rules.show(value)}"
            )
        return value

    @field_validator("buckets")
    @classmethod
    def _listed(cls, names: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        unknown = [n for n in names if n not in fields.names_seen(info)]
        if unknown:
            raise fields.invalid(
                f"{unknown} are not in encord.buckets; list them there too "
                "(their prefixes decide what is granted through the access point)"
            )
        grants = fields.grants_seen(info)
        why = rules.mrap_buckets_problem({n: grants[n] for n in names if n in grants})
        if why:
            raise fields.invalid(why)
        return names

    @property
    def account(self) -> str:
        """The account that owns the access point."""
        return self.arn.split(":")[4]

    @property
    def alias(self) -> str:
        """The access point's alias (``xxxx.mrap``), as used in URLs."""
        return self.arn.rsplit("/", 1)[1]


class AccessConfig(_Settings):
    """The validated configuration of one access stack (build it with `load_config`)."""

    stack_name: fields.StackName = DEFAULT_STACK_NAME
    trusted_principals: Annotated[
        tuple[fields.Principal, ...],
        fields.list_of(
            "account IDs or IAM ARNs",
            missing=f"Set it to Encord's AWS principal; {rules.WHERE_TO_FIND}",
        ),
    ] = Field(default=None, validate_default=True)
    external_id: fields.ExternalId = Field(default=None, validate_default=True)
    # Fields are validated in this order: `buckets` before `mraps`, which checks names seen.
    buckets: Annotated[
        tuple[BucketConfig, ...],
        fields.list_of(
            "bucket objects",
            missing="List the buckets Encord may read, for example "
            '[{"name": "my-data", "prefixes": ["images/"]}]',
        ),
    ] = Field(default=None, validate_default=True)
    cors_origins: Annotated[
        tuple[fields.Origin, ...],
        fields.list_of("https origins", f"; the default is {list(DEFAULT_CORS_ORIGINS)}"),
    ] = DEFAULT_CORS_ORIGINS
    cors_max_age_seconds: Annotated[
        StrictInt,
        Field(ge=0, le=rules.MAX_CORS_MAX_AGE_SECONDS),
        fields.expect(
            f"a whole number from 0 to {rules.MAX_CORS_MAX_AGE_SECONDS} "
            "(seconds browsers may cache the preflight answer)"
        ),
    ] = DEFAULT_CORS_MAX_AGE_SECONDS
    allow_listing: fields.Flag = False
    mraps: Annotated[tuple[MrapConfig, ...], Field(alias="multiRegionAccessPoints")] = ()
    max_session_hours: Annotated[
        StrictInt,
        Field(
            alias="maxSessionDurationHours",
            ge=rules.MIN_SESSION_HOURS,
            le=rules.MAX_SESSION_HOURS,
        ),
        fields.expect(
            f"a whole number from {rules.MIN_SESSION_HOURS} to {rules.MAX_SESSION_HOURS} "
            "(hours; signed URLs made from a role session stop working when the session ends)"
        ),
    ] = DEFAULT_MAX_SESSION_HOURS
    role_name: fields.RoleName | None = None
    permissions_boundary_arn: fields.PolicyArn | None = None
    tags: fields.Tags = Field(default_factory=dict)
    continuous: ContinuousConfig | None = None
    # Compliance (`stacks.config_compliance`): validated after `buckets`, whose names they use.
    compliance_checks: compliance.ComplianceChecks = ()
    encryption_key: compliance.EncryptionKey | None = None
    access_log_bucket: fields.LogBucketName | None = None
    tracing: fields.Flag | None = None

    @field_validator("trusted_principals", mode="before")
    @classmethod
    def _one_principal(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) and value else value

    @field_validator("trusted_principals")
    @classmethod
    def _no_repeats(cls, principals: tuple[str, ...]) -> tuple[str, ...]:
        for principal in {p for p in principals if principals.count(p) > 1}:
            raise fields.invalid(f"{principal!r} is listed twice; remove the duplicate")
        return principals

    @field_validator("cors_origins")
    @classmethod
    def _unique(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(origins))

    @field_validator("encryption_key")
    @classmethod
    def _in_the_stack_region(cls, key: str | None, info: ValidationInfo) -> str | None:
        region = fields.stack_region(info)
        key_region = key.split(":")[3] if key and key != compliance.CREATE_KEY else None
        if key_region and region and key_region != region:
            raise fields.invalid(
                f"the key is in {key_region} but the stack deploys to {region}: it encrypts "
                f"the stack's log groups and created buckets, which need a key in {region}; "
                f'give a key of {region}, or "{compliance.CREATE_KEY}"'
            )
        return key

    @field_validator("compliance_checks")
    @classmethod
    def _alarms_notify(cls, chosen: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """HIPAA and NIST 800-53 want every alarm to notify someone (CloudWatchAlarmAction)."""
        packs = sorted(set(chosen) & compliance.ALARM_ACTION_PACKS)
        continuous = info.data.get("continuous")
        if packs and continuous is not None and not continuous.alarm_topic_arn:
            raise fields.invalid(
                f"{' and '.join(packs)} need continuous.alarmTopicArn: every alarm must notify "
                "someone (rule CloudWatchAlarmAction); set it to the ARN of the SNS topic the "
                "continuous-registration alarms should notify"
            )
        return chosen

    @property
    def hardening(self) -> compliance.Hardening:
        """The hardening in effect: the settings written, else the chosen packs' defaults."""
        return compliance.hardening(self)

    @field_validator("mraps", mode="before")
    @classmethod
    def _a_list(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise fields.invalid(
                f"expected a list of {{arn, buckets}} objects, received {rules.show(value)}"
            )
        return value

    @property
    def uses_placeholder_principal(self) -> bool:
        """True while the sample configuration's placeholder account is still trusted."""
        return any(PLACEHOLDER_ACCOUNT in p for p in self.trusted_principals)


# --- reading the context --------------------------------------------------------------------


def merge_context(base: Any, overrides: Mapping[str, Any]) -> Any:
    """Apply the ``encord.`` keys of `overrides` (the `-c` values) to the `encord` object.

    ``-c encord='{...}'`` replaces the whole object (the CLI passes it as a string);
    ``-c encord.externalId=VALUE`` replaces one setting (VALUE is parsed as JSON when it is
    JSON, so lists and booleans work, and is a string otherwise). Other keys are ignored.
    A value that starts like JSON (``{`` or ``[``) but does not parse raises `ConfigError`
    with the JSON error and where it is.
    """
    problems: list[str] = []
    merged = _parse_json_string(CONTEXT_KEY, base, problems)
    for key, raw in overrides.items():
        if not key.startswith(f"{CONTEXT_KEY}."):
            continue
        if not isinstance(merged, dict):
            merged = {}
        merged = {
            **merged,
            key.removeprefix(f"{CONTEXT_KEY}."): _parse_json_string(key, raw, problems),
        }
    if problems:
        raise ConfigError(problems)
    return merged


def _parse_json_string(where: str, value: Any, problems: list[str]) -> Any:
    """`value` parsed when it is a JSON string; a broken JSON object or list is a problem."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        if value.lstrip().startswith(("{", "[")):
            problems.append(f"{where}: {_json_error(exc)}")
        return value


def _json_error(exc: json.JSONDecodeError) -> str:
    """The JSON error, where it is, and the text just before it."""
    before = exc.doc[max(0, exc.pos - _JSON_CONTEXT_CHARS) : exc.pos]
    shown = ("..." if exc.pos > _JSON_CONTEXT_CHARS else "") + before
    message = (
        f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}, just after {shown!r}"
    )
    if before.rstrip().endswith(",") and exc.doc[exc.pos : exc.pos + 1] in ("]", "}"):
        message += " (JSON allows no comma before a closing ] or })"
    if exc.pos >= len(exc.doc.rstrip()) and "\n" not in exc.doc:
        message += (
            ". The JSON ends early: if you wrote it on several lines, the CDK CLI passed only "
            "the first one (it drops the rest of a -c value, and this system does not show the "
            "app the CLI's command line to restore it). Write it on one line, for example "
            "-c encord=\"$(tr -d '\\n' < encord.json)\", or put it in cdk.json"
        )
    return message


def config_from_context(context: Mapping[str, Any], *, region: str | None = None) -> AccessConfig:
    """The validated configuration from an app's whole context (cdk.json plus `-c` values).

    `region` is the region the stack deploys to, when known: a bucket without `region` is
    there, and its KMS key must be too.
    """
    return load_config(merge_context(context.get(CONTEXT_KEY), context), region=region)


def load_config(raw: Any, *, region: str | None = None) -> AccessConfig:
    """Validate the `encord` context object; raise `ConfigError` listing every problem.

    `region`: the region the stack deploys to, when known (see `config_from_context`).
    """
    if raw is None:
        raise ConfigError(
            [
                "encord: missing. Add an `encord` object to the `context` of cdk.json "
                "(the sample in this repository shows every setting)"
            ]
        )
    if not isinstance(raw, dict):
        raise ConfigError([f"encord: expected a JSON object, received {rules.show(raw)}"])
    context: dict[str, Any] = {fields.BUCKET_NAMES: set(), fields.STACK_REGION: region}
    try:
        return AccessConfig.model_validate(raw, context=context)
    except ValidationError as exc:
        raise ConfigError([_problem_line(e, raw) for e in exc.errors()]) from None


def _problem_line(error: Any, raw: Mapping[str, Any]) -> str:
    """One pydantic error as ``encord.<path>: <what was wrong and what to do>``."""
    loc = tuple(error["loc"])
    where = _path(loc, raw)
    if error["type"] == fields.PROBLEM:
        return f"{where}: {error['msg']}"
    if error["type"] == "missing":
        return f"{where}: missing"
    if error["type"] == "extra_forbidden":
        model: type[BaseModel] = AccessConfig
        if len(loc) > 1:
            model = model_at(loc) or (BucketConfig if loc[0] == "buckets" else MrapConfig)
        known = sorted(str(f.alias) for f in model.model_fields.values())
        return f"{where}: unknown setting. Known settings: {', '.join(known)}"
    return f"{where}: received {rules.show(error['input'])}; {error['msg']}"


def _path(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> str:
    """``encord.buckets[0] (my-bucket).prefixes[1]``: the setting, and the bucket by name."""
    # A setting left out (validated from its default) is reported by its Python name.
    aliases = {n: f.alias for n, f in AccessConfig.model_fields.items() if f.alias}
    loc = tuple(aliases.get(p, p) if isinstance(p, str) and len(loc) == 1 else p for p in loc)
    parts = [CONTEXT_KEY, *(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)]
    if len(loc) > 2 and loc[0] == "buckets" and loc[2] != "name":
        entries, index = raw.get("buckets"), loc[1]
        entry = entries[index] if isinstance(entries, list) and isinstance(index, int) else None
        name = entry if isinstance(entry, str) else (entry or {}).get("name")
        if isinstance(name, str):
            parts.insert(3, f" ({name})")
    return "".join(parts)
