"""What the `continuous` commands need of a deployed stack: its resources, clients, AWS errors.

`continuous_resources` refuses a stack without continuous registration (no ``EncordContinuous``
output). `ContinuousClients` makes boto3 clients in the stack's region. `aws_failure` turns an
AWS error into the helper's own error with what to check; `watched_buckets` reads the buckets
and prefixes the deployed function watches from its own settings (the construct writes them
into its environment: `settings.SETTINGS_ENV`), so that nothing outside them is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from registration.aws_errors import AUTH_CODES, error_code, error_message
from registration.continuous.aws import AWS_MAX_ATTEMPTS
from registration.continuous.settings import SETTINGS_ENV, HandlerSettings, WatchedBucket
from registration.errors import AuthError, RegisterError, RemoteError, UsageError, troubleshooting
from registration.stack_outputs import AccessStackOutputs, ContinuousOutput

MISSING_QUEUE_CODES: Final = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
)
MISSING_RESOURCE_CODES: Final = frozenset({"ResourceNotFoundException"}) | MISSING_QUEUE_CODES
"""The queue, table or function the stack names is not there (deleted, another account)."""


def continuous_resources(outputs: AccessStackOutputs | None) -> ContinuousOutput:
    """The stack's continuous-registration resources; UsageError when it has none."""
    if outputs is None:
        raise UsageError(
            "name the stack with --stack-outputs cdk-outputs.json or --stack NAME: its "
            "EncordContinuous output says where the queue and the table are"
        )
    if outputs.continuous is None:
        raise UsageError(
            f"the stack {outputs.stack_name!r} has no continuous registration (no "
            "EncordContinuous output)",
            hint="add a `continuous` object to the encord config in cdk.json and deploy "
            "(docs/continuous.md), or name the stack that has it; "
            + troubleshooting("continuous-registration"),
        )
    return outputs.continuous


@dataclass
class ContinuousClients:
    """boto3 clients in the stack's region, made on first use (tests pass their own)."""

    region: str
    session: Any = None
    _made: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        """The `service` client (``sqs``, ``dynamodb``, ``lambda``) in the stack's region."""
        if service not in self._made:
            import boto3
            from botocore.config import Config

            session: Any = self.session or boto3.session.Session()
            config = Config(retries={"mode": "standard", "max_attempts": AWS_MAX_ATTEMPTS})
            self._made[service] = session.client(service, region_name=self.region, config=config)
        return self._made[service]

    @property
    def sqs(self) -> Any:
        """The SQS client."""
        return self.client("sqs")

    @property
    def dynamodb(self) -> Any:
        """The DynamoDB client."""
        return self.client("dynamodb")


def aws_failure(exc: BaseException, action: str, permission: str) -> RegisterError:
    """The helper's error for an AWS failure while `action` (`permission` is what it needs)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(exc, RegisterError):
        return exc
    if isinstance(exc, NoCredentialsError):
        return AuthError(f"no AWS credentials found while {action}")
    if isinstance(exc, ClientError):
        code, message = error_code(exc), error_message(exc)
        if code in AUTH_CODES:
            return AuthError(
                f"AWS refused {action}: {code} {message}".strip(),
                hint=f"the credentials need {permission}; "
                + troubleshooting("continuous-registration"),
            )
        if code in MISSING_RESOURCE_CODES:
            return UsageError(
                f"{action}: {code} {message}".strip(),
                hint="the stack's resource is gone or in another account/region: check the "
                "stack outputs (--stack-outputs / --stack) and your credentials' account",
            )
        return RemoteError(f"AWS failed while {action}: {code} {message}".strip())
    if isinstance(exc, BotoCoreError):
        return RemoteError(f"AWS failed while {action}: {exc}")
    raise exc


def watched_buckets(resources: ContinuousOutput, lambda_client: Any) -> tuple[WatchedBucket, ...]:
    """The buckets and prefixes the deployed function watches (its `HandlerSettings`)."""
    action = f"reading the settings of function {resources.function_name}"
    try:
        answer = lambda_client.get_function_configuration(FunctionName=resources.function_name)
    except Exception as exc:
        raise aws_failure(exc, action, "lambda:GetFunctionConfiguration on the function") from exc
    variables = (answer.get("Environment") or {}).get("Variables") or {}
    text = variables.get(SETTINGS_ENV)
    if not text:
        raise UsageError(
            f"function {resources.function_name} has no {SETTINGS_ENV}: it is not the "
            "continuous-registration function of this project",
            hint="check the stack outputs, or redeploy the stack",
        )
    return HandlerSettings.from_json(text).buckets
