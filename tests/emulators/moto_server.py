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

6. moto updates a stack in the wrong order (it deletes removed resources first) and ignores
   a role's inline ``Policies`` and trust on update (and resets its maximum session), and
   it does not update a resource whose properties change only through a parameter it does
   not ``Ref`` directly (``Fn::Sub``, a condition, a default). The patch follows
   CloudFormation: every changed resource is updated, create and update first, then
   delete the removed and replaced resources in the cleanup phase, each before what it
   depends on, where a failed delete is logged (``cleanup: DELETE_FAILED``)
   and not rolled back. The custom resource's S3 calls are authorised against its
   function's role as IAM holds it at that moment, and the event is given the function's
   environment, so a handler that loses its permission before its delete fails here as
   it would on AWS.

7. Continuous registration (`stacks.continuous`). Its ``Custom::EncordBucketEventBridge``
   runs in-process like the CORS resource (`stacks.notifications_handler.index.apply_event`),
   and moto's S3 read of a notification configuration gets the ``EventBridgeConfiguration``
   moto stores but leaves out. moto's CloudFormation table ignores its time to live and
   point-in-time recovery: the patch applies them. An SQS event source mapping is recorded
   but does not consume its queue (moto would try to invoke the function, which needs
   Docker); the local SQS poller plays the mapping. ``AWS::SQS::QueuePolicy`` and
   ``AWS::CloudWatch::Alarm`` stay unsupported: moto skips them with a warning.

8. The launch-stack template (`stacks.launch_template`) removes list elements with
   ``Fn::If [condition, element, AWS::NoValue]``. moto keeps them as nulls; the patch drops
   them, as CloudFormation does.

9. The hardening of ``complianceChecks`` (`stacks.config_compliance`). moto's CloudFormation
   bucket ignores ``VersioningConfiguration``, ``LoggingConfiguration`` and the encryption
   rule's ``BucketKeyEnabled``; ``AWS::S3::BucketPolicy`` is unsupported; a key's
   ``KeyPolicy`` is stored as an object, not JSON text (DescribeKey then fails); a log
   group's ``KmsKeyId`` and a function's ``TracingConfig`` are dropped. The patch applies
   each as CloudFormation does. moto enforces a bucket policy without evaluating its
   conditions, so the TLS-only ``Deny`` of every CDK bucket would refuse every request:
   statements with a ``Condition`` are left out of moto's enforcement (S3 evaluates them).

