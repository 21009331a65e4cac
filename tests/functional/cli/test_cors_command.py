"""`encord-register cors apply|remove` against S3 as moto emulates it in-process.

Each test runs the real command (`registration.cli.main`) and asserts what S3 ends up
holding (``GetBucketCors``, raw XML where "unchanged" must mean byte-for-byte), the exit code,
and the ``--json`` document or the message on stderr. Writes are counted where S3 receives
them (moto's backend), so "nothing written" means no ``PutBucketCors``/``DeleteBucketCors``
reached S3 at all.

Covered here (tests/functional/verify/test_cli.py covers the `verify` fix round trip, the
stack's own rule ID, and the usage errors of `cors apply` without a bucket, with a missing
bucket, and with a missing outputs file):

- a customer's rules (with and without an ID) keep their content and place through `apply`
  and `remove`; only Encord's rule is added, replaced in place, or taken off;
- idempotence: a second `apply` or `remove` reports ``changed: false`` and writes nothing;
- a bucket without a CORS configuration: `apply` creates one holding our rule, `remove`
  creates none, and removing our only rule deletes the configuration (S3 refuses an
  empty rule list);
- S3's limit of 100 rules: refused with a clear message and nothing written at 100 customer
  rules, accepted at 99, and a replacement in place accepted at 100;
- ``--rule-id``, ``--max-age``, several ``--bucket`` in one run;
- errors: a bucket that does not exist (`remove`, and a run over two buckets), and
  `remove` without ``--bucket`` or a stack.

The merge's settle wait before its confirming read (2 s, against concurrent writers) is set
to zero: nothing else writes to moto's buckets here, and the file stays fast.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.s3.models import S3Backend

import registration.cli.commands.cors as cors_command
from registration import cors_apply
from registration.cli import main
from registration.cors_merge import MAX_CORS_RULES, Bounds
from registration.exit_codes import ExitStatus

REGION = "eu-west-1"
BUCKET = "customer-media"
OTHER = "customer-archive"
MISSING = "no-such-bucket-here"
ENCORD_ORIGINS = ["https://app.encord.com", "https://app.us.encord.com"]

#: Encord's rule as `cors apply` writes it without a stack or flags (ID encord-access-cli).
OURS: dict[str, Any] = {
    "ID": "encord-access-cli",
    "AllowedOrigins": ENCORD_ORIGINS,
    "AllowedMethods": ["GET", "HEAD"],
    "AllowedHeaders": ["*"],
    "ExposeHeaders": ["ETag", "Content-Length", "Content-Range", "Accept-Ranges"],
    "MaxAgeSeconds": 3600,
}
#: A customer's rule using every field.
UPLOADS: dict[str, Any] = {
    "ID": "customer-uploads",
    "AllowedOrigins": ["https://upload.example.com", "https://*.example.org"],
    "AllowedMethods": ["PUT", "POST", "DELETE"],
    "AllowedHeaders": ["Content-Type", "x-amz-*"],
    "ExposeHeaders": ["x-amz-request-id"],
    "MaxAgeSeconds": 600,
}
#: A customer's rule without an ID.
ANONYMOUS: dict[str, Any] = {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}

#: No settle wait before the confirming read (see the module docstring).
NO_SETTLE = Bounds(attempts=3, deadline_seconds=10, settle_seconds=0)


def customer_rules(count: int) -> list[dict[str, Any]]:
    """`count` distinct customer rules; every tenth has no ID."""
    rules: list[dict[str, Any]] = []
    for i in range(count):
        rule: dict[str, Any] = {
            "AllowedOrigins": [f"https://site-{i}.example.com"],
            "AllowedMethods": ["GET", "PUT"],
        }
        if i % 10:
            rule = {"ID": f"customer-{i:03d}", **rule}
        rules.append(rule)
    return rules


@dataclass
class S3:
    """The emulated S3: a client, and the CORS writes S3 received (operation, bucket)."""

    client: Any
    writes: list[tuple[str, str]] = field(default_factory=list)

    def seed(self, rules: list[dict[str, Any]], bucket: str = BUCKET) -> None:
        """Give `bucket` these CORS rules, as its owner would (not counted as a write)."""
        self.client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
        self.writes.clear()

    def rules(self, bucket: str = BUCKET) -> list[dict[str, Any]]:
        """The bucket's CORS rules as S3 returns them."""
        return list(self.client.get_bucket_cors(Bucket=bucket)["CORSRules"])

    def raw(self, bucket: str = BUCKET) -> bytes:
        """The body of S3's GetBucketCors answer: the configuration byte for byte."""
        bodies: list[bytes] = []

        def keep(http_response: Any, **_: Any) -> None:
            bodies.append(http_response.content)

        events = self.client.meta.events
        events.register("after-call.s3.GetBucketCors", keep)
        try:
            self.client.get_bucket_cors(Bucket=bucket)
        finally:
            events.unregister("after-call.s3.GetBucketCors", keep)
        return bodies[-1]

    def has_no_configuration(self, bucket: str = BUCKET) -> bool:
        """True when GetBucketCors answers NoSuchCORSConfiguration."""
        try:
            self.client.get_bucket_cors(Bucket=bucket)
        except ClientError as exc:
            return bool(exc.response["Error"]["Code"] == "NoSuchCORSConfiguration")
        return False


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, offline_aws: str) -> Iterator[S3]:
    """Two empty buckets (no CORS configuration) in an in-process S3."""
    monkeypatch.setattr(
        cors_command, "apply_rule", functools.partial(cors_apply.apply_rule, bounds=NO_SETTLE)
    )
    monkeypatch.setattr(
        cors_command, "remove_rule", functools.partial(cors_apply.remove_rule, bounds=NO_SETTLE)
    )
    emulated = S3(client=None)
    put, delete = S3Backend.put_bucket_cors, S3Backend.delete_bucket_cors

    def logged_put(backend: S3Backend, bucket_name: str, cors_rules: Any) -> None:
        emulated.writes.append(("put", bucket_name))
        put(backend, bucket_name, cors_rules)

    def logged_delete(backend: S3Backend, bucket_name: str) -> None:
        emulated.writes.append(("delete", bucket_name))
        delete(backend, bucket_name)

    monkeypatch.setattr(S3Backend, "put_bucket_cors", logged_put)
    monkeypatch.setattr(S3Backend, "delete_bucket_cors", logged_delete)
    with mock_aws():
        emulated.client = boto3.client("s3", region_name=REGION)
        for name in (BUCKET, OTHER):
            emulated.client.create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        yield emulated


