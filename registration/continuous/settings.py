"""What the continuous-registration handler is told: one JSON document in one environment variable.

The construct (`stacks.continuous`) writes `HandlerSettings.to_json()` into the Lambda's
``ENCORD_CONTINUOUS_SETTINGS``; the handler reads it back with `HandlerSettings.from_environ`.
Nothing in it is secret: the Encord SSH key stays in Secrets Manager (`secret_id` names it) and
is read at run time, never put in the environment, a log line or the template.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from registration.build.spec import BuildOptions
from registration.errors import UsageError

SETTINGS_ENV: Final = "ENCORD_CONTINUOUS_SETTINGS"
"""The Lambda environment variable holding `HandlerSettings` as JSON."""
DEFAULT_QUIET_SECONDS: Final = 300
"""A group (image group, sequence, DICOM series) is complete when its folder has had no new
object for this long (`continuous.quietPeriodSeconds`)."""
MAX_SQS_DELAY_SECONDS: Final = 900
"""SQS's longest message delay: a longer quiet period is waited for in steps of this."""
FUNCTION_TIMEOUT_SECONDS: Final = 300
"""The handler's Lambda timeout (`stacks.continuous` deploys it): a claim's lease must outlive
one invocation, and the queue's visibility timeout is six times this (AWS's advice)."""


@dataclass(frozen=True)
class WatchedBucket:
    """A bucket whose new objects are registered, and under which prefixes ("" = all of it)."""

    name: str
    region: str
    prefixes: tuple[str, ...] = ("",)


@dataclass(frozen=True)
class HandlerSettings:
    """Everything the handler needs but the key: where state is, what to watch, how to build."""

    table_name: str
    """The DynamoDB table of registered objects, groups in progress, late arrivals and errors."""
    queue_url: str
    """The queue the handler reads; group checks are sent back to it with a delay."""
    secret_id: str
    """The Secrets Manager secret (ARN or name) whose SecretString is the Encord SSH key."""
    domain: str
    """Encord's API domain (https://api.encord.com, or the US one)."""
    integration: str
    """The Encord cloud integration (UUID or exact title) that signs the URLs."""
    folder: str
    """The Encord folder (path or UUID) the items go to; created when missing."""
    buckets: tuple[WatchedBucket, ...]
    build: BuildOptions = field(default_factory=BuildOptions)
    """Grouping rules, type map, sidecar suffixes, titles, URL style: `manifest`'s options."""
    quiet_seconds: int = DEFAULT_QUIET_SECONDS
    marker: str | None = None
    """An object name (such as ``_COMPLETE``) whose arrival completes its folder's group at once."""

    def bucket(self, name: str) -> WatchedBucket | None:
        """The watched bucket called `name`, if any."""
        return next((b for b in self.buckets if b.name == name), None)

    def to_json(self) -> str:
        """The settings as compact JSON (what the construct puts in `SETTINGS_ENV`)."""
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> HandlerSettings:
        """Parse `to_json`'s output; UsageError naming what is wrong."""
        try:
            raw: dict[str, Any] = json.loads(text)
            build = raw.pop("build", None) or {}
            buckets = tuple(
                WatchedBucket(b["name"], b["region"], tuple(b.get("prefixes") or ("",)))
                for b in raw.pop("buckets")
            )
            return cls(
                buckets=buckets,
                build=BuildOptions(**_tuples(build)),
                **raw,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"{SETTINGS_ENV} is not valid continuous-registration settings ({exc})",
                hint="redeploy the stack: the construct writes this variable",
            ) from None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> HandlerSettings:
        """The settings from the Lambda's environment."""
        env = os.environ if environ is None else environ
        text = env.get(SETTINGS_ENV)
        if not text:
            raise UsageError(
                f"{SETTINGS_ENV} is not set", hint="deploy the handler with its construct"
            )
        return cls.from_json(text)


def _tuples(raw: dict[str, Any]) -> dict[str, Any]:
    """JSON lists back to the tuples the frozen records hold."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
