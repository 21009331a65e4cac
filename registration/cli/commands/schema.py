"""`encord-register schema`: infer, check and import the clientMetadata schema.

Reads the metadata that registration files carry (`--manifests DIR`, or any source
option of `manifest`), infers one schema in a single streaming pass, reports conflicts
per key, and can print (`--show`), save (`--write`) or import (`--apply`, `--dry-run`)
it. Also home of `--schema`, the option `manifest` and `register` share to refuse
items whose metadata breaks a schema before anything is sent.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from registration.cli import options
from registration.cli.console import Console
from registration.errors import ChecksFailed, UsageError
from registration.exit_codes import ExitStatus
from registration.metadata_schema import rules
from registration.metadata_schema.conflicts import counted, format_conflicts
from registration.metadata_schema.files import write_schema_file
from registration.metadata_schema.inference import (
    COERCIBLE_TYPES,
    InferenceOptions,
    InferenceResult,
    parse_coercion,
)
from registration.metadata_schema.model import embedding_warnings
from registration.metadata_schema.organisation import plan_organisation_change
from registration.metadata_schema.reading import infer_from_manifests, infer_from_source

HELP = "infer the clientMetadata schema, report conflicts, and import it into Encord"
DESCRIPTION = (
    "Read the clientMetadata of registration files (--manifests DIR, or any source option of "
    "`manifest`) and infer one metadata schema: numbers, booleans, ISO 8601 datetimes, UUIDs, "
    "short strings (varchar) vs long text, enums and embeddings (lists of 1-4096 numbers; "
    "over 2000 is a warning: Encord Active's limit), the per-frame keys of video key frames "
    '(clientMetadata["$encord"]) included; key frames themselves are checked, never declared. '
    "Keys whose values clash are reported with counts and the first item of "
    "each kind; the command exits non-zero until they are resolved (--coerce KEY=TYPE). "
    "--apply adds keys and enum options to the organisation's schema in Encord; it never "
    "deletes or retypes a key."
)

# --- arguments ------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `encord-register schema`."""
    src = parser.add_argument_group("metadata source")
    src.add_argument(
        "--manifests",
        type=Path,
        metavar="DIR",
        help="registration files written by `encord-register manifest --out DIR`",
    )
    options.add_source_options(parser)

    inf = parser.add_argument_group("inference")
    inf.add_argument(
        "--coerce",
        action="append",
        default=[],
        metavar="KEY=TYPE",
        help=f"resolve KEY as TYPE ({', '.join(COERCIBLE_TYPES)}); items whose value does "
        "not fit are refused at registration (repeatable)",
    )
    inf.add_argument(
        "--enum-max-values",
        type=int,
        default=rules.DEFAULT_ENUM_MAX_VALUES,
        metavar="N",
        help="a string key is an enum with at most N distinct values "
        f"(default {rules.DEFAULT_ENUM_MAX_VALUES}; Encord allows {rules.ENUM_MAX_VALUES})",
    )
    inf.add_argument(
        "--enum-min-repeats",
        type=float,
        default=rules.DEFAULT_ENUM_MIN_REPEATS,
        metavar="R",
        help="... each seen at least R times on average "
        f"(default {rules.DEFAULT_ENUM_MIN_REPEATS:g})",
    )
    inf.add_argument(
        "--text-threshold",
        type=int,
        default=rules.DEFAULT_TEXT_THRESHOLD,
        metavar="CHARS",
        help="strings longer than this make a key `text` instead of `varchar` "
        f"(default {rules.DEFAULT_TEXT_THRESHOLD})",
    )

    act = parser.add_argument_group("what to do with the schema")
    act.add_argument("--show", action="store_true", help="print the inferred schema")
    act.add_argument("--write", type=Path, metavar="FILE", help="save the schema as JSON")
    act.add_argument(
        "--apply",
        action="store_true",
        help="import it into Encord: add keys and enum options, never delete or retype",
    )
    act.add_argument(
        "--dry-run", action="store_true", help="show the changes --apply would make; change nothing"
    )
    options.add_json_option(act, "the report")
    options.add_encord_options(parser, "Encord (for --apply and --dry-run)")


def _options(args: argparse.Namespace) -> InferenceOptions:
    coercions: dict[str, str] = {}
    for text in args.coerce:
        key, ty = parse_coercion(text)
        if coercions.get(key, ty) != ty:
            raise UsageError(f"--coerce {key} given twice with different types")
        coercions[key] = ty
    return InferenceOptions(
        enum_max_values=args.enum_max_values,
        enum_min_repeats=args.enum_min_repeats,
        text_threshold=args.text_threshold,
        coercions=coercions,
    )


