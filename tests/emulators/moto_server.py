"""A local AWS for the deploy tests and the demo: moto's server plus two small test-side patches.

moto 5.2 serves CloudFormation, IAM, S3, STS, SSM and Lambda on loopback, which is enough for
a real ``npx cdk bootstrap`` and ``npx cdk deploy --method=direct``. Three gaps matter to the
access stack (see the project's local-emulation notes):

1. moto's CloudFormation model of ``AWS::S3::Bucket`` ignores ``CorsConfiguration``: the patch
   applies it on create and update, as CloudFormation does.
2. A Lambda-backed custom resource needs Docker in moto (without it the stack never leaves
   CREATE_IN_PROGRESS). For the stack's own ``Custom::EncordBucketCors`` type the patch runs
   the project's handler logic (`stacks.cors_handler.index.apply_event`) in-process, against
   this same server over HTTP, for Create, Update and Delete.
3. moto's ``AWS::IAM::ManagedPolicy`` can be created but not updated or deleted, so
   ``cdk destroy`` fails on the role ("must detach all policies first"): the patch detaches
   and deletes the policy, and updates it with a new default version.
4. On a second deploy the CLI passes ``UsePreviousValue`` for the template's
   ``BootstrapVersion`` parameter, which was never given explicitly (its default was used);
   moto fails with a KeyError. The patch keeps the default in that case, as AWS does.
5. moto's CORS preflight differs from S3's in two ways that matter here: it refuses an
   (always unsigned) ``OPTIONS`` on an existing private object with 403 before it looks at
   the CORS rules, and it requires *every* rule to allow the origin (so a customer's rule
   for another origin makes every preflight fail). S3 answers preflights from the CORS
   configuration alone, with the first rule that matches the origin, the requested method
   and the requested headers; the patch does exactly that, so `verify`'s real preflight is
   tested against private objects and buckets with several rules, as real data is.

So a deploy here proves the template's wiring and the handler's merge logic against a real
S3 API; it does not prove the Lambda runtime itself (packaging, IAM of the handler role).

Run standalone (the demo does): ``python -m tests.emulators.moto_server --port 0
--ready-file F`` writes ``http://localhost:PORT`` to F when it accepts requests and serves
until SIGTERM/SIGINT. In tests, use `running_moto_server()`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: Dummy credentials and settings every client of the emulator uses.
EMULATOR_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "CDK_DEFAULT_ACCOUNT": "123456789012",
    "CDK_DEFAULT_REGION": "us-east-1",
}
ACCOUNT_ID = EMULATOR_ENV["CDK_DEFAULT_ACCOUNT"]
REPO_ROOT = Path(__file__).resolve().parents[2]


def _cfn_cors_to_moto(cors: dict[str, Any]) -> list[dict[str, Any]]:
    """CloudFormation's CorsConfiguration in the shape moto's backend `put_bucket_cors` takes."""
    rules = []
    for rule in cors.get("CorsRules", []):
        converted: dict[str, Any] = {
            "AllowedMethod": list(rule["AllowedMethods"]),
            "AllowedOrigin": list(rule["AllowedOrigins"]),
        }
        if "AllowedHeaders" in rule:
            converted["AllowedHeader"] = list(rule["AllowedHeaders"])
        if "ExposedHeaders" in rule:
            converted["ExposeHeader"] = list(rule["ExposedHeaders"])
        if "MaxAge" in rule:
            converted["MaxAgeSeconds"] = str(rule["MaxAge"])
        if "Id" in rule:
            converted["ID"] = str(rule["Id"])
        rules.append(converted)
    return rules


def patch_moto(endpoint_url: str) -> None:
    """Install the two patches into this process's moto (call before serving)."""
    import boto3
    from moto.cloudformation import parsing
    from moto.cloudformation.custom_model import CustomModel
    from moto.s3 import models as s3_models

    from stacks.cors_handler import index as cors_handler

    bucket_cls = s3_models.FakeBucket
    original_create = bucket_cls.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    original_update = bucket_cls.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def _apply_cors(bucket: Any, properties: dict[str, Any], account_id: str) -> None:
        backend = s3_models.s3_backends[account_id]["aws"]
        if "CorsConfiguration" in properties:
            backend.put_bucket_cors(bucket.name, _cfn_cors_to_moto(properties["CorsConfiguration"]))
        else:
            backend.delete_bucket_cors(bucket.name)

    def create_bucket(
        cls: Any, resource_name: str, cfn: Any, account_id: str, region_name: str, **kw: Any
    ) -> Any:
        bucket = original_create(cls, resource_name, cfn, account_id, region_name, **kw)
        _apply_cors(bucket, cfn.get("Properties", {}), account_id)
        return bucket

    def update_bucket(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        bucket = original_update(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        _apply_cors(bucket, cloudformation_json.get("Properties", {}), account_id)
        return bucket

    bucket_cls.create_from_cloudformation_json = classmethod(create_bucket)  # type: ignore[assignment]
    bucket_cls.update_from_cloudformation_json = classmethod(update_bucket)  # type: ignore[assignment]
    _patch_managed_policy()
    _patch_previous_parameters()
    _patch_preflight()

    def s3_client(region: str | None) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or "us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    class EncordCorsResource(CustomModel):
        """`Custom::EncordBucketCors` carried out in-process by the project's handler logic."""

        __module__ = "moto.cloudformation.encord_cors"  # moto's model registry keys on it
        properties: dict[str, Any]

        @classmethod
        def _run(
            cls, request: str, properties: dict[str, Any], physical_id: str | None
        ) -> tuple[str, dict[str, str]]:
            event = {"RequestType": request, "ResourceProperties": properties}
            if physical_id:
                event["PhysicalResourceId"] = physical_id
            return cors_handler.apply_event(event, s3_client)

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> EncordCorsResource:
            properties = cloudformation_json["Properties"]
            physical_id, data = cls._run("Create", properties, None)
            resource = cls(region_name, "local", kwargs["LogicalId"], physical_id)
            resource.properties = properties
            resource.set_data(data)
            return resource

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[override]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> EncordCorsResource:
            properties = cloudformation_json["Properties"]
            physical_id, data = cls._run("Update", properties, original_resource.resource_name)
            if physical_id != original_resource.resource_name:
                # A new physical ID means CloudFormation deletes the old resource afterwards.
                cls._run("Delete", original_resource.properties, original_resource.resource_name)
            resource = cls(region_name, "local", original_resource.logical_id, physical_id)
            resource.properties = properties
            resource.set_data(data)
            return resource

        def delete(self, account_id: str, region_name: str) -> None:
            self._run("Delete", self.properties, self.resource_name)

    original_class_from_type = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type == cors_handler.RESOURCE_TYPE:
            return EncordCorsResource
        return original_class_from_type(resource_type)

    parsing.resource_class_from_type = resource_class_from_type


def _patch_managed_policy() -> None:
    """Give moto's CloudFormation ManagedPolicy the update and delete that it lacks."""
    import json

    from moto.iam import models as iam_models

    def backend_for(account_id: str) -> Any:
        return iam_models.iam_backends[account_id]["aws"]

    def detach_everywhere(backend: Any, policy: Any) -> None:
        for role in backend.roles.values():
            if policy.arn in role.managed_policies:
                backend.detach_role_policy(policy.arn, role.name)

    def delete(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend = backend_for(account_id)
        policy = backend.managed_policies.get(resource_name)
        if policy is None:
            return
        detach_everywhere(backend, policy)
        backend.delete_policy(policy.arn)

    def update(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        backend = backend_for(account_id)
        properties = cloudformation_json.get("Properties", {})
        policy = original_resource
        for version in [v for v in policy.versions if not v.is_default]:
            backend.delete_policy_version(policy.arn, version.version_id)
        backend.create_policy_version(
            policy.arn, json.dumps(properties.get("PolicyDocument")), True
        )
        wanted = set(properties.get("Roles", []))
        for role in backend.roles.values():
            attached = policy.arn in role.managed_policies
            if attached and role.name not in wanted:
                backend.detach_role_policy(policy.arn, role.name)
            elif not attached and role.name in wanted:
                backend.attach_role_policy(policy.arn, role.name)
        return policy

    managed = iam_models.ManagedPolicy
    managed.delete_from_cloudformation_json = classmethod(delete)  # type: ignore[assignment]
    managed.update_from_cloudformation_json = classmethod(update)  # type: ignore[assignment]


def _patch_previous_parameters() -> None:
    """`UsePreviousValue` for a parameter created from its default keeps the default."""
    from moto.cloudformation import models as cfn_models

    original = cfn_models.CloudFormationBackend._resolve_update_parameters

    def resolve(self: Any, instance: Any, incoming_params: list[dict[str, Any]]) -> dict[str, str]:
        known = [
            p
            for p in incoming_params
            if not p.get("UsePreviousValue") or p["ParameterKey"] in (instance.parameters or {})
        ]
        return original(self, instance, known)  # type: ignore[no-any-return]

    cfn_models.CloudFormationBackend._resolve_update_parameters = resolve  # type: ignore[method-assign]


def _patch_preflight() -> None:
    """Answer OPTIONS from the first matching CORS rule, whatever the object's ACL."""
    import fnmatch

    from moto.s3.exceptions import AccessForbidden
    from moto.s3.responses import S3Response
    from moto.s3.utils import cors_matches_origin

    original = S3Response._key_response

    def key_response(self: Any, request: Any, full_url: str) -> Any:
        if request.method == "OPTIONS":
            bucket_name = self.parse_bucket_name_from_url(request, full_url)
            return self._response_options(request.headers, bucket_name)
        return original(self, request, full_url)

    def as_list(value: Any) -> list[str]:
        if value is None:
            return []
        return [value] if isinstance(value, str) else list(value)

    def matches(rule: Any, origin: str, method: str, wanted: list[str]) -> bool:
        if not origin or not cors_matches_origin(origin, as_list(rule.allowed_origins)):
            return False
        if method and method not in as_list(rule.allowed_methods):
            return False
        allowed = [h.lower() for h in as_list(rule.allowed_headers)]
        return all(any(fnmatch.fnmatchcase(h, a) for a in allowed) for h in wanted)

    def set_cors_headers_options(self: Any, headers: Any, bucket: Any) -> None:
        origin = headers.get("Origin") or ""
        method = headers.get("Access-Control-Request-Method") or ""
        wanted = [
            h.strip().lower()
            for h in (headers.get("Access-Control-Request-Headers") or "").split(",")
            if h.strip()
        ]
        rule = next((r for r in bucket.cors if matches(r, origin, method, wanted)), None)
        if rule is None:
            raise AccessForbidden("CORSResponse: This CORS request is not allowed.")
        self.response_headers["Access-Control-Allow-Origin"] = origin
        self.response_headers["Access-Control-Allow-Methods"] = ", ".join(
            as_list(rule.allowed_methods)
        )
        if wanted:
            self.response_headers["Access-Control-Allow-Headers"] = ", ".join(wanted)
        if rule.exposed_headers:
            self.response_headers["Access-Control-Expose-Headers"] = ", ".join(
                as_list(rule.exposed_headers)
            )
        if rule.max_age_seconds is not None:
            self.response_headers["Access-Control-Max-Age"] = str(rule.max_age_seconds)
        self.response_headers["Vary"] = (
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
        )

    S3Response._key_response = key_response  # type: ignore[method-assign]
    S3Response._set_cors_headers_options = set_cors_headers_options  # type: ignore[method-assign]


def serve(port: int, ready_file: Path | None) -> None:
    """Patch moto and serve on loopback until SIGTERM or SIGINT."""
    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"  # answer preflights from bucket rules
    for key, value in EMULATOR_ENV.items():
        os.environ.setdefault(key, value)
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    actual_port = server.get_host_and_port()[1]
    endpoint = f"http://localhost:{actual_port}"
    patch_moto(endpoint)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if ready_file is not None:
        tmp = ready_file.with_suffix(".tmp")
        tmp.write_text(endpoint, encoding="utf-8")
        tmp.replace(ready_file)
    print(f"ready {endpoint}", flush=True)
    stop.wait()
    server.stop()


def _wait_ready(process: subprocess.Popen[bytes], ready_file: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready_file.exists():
            endpoint = ready_file.read_text(encoding="utf-8").strip()
            host_port = endpoint.removeprefix("http://").split(":")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", int(host_port[1])), timeout=1),
            ):
                return endpoint
        if process.poll() is not None:
            raise RuntimeError(f"the moto server exited with code {process.returncode}")
        time.sleep(0.1)
    raise TimeoutError(f"the moto server was not ready within {timeout:.0f} s")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Stop a child process: SIGTERM, then SIGKILL if it does not exit in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


@contextlib.contextmanager
def running_moto_server(log_file: Path | None = None, timeout: float = 60) -> Iterator[str]:
    """Start the patched moto server as a child process; yield ``http://localhost:PORT``."""
    with tempfile.TemporaryDirectory(prefix="moto-") as tmp:
        ready = Path(tmp) / "ready"
        log = log_file.open("wb") if log_file else subprocess.DEVNULL
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.emulators.moto_server",
                "--port",
                "0",
                "--ready-file",
                str(ready),
            ],
            cwd=REPO_ROOT,
            env={**os.environ, **EMULATOR_ENV, "PYTHONPATH": str(REPO_ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT if log_file else subprocess.DEVNULL,
        )
        try:
            yield _wait_ready(process, ready, timeout)
        finally:
            stop_process(process)
            if log_file and not isinstance(log, int):
                log.close()


def main(argv: list[str] | None = None) -> int:
    """Command line: serve the patched emulator."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--ready-file", type=Path, help="write the endpoint URL here once serving")
    args = parser.parse_args(argv)
    serve(args.port, args.ready_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
