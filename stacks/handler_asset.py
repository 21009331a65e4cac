"""The Lambda asset of a custom-resource handler: its directory's modules plus shared ones.

A handler directory (`stacks/cors_handler/`, `stacks/notifications_handler/`) holds the
handler's ``index.py``; the modules it shares with the rest of the project
(`stacks.handler_common`, and for CORS the merge of `registration.cors_merge` that
`encord-register cors` runs) are copied next to it at their own package path, so the asset
imports them as the project does: one implementation. The copy is the CDK's local bundling (no
Docker), and the asset is hashed by its output, so a change to a shared module deploys.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from stacks import handler_common

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
COMMON_MODULES: Final = (Path(handler_common.__file__).resolve(),)
"""What every handler asset carries besides its own directory."""


@jsii.implements(ILocalBundling)
class _LocalCopy:
    """Builds the asset locally: the handler directory's modules plus the shared ones."""

    def __init__(self, handler_dir: Path, shared: Sequence[Path]) -> None:
        self.handler_dir = handler_dir
        self.shared = tuple(shared)

    def try_bundle(self, output_dir: str, *_options: Any, **_kw: Any) -> bool:
        """Copy the files into `output_dir`; True: bundled, Docker is never needed."""
        out = Path(output_dir)
        for source in self.handler_dir.glob("*.py"):
            if source.name != "__init__.py":
                shutil.copy2(source, out / source.name)
        for module in self.shared:
            target = out / module.relative_to(REPO_ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(module, target)
        return True


def handler_code(handler_dir: Path, shared: Sequence[Path] = ()) -> lambda_.Code:
    """The code of the handler in `handler_dir`, with `COMMON_MODULES` and `shared` beside it."""
    return lambda_.Code.from_asset(
        str(handler_dir),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused-local-bundling"),
            local=_LocalCopy(handler_dir, (*COMMON_MODULES, *shared)),
        ),
    )