def _infer(args: argparse.Namespace, console: Console) -> InferenceResult:
    inference = _options(args)
    source = options.source_spec(args)
    if args.manifests is not None:
        if source.given:
            raise UsageError("give --manifests DIR or a source option (--bucket ...), not both")
        return infer_from_manifests(args.manifests, inference, console)
    if not source.given:
        raise UsageError(
            "no metadata source: give --manifests DIR (files from `encord-register manifest`), "
            "or a source option of `manifest` such as --bucket NAME or --stack-outputs FILE"
        )
    return infer_from_source(source, options.build_options(args), inference, console)


# --- the command ----------------------------------------------------------------------------


def _show(result: InferenceResult) -> list[str]:
    width = max((len(d.key) for d in result.decisions), default=0)
    lines = []
    for d in result.decisions:
        if d.ignored:
            ty = "(ignored)"
        elif d.spec is None:
            ty = "(conflict)"
        else:
            ty = d.spec.describe() + (" (coerced)" if d.coerced else "")
        note = f"  -- {d.note}" if d.note else ""
        lines.append(f"  {d.key:<{width}}  {ty}  [{counted(d.count, 'values')}]{note}")
    return lines


def run(args: argparse.Namespace, console: Console) -> int:
    """Entry of `encord-register schema`."""
    wants_encord = args.apply or args.dry_run
    result = _infer(args, console)
    report: dict[str, Any] = {
        "items": result.items,
        "items_with_metadata": result.items_with_metadata,
        "schema": result.schema.to_json(),
        "keys": [d.to_json() for d in result.decisions],
        "conflicts": [c.to_json() for c in result.conflicts],
        "unfit_values": result.unfit,
        "keyframe_items": dict(result.keyframe_items),
    }
    console.info(
        f"{result.items:,} items read, {result.items_with_metadata:,} with metadata: "
        f"{len(result.schema)} keys typed, {len(result.conflicts)} in conflict"
    )
    if args.show:
        console.info("inferred schema:")
        for line in _show(result):
            console.info(line)
        for name, count in result.keyframe_items:
            console.info(
                f"  {name}: key frames on {counted(count, 'items')} (checked, never declared)"
            )
    for line in embedding_warnings(result.schema):
        console.warn(line)
    for key in result.unused_coercions:
        console.warn(f"--coerce {key}: no item has this key (a typo?); nothing was declared")
    if result.unfit:
        console.warn(
            f"{counted(result.unfit, 'values')} outside their --coerce type: with --schema, "
            "`manifest` and `register` refuse those items (listed in skipped.jsonl)"
        )
    if result.conflicts:
        console.info(f"conflicts ({len(result.conflicts)}):")
        for line in format_conflicts(result.conflicts):
            console.info(line)
        _emit_json(args, report, console)
        raise ChecksFailed(
            f"{len(result.conflicts)} metadata key(s) in conflict; nothing was written or applied",
            hint="fix the metadata source, or resolve each key with --coerce KEY=TYPE",
        )
    if args.write is not None:
        write_schema_file(result.schema, args.write)
        console.info(f"wrote the schema to {args.write}")
    if wants_encord:
        plan, carry_out = plan_organisation_change(options.encord_connection(args), result.schema)
        report["plan"] = plan.to_json()
        verb = "would change" if args.dry_run else "changes"
        console.info(
            f"organisation schema: {verb} {plan.changes} key(s), {len(plan.clashes)} clash(es)"
        )
        for line in plan.describe():
            console.info(line)
        if plan.local_only:
            console.info(
                f"  (checked locally, not declared to Encord: {', '.join(plan.local_only)})"
            )
        if not args.dry_run and plan.changes:
            carry_out()
            console.info("saved the organisation's metadata schema")
        report["applied"] = bool(not args.dry_run and plan.changes)
        if plan.clashes:
            _emit_json(args, report, console)
            raise ChecksFailed(
                f"{len(plan.clashes)} key(s) clash with the organisation's schema and were left "
                "as they are",
                hint="change those keys in the metadata, or change the schema in Encord",
            )
    _emit_json(args, report, console)
    return ExitStatus.OK


def _emit_json(args: argparse.Namespace, report: dict[str, Any], console: Console) -> None:
    if args.json:
        console.emit_json(report)