def run_json(capsys: pytest.CaptureFixture[str], action: str, *argv: str) -> list[dict[str, Any]]:
    """Run `cors ACTION ... --json`; assert it succeeded; its JSON document."""
    code = main(["cors", action, "--region", REGION, *argv, "--json"])
    captured = capsys.readouterr()
    assert code == ExitStatus.OK, captured.err
    assert "Traceback" not in captured.err
    doc = json.loads(captured.out)
    assert isinstance(doc, list)
    return doc


def run_failing(
    capsys: pytest.CaptureFixture[str], action: str, *argv: str, status: ExitStatus
) -> str:
    """Run `cors ACTION ... --json`; assert it failed with `status`, cleanly; its stderr."""
    code = main(["cors", action, "--region", REGION, *argv, "--json"])
    captured = capsys.readouterr()
    assert code == status, captured.err
    assert captured.out == ""  # no JSON document for a failed run
    assert captured.err.startswith("error: ")
    assert "Traceback" not in captured.err
    return captured.err


def applied(
    *,
    bucket: str = BUCKET,
    changed: bool,
    others: int,
    rule_id: str = "encord-access-cli",
    origins: list[str] = ENCORD_ORIGINS,
) -> dict[str, Any]:
    """One bucket's entry in `cors apply --json`."""
    return {
        "bucket": bucket,
        "ruleId": rule_id,
        "action": "apply",
        "changed": changed,
        "otherRules": others,
        "origins": origins,
    }


