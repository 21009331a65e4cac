"""An independent reading of a synthesized template against the security properties we promise.

It does not reuse the stack's code: it reads the CloudFormation JSON the way a reviewer (or
a scanner) would and lists every violation. The tests run it on our templates (no findings)
and on deliberately broken copies (each break must be found), so the check itself is proven.
"""

from __future__ import annotations

from typing import Any

PARTITION = "aws"
#: The only actions that may be granted on `*`: X-Ray's writes take no resource ARN.
RESOURCELESS_ACTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})
ENCRYPTION_CONTEXT = "kms:EncryptionContext:aws:s3:arn"


def resolve(value: Any) -> Any:
    """Resolve the intrinsics our templates use for ARNs (Fn::Join with AWS::Partition/Region)."""
    if isinstance(value, dict):
        if "Fn::Join" in value:
            sep, parts = value["Fn::Join"]
            return sep.join(str(resolve(p)) for p in parts)
        if value == {"Ref": "AWS::Partition"}:
            return PARTITION
        if value == {"Ref": "AWS::Region"}:
            return "us-east-1"
        if "Ref" in value or "Fn::GetAtt" in value:
            return f"<{value}>"
        return {k: resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value


def as_list(value: Any) -> list[Any]:
    """A policy field that may be a scalar or a list, as a list."""
    return value if isinstance(value, list) else [value]


def _granted(resource: str, allowed: list[str]) -> bool:
    return resource in allowed


def _kms_problems(logical_id: str, statement: dict[str, Any], buckets: list[Any]) -> list[str]:
    """A KMS grant must name one key, hold only through S3 for its bucket's objects, and
    allow GenerateDataKey only where Encord writes."""
    actions = [a for a in as_list(statement.get("Action", [])) if a.startswith("kms:")]
    if not actions:
        return []
    problems = []
    condition = statement.get("Condition", {})
    vias = as_list(condition.get("StringEquals", {}).get("kms:ViaService", []))
    contexts = as_list(condition.get("StringLike", {}).get(ENCRYPTION_CONTEXT, []))
    if not vias or not contexts:
        problems.append(f"{logical_id}: {actions} without kms:ViaService and {ENCRYPTION_CONTEXT}")
    users = [b for b in buckets if b.get("kmsKeyArn") in as_list(statement.get("Resource", []))]
    if "kms:GenerateDataKey" in actions:
        users = [b for b in users if b.get("writePrefix")]
    allowed = set()
    for bucket in users:
        arn = f"arn:{PARTITION}:s3:::{bucket['name']}"
        prefixes = [bucket["writePrefix"]] if bucket.get("writePrefix") else []
        if "kms:GenerateDataKey" not in actions:
            prefixes += bucket.get("prefixes", [""])
        allowed |= {arn, *(f"{arn}/{p}*" for p in prefixes)}
    regions = {f"s3.{b.get('region', 'us-east-1')}.amazonaws.com" for b in users}
    if set(vias) - regions:
        problems.append(f"{logical_id}: {actions} through S3 in {sorted(set(vias) - regions)}")
    outside = sorted(set(contexts) - allowed)
    if outside:
        problems.append(f"{logical_id}: {actions} for objects outside the grants: {outside}")
    return problems


def _with_its_key(bucket: dict[str, Any], resources: dict[str, Any]) -> dict[str, Any]:
    """`bucket` with the key the template encrypts it with, when the stack creates it without
    a `kmsKeyArn` of its own (a compliance pack's default: the stack's key)."""
    if not bucket.get("create") or bucket.get("kmsKeyArn"):
        return bucket
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::S3::Bucket" or props.get("BucketName") != bucket["name"]:
            continue
        rules = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        default = rules[0].get("ServerSideEncryptionByDefault", {}) if rules else {}
        if "KMSMasterKeyID" in default:
            return {**bucket, "kmsKeyArn": resolve(default["KMSMasterKeyID"])}
    return bucket


def security_problems(template: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """Every way `template` breaks the promised security properties for `config`."""
    problems: list[str] = []
    resources = template["Resources"]
    external_id = config["externalId"]
    buckets = [_with_its_key(b, resources) for b in config["buckets"]]
    read_arns = [
        f"arn:{PARTITION}:s3:::{b['name']}/{p}*" for b in buckets for p in b.get("prefixes", [""])
    ]
    write_arns = [
        f"arn:{PARTITION}:s3:::{b['name']}/{b['writePrefix']}*"
        for b in buckets
        if b.get("writePrefix")
    ]
    for mrap in config.get("multiRegionAccessPoints", []):
        account = mrap["arn"].split(":")[4]
        alias = mrap["arn"].rsplit("/", 1)[1]
        base = f"arn:{PARTITION}:s3::{account}:accesspoint/{alias}/object/"
        # A grant through the access point holds for every bucket behind it: only what
        # each of them allows may be granted there.
        behind = [b for b in buckets if b["name"] in mrap["buckets"]]
        reads = set.intersection(*(set(b.get("prefixes", [""])) for b in behind))
        writes = set.intersection(*({b.get("writePrefix")} for b in behind)) - {None}
        read_arns += [f"{base}{p}*" for p in reads]
        write_arns += [f"{base}{p}*" for p in writes]

    for logical_id, resource in resources.items():
        props = resolve(resource.get("Properties", {}))
        if resource["Type"] == "AWS::IAM::Role":
            for statement in props["AssumeRolePolicyDocument"]["Statement"]:
                principal = statement.get("Principal", {})
                if principal == "*" or "*" in as_list(principal.get("AWS", [])):
                    problems.append(f"{logical_id}: trust allows the `*` principal")
                if "AWS" in principal:
                    condition = statement.get("Condition", {}).get("StringEquals", {})
                    if condition.get("sts:ExternalId") != external_id:
                        problems.append(f"{logical_id}: trust without the external ID condition")
        documents = []
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            documents.append(props["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in props.get("Policies", [])]
        for document in documents:
            for statement in document["Statement"]:
                actions = as_list(statement.get("Action", []))
                targets = [str(r) for r in as_list(statement.get("Resource", []))]
                if any(a == "*" or a.endswith(":*") for a in actions):
                    problems.append(f"{logical_id}: a `*` action ({actions})")
                if "*" in targets and not set(actions) <= RESOURCELESS_ACTIONS:
                    problems.append(f"{logical_id}: a `*` resource ({actions})")
                if "s3:GetObject" in actions:
                    outside = [r for r in targets if not _granted(r, read_arns)]
                    if outside:
                        problems.append(
                            f"{logical_id}: GetObject outside the configured prefixes: {outside}"
                        )
                if "s3:PutObject" in actions:
                    outside = [r for r in targets if not _granted(r, write_arns)]
                    if outside:
                        problems.append(
                            f"{logical_id}: PutObject outside a configured write prefix: {outside}"
                        )
                problems += _kms_problems(logical_id, statement, buckets)
        cors_rules = []
        if resource["Type"] == "AWS::S3::Bucket":
            cors_rules = [
                {"origins": r["AllowedOrigins"], "methods": r["AllowedMethods"]}
                for r in props.get("CorsConfiguration", {}).get("CorsRules", [])
            ]
        if resource["Type"].startswith("Custom::") and "AllowedOrigins" in props:
            cors_rules = [{"origins": props["AllowedOrigins"], "methods": props["AllowedMethods"]}]
        for rule in cors_rules:
            for origin in rule["origins"]:
                if "*" in origin:
                    problems.append(f"{logical_id}: CORS origin {origin!r} is a wildcard")
                elif not origin.startswith("https://"):
                    problems.append(f"{logical_id}: CORS origin {origin!r} is not https")
            if set(rule["methods"]) - {"GET", "HEAD"}:
                problems.append(f"{logical_id}: CORS allows methods beyond GET and HEAD")
    return problems
