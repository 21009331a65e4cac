"""The AWS clients the handler uses, made once per container (tests pass moto-backed ones)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

AWS_MAX_ATTEMPTS: Final = 8
"""botocore's own retries of throttling and 5xx answers (standard mode) before the engine
sees an error; what still fails goes back to the queue."""
AWS_POOL_CONNECTIONS: Final = 32
"""Connections per client: the engine's worker threads share the clients."""


@dataclass(frozen=True)
class AwsClients:
    """boto3 low-level clients (thread-safe) for S3, DynamoDB, SQS and Secrets Manager."""

    s3: Any
    dynamodb: Any
    sqs: Any
    secrets: Any

    @classmethod
    def create(cls, region: str | None = None) -> AwsClients:
        """Clients from boto3's standard credential chain (the function's role on Lambda)."""
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"max_attempts": AWS_MAX_ATTEMPTS, "mode": "standard"},
            max_pool_connections=AWS_POOL_CONNECTIONS,
        )
        session = boto3.session.Session(region_name=region)
        return cls(
            s3=session.client("s3", config=config),
            dynamodb=session.client("dynamodb", config=config),
            sqs=session.client("sqs", config=config),
            secrets=session.client("secretsmanager", config=config),
        )