def removed(
    *, bucket: str = BUCKET, changed: bool, others: int, rule_id: str = "encord-access-cli"
) -> dict[str, Any]:
    """One bucket's entry in `cors remove --json`."""
    return {
        "bucket": bucket,
        "ruleId": rule_id,
        "action": "remove",
        "changed": changed,
        "otherRules": others,
    }


# ----------------------------------------------------------------------------- other rules


def test_customer_rules_survive_apply_and_remove(
    s3: S3, capsys: pytest.CaptureFixture[str]
) -> None:
    """Apply appends our rule after the customer's two; remove takes exactly it off again."""
    s3.seed([UPLOADS, ANONYMOUS])
    before_rules, before_raw = s3.rules(), s3.raw()
    assert before_rules == [UPLOADS, ANONYMOUS]

    assert run_json(capsys, "apply", "--bucket", BUCKET) == [applied(changed=True, others=2)]
    assert s3.rules() == [UPLOADS, ANONYMOUS, OURS]

    assert run_json(capsys, "remove", "--bucket", BUCKET) == [removed(changed=True, others=2)]
    assert s3.rules() == before_rules
    assert s3.raw() == before_raw
    assert s3.writes == [("put", BUCKET), ("put", BUCKET)]


def test_reapplying_with_other_origins_replaces_only_our_rule_in_place(
    s3: S3, capsys: pytest.CaptureFixture[str]
) -> None:
    """Our rule between two customer rules is replaced where it stands, then removed from
    there, and the customer's rules around it never move."""
    s3.seed([UPLOADS, OURS, ANONYMOUS])
    new_origins = ["https://encord.internal.example", "https://staging.example"]

    doc = run_json(capsys, "apply", "--bucket", BUCKET, "--origin", *new_origins)
    assert doc == [applied(changed=True, others=2, origins=new_origins)]
    assert s3.rules() == [UPLOADS, {**OURS, "AllowedOrigins": new_origins}, ANONYMOUS]
    assert s3.writes == [("put", BUCKET)]

    assert run_json(capsys, "remove", "--bucket", BUCKET) == [removed(changed=True, others=2)]
    assert s3.rules() == [UPLOADS, ANONYMOUS]


# ----------------------------------------------------------------------------- idempotence


def test_apply_twice_writes_once(s3: S3, capsys: pytest.CaptureFixture[str]) -> None:
    s3.seed([UPLOADS, ANONYMOUS])
    assert run_json(capsys, "apply", "--bucket", BUCKET) == [applied(changed=True, others=2)]
    after_first = s3.raw()
    assert s3.writes == [("put", BUCKET)]

    assert run_json(capsys, "apply", "--bucket", BUCKET) == [applied(changed=False, others=2)]
    assert s3.raw() == after_first
    assert s3.writes == [("put", BUCKET)]  # the second run wrote nothing


def test_remove_twice_writes_once(s3: S3, capsys: pytest.CaptureFixture[str]) -> None:
    s3.seed([OURS, UPLOADS, ANONYMOUS])
    assert run_json(capsys, "remove", "--bucket", BUCKET) == [removed(changed=True, others=2)]
    after_first = s3.raw()
    assert s3.rules() == [UPLOADS, ANONYMOUS]
    assert s3.writes == [("put", BUCKET)]

    assert run_json(capsys, "remove", "--bucket", BUCKET) == [removed(changed=False, others=2)]
    assert s3.raw() == after_first
    assert s3.writes == [("put", BUCKET)]


