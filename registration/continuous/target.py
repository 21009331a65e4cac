"""Where the handler registers: an Encord session, its folder and its integration, made once.

Built from the key (Secrets Manager) and the settings on the first invocation of a container
and kept while the container lives; `registration.encord` does the talking (the SDK is
imported there only). The folder is created when missing, by one container (`folder`).
"""

from __future__ import annotations

from dataclasses import dataclass

from registration.continuous.folder import SharedFolder
from registration.continuous.settings import HandlerSettings
from registration.encord.client import EncordSession, FolderRef
from registration.encord.connection import ENV_KEY, connect
from registration.encord.retry import RetryPolicy


@dataclass(frozen=True)
class EncordTarget:
    """A connected session, the folder the items go to and the integration that signs URLs."""

    session: EncordSession
    folder: FolderRef
    integration_id: str


def connect_target(
    key_text: str,
    settings: HandlerSettings,
    folder: SharedFolder,
    policy: RetryPolicy | None = None,
) -> EncordTarget:
    """Connect with `key_text` and resolve the integration and the folder (AuthError when
    Encord refuses the key, UsageError when the integration is not visible)."""
    client = connect(domain=settings.domain, environ={ENV_KEY: key_text})
    session = EncordSession(client, policy=policy)
    integration = session.resolve_integration(settings.integration)
    return EncordTarget(session, folder.resolve(session), integration.id)
