"""`encord-register verify`: check that Encord can read the data, before registering it.

One module per job:

- `model`: the check result record, statuses and the verification target.
- `policy_eval`: a local IAM policy evaluator (pure functions on policy documents).
- `trust`: analysis of a role's trust policy (principals, external ID).
- `cors_rules`: matching a bucket's CORS rules against Encord's origins.
- `preflight`: a real CORS preflight (HTTP OPTIONS) to the bucket's endpoint.
- `storage`: archive storage classes and restore status of sample objects.
- `encryption`: classification of default and object encryption (SSE-S3, SSE-KMS keys).
- `aws`: boto3 clients and the translation of AWS errors.
- `sampling`: sample keys under a prefix, by ListObjectsV2.
- `access`: may the role perform an action on a resource (IAM simulator, else local).
- `checks_role`, `checks_bucket`, `checks_mrap`: the checks themselves.
- `runner`: runs every check for a target; `render`: human and JSON output.
"""
