"""What `verify` checks and what it reports: statuses, one result per check, the target."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from registration.contract import DEFAULT_CORS_ORIGINS

DEFAULT_SAMPLE = 3
"""Sample objects per prefix."""

METHOD_SIMULATOR = "policy simulator"
METHOD_LOCAL = "local policy evaluation"


class Status(StrEnum):
    """The outcome of one check."""

    PASSED = "PASSED"
    FAILED = "FAILED"
    NOT_CHECKED = "NOT_CHECKED"

    @property
    def label(self) -> str:
        """The four-letter label of human output."""
        return _LABELS[self]


_LABELS = {Status.PASSED: "PASS", Status.FAILED: "FAIL", Status.NOT_CHECKED: "SKIP"}


@dataclass(frozen=True)
class CheckResult:
    """One reported check: what was checked (`name`, `subject`), the outcome and the fix.

    `message` says what was found (or, for NOT_CHECKED, why it was not checked); `fix` is
    set on FAILED results only; `method` says how a permission was decided, when it was.
    """

    status: Status
    name: str
    subject: str
    message: str
    fix: str | None = None
    method: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object (every key always present)."""
        return {
            "status": self.status.value,
            "name": self.name,
            "subject": self.subject,
            "message": self.message,
            "fix": self.fix,
            "method": self.method,
        }


def passed(name: str, subject: str, message: str, *, method: str | None = None) -> CheckResult:
    """A PASSED result."""
    return CheckResult(Status.PASSED, name, subject, message, method=method)


def failed(
    name: str, subject: str, message: str, fix: str, *, method: str | None = None
) -> CheckResult:
    """A FAILED result, with the fix in one or two sentences."""
    return CheckResult(Status.FAILED, name, subject, message, fix=fix, method=method)


def not_checked(name: str, subject: str, why: str, *, method: str | None = None) -> CheckResult:
    """A NOT_CHECKED result, saying why."""
    return CheckResult(Status.NOT_CHECKED, name, subject, why, method=method)


@dataclass(frozen=True)
class BucketTarget:
    """One bucket to check: its name, the region URLs will use (if known), its prefixes."""

    name: str
    region: str | None = None
    prefixes: tuple[str, ...] = ("",)
    kms_key_arn: str | None = None


@dataclass(frozen=True)
class MrapTarget:
    """One Multi-Region Access Point to check."""

    alias: str
    arn: str

    @property
    def account(self) -> str:
        """The AWS account that owns the access point (from its ARN)."""
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 5 else ""


@dataclass(frozen=True)
class VerifyTarget:
    """Everything one `verify` run checks, from the stack outputs and/or flags.

    `principals` are the AWS principals the role must trust (empty: not known, only
    reported); `external_id` is None when it is not known (its presence is still checked).
    """

    role_arn: str | None
    external_id: str | None
    buckets: tuple[BucketTarget, ...]
    origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    mraps: tuple[MrapTarget, ...] = ()
    principals: tuple[str, ...] = ()
    sample: int = DEFAULT_SAMPLE
    preflight: bool = True
    #: The flags that name the access stack to other commands (``--stack NAME``), for fixes.
    stack_args: tuple[str, ...] = ()
    #: The stack lets Encord list the prefixes (``allowListing``): check the listing grant.
    allow_listing: bool = False

    @property
    def role_name(self) -> str | None:
        """The role's name: the last segment of its ARN (roles may have a path)."""
        if not self.role_arn:
            return None
        return self.role_arn.rsplit("/", 1)[-1]


@dataclass
class Report:
    """The results of a run, in the order the checks ran."""

    results: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """How the run went, beyond single checks (e.g. which permission method was used)."""

    def add(self, *results: CheckResult) -> None:
        """Append results."""
        self.results.extend(results)

    def count(self, status: Status) -> int:
        """How many results have `status`."""
        return sum(1 for r in self.results if r.status is status)

    @property
    def ok(self) -> bool:
        """True when nothing FAILED (NOT_CHECKED results do not fail a run)."""
        return self.count(Status.FAILED) == 0