def test_human_output_says_whether_anything_was_written(
    s3: S3, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --json each bucket gets one line on stdout, and stderr stays empty."""
    s3.seed([UPLOADS])
    for action, line in (
        ("apply", f"s3://{BUCKET}: rule encord-access-cli put in place for "),
        ("apply", f"s3://{BUCKET}: rule encord-access-cli already in place, nothing written"),
        ("remove", f"s3://{BUCKET}: rule encord-access-cli removed (1 other rule(s) kept)"),
        ("remove", f"s3://{BUCKET}: rule encord-access-cli not there, nothing to remove"),
    ):
        assert main(["cors", action, "--bucket", BUCKET, "--region", REGION]) == ExitStatus.OK
        captured = capsys.readouterr()
        assert captured.out.startswith(line) and captured.out.count("\n") == 1
        assert captured.err == ""


# ----------------------------------------------------------------------------- no configuration


def test_apply_on_a_bucket_without_cors_creates_just_our_rule(
    s3: S3, capsys: pytest.CaptureFixture[str]
) -> None:
    assert s3.has_no_configuration()
    assert run_json(capsys, "apply", "--bucket", BUCKET) == [applied(changed=True, others=0)]
    assert s3.rules() == [OURS]


def test_remove_on_a_bucket_without_cors_creates_nothing(
    s3: S3, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_json(capsys, "remove", "--bucket", BUCKET) == [removed(changed=False, others=0)]
    assert s3.has_no_configuration()
    assert s3.writes == []


def test_removing_our_only_rule_deletes_the_configuration(
    s3: S3, capsys: pytest.CaptureFixture[str]
) -> None:
    """S3 refuses an empty rule list, so the command deletes the configuration instead:
    the bucket is back to having none, as before `apply`."""
    s3.seed([OURS])
    assert run_json(capsys, "remove", "--bucket", BUCKET) == [removed(changed=True, others=0)]
    assert s3.has_no_configuration()
    assert s3.writes == [("delete", BUCKET)]

    assert run_json(capsys, "remove", "--bucket", BUCKET) == [removed(changed=False, others=0)]
    assert s3.has_no_configuration()
    assert s3.writes == [("delete", BUCKET)]


# ----------------------------------------------------------------------------- S3's rule limit


def test_apply_at_the_rule_limit_is_refused_and_changes_nothing(
    s3: S3, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.seed(customer_rules(MAX_CORS_RULES))
    before = s3.raw()

    err = run_failing(capsys, "apply", "--bucket", BUCKET, status=ExitStatus.USAGE)
    assert f"s3://{BUCKET}" in err
    assert f"already has {MAX_CORS_RULES} CORS rules and S3 allows {MAX_CORS_RULES}" in err
    assert "remove a rule that is no longer used, then try again" in err
    assert s3.raw() == before
    assert s3.writes == []


def test_apply_below_the_rule_limit_fills_it(s3: S3, capsys: pytest.CaptureFixture[str]) -> None:
    theirs = customer_rules(MAX_CORS_RULES - 1)
    s3.seed(theirs)
    doc = run_json(capsys, "apply", "--bucket", BUCKET)
    assert doc == [applied(changed=True, others=MAX_CORS_RULES - 1)]
    assert s3.rules() == [*theirs, OURS]


def test_replacing_our_rule_at_the_rule_limit_is_accepted(
    s3: S3, capsys: pytest.CaptureFixture[str]
) -> None:
    """100 rules, ours among them: new origins replace it in place; the count stays 100."""
    theirs = customer_rules(MAX_CORS_RULES - 1)
    s3.seed([*theirs[:50], OURS, *theirs[50:]])
    doc = run_json(capsys, "apply", "--bucket", BUCKET, "--origin", "https://new.example")
    assert doc == [
        applied(changed=True, others=MAX_CORS_RULES - 1, origins=["https://new.example"])
    ]
    rules = s3.rules()
    assert len(rules) == MAX_CORS_RULES
    assert rules == [
        *theirs[:50],
        {**OURS, "AllowedOrigins": ["https://new.example"]},
        *theirs[50:],
    ]


# ----------------------------------------------------------------------------- flags


def test_custom_rule_id_and_max_age(s3: S3, capsys: pytest.CaptureFixture[str]) -> None:
    """--rule-id names a rule of its own beside the default one; --max-age is written and a
    new value counts as a change; remove --rule-id takes off that rule only."""
    s3.seed([UPLOADS, OURS])
    team = ["--bucket", BUCKET, "--rule-id", "encord-team-b"]

    doc = run_json(capsys, "apply", *team, "--max-age", "600")
    assert doc == [applied(changed=True, others=2, rule_id="encord-team-b")]
    team_rule = {**OURS, "ID": "encord-team-b", "MaxAgeSeconds": 600}
    assert s3.rules() == [UPLOADS, OURS, team_rule]

    doc = run_json(capsys, "apply", *team, "--max-age", "600")
    assert doc[0]["changed"] is False
    doc = run_json(capsys, "apply", *team, "--max-age", "86400")
    assert doc[0]["changed"] is True
    assert s3.rules() == [UPLOADS, OURS, {**team_rule, "MaxAgeSeconds": 86400}]

    doc = run_json(capsys, "remove", *team)
    assert doc == [removed(changed=True, others=2, rule_id="encord-team-b")]
    assert s3.rules() == [UPLOADS, OURS]


def test_two_buckets_in_one_run(s3: S3, capsys: pytest.CaptureFixture[str]) -> None:
    """Each bucket gets the rule; the JSON lists both, in order, once each (a bucket named
    twice is acted on once)."""
    s3.seed([UPLOADS], bucket=OTHER)
    buckets = ["--bucket", BUCKET, "--bucket", OTHER, "--bucket", BUCKET]

    assert run_json(capsys, "apply", *buckets) == [
        applied(bucket=BUCKET, changed=True, others=0),
        applied(bucket=OTHER, changed=True, others=1),
    ]
    assert s3.rules(BUCKET) == [OURS]
    assert s3.rules(OTHER) == [UPLOADS, OURS]

    assert run_json(capsys, "remove", *buckets) == [
        removed(bucket=BUCKET, changed=True, others=0),
        removed(bucket=OTHER, changed=True, others=1),
    ]
    assert s3.has_no_configuration(BUCKET)
    assert s3.rules(OTHER) == [UPLOADS]


# ----------------------------------------------------------------------------- errors


def test_remove_on_a_missing_bucket(s3: S3, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_failing(capsys, "remove", "--bucket", MISSING, status=ExitStatus.USAGE)
    assert f"s3://{MISSING} does not exist, or these credentials cannot see it" in err
    assert "hint: check the bucket name and that the credentials belong to its account" in err
    assert MISSING not in {b["Name"] for b in s3.client.list_buckets()["Buckets"]}


def test_a_missing_bucket_stops_the_run_after_the_buckets_before_it(
    s3: S3, capsys: pytest.CaptureFixture[str]
) -> None:
    """Buckets are done in order: the one before the missing bucket got the rule (its line
    is printed), the one after was not touched; re-running after fixing the name is safe."""
    argv = ["cors", "apply", "--region", REGION, "--bucket", BUCKET, "--bucket", MISSING]
    assert main([*argv, "--bucket", OTHER]) == ExitStatus.USAGE
    captured = capsys.readouterr()
    assert captured.out.startswith(f"s3://{BUCKET}: rule encord-access-cli put in place")
    assert f"error: s3://{MISSING} does not exist" in captured.err
    assert "Traceback" not in captured.err
    assert s3.rules(BUCKET) == [OURS]
    assert s3.has_no_configuration(OTHER)


def test_remove_without_a_bucket_or_a_stack(s3: S3, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_failing(capsys, "remove", status=ExitStatus.USAGE)
    assert "name the bucket(s) with --bucket NAME, or the access stack with --stack NAME" in err
    assert s3.writes == []
