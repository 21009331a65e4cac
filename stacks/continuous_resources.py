"""The queues, the state table and the alarms of `EncordContinuousRegistration`.

Each function builds one kind of resource with every setting this project relies on spelled
out, so a review reads them here: the queues (SSE, TLS only, a dead-letter queue after
`MAX_RECEIVE_COUNT` receives), the table of `registration.continuous.table` (on demand,
point-in-time recovery, retained), and three alarms (dead letters, the age of the oldest
message, function errors).
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from registration.continuous import table as layout
from stacks import compliance
from stacks import continuous_rules as crules

FUNCTION_TIMEOUT: Final = Duration.seconds(crules.FUNCTION_TIMEOUT_SECONDS)
#: AWS's advice for a queue read by Lambda: a visibility timeout of at least six times the
#: function's timeout (plus the batching window), so a throttled batch is not received twice.
VISIBILITY_TIMEOUT_FACTOR: Final = 6
#: How often a message may be received before SQS moves it to the dead-letter queue (AWS
#: advises at least 5 with Lambda, so throttled retries do not dead-letter healthy messages).
MAX_RECEIVE_COUNT: Final = 5
#: SQS keeps a message this long: a backfill backlog has a week to drain. Shorter than the
#: dead-letter queue's, which counts from the same first enqueue (standard queues).
QUEUE_RETENTION: Final = Duration.days(7)
#: SQS's longest retention: time to fix the cause and `encord-register continuous redrive`.
DEAD_LETTER_RETENTION: Final = Duration.days(14)
#: The period of every alarm's metric.
ALARM_PERIOD: Final = Duration.minutes(5)

_DEAD_LETTER_REDRIVE_REASON: Final = (
    "It is the dead-letter queue: its messages wait, for the retention period, to be sent "
    "back with `encord-register continuous redrive` once their cause is fixed."
)
_BACKUP_PLAN_REASON: Final = (
    "Point-in-time recovery is on (restore to any second of the last 35 days) and the table "
    "is retained when the stack is deleted. An AWS Backup plan (vault, schedule, retention) is "
    "the account's backup policy: plans select resources by tag, and the app's `tags` setting "
    "tags the table."
)

#: The keys of `alarms`' answer.
DEAD_LETTERS: Final = "dead_letters"
OLDEST_MESSAGE: Final = "oldest_message"
ERRORS: Final = "errors"


def queues(scope: Construct, batch_window: Duration) -> tuple[sqs.Queue, sqs.Queue]:
    """``(queue, dead_letter_queue)``: both SSE-SQS (EventBridge can send to it without a
    key policy) and TLS only."""
    dead_letters = sqs.Queue(
        scope,
        "DeadLetterQueue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
    )
    compliance.acknowledge(dead_letters, "SQSRedrivePolicy", _DEAD_LETTER_REDRIVE_REASON)
    visibility = (
        VISIBILITY_TIMEOUT_FACTOR * FUNCTION_TIMEOUT.to_seconds() + batch_window.to_seconds()
    )
    queue = sqs.Queue(
        scope,
        "Queue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=QUEUE_RETENTION,
        visibility_timeout=Duration.seconds(visibility),
        dead_letter_queue=sqs.DeadLetterQueue(
            max_receive_count=MAX_RECEIVE_COUNT, queue=dead_letters
        ),
    )
    return queue, dead_letters


def state_table(scope: Construct) -> dynamodb.Table:
    """The table of `registration.continuous.table`, with its sparse listing index."""
    table = dynamodb.Table(
        scope,
        "State",
        partition_key=dynamodb.Attribute(
            name=layout.PARTITION_KEY, type=dynamodb.AttributeType.STRING
        ),
        sort_key=dynamodb.Attribute(name=layout.SORT_KEY, type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=layout.TTL,
        # What is registered is what keeps a redeploy (or a new stack) from registering it
        # again: the table outlives the stack.
        removal_policy=RemovalPolicy.RETAIN,
    )
    table.add_global_secondary_index(
        index_name=layout.LISTING_INDEX,
        partition_key=dynamodb.Attribute(name=layout.LISTING, type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=layout.AT, type=dynamodb.AttributeType.STRING),
        projection_type=dynamodb.ProjectionType.ALL,
    )
    compliance.acknowledge(table, "DynamoDBInBackupPlan", _BACKUP_PLAN_REASON)
    return table


def alarms(
    scope: Construct,
    *,
    queue: sqs.IQueue,
    dead_letter_queue: sqs.IQueue,
    function: lambda_.IFunction,
    oldest_message: Duration,
    topic: sns.ITopic | None,
) -> dict[str, cloudwatch.Alarm]:
    """The three alarms, by `DEAD_LETTERS`, `OLDEST_MESSAGE` and `ERRORS`; each notifies
    `topic` when given. No data (an idle queue, a function not invoked) is not an alarm."""
    at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
    found = {
        DEAD_LETTERS: cloudwatch.Alarm(
            scope,
            "DeadLettersAlarm",
            alarm_description="Messages in the continuous-registration dead-letter queue: see "
            "`encord-register continuous status` for their reasons, fix the cause, then "
            "`encord-register continuous redrive`",
            metric=dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=at_least,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
        OLDEST_MESSAGE: cloudwatch.Alarm(
            scope,
            "OldestMessageAlarm",
            alarm_description="The continuous-registration queue is not draining: its handlers "
            "fail or cannot keep up (see `encord-register continuous status`)",
            metric=queue.metric_approximate_age_of_oldest_message(
                period=ALARM_PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=oldest_message.to_seconds(),
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
        ERRORS: cloudwatch.Alarm(
            scope,
            "ErrorsAlarm",
            alarm_description="The continuous-registration function failed: an authentication "
            "error fails every batch (check the Encord key in the secret); see its log group",
            metric=function.metric_errors(period=ALARM_PERIOD, statistic=cloudwatch.Stats.SUM),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=at_least,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
    }
    if topic is not None:
        for alarm in found.values():
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    return found
