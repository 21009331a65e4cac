"""The parameters of the launch-stack template (`stacks.launch_template`), with their guidance.

Each parameter says what to enter and where to find it; its constraint is the check the app's
configuration runs (`stacks.rules`), as far as a regular expression can say it, and its
``ConstraintDescription`` is the message the console shows when the value does not fit. Lists
are comma-separated strings (a pattern can then bound their length); each has a fixed number
of slots (`MAX_BUCKETS`, ...), because CloudFormation cannot loop over a list.

The console shows the parameters in the groups and with the labels of `interface`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from aws_cdk import CfnParameter, Fn, Stack

from registration.contract import DEFAULT_CORS_ORIGINS
from stacks import rules

MAX_PRINCIPALS: Final = 3
"""Encord's principals the role may trust at once (two while Encord rotates its principal)."""
MAX_BUCKETS: Final = 10
"""Buckets one template stack grants; launch another stack, or use the CDK app, for more."""
MAX_PREFIXES: Final = 5
"""Read prefixes (the same in every bucket)."""

SESSION_HOURS: Final = tuple(range(rules.MIN_SESSION_HOURS, rules.MAX_SESSION_HOURS + 1))
#: The mapping from session hours (the parameter) to seconds (what IAM takes).
SESSION_MAPPING: Final = "SessionDuration"


def _unanchored(pattern: re.Pattern[str]) -> str:
    """`pattern` without its ``^`` and ``$``, to be placed inside a larger pattern."""
    assert pattern.pattern.startswith("^") and pattern.pattern.endswith("$")
    return pattern.pattern[1:-1]


def _list_of(item: str, most: int, *, empty: bool = False) -> str:
    """A pattern for 1 to `most` comma-separated `item`s (or nothing, with `empty`)."""
    items = f"(?:{item})(?:,(?:{item})){{0,{most - 1}}}"
    return f"^(?:{items})?$" if empty else f"^{items}$"


#: A read or write prefix, as `rules.prefix_problem` accepts it: no leading ``/``, no
#: wildcard, control character, ``//`` or ``.``/``..`` segment; also no ``,`` (the list
#: separator), ``"`` or ``\\`` (the outputs are JSON built without escaping).
PREFIX: Final = (
    r"(?!/)(?!.*//)(?!(?:.*/)?\.\.?(?:/|$))[^*?,\"\\\x00-\x1f\x7f]{1,"
    + str(rules.MAX_PREFIX_BYTES)
    + "}"
)
PRINCIPAL: Final = rf"{_unanchored(rules.ACCOUNT_ID)}|{_unanchored(rules.PRINCIPAL_ARN)}"
ORIGIN: Final = rf"https://{rules.HOST_LABELS}(?::\d{{1,5}})?"


@dataclass(frozen=True)
class TemplateParameters:
    """The template's parameters, and list parameters split into padded slots."""

    trusted_principals: CfnParameter
    external_id: CfnParameter
    bucket_names: CfnParameter
    prefixes: CfnParameter
    kms_key_arn: CfnParameter
    write_prefix: CfnParameter
    allow_listing: CfnParameter
    session_hours: CfnParameter
    cors_origins: CfnParameter

    def interface(self) -> dict[str, Any]:
        """The ``AWS::CloudFormation::Interface`` metadata: groups and labels in the console."""
        groups = (
            (
                "From Encord: Integrations > New integration > AWS S3",
                (self.trusted_principals, "Encord's AWS principal(s)"),
                (self.external_id, "External ID"),
            ),
            (
                "Your data",
                (self.bucket_names, "Bucket names"),
                (self.prefixes, "Prefixes Encord may read"),
                (self.kms_key_arn, "KMS key ARN (SSE-KMS buckets only)"),
            ),
            (
                "Optional access",
                (self.allow_listing, "Allow listing (cloud-synced folders)"),
                (self.write_prefix, "Write prefix (image sequences only)"),
                (self.session_hours, "Session duration (hours)"),
            ),
            ("Browser access (CORS)", (self.cors_origins, "Encord's web app origins")),
        )
        return {
            "ParameterGroups": [
                {"Label": {"default": label}, "Parameters": [p.logical_id for p, _ in params]}
                for label, *params in groups
            ],
            "ParameterLabels": {
                p.logical_id: {"default": text} for _, *params in groups for p, text in params
            },
        }


def padded_slots(parameter: CfnParameter, count: int) -> list[str]:
    """The first `count` items of a comma-separated list parameter; ``""`` past its end."""
    padded = Fn.split(",", Fn.sub(f"${{{parameter.logical_id}}}{',' * count}"))
    return [Fn.select(i, padded) for i in range(count)]


def as_json_list(parameter: CfnParameter) -> str:
    """A comma-separated list parameter as a JSON list of strings (its items hold no ``"``)."""
    return Fn.join("", ['["', Fn.join('","', Fn.split(",", parameter.value_as_string)), '"]'])


