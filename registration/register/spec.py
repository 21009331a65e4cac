"""What a register run is asked to do, as frozen records: the Encord target and how to run.

The CLI parses its flags into these (`registration.cli.options`); a Lambda or another
program builds them directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from registration.encord.retry import DEFAULT_BASE_DELAY, DEFAULT_MAX_ATTEMPTS
from registration.errors import UsageError

DEFAULT_JOBS: Final = 4
"""Registration files in flight at once."""

DEFAULT_JOB_DEADLINE: Final = 3600.0
"""Seconds one run polls a registration job at most (`--job-deadline`): Encord registers a
file of the recommended size within minutes; past this the file is reported `in_flight` and
the next run polls the same job again."""

STATE_DIR: Final = ".encord-register"
"""Where the state lives: beside the registration files, or in the current directory."""
STATE_FILE: Final = "register-state.sqlite"


class SubmitForm(StrEnum):
    """How a registration file is sent to Encord (`--submit-form`)."""

    TYPED = "typed"
    """As the SDK's `DataUploadItems`, checked by its pydantic models first (`dataItems`)."""
    FILE = "file"
    """As the JSON document itself, parsed by Encord like an uploaded file (`externalFiles`)."""


DEFAULT_SUBMIT_FORM: Final = SubmitForm.TYPED


@dataclass(frozen=True)
class EncordTarget:
    """Where the data goes in Encord: the cloud integration and the folder."""

    integration: str
    """The integration's exact title or UUID."""
    folder: str
    """`parent/child` (exact names), or the folder's UUID."""
    folder_description: str | None = None
    """Description of a folder this run creates."""
    create_folder: bool = True
    """Create missing folders (else a missing folder is an error)."""


@dataclass(frozen=True)
class RegisterOptions:
    """How to register: parallelism, error handling, retries, and where the report goes.

    Where the state lives is decided with the files to send (`run.prepare_files`).
    """

    jobs: int = DEFAULT_JOBS
    ignore_errors: bool = True
    """Let a job finish when single units fail (they are reported)."""
    retry_failed: bool = False
    """Re-send only the units that failed earlier, by URL."""
    dry_run: bool = False
    max_retries: int = DEFAULT_MAX_ATTEMPTS
    retry_base_delay: float = DEFAULT_BASE_DELAY
    report: Path | None = None
    """Where to write the JSON report (also when the run stops early)."""
    submit_form: SubmitForm = DEFAULT_SUBMIT_FORM
    """The SDK's typed form (default) or the file form; see `SubmitForm`."""
    job_deadline: float = DEFAULT_JOB_DEADLINE
    """Seconds a run polls one job at most; past that the file stays in flight."""
    adaptive: bool = True
    """When `register` builds the files itself: send files cut from them, starting small and
    sized by how fast Encord registers (`registration.register.adaptive`); no effect on
    files given as they are (`--manifests`)."""

    def check(self) -> None:
        """Raise UsageError (naming the flag) when a value cannot be used."""
        if self.jobs < 1:
            raise UsageError(f"--jobs must be at least 1, got {self.jobs}")
        if self.max_retries < 1:
            raise UsageError(f"--max-retries must be at least 1, got {self.max_retries}")
        if self.retry_base_delay < 0:
            raise UsageError("--retry-base-delay must not be negative")
        if not self.job_deadline > 0:
            raise UsageError(f"--job-deadline must be more than 0 seconds, got {self.job_deadline}")
