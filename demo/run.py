"""The demo: deploy the access stack into a local AWS, then verify, manifest and register.

    python -m demo [--out DIR]        (what `make demo` runs)

1. starts a local AWS emulator (moto, patched as the tests do) and the local Encord stand-in,
   both on loopback, as child processes;
2. creates an existing data bucket that already has a customer CORS rule, and seeds it with
   small generated files of every type plus awkward keys (`demo.samples`);
3. puts the Encord key in Secrets Manager, then `npx cdk bootstrap` and `npx cdk deploy` the
   access stack (the existing bucket plus one the stack creates) with continuous registration
   watching two prefixes of the existing bucket, writing `cdk-outputs.json`;
4. runs the real CLI: `encord-register verify`, `manifest`, `register`, then `register` again
   to show that a re-run registers nothing twice;
5. prints the report and what the stand-in now holds in the folder;
6. uploads new files while the continuous-registration handler (the deployed function's code
   and settings, run here by emulated SQS pollers: `demo.continuous_step`) registers them,
   shows `encord-register continuous status` and the folder again, then stops every process
   it started (also on failure or Ctrl-C).

Everything it writes goes to `--out` (default `demo-out/`, emptied first), so it can be run
again at once. Neither the emulator nor the stand-in is part of the product: production
code does not know they exist.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3

from demo import continuous_step
from demo.emulators import EmulatorError, running_emulators
from demo.samples import samples
from tests.emulators import cdk_cli
from tests.emulators.moto_server import EMULATOR_ENV, REPO_ROOT
from tests.standin.show import describe_folders

EXISTING_BUCKET = "demo-existing-data"
CREATED_BUCKET = "demo-encord-new-data"
INTEGRATION = "Demo S3 integration"
FOLDER = "demo/s3-data"
#: Where the demo's Encord key is kept for continuous registration (Secrets Manager).
SECRET_NAME = "encord/demo-registration-key"
#: What continuous registration watches, and where the new files land.
LIVE_PREFIX = "media/live/cam-7/"
NEW_SERIES = "scans/patient-002/series-1/"
#: Stands for Encord's AWS principal and the external ID its New-integration dialog shows.
DEMO_CONFIG: dict[str, Any] = {
    "stackName": "EncordAccessDemo",
    "trustedPrincipals": ["arn:aws:iam::210987654321:root"],
    "externalId": "demo-external-id-5f0c2a",
    "buckets": [
        {"name": EXISTING_BUCKET, "prefixes": ["media/", "scans/"]},
        {"name": CREATED_BUCKET, "create": True},
    ],
}


def demo_config(domain: str) -> dict[str, Any]:
    """`DEMO_CONFIG` with continuous registration into the stand-in at `domain`."""
    continuous = {
        "domain": domain,
        "integration": INTEGRATION,
        "folder": FOLDER,
        "sshKeySecret": SECRET_NAME,
        "watch": [{"bucket": EXISTING_BUCKET, "prefixes": ["media/live/", "scans/"]}],
        "groupMarker": continuous_step.GROUP_MARKER,
    }
    return {**DEMO_CONFIG, "continuous": continuous}


CUSTOMER_CORS_RULE = {
    "ID": "customer-dashboard",
    "AllowedOrigins": ["https://dashboard.customer.example"],
    "AllowedMethods": ["GET"],
}


class DemoFailed(Exception):
    """A step failed; the message says which and where its output is."""


def say(message: str = "") -> None:
    """A line of demo narration."""
    print(message, flush=True)


def step(title: str) -> None:
    """A step heading."""
    say()
    say(f"== {title}")


def seed(endpoint: str) -> None:
    """The existing bucket, its customer CORS rule, and the sample objects."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=EMULATOR_ENV["AWS_REGION"])
    s3.create_bucket(Bucket=EXISTING_BUCKET)
    s3.put_bucket_cors(
        Bucket=EXISTING_BUCKET, CORSConfiguration={"CORSRules": [CUSTOMER_CORS_RULE]}
    )
    count = 0
    for sample in samples():
        s3.put_object(
            Bucket=EXISTING_BUCKET,
            Key=sample.key,
            Body=sample.body,
            StorageClass=sample.storage_class,
        )
        count += 1
        say(f"   s3://{EXISTING_BUCKET}/{sample.key}  ({len(sample.body)} B) - {sample.why}")
    say(
        f"   {count} objects, and the bucket already has the customer's CORS rule "
        f"{CUSTOMER_CORS_RULE['ID']!r}"
    )


def store_key(endpoint: str, key_file: Path) -> None:
    """The Encord key in Secrets Manager, where continuous registration reads it."""
    say(
        f"   $ aws secretsmanager create-secret --name {SECRET_NAME} "
        f"--secret-string file://{key_file.name}   (done with boto3 here)"
    )
    secrets = boto3.client(
        "secretsmanager", endpoint_url=endpoint, region_name=EMULATOR_ENV["AWS_REGION"]
    )
    secrets.create_secret(Name=SECRET_NAME, SecretString=key_file.read_text(encoding="ascii"))