def add_parameters(stack: Stack) -> TemplateParameters:
    """Declare the template's parameters in `stack`, in the order the console lists them."""
    principals = CfnParameter(
        stack,
        "TrustedPrincipals",
        type="String",
        description="Encord's AWS principal, exactly as its New integration dialog shows it: a "
        "12-digit account ID or an IAM ARN. Up to "
        f"{MAX_PRINCIPALS}, comma-separated without spaces (trust two while Encord rotates).",
        allowed_pattern=_list_of(PRINCIPAL, MAX_PRINCIPALS),
        constraint_description=f"1 to {MAX_PRINCIPALS} comma-separated principals, each a "
        "12-digit AWS account ID or an IAM ARN (arn:aws:iam::123456789012:root, ...:role/NAME); "
        "never *. " + rules.WHERE_TO_FIND[0].upper() + rules.WHERE_TO_FIND[1:] + ".",
    )
    external_id = CfnParameter(
        stack,
        "ExternalId",
        type="String",
        no_echo=True,
        description="The external ID from the same dialog. The role can only be assumed with it "
        "(without it any AWS customer of Encord could make Encord read your data).",
        min_length=rules.MIN_EXTERNAL_ID_CHARS,
        max_length=rules.MAX_EXTERNAL_ID_CHARS,
        allowed_pattern=f"^{rules.EXTERNAL_ID_CHARS}$",
        constraint_description=f"{rules.MIN_EXTERNAL_ID_CHARS} to {rules.MAX_EXTERNAL_ID_CHARS} "
        "letters, digits and + = , . @ : / - _, copied exactly from Encord's dialog.",
    )
    buckets = CfnParameter(
        stack,
        "BucketNames",
        type="String",
        description="The existing buckets Encord may read, in the region you launch this stack "
        f"in. Up to {MAX_BUCKETS}, comma-separated without spaces.",
        allowed_pattern=_list_of(rules.BUCKET_NAME_SHAPE, MAX_BUCKETS),
        constraint_description=f"1 to {MAX_BUCKETS} comma-separated bucket names without spaces; "
        "bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, "
        "starting and ending with a letter or digit.",
    )
    prefixes = CfnParameter(
        stack,
        "Prefixes",
        type="String",
        default="",
        description="Key prefixes Encord may read in every bucket, such as images/,videos/ (up "
        f"to {MAX_PREFIXES}, comma-separated). Empty: the whole bucket. End each with / unless "
        "you mean every key that starts with it.",
        allowed_pattern=_list_of(PREFIX, MAX_PREFIXES, empty=True),
        constraint_description=f"empty, or 1 to {MAX_PREFIXES} comma-separated prefixes; a "
        "prefix does not start with /, holds no * or ? (it is literal), no // or . or .. "
        'segments, no control characters and no " or \\.',
    )
    kms_key_arn = CfnParameter(
        stack,
        "KmsKeyArn",
        type="String",
        default="",
        description="Only for buckets encrypted with SSE-KMS: the ARN of the customer-managed "
        "key. Encord may decrypt with it only through S3, for these buckets' objects. Empty: "
        "SSE-S3, nothing to grant.",
        allowed_pattern=f"^(?:{_unanchored(rules.KMS_KEY_ARN)})?$",
        constraint_description="empty, or a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID) in "
        "this region; not an alias, and not the AWS-managed aws/s3 key (it cannot be used "
        "across accounts).",
    )
    allow_listing = CfnParameter(
        stack,
        "AllowListing",
        type="String",
        default="false",
        allowed_values=["false", "true"],
        description="Let Encord list the prefixes (s3:ListBucket): what Encord's cloud-synced "
        "folders need. Registering with encord-register does not.",
    )
    write_prefix = CfnParameter(
        stack,
        "WritePrefix",
        type="String",
        default="",
        description="Only for image sequences: the one prefix Encord may write the videos it "
        "builds under, in every bucket, such as encord-videos/. It must lie outside every read "
        "prefix. Empty: no write access.",
        allowed_pattern=f"^(?:{PREFIX})?$",
        constraint_description="empty, or one prefix: no leading /, no * or ?, no // or . or .. "
        'segments, no control characters and no " or \\.',
    )
    session_hours = CfnParameter(
        stack,
        "MaxSessionDurationHours",
        type="String",
        default=str(rules.MIN_SESSION_HOURS),
        allowed_values=[str(h) for h in SESSION_HOURS],
        description="How long Encord's role sessions last, and so the URLs signed with them.",
    )
    origins = CfnParameter(
        stack,
        "CorsOrigins",
        type="String",
        default=",".join(DEFAULT_CORS_ORIGINS),
        description="The https origins of Encord's web apps, comma-separated, for the CORS rule "
        "`encord-register cors apply` puts on the buckets (see the outputs).",
        allowed_pattern=_list_of(ORIGIN, 10),
        constraint_description="1 to 10 comma-separated https origins, scheme and host only "
        "(https://app.encord.com); never *.",
    )
    return TemplateParameters(
        trusted_principals=principals,
        external_id=external_id,
        bucket_names=buckets,
        prefixes=prefixes,
        kms_key_arn=kms_key_arn,
        write_prefix=write_prefix,
        allow_listing=allow_listing,
        session_hours=session_hours,
        cors_origins=origins,
    )
