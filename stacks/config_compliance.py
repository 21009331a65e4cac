"""The compliance settings of the `encord` config, and what each pack turns on by default.

cdk-nag's AwsSolutions checks always run; ``complianceChecks`` adds any of `PACK_NAMES`.
A chosen pack fails synthesis on any finding that is neither fixed nor acknowledged, so the
packs that ask for a hardening change the *default* of the setting that gives it
(`hardening`); a setting written out always wins, and writing one a pack needs as false
makes that pack fail with its rule ID (the user's decision, reported, not hidden):

- ``encryptionKey``: ``"create"`` (a customer-managed key the stack creates) or a key ARN;
  encrypts the created buckets that have no ``kmsKeyArn`` of their own (SSE-KMS) and the log
  groups of the stack's functions. Default: ``"create"`` under `DATA_PACKS`, else none.
- ``versioned``, ``accessLogs`` on a created bucket: versioning; server access logs to
  ``accessLogBucket`` (an existing bucket's name) or else a log bucket the stack creates.
  Default: on under `DATA_PACKS`, else off; ``accessLogs`` is also on when
  ``accessLogBucket`` is given.
- ``tracing``: X-Ray active tracing of every function. Default: on under `TRACING_PACKS`.
- reserved concurrency for every function, under `CONCURRENCY_PACKS` (no setting: an account
  whose unreserved concurrency is at its minimum cannot reserve any, see docs/compliance.md).
- under `ALARM_ACTION_PACKS`, continuous registration needs ``alarmTopicArn`` (a config error).

No aws-cdk-lib here; `stacks.compliance` maps the names to cdk-nag's packs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, Protocol

from pydantic import PlainValidator

from stacks import config_fields as fields
from stacks import rules

#: The names ``complianceChecks`` accepts, in the order the docs list them.
PACK_NAMES: Final = ("hipaa", "nist-800-53-r5", "pci-dss-3.2.1", "serverless")
PackName = Literal["hipaa", "nist-800-53-r5", "pci-dss-3.2.1", "serverless"]
#: The packs that ask for KMS encryption, versioning and access logs of buckets and logs.
DATA_PACKS: Final = frozenset({"hipaa", "nist-800-53-r5", "pci-dss-3.2.1"})
#: The packs that ask every function for reserved concurrency (``LambdaConcurrency``).
CONCURRENCY_PACKS: Final = frozenset({"hipaa", "nist-800-53-r5"})
#: The packs that ask every function for X-Ray active tracing (``LambdaTracing``).
TRACING_PACKS: Final = frozenset({"serverless"})
#: The packs that want every alarm to notify someone (``CloudWatchAlarmAction``).
ALARM_ACTION_PACKS: Final = frozenset({"hipaa", "nist-800-53-r5"})
#: ``encryptionKey`` value that makes the stack create the key.
CREATE_KEY: Final = "create"


def _checks(value: Any) -> tuple[str, ...]:
    """A list of pack names (or one name), each once, in the order of `PACK_NAMES`."""
    names = [value] if isinstance(value, str) else value
    expected = f"a list of any of {', '.join(PACK_NAMES)} (AwsSolutions always runs)"
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise fields.invalid(f"received {rules.show(value)}; expected {expected}")
    unknown = [n for n in names if n not in PACK_NAMES]
    if unknown:
        raise fields.invalid(f"unknown {unknown}; expected {expected}")
    return tuple(n for n in PACK_NAMES if n in names)


def _key(value: Any) -> str:
    """``"create"`` or a KMS key ARN."""
    if value == CREATE_KEY or (isinstance(value, str) and rules.KMS_KEY_ARN.match(value)):
        return str(value)
    raise fields.invalid(
        f'received {rules.show(value)}; expected "{CREATE_KEY}" (the stack creates a key) or '
        "a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID) whose key policy lets "
        "CloudWatch Logs use it"
    )


ComplianceChecks = Annotated[tuple[PackName, ...], PlainValidator(_checks)]
EncryptionKey = Annotated[str, PlainValidator(_key)]


class _Bucket(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def create(self) -> bool: ...
    @property
    def kms_key_arn(self) -> str | None: ...
    @property
    def versioned(self) -> bool | None: ...
    @property
    def access_logs(self) -> bool | None: ...


class _Config(Protocol):
    @property
    def compliance_checks(self) -> tuple[str, ...]: ...
    @property
    def encryption_key(self) -> str | None: ...
    @property
    def tracing(self) -> bool | None: ...
    @property
    def access_log_bucket(self) -> str | None: ...
    @property
    def buckets(self) -> tuple[_Bucket, ...]: ...


@dataclass(frozen=True)
class CreatedBucketHardening:
    """What a bucket the stack creates gets."""

    #: ``"create"`` (the stack's key), a key ARN, or None (SSE-S3).
    key: str | None
    versioned: bool
    access_logs: bool


@dataclass(frozen=True)
class Hardening:
    """The settings in effect: those written, else the defaults of the chosen packs."""

    #: The stack's key: ``"create"``, a key ARN, or None (no key of the stack's own).
    key: str | None
    tracing: bool
    reserve_concurrency: bool
    #: By bucket name, for the buckets the stack creates.
    created: Mapping[str, CreatedBucketHardening]

    @property
    def needs_log_bucket(self) -> bool:
        """True when some created bucket sends server access logs."""
        return any(c.access_logs for c in self.created.values())


def hardening(config: _Config) -> Hardening:
    """The hardening of `config`: written settings first, then the packs' defaults."""
    packs = set(config.compliance_checks)
    data = bool(packs & DATA_PACKS)
    key = config.encryption_key
    created = {}
    for b in config.buckets:
        if not b.create:
            continue
        created[b.name] = CreatedBucketHardening(
            key=b.kms_key_arn or key or (CREATE_KEY if data else None),
            versioned=b.versioned if b.versioned is not None else data,
            access_logs=b.access_logs
            if b.access_logs is not None
            else data or config.access_log_bucket is not None,
        )
    stack_key = key or (CREATE_KEY if data else None)
    return Hardening(
        key=stack_key,
        tracing=config.tracing if config.tracing is not None else bool(packs & TRACING_PACKS),
        reserve_concurrency=bool(packs & CONCURRENCY_PACKS),
        created=created,
    )
