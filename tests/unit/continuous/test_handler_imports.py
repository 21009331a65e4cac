"""The handler imports with what the Lambda bundle ships: no CDK, no JSON Schema validators."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent(
    """
    import importlib.abc
    import sys

    BLOCKED = ("aws_cdk", "constructs", "cdk_nag", "jsii", "jsonschema", "jsonschema_rs",
               "pyarrow", "stacks", "tests")

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"{name} is not in the Lambda bundle")
            return None

    sys.meta_path.insert(0, Block())

    from registration.build.plan import pipeline_options
    from registration.build.sources import ObjectRecord
    from registration.build.spec import BuildOptions
    from registration.continuous import handler
    from registration.continuous.items import Items
    from registration.continuous.placement import Placer
    from registration.continuous.settings import HandlerSettings, WatchedBucket
    from registration.encord.upload_items import upload_items

    settings = HandlerSettings("t", "q", "s", "https://api.encord.com", "i", "f",
                               (WatchedBucket("bkt", "eu-west-1"),), BuildOptions())
    options = pipeline_options(settings.build)
    record = ObjectRecord("bkt", "a b.jpg", 3)
    assert type(Placer(options).place(record)).__name__ == "Single"
    items = Items(settings, options, None)
    built = items.single(items.entry(record, [], lambda *a: None), lambda *a: None)
    typed = upload_items({"images": [built.item], "skip_duplicate_urls": True}, "x")
    assert typed.skip_duplicate_urls
    assert callable(handler.handler)
    print("ok")
    """
)


def test_the_handler_imports_and_builds_items_without_the_cdk_or_jsonschema() -> None:
    done = subprocess.run(
        [sys.executable, "-s", "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