def deploy(endpoint: str, work: Path, config: dict[str, Any]) -> Path:
    """Bootstrap and deploy the access stack; return the outputs file."""
    env = cdk_cli.cdk_env(endpoint, work)
    out_dir, outputs = work / "cdk.out", work / "cdk-outputs.json"
    started = time.monotonic()
    # The CLI runs the app to bootstrap too, so it needs a valid configuration; without the
    # `continuous` object the app skips building the handler's bundle, which bootstrap never uses.
    say("   $ npx cdk bootstrap -c encord='...'   (the access configuration of the deploy)")
    cdk_cli.bootstrap(env, DEMO_CONFIG, out_dir)
    say(
        f"   $ npx cdk deploy -c encord='{json.dumps(config)}' --method=direct "
        "--require-approval never --outputs-file cdk-outputs.json"
    )
    say("     (the emulator needs --method=direct: docs/local-walkthrough.md says why)")
    log = cdk_cli.deploy(env, config, out_dir, outputs)
    (work / "cdk-deploy.log").write_text(log, encoding="utf-8")
    say(f"   deployed in {time.monotonic() - started:.0f} s; outputs:")
    for key, value in json.loads(outputs.read_text())[config["stackName"]].items():
        say(f"     {key} = {value}")
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=EMULATOR_ENV["AWS_REGION"])
    rules = s3.get_bucket_cors(Bucket=EXISTING_BUCKET)["CORSRules"]
    say(
        f"   CORS rules on {EXISTING_BUCKET} now: {[r.get('ID') for r in rules]} "
        "(the customer's kept)"
    )
    return outputs


def helper(args: list[str], env: dict[str, str], allowed: tuple[int, ...] = (0,)) -> int:
    """Run the real `encord-register` CLI, showing its command line and output."""
    executable = Path(sys.executable).with_name("encord-register")
    command = [str(executable)] if executable.exists() else [sys.executable, "-m", "registration"]
    say("   $ encord-register " + " ".join(_quote(a) for a in args))
    result = subprocess.run([*command, *args], env=env, cwd=REPO_ROOT, check=False)
    if result.returncode not in allowed:
        raise DemoFailed(f"encord-register {args[0]} exited with {result.returncode}")
    return result.returncode


def _quote(arg: str) -> str:
    return f"'{arg}'" if any(c in arg for c in " *?#") else arg


def show_folder(domain: str) -> None:
    """What the stand-in holds in the demo folder."""
    for line in describe_folders(domain):
        say(f"   {line}")


def run(work: Path) -> None:
    """The whole demo, writing under `work`."""
    key_file = work / "encord-demo-key"
    step("1. local AWS (moto) and the local Encord stand-in")
    with running_emulators(work, key_file=key_file, integration=INTEGRATION) as emulators:
        endpoint, domain = emulators.aws_endpoint, emulators.encord_domain
        say(f"   AWS endpoint {endpoint}; Encord API {domain}")
        env = {
            **os.environ,
            **EMULATOR_ENV,
            "AWS_ENDPOINT_URL": endpoint,
            "PYTHONPATH": str(REPO_ROOT),
        }
        os.environ.update({**EMULATOR_ENV, "AWS_ENDPOINT_URL": endpoint})  # this process's boto3

        step(f"2. an existing bucket with data: s3://{EXISTING_BUCKET}")
        seed(endpoint)

        step(
            "3. deploy the access stack (role, policy, CORS, continuous registration) with the "
            "real CDK CLI"
        )
        store_key(endpoint, key_file)
        outputs = deploy(endpoint, work, demo_config(domain))

        step("4. verify the integration before registering")
        helper(["verify", "--stack-outputs", str(outputs)], env)

        step("5. registration files")
        manifests = work / "manifests"
        helper(
            [
                "manifest",
                "--stack-outputs",
                str(outputs),
                "--image-sequence",
                "media/sequences/*",
                "--format",
                "both",
                "--out",
                str(manifests),
            ],
            env,
        )
        skipped = (manifests / "skipped.jsonl").read_text(encoding="utf-8").splitlines()
        say(f"   skipped.jsonl ({len(skipped)}):")
        for line in skipped:
            record = json.loads(line)
            say(f"     {record.get('key')}: {record.get('reason')}")

        step(f"6. register into the Encord folder {FOLDER!r}")
        register = [
            "register",
            "--manifests",
            str(manifests),
            "--integration",
            INTEGRATION,
            "--folder",
            FOLDER,
            "--encord-domain",
            domain,
            "--ssh-key-file",
            str(key_file),
            "--report",
            str(work / "register-report.json"),
        ]
        helper(register, env)
        say("   again (a re-run resumes from its state file: nothing is sent twice):")
        helper(register, env)

        step("7. what Encord (the stand-in) now holds")
        show_folder(domain)

        step("8. continuous registration: new uploads registered as they land")
        continuous_step.run_step(
            endpoint=endpoint,
            domain=domain,
            outputs=outputs,
            bucket=EXISTING_BUCKET,
            folder=FOLDER,
            prefix=LIVE_PREFIX,
            series=NEW_SERIES,
            work=work,
            say=say,
        )
        helper(["continuous", "status", "--stack-outputs", str(outputs)], env)

        step("9. what Encord (the stand-in) holds now")
        show_folder(domain)
    say()
    say(
        f"done. Files are in {work}: cdk-outputs.json, manifests/, register-report.json, "
        "continuous-handler.log"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m demo`."""
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "demo-out", help="working directory (emptied first)"
    )
    args = parser.parse_args(argv)
    work: Path = args.out.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    started = time.monotonic()
    try:
        run(work)
    except (DemoFailed, EmulatorError, continuous_step.StepFailed) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    except cdk_cli.CdkError as exc:
        (work / "cdk-error.log").write_text(exc.output, encoding="utf-8")
        print(
            f"demo failed: cdk exited with {exc.returncode}; see {work / 'cdk-error.log'}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("demo interrupted; every process it started has been stopped", file=sys.stderr)
        return 130
    say(
        f"finished in {time.monotonic() - started:.0f} s; "
        "every process the demo started has been stopped"
    )
    return 0
