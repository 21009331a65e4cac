"""`EncordContinuousRegistration`: new uploads registered in Encord as they land.

Drop it into any CDK stack, with your own buckets and the secret holding the Encord SSH key::

    images = s3.Bucket(self, "Images", enforce_ssl=True)
    key = secretsmanager.Secret.from_secret_name_v2(self, "EncordKey", "encord/registration-key")
    continuous = EncordContinuousRegistration(
        self,
        "EncordContinuous",
        buckets=[WatchedS3Bucket(bucket=images, prefixes=["drone/"])],
        ssh_key_secret=key,
        integration="My S3",
        folder="datasets/live",
        image_sequences=["drone/*/frames"],
    )

Per watched bucket, S3 sends "Object Created" events to EventBridge (`stacks.event_notifications`,
keeping the bucket's other notifications) and a rule (the bucket, its prefixes) puts them on
`queue`; `function` (`stacks.continuous_bundle`) reads it in batches, keeps its state in `table`
and is told everything but the key in one environment variable (`HandlerSettings`). The key
stays in Secrets Manager: the template and the environment hold only the secret's ARN or name.
Queues, table, alarms: `stacks.continuous_resources`; permissions: `continuous_permissions`.

The constructor checks every prop first and raises one `EncordContinuousPropsError` listing
every problem (`stacks.continuous_props`). It reads no context and no environment. cdk-nag's
findings on what it builds are acknowledged here, each with its reason and scope.
Long: one constructor wires the queues, table, function, rules and alarms; each prop documented.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from aws_cdk import Acknowledgment, Duration, Names, Stack, Token, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from registration.build.sidecars import DEFAULT_SIDECAR_SUFFIXES
from registration.build.spec import BuildOptions
from registration.continuous.settings import SETTINGS_ENV, HandlerSettings, WatchedBucket
from registration.encord.connection import DEFAULT_DOMAIN
from stacks import compliance
from stacks import continuous_permissions as grants
from stacks import continuous_resources as resources
from stacks import continuous_rules as crules
from stacks.continuous_bundle import ARCHITECTURE, HANDLER, handler_code
from stacks.continuous_props import (
    EncordContinuousPropsError,
    PropProblem,
    WatchedS3Bucket,
    check_props,
)
from stacks.encord_access_props import known_bucket_name
from stacks.event_notifications import enable_event_bridge
from stacks.functions import FunctionHardening, ManagedPolicyRole
from stacks.permissions import IAM5_RESOURCE_FINDING, BucketGrant, flatten_reference

__all__ = [
    "DEFAULT_RUNTIME",
    "EncordContinuousPropsError",
    "EncordContinuousRegistration",
    "PropProblem",
    "WatchedS3Bucket",
]

DEFAULT_RUNTIME: Final = lambda_.Runtime.PYTHON_3_13
DEFAULT_QUIET_PERIOD: Final = Duration.seconds(crules.DEFAULT_QUIET_SECONDS)
DEFAULT_BATCH_WINDOW: Final = Duration.seconds(crules.DEFAULT_BATCH_WINDOW_SECONDS)
DEFAULT_OLDEST_MESSAGE_ALARM: Final = Duration.seconds(crules.DEFAULT_OLDEST_MESSAGE_ALARM_SECONDS)
DEFAULT_LOG_RETENTION: Final = logs.RetentionDays.THREE_MONTHS
#: Memory (and so CPU) of the function: the Encord SDK and the build stage, one batch at a time.
FUNCTION_MEMORY_MB: Final = 1024
#: The newest Lambda Python runtime this CDK knows: cdk-nag's L1 asks for it.
_NEWEST_PYTHON: Final = lambda_.Runtime.PYTHON_3_14

_PREFIX_WILDCARD_REASON: Final = (
    "Object ARNs end in `<prefix>*`: the handler reads sidecars (and HEADs objects) under the "
    "watched prefixes, and nothing outside them."
)
_NO_VPC_REASON: Final = (
    "It calls Encord's public API over TLS (and AWS APIs authorised by its role), so inside a "
    "VPC it would need a NAT gateway to the same internet; it serves no network traffic."
)
_NO_DLQ_REASON: Final = (
    "Only its SQS event source invokes it, synchronously; a function's dead-letter queue "
    "applies to asynchronous invocations only. A message that keeps failing goes to the "
    "queue's own dead-letter queue (`dead_letter_queue`), which `continuous redrive` empties."
)
_MAPPING_DESTINATION_REASON: Final = (
    "Lambda supports on-failure destinations for stream and Kafka event sources, not SQS: "
    "the queue's redrive policy sends a failing message to the dead-letter queue instead."
)
_RUNTIME_REASON: Final = (
    "The runtime is the `runtime` prop: the handler's dependencies are installed for it as "
    "manylinux wheels, so the default is the newest Python every dependency publishes wheels "
    "for; pass a newer runtime when they do."
)


class EncordContinuousRegistration(Construct):
    """S3 events → EventBridge → SQS → Lambda that registers new objects in Encord.

    :param buckets: the buckets to watch, each a `WatchedS3Bucket` (prefixes, KMS key).
        Required. Each must be in the stack's region (S3 sends events there).
    :param ssh_key_secret: the Secrets Manager secret whose SecretString is the Encord SSH
        private key (OpenSSH text). Required; only its ARN or name reaches the template.
    :param integration: the Encord cloud integration (title or UUID) that signs the URLs.
    :param folder: the Encord folder (path or UUID) the items go to; created when missing.
    :param domain: Encord's API address. Default: ``https://api.encord.com``.
    :param image_groups, image_sequences, dicom_series: folder patterns, as `manifest`'s
        ``--image-group``, ``--image-sequence`` and ``--dicom-series``. Default: none (a
        folder of ``.dcm`` files is a DICOM series anyway).
    :param type_map: extension → type overrides (``{"jfif": "image"}``). Default: none.
    :param sidecar_suffixes: key endings that make an object another's sidecar.
        Default: ``.metadata.json`` and ``.json``.
    :param quiet_period: a group is complete when its folder has had no new object this long.
        Default: 5 minutes.
    :param group_marker: an object name (``_COMPLETE``) that completes its folder's group at
        once; never registered itself. Default: none, the quiet period alone.
    :param batch_size, batch_window: messages per invocation, and how long Lambda gathers
        them. Default: 100 messages, 10 seconds.
    :param max_concurrency: functions at once (2-1000), to stay under Encord's rate limits.
        Default: 4.
    :param alarm_topic: the SNS topic the alarms notify. Default: none (alarms only).
    :param oldest_message_alarm: the queue's oldest message age that raises an alarm.
        Default: one hour.
    :param runtime: the function's Python runtime (3.11 or later). Default: Python 3.13.
    :param ssh_key_secret_key: the KMS key the secret is encrypted with, when it is a key of
        yours; the function gets ``kms:Decrypt`` on it through Secrets Manager only.
        Default: the secret's ``encryption_key``, else none (the AWS-managed key needs none).
    :param permissions_boundary: a managed policy bounding every role the construct creates.
        Default: no boundary.
    :param log_retention: how long the function's logs are kept. Default: three months.
    :param log_encryption_key: the KMS key that encrypts the functions' log groups; its key
        policy must let CloudWatch Logs use it. Default: none (CloudWatch's own encryption).
    :param tracing: X-Ray active tracing of the functions. Default: False.
    :param reserve_concurrency: reserve `max_concurrency` concurrent executions for the
        function (and one for each notification handler); HIPAA and NIST 800-53 ask for it.
        Default: False.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        buckets: Sequence[WatchedS3Bucket],
        ssh_key_secret: secretsmanager.ISecret,
        integration: str,
        folder: str,
        domain: str = DEFAULT_DOMAIN,
        image_groups: Sequence[str] = (),
        image_sequences: Sequence[str] = (),
        dicom_series: Sequence[str] = (),
        type_map: Mapping[str, str] | None = None,
        sidecar_suffixes: Sequence[str] = DEFAULT_SIDECAR_SUFFIXES,
        quiet_period: Duration = DEFAULT_QUIET_PERIOD,
        group_marker: str | None = None,
        batch_size: int = crules.DEFAULT_BATCH_SIZE,
        batch_window: Duration = DEFAULT_BATCH_WINDOW,
        max_concurrency: int = crules.DEFAULT_MAX_CONCURRENCY,
        alarm_topic: sns.ITopic | None = None,
        oldest_message_alarm: Duration = DEFAULT_OLDEST_MESSAGE_ALARM,
        runtime: lambda_.Runtime = DEFAULT_RUNTIME,
        ssh_key_secret_key: kms.IKey | None = None,
        permissions_boundary: iam.IManagedPolicy | None = None,
        log_retention: logs.RetentionDays = DEFAULT_LOG_RETENTION,
        log_encryption_key: kms.IKey | None = None,
        tracing: bool = False,
        reserve_concurrency: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        type_map = dict(type_map or {})
        problems = check_props(
            self,
            buckets=buckets,
            ssh_key_secret=ssh_key_secret,
            ssh_key_secret_key=ssh_key_secret_key,
            domain=domain,
            integration=integration,
            folder=folder,
            image_groups=image_groups,
            image_sequences=image_sequences,
            dicom_series=dicom_series,
            type_map=type_map,
            sidecar_suffixes=sidecar_suffixes,
            quiet_period=quiet_period,
            group_marker=group_marker,
            batch_size=batch_size,
            batch_window=batch_window,
            max_concurrency=max_concurrency,
            oldest_message_alarm=oldest_message_alarm,
            runtime=runtime,
        )
        if problems:
            raise EncordContinuousPropsError(self.node.path, problems)
        if permissions_boundary is not None:
            # Every role in this construct (the notification custom resources' too).
            iam.PermissionsBoundary.of(self).apply(permissions_boundary)
        self._buckets = tuple(buckets)
        self._queue, self._dead_letter_queue = resources.queues(self, batch_window)
        self._table = resources.state_table(self)
        self._settings = HandlerSettings(
            table_name=self._table.table_name,
            queue_url=self._queue.queue_url,
            secret_id=ssh_key_secret.secret_full_arn or ssh_key_secret.secret_name,
            domain=domain.rstrip("/"),
            integration=integration,
            folder=folder,
            buckets=tuple(
                WatchedBucket(
                    name=known_bucket_name(b.bucket) or b.bucket.bucket_name,
                    region=self._region_of(b.bucket.env.region),
                    prefixes=b.watched_prefixes(),
                )
                for b in buckets
            ),
            build=BuildOptions(
                type_map=crules.type_map_pairs(type_map.items()),
                image_groups=tuple(image_groups),
                image_sequences=tuple(image_sequences),
                dicom_series=tuple(dicom_series),
                sidecar_suffixes=tuple(sidecar_suffixes),
            ),
            quiet_seconds=int(quiet_period.to_seconds()),
            marker=group_marker,
        )
        self._hardening = FunctionHardening(
            log_key=log_encryption_key, tracing=tracing, reserve_concurrency=reserve_concurrency
        )
        self._function = self._handler(
            runtime, log_retention, max_concurrency if reserve_concurrency else None
        )
        source = event_sources.SqsEventSource(
            self._queue,
            batch_size=batch_size,
            max_batching_window=batch_window if batch_window.to_seconds() else None,
            report_batch_item_failures=True,
            max_concurrency=max_concurrency,
        )
        self._function.add_event_source(source)
        for mapping in self._function.node.children:
            if isinstance(mapping, lambda_.EventSourceMapping):
                compliance.acknowledge(
                    mapping, "LambdaEventSourceMappingDestination", _MAPPING_DESTINATION_REASON
                )
        self._grant(ssh_key_secret, ssh_key_secret_key)
        self._rules = tuple(self._watch(b) for b in buckets)
        self._alarms = resources.alarms(
            self,
            queue=self._queue,
            dead_letter_queue=self._dead_letter_queue,
            function=self._function,
            oldest_message=oldest_message_alarm,
            topic=alarm_topic,
        )
        if runtime.name != _NEWEST_PYTHON.name:
            Validations.of(self._function).acknowledge(
                Acknowledgment(id="AwsSolutions::AwsSolutions-L1", reason=_RUNTIME_REASON)
            )
            compliance.acknowledge(self._function, "LambdaLatestVersion", _RUNTIME_REASON)
        compliance.acknowledge(self._function, "LambdaInsideVPC", _NO_VPC_REASON)
        compliance.acknowledge(self._function, "LambdaDLQ", _NO_DLQ_REASON)

    @property
    def queue(self) -> sqs.Queue:
        """The queue the function reads: S3 events, backfill batches and its own checks."""
        return self._queue

    @property
    def dead_letter_queue(self) -> sqs.Queue:
        """Where messages that kept failing (and events EventBridge could not deliver) wait."""
        return self._dead_letter_queue

    @property
    def table(self) -> dynamodb.Table:
        """The state table (`registration.continuous.table`); retained when the stack goes."""
        return self._table

    @property
    def function(self) -> lambda_.Function:
        """The handler function."""
        return self._function

    @property
    def rules(self) -> tuple[events.Rule, ...]:
        """One EventBridge rule per watched bucket, in the order of `buckets`."""
        return self._rules

    @property
    def alarms(self) -> Mapping[str, cloudwatch.Alarm]:
        """The alarms: ``dead_letters``, ``oldest_message`` and ``errors``."""
        return dict(self._alarms)

    @property
    def settings(self) -> HandlerSettings:
        """What the function is told (its ``ENCORD_CONTINUOUS_SETTINGS``; tokens unresolved)."""
        return self._settings

    @property
    def buckets(self) -> tuple[WatchedS3Bucket, ...]:
        """The watched buckets, as given."""
        return self._buckets

    def _region_of(self, region: str) -> str:
        """`region` when the app spells it, else the stack's region (maybe a token)."""
        return region if not Token.is_unresolved(region) else Stack.of(self).region

    def _handler(
        self, runtime: lambda_.Runtime, log_retention: logs.RetentionDays, reserved: int | None
    ) -> lambda_.Function:
        # Every value in the settings is a plain string or a token of a name, URL, ARN or
        # region, none of which can hold a quote or a backslash: CloudFormation's Fn::Join of
        # the JSON text and the resolved values is valid JSON.
        settings_json = self._settings.to_json()
        size = crules.environment_bytes(settings_json, SETTINGS_ENV)
        if size > crules.MAX_ENVIRONMENT_BYTES:
            problem = PropProblem(
                "settings",
                f"about {size:,} bytes",
                f"Lambda allows {crules.MAX_ENVIRONMENT_BYTES:,} bytes of environment variables: "
                "watch fewer prefixes, or give fewer patterns",
            )
            raise EncordContinuousPropsError(self.node.path, [problem])
        log_group = self._hardening.log_group(self, "HandlerLogs", log_retention)
        role = ManagedPolicyRole(
            self,
            "HandlerRole",
            description="Registers new S3 objects in Encord (continuous registration)",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        role.add_statements(*grants.log_statements(log_group.log_group_arn))
        return lambda_.Function(
            self,
            "Handler",
            description="Registers new S3 objects in Encord as they land (continuous registration)",
            runtime=runtime,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=handler_code(runtime),
            timeout=resources.FUNCTION_TIMEOUT,
            memory_size=FUNCTION_MEMORY_MB,
            role=role,
            log_group=log_group,
            environment={SETTINGS_ENV: settings_json},
            # It sends delayed checks to its own queue until a group is quiet: a chain Lambda's
            # loop detection would stop after 16 hops. The engine ends every chain.
            recursive_loop=lambda_.RecursiveLoop.ALLOW,
            tracing=self._hardening.tracing_mode,
            reserved_concurrent_executions=reserved,
        )

    def _grant(self, secret: secretsmanager.ISecret, secret_key: kms.IKey | None) -> None:
        """What the function needs beyond its logs and reading its queue (the event source
        grants that), and cdk-nag's IAM5 acknowledged for each ``<prefix>*`` object ARN."""
        buckets = [
            BucketGrant(
                arn=self._bucket_arn(b.bucket),
                prefixes=b.watched_prefixes(),
                region=self._region_of(b.bucket.env.region),
                key_arn=key.key_arn if (key := b.key or b.bucket.encryption_key) else None,
            )
            for b in self._buckets
        ]
        key = secret_key or secret.encryption_key
        statements = [
            *grants.object_statements(buckets),
            *grants.secret_statements(
                grants.SecretGrant(
                    arn=secret.secret_full_arn or f"{secret.secret_arn}{grants.NAME_ARN_SUFFIX}",
                    region=self._region_of(secret.env.region),
                    key_arn=key.key_arn if key else None,
                )
            ),
            *grants.state_statements(
                grants.StateGrant(table_arn=self._table.table_arn, queue_arn=self._queue.queue_arn)
            ),
        ]
        role = self._function.role
        assert isinstance(role, ManagedPolicyRole)
        role.add_statements(*statements)
        self._function.node.add_dependency(*role.policies)  # invoked only once all are attached
        stack = Stack.of(self)
        objects = [b.objects_under(p) for b in buckets for p in b.prefixes]
        findings = {
            IAM5_RESOURCE_FINDING.format(resource=flatten_reference(stack.resolve(r)))
            for r in objects
        }
        for finding in sorted(findings):
            Validations.of(role).acknowledge(  # on each of its policies
                Acknowledgment(id=finding, reason=_PREFIX_WILDCARD_REASON)
            )

    def _bucket_arn(self, bucket: s3.IBucket) -> str:
        """The bucket's ARN: by name when the app spells it (as `EncordAccess` grants it)."""
        name = known_bucket_name(bucket)
        if name is None:
            return bucket.bucket_arn
        return Stack.of(self).format_arn(service="s3", region="", account="", resource=name)

    def _watch(self, entry: WatchedS3Bucket) -> events.Rule:
        """EventBridge notifications on for the bucket, and the rule that queues its events."""
        bucket = entry.bucket
        name = known_bucket_name(bucket)
        label = name or Names.unique_id(bucket)
        # In the bucket's own region (its env.region).
        enable_event_bridge(self, bucket, hardening=self._hardening)
        pattern = crules.event_pattern(label if name else bucket.bucket_name, entry.prefixes)
        return events.Rule(
            self,
            f"ObjectCreated-{label}",
            description=f"New objects of {name or bucket.node.path} to register in Encord",
            event_pattern=events.EventPattern(
                source=pattern["source"],
                detail_type=pattern["detail-type"],
                detail=pattern["detail"],
            ),
            # An event EventBridge cannot deliver (after its retries) waits in the
            # dead-letter queue too, in the same shape: `continuous redrive` sends it back.
            targets=[targets.SqsQueue(self._queue, dead_letter_queue=self._dead_letter_queue)],
        )