So a deploy here proves the template's wiring, the order of its updates and deletes, the
handler role's permissions and the handler's merge logic against a real S3 API; it does not
prove the Lambda runtime itself (packaging, the asset's imports).

Run standalone (the demo does): ``python -m tests.emulators.moto_server --port 0
--ready-file F`` writes ``http://localhost:PORT`` to F when it accepts requests and serves
until SIGTERM/SIGINT. In tests, use `running_moto_server()`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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

from registration.cors_merge import Bounds

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
    from moto.cloudformation import parsing
    from moto.cloudformation.custom_model import CustomModel
    from moto.s3 import models as s3_models

    from stacks.cors_handler import index as cors_handler
    from stacks.notifications_handler import index as notifications_handler

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
        cls: Any, /, resource_name: str, cfn: Any, account_id: str, region_name: str, **kw: Any
    ) -> Any:
        bucket = original_create(cls, resource_name, cfn, account_id, region_name, **kw)
        _apply_cors(bucket, cfn.get("Properties", {}), account_id)
        _apply_bucket_hardening(bucket, cfn.get("Properties", {}), account_id)
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
        _apply_bucket_hardening(bucket, cloudformation_json.get("Properties", {}), account_id)
        return bucket

    bucket_cls.create_from_cloudformation_json = classmethod(create_bucket)  # type: ignore[assignment]
    bucket_cls.update_from_cloudformation_json = classmethod(update_bucket)  # type: ignore[assignment]
    _patch_managed_policy()
    _patch_role_inline_policies()
    _patch_previous_parameters()
    _patch_preflight()
    _patch_update_order()
    _patch_notification_read()
    _patch_table_settings()
    _patch_queue_event_source()
    _patch_no_value_in_lists()
    _patch_compliance_properties()
    bucket_policy_cls = _bucket_policy_model()

    class EncordCorsResource(CustomModel):
        """`Custom::EncordBucketCors` carried out in-process by the project's handler logic.

        As the Lambda runtime would: the event goes to the function its ``ServiceToken``
        names, with that function's environment (the bucket allow-list), and every S3 call
        is authorised against that function's role as IAM holds it at the moment of the call.
        """

        __module__ = "moto.cloudformation.encord_cors"  # moto's model registry keys on it
        properties: dict[str, Any]

        @classmethod
        def _run(
            cls,
            request: str,
            properties: dict[str, Any],
            physical_id: str | None,
            old_properties: dict[str, Any] | None = None,
        ) -> tuple[str, dict[str, str]]:
            event = _custom_resource_event(request, properties, physical_id, old_properties)
            function = _function_for(properties["ServiceToken"])
            return cors_handler.apply_event(
                event,
                lambda region: _s3_client_as(endpoint_url, region, function.role),
                allowed_buckets=cors_handler.allowed_buckets_from(function.environment_vars),
                bounds=EMULATOR_BOUNDS,
            )

        @classmethod
        def create_from_cloudformation_json(
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
        def update_from_cloudformation_json(
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> EncordCorsResource:
            properties = cloudformation_json["Properties"]
            physical_id, data = cls._run(
                "Update", properties, original_resource.resource_name, original_resource.properties
            )
            if physical_id != original_resource.resource_name:
                # A new physical ID means CloudFormation deletes the old resource, in cleanup.
                old_properties, old_id = (
                    original_resource.properties,
                    original_resource.resource_name,
                )
                _CLEANUP.pending.append(lambda: cls._run("Delete", old_properties, old_id))
            resource = cls(region_name, "local", original_resource.logical_id, physical_id)
            resource.properties = properties
            resource.set_data(data)
            return resource

        def delete(self, account_id: str, region_name: str) -> None:
            self._run("Delete", self.properties, self.resource_name)

    class EncordEventBridgeResource(EncordCorsResource):
        """`Custom::EncordBucketEventBridge` carried out in-process, as the CORS resource is.

        moto cannot invoke a Lambda function without Docker: the project's handler logic
        (`stacks.notifications_handler.index.apply_event`) runs here instead, with the
        function's environment and its role's permissions, against this same server.
        """

        __module__ = "moto.cloudformation.encord_eventbridge"

        @classmethod
        def _run(
            cls,
            request: str,
            properties: dict[str, Any],
            physical_id: str | None,
            old_properties: dict[str, Any] | None = None,
        ) -> tuple[str, dict[str, str]]:
            event = _custom_resource_event(request, properties, physical_id, old_properties)
            function = _function_for(properties["ServiceToken"])
            return notifications_handler.apply_event(
                event,
                lambda region: _s3_client_as(endpoint_url, region, function.role),
                allowed_buckets=notifications_handler.allowed_buckets_from(
                    function.environment_vars
                ),
                bounds=notifications_handler.Bounds(
                    attempts=5, deadline_seconds=30, settle_seconds=0.05
                ),
            )

    original_class_from_type = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type == cors_handler.RESOURCE_TYPE:
            return EncordCorsResource
        if resource_type == notifications_handler.RESOURCE_TYPE:
            return EncordEventBridgeResource
        if resource_type == bucket_policy_cls.cloudformation_type():
            return bucket_policy_cls
        return original_class_from_type(resource_type)

    parsing.resource_class_from_type = resource_class_from_type


#: The custom resource's merge bounds here: a short settle keeps deploys quick.
EMULATOR_BOUNDS = Bounds(attempts=5, deadline_seconds=30, settle_seconds=0.05)
#: IAM actions of the S3 calls the custom resources make (DeleteBucketCors is PutBucketCORS).
_S3_ACTIONS = {
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
}
_CLEANUP = threading.local()
"""Deletes of replaced custom resources, run in the update's cleanup phase (`pending`)."""


def _custom_resource_event(
    request: str,
    properties: dict[str, Any],
    physical_id: str | None,
    old_properties: dict[str, Any] | None,
) -> dict[str, Any]:
    """The parts of CloudFormation's custom-resource event the handlers read."""
    event: dict[str, Any] = {"RequestType": request, "ResourceProperties": properties}
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = old_properties
    return event


def _function_for(service_token: str) -> Any:
    """The Lambda function a custom resource's ServiceToken names, from moto's backend."""
    from moto.awslambda.models import lambda_backends

    region = service_token.split(":")[3]
    return lambda_backends[ACCOUNT_ID][region].get_function(service_token)


def _role_allows(role_arn: str, action: str, resource: str) -> bool:
    """Whether the role, as IAM holds it now, allows `action` on `resource` (no Deny)."""
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.iam.models import iam_backends

    backend = iam_backends[ACCOUNT_ID]["aws"]
    try:
        role = backend.get_role_by_arn(role_arn)
    except Exception:  # the role is gone: nothing is allowed
        return False
    policies = [
        IAMPolicy(d if isinstance(d, str) else json.dumps(d)) for d in role.policies.values()
    ] + [IAMPolicy(p) for p in role.managed_policies.values()]
    results = [policy.is_action_permitted(action, resource) for policy in policies]
    return PermissionResult.DENIED not in results and PermissionResult.PERMITTED in results


def _s3_client_as(endpoint_url: str, region: str | None, role_arn: str) -> Any:
    """An S3 client whose CORS calls IAM authorises as `role_arn` (AccessDenied otherwise)."""
    import boto3
    from botocore.exceptions import ClientError

    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region or "us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )

    def authorise(model: Any, params: dict[str, Any], **_: Any) -> None:
        action = _S3_ACTIONS.get(model.name, f"s3:{model.name}")
        resource = f"arn:aws:s3:::{params.get('Bucket', '')}"
        if not _role_allows(role_arn, action, resource):
            message = f"{role_arn} is not authorized to perform: {action} on resource: {resource}"
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, model.name)

    client.meta.events.register("before-parameter-build.s3", authorise)
    return client


def _references(value: Any) -> set[str]:
    """Logical IDs a resource's JSON refers to (Ref, Fn::GetAtt, Fn::Sub is not used here)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            found.add(value["Ref"])
        target = value.get("Fn::GetAtt")
        if isinstance(target, list) and target:
            found.add(str(target[0]))
        for item in value.values():
            found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def _deletion_order(names: list[str], resources: dict[str, Any]) -> list[str]:
    """`names` so that a resource goes before everything it depends on (CloudFormation's order)."""
    depends: dict[str, set[str]] = {}
    for name in names:
        resource = resources.get(name, {})
        on = resource.get("DependsOn", [])
        depends[name] = (_references(resource) | set([on] if isinstance(on, str) else on)) & set(
            names
        )
    order: list[str] = []
    left = list(names)
    while left:
        free = [n for n in left if not any(n in depends[o] for o in left if o != n)] or left[:1]
        order += free
        left = [n for n in left if n not in free]
    return order


def _patch_no_value_in_lists() -> None:
    """``Fn::If [c, x, AWS::NoValue]`` inside a list removes the element, as CloudFormation does.

    moto resolves ``AWS::NoValue`` to None and drops it from mappings but leaves it in lists,
    so a policy of the launch-stack template would hold ``null`` resources. CloudFormation
    never puts a null in a list, so every None left in one is a removed element.
    """
    from moto.cloudformation import parsing

    original = parsing.clean_json

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, list):
            cleaned = (clean_json(item, resources_map) for item in resource_json)
            return [item for item in cleaned if item is not None]
        return original(resource_json, resources_map)

    parsing.clean_json = clean_json


def _resolved_properties(resource: dict[str, Any], resources_map: Any) -> Any:
    """A resource's properties resolved against the stack's current parameters and conditions."""
    from moto.cloudformation import parsing

    try:
        return parsing.clean_json(resource.get("Properties", {}), resources_map)
    except Exception as exc:  # unresolvable now: count it as changed
        return exc


def _patch_update_order() -> None:
    """Update a stack as CloudFormation does: create and update first, delete in cleanup.

    moto deletes the removed resources first, in any order. CloudFormation creates the new
    resources and updates the changed ones, then, in the cleanup phase, deletes the removed
    (and replaced) ones, each before what it depends on; a failed delete in cleanup is
    reported but does not roll the update back (the resource is left behind).
    """
    from moto.cloudformation import parsing

    def update(
        self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None
    ) -> None:
        diff = self.build_resource_diff(template, parameters)
        old_resources = dict(self._resource_json_map)
        kept = [n for n in template["Resources"] if n in old_resources and n not in diff["Modify"]]
        before = {n: _resolved_properties(old_resources[n], self) for n in kept}
        self._template = template
        if parameters:
            self.input_parameters = parameters
        self.load_mapping()
        self.load_parameters()
        self.load_conditions()
        self._resource_json_map = template["Resources"]
        # A resource whose template text is unchanged still changes when a parameter or
        # condition it depends on does (moto only sees direct `Ref`s to passed parameters).
        diff["Modify"] += [
            n for n in kept if _resolved_properties(template["Resources"][n], self) != before[n]
        ]
        _CLEANUP.pending = []
        for name in diff["Add"]:
            _ = self[name]
        left = list(diff["Modify"])
        for _attempt in range(5):
            failed: list[str] = []
            for name in left:
                try:
                    self._parsed_resources[name] = parsing.parse_and_update_resource(
                        name,
                        self._resource_json_map[name],
                        self,
                        account_id=self._account_id,
                        region_name=self._region_name,
                    )
                except Exception as exc:
                    failed.append(name)
                    last = exc
            left = failed
            if not left:
                break
        if left:
            raise last
        for delete_replaced in _CLEANUP.pending:
            _cleanup_step(delete_replaced, "a replaced custom resource")
        for name in _deletion_order(diff["Remove"], old_resources):
            resource = self._parsed_resources.pop(name, None)
            if resource is not None:
                _cleanup_step(
                    lambda r=resource, n=name: self._delete_resource(r, old_resources[n]), name
                )

    def delete(self: Any) -> None:
        names = [
            k
            for k, v in self._resource_json_map.items()
            if v.get("DeletionPolicy") != "Retain" and k in self._parsed_resources
        ]
        for name in _deletion_order(names, self._resource_json_map):
            resource = self._parsed_resources.get(name)
            if resource is not None and not isinstance(resource, str):
                self._delete_resource(resource, self._resource_json_map[name])
                self._parsed_resources.pop(name)

    parsing.ResourceMap.update = update  # type: ignore[method-assign]
    parsing.ResourceMap.delete = delete  # type: ignore[method-assign]


def _cleanup_step(step: Any, what: str) -> None:
    """Run one delete of the cleanup phase; a failure is logged, as CloudFormation reports it."""
    try:
        step()
    except Exception as exc:
        print(f"cleanup: DELETE_FAILED {what}: {type(exc).__name__}: {exc}", flush=True)


def _patch_role_inline_policies() -> None:
    """moto's CloudFormation update of a role ignores its inline ``Policies`` and its trust,
    and sets its maximum session from the wrong property; apply them as CloudFormation does."""
    from moto.iam import models as iam_models

    role_cls = iam_models.Role
    original = role_cls.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def update(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        role = original(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        wanted = {
            p["PolicyName"]: p["PolicyDocument"]
            for p in cloudformation_json.get("Properties", {}).get("Policies", [])
        }
        for name in [n for n in role.policies if n not in wanted]:
            role.delete_policy(name)
        for name, document in wanted.items():
            role.put_policy(name, document)
        properties = cloudformation_json.get("Properties", {})
        trust = properties.get("AssumeRolePolicyDocument")
        if trust is not None:
            role.assume_role_policy_document = (
                trust if isinstance(trust, str) else json.dumps(trust)
            )
        role.max_session_duration = int(properties.get("MaxSessionDuration", 3600))
        return role

    role_cls.update_from_cloudformation_json = classmethod(update)  # type: ignore[assignment]


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
        return original(self, instance, known)

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


def notification_read_with_eventbridge(original: Any) -> Any:
    """moto's GetBucketNotificationConfiguration with the ``EventBridgeConfiguration`` it drops.

    moto 5.2 stores a bucket's EventBridge setting (and sends the events) but leaves it out of
    the read, which the EventBridge custom resource relies on. `original` is moto's
    `S3Response.get_bucket_notification`; in-process tests patch it with this too.
    """
    from moto.core.responses import ActionResult

    def get_bucket_notification(self: Any) -> Any:
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is None or config.event_bridge is None:
            return original(self)

        def build(item: Any, arn_key: str) -> dict[str, Any]:
            built: dict[str, Any] = {"Id": item.id, arn_key: item.arn, "Events": item.events}
            if item.filters:
                built["Filter"] = {"Key": {"FilterRules": item.filters["S3Key"]["FilterRule"]}}
            return built

        result = {
            "TopicConfigurations": [build(t, "TopicArn") for t in config.topic],
            "QueueConfigurations": [build(q, "QueueArn") for q in config.queue],
            "LambdaFunctionConfigurations": [
                build(f, "LambdaFunctionArn") for f in config.cloud_function
            ],
            "EventBridgeConfiguration": {},
        }
        self.data["Action"] = "GetBucketNotificationConfiguration"
        return self.serialized(ActionResult(result))

    return get_bucket_notification


def _patch_notification_read() -> None:
    from moto.s3.responses import S3Response

    S3Response.get_bucket_notification = notification_read_with_eventbridge(  # type: ignore[method-assign]
        S3Response.get_bucket_notification
    )


def _patch_table_settings() -> None:
    """moto's CloudFormation table ignores TimeToLiveSpecification and
    PointInTimeRecoverySpecification: apply them on create, as CloudFormation does."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    original = Table.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(
        cls: Any, /, resource_name: str, cfn: Any, account_id: str, region_name: str, **kw: Any
    ) -> Any:
        table = original(cls, resource_name, cfn, account_id, region_name, **kw)
        properties = cfn.get("Properties", {})
        backend = dynamodb_backends[account_id][region_name]
        if "TimeToLiveSpecification" in properties:
            backend.update_time_to_live(table.name, properties["TimeToLiveSpecification"])
        recovery = properties.get("PointInTimeRecoverySpecification") or {}
        if recovery.get("PointInTimeRecoveryEnabled"):
            backend.update_continuous_backups(table.name, {"PointInTimeRecoveryEnabled": True})
        return table

    Table.create_from_cloudformation_json = classmethod(create)  # type: ignore[assignment]


def _patch_queue_event_source() -> None:
    """An SQS event source mapping is recorded, but does not consume the queue.

    moto cannot invoke a Lambda function without Docker: its mapping would receive each new
    message, fail to invoke the function and put the message back, one receive nearer the
    dead-letter queue each time. Here the mapping exists (as deployed, with its settings) and
    the queue is left alone: the local SQS poller (`tests.emulators.sqs_poller`) is the event
    source mapping, with the project's handler run in-process.
    """
    from moto.awslambda.models import LambdaBackend
    from moto.sqs.models import sqs_backends

    original = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        mapping = original(self, spec)
        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            if queue.queue_arn == mapping.event_source_arn:
                queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
        return mapping

    LambdaBackend.create_event_source_mapping = create_event_source_mapping  # type: ignore[method-assign]


def _apply_bucket_hardening(bucket: Any, properties: dict[str, Any], account_id: str) -> None:
    """What moto's CloudFormation bucket ignores: VersioningConfiguration, LoggingConfiguration
    and the encryption rule's BucketKeyEnabled (moto keeps only the algorithm and key).

    The server access logs are set as S3 sets them, without moto's check of the target's
    bucket policy: CloudFormation creates the bucket before the log bucket's policy (the
    CDK's policy names the bucket in its ``aws:SourceArn`` condition), and S3 accepts that.
    The target must exist, in the same region, as S3 requires.
    """
    from moto.s3 import models as s3_models
    from moto.s3.exceptions import CrossLocationLoggingProhibited, InvalidTargetBucketForLogging

    backend = s3_models.s3_backends[account_id]["aws"]
    versioning = properties.get("VersioningConfiguration")
    if versioning:
        backend.put_bucket_versioning(bucket.name, versioning["Status"])
    logging = properties.get("LoggingConfiguration")
    if logging:
        target = backend.buckets.get(logging.get("DestinationBucketName", bucket.name))
        if target is None:
            raise InvalidTargetBucketForLogging("The target bucket for logging does not exist.")
        if target.region_name != bucket.region_name:
            raise CrossLocationLoggingProhibited()
        bucket.logging = {
            "TargetBucket": target.name,
            "TargetPrefix": logging.get("LogFilePrefix", ""),
        }
    else:
        bucket.logging = {}
    rules = (properties.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")
    if rules and bucket.encryption and "BucketKeyEnabled" in rules[0]:
        enabled = str(rules[0]["BucketKeyEnabled"]).lower() == "true"  # True or "true"
        bucket.encryption["Rule"]["BucketKeyEnabled"] = enabled


def _patch_compliance_properties() -> None:
    """What the compliance packs' hardening sets and moto's CloudFormation drops:

    - ``AWS::KMS::Key``: moto stores the ``KeyPolicy`` object as given, not as the JSON text
      KMS keeps, so GetKeyPolicy returns an object and DescribeKey fails (500) parsing it.
    - ``AWS::Logs::LogGroup``: moto reads the API's ``kmsKeyId``, not CloudFormation's
      ``KmsKeyId``, so the group is created unencrypted.
    - ``AWS::Lambda::Function``: moto leaves out ``TracingConfig`` on create and update.
    """
    from moto.awslambda.models import LambdaFunction
    from moto.kms.models import Key
    from moto.logs.models import LogGroup

    create_key = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def key(
        cls: Any, /, resource_name: str, cfn: Any, account_id: str, region_name: str, **kw: Any
    ) -> Any:
        properties = cfn.get("Properties", {})
        if isinstance(properties.get("KeyPolicy"), dict):
            policy = json.dumps(properties["KeyPolicy"])
            cfn = {**cfn, "Properties": {**properties, "KeyPolicy": policy}}
        return create_key(cls, resource_name, cfn, account_id, region_name, **kw)

    create_log_group = LogGroup.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def log_group(
        cls: Any, /, resource_name: str, cfn: Any, account_id: str, region_name: str, **kw: Any
    ) -> Any:
        group = create_log_group(cls, resource_name, cfn, account_id, region_name, **kw)
        group.kms_key_id = cfn.get("Properties", {}).get("KmsKeyId")
        return group

    create_function = LambdaFunction.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    update_function = LambdaFunction.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    no_tracing = {"Mode": "PassThrough"}  # Lambda's default

    def function(
        cls: Any, /, resource_name: str, cfn: Any, account_id: str, region_name: str, **kw: Any
    ) -> Any:
        created = create_function(cls, resource_name, cfn, account_id, region_name, **kw)
        created.tracing_config = cfn.get("Properties", {}).get("TracingConfig") or no_tracing
        return created

    def update(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        updated = update_function(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        properties = cloudformation_json.get("Properties", {})
        updated.tracing_config = properties.get("TracingConfig") or no_tracing
        return updated

    Key.create_from_cloudformation_json = classmethod(key)  # type: ignore[assignment]
    LogGroup.create_from_cloudformation_json = classmethod(log_group)  # type: ignore[assignment]
    LambdaFunction.create_from_cloudformation_json = classmethod(function)  # type: ignore[assignment]
    LambdaFunction.update_from_cloudformation_json = classmethod(update)  # type: ignore[assignment]


def _bucket_policy_model() -> Any:
    """``AWS::S3::BucketPolicy``, which moto's CloudFormation skips: put on create and update,
    deleted with the stack (the bucket itself may be retained), as CloudFormation does.

    moto enforces a bucket policy on object requests without evaluating conditions (it has
    no request context for them), so the TLS-only ``Deny`` every CDK bucket has (conditioned
    on ``aws:SecureTransport`` false) would refuse every request. S3 evaluates it (and the
    emulator's plain HTTP stands in for S3's HTTPS): here statements with a ``Condition``
    are left out of moto's enforcement; GetBucketPolicy returns the policy as deployed.
    """
    from moto.core.common_models import CloudFormationModel
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3 import models as s3_models

    def backend(account_id: str) -> Any:
        return s3_models.s3_backends[account_id]["aws"]

    class BucketPolicy(CloudFormationModel):
        __module__ = "moto.s3.encord_bucket_policy"  # moto's model registry keys on it

        def __init__(self, physical_id: str, bucket_name: str, account_id: str) -> None:
            self.physical_id = physical_id
            self.bucket_name = bucket_name
            self.account_id = account_id

        @property
        def physical_resource_id(self) -> str:
            return self.physical_id

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::S3::BucketPolicy"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return False

        @classmethod
        def _put(cls, physical_id: str, cfn: dict[str, Any], account_id: str) -> BucketPolicy:
            properties = cfn["Properties"]
            document = properties["PolicyDocument"]
            text = document if isinstance(document, str) else json.dumps(document)
            backend(account_id).put_bucket_policy(properties["Bucket"], text.encode())
            return cls(physical_id, properties["Bucket"], account_id)

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> BucketPolicy:
            return cls._put(resource_name, cloudformation_json, account_id)

        @classmethod
        def update_from_cloudformation_json(
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> BucketPolicy:
            if cloudformation_json["Properties"]["Bucket"] != original_resource.bucket_name:
                original_resource.delete(account_id, region_name)  # another bucket: replaced
            return cls._put(original_resource.physical_id, cloudformation_json, account_id)

        def delete(self, account_id: str, region_name: str) -> None:
            if self.bucket_name in backend(account_id).buckets:
                backend(account_id).delete_bucket_policy(self.bucket_name)

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy.decode())
        statements = document.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        enforced = [s for s in statements if "Condition" not in s]
        if not enforced:
            return PermissionResult.NEUTRAL
        policy = IAMPolicy(json.dumps({**document, "Statement": enforced}))
        return policy.is_action_permitted(action, resource)

    s3_models.FakeBucket.get_permission = get_permission  # type: ignore[method-assign]
    return BucketPolicy


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
