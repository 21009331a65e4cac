"""`encord-register schema`: infer, check and import the clientMetadata schema.

Reads the metadata that registration files carry (`--manifests DIR`, or any source
option of `manifest`), infers one schema in a single streaming pass, reports conflicts
per key, and can print (`--show`), save (`--write`) or import (`--apply`, `--dry-run`)
it. Also home of `--schema`, the option `manifest` and `register` share to refuse
items whose metadata breaks a schema before anything is sent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from registration.console import Console
from registration.errors import ChecksFailed, UsageError
from registration.metadata_schema import limits
from registration.metadata_schema.apply import (
    ApplyPlan,
    MetadataSchemaBackend,
    plan_apply,
    read_backend,
    stage_plan,
)
from registration.metadata_schema.check import ItemCheck, make_schema_check
from registration.metadata_schema.conflicts import counted, format_conflicts
from registration.metadata_schema.inference import (
    COERCIBLE_TYPES,
    InferenceOptions,
    InferenceResult,
    SchemaInferrer,
    parse_coercion,
)
from registration.metadata_schema.model import Schema, dump_schema, load_schema

HELP = "infer the clientMetadata schema, report conflicts, and import it into Encord"
DESCRIPTION = (
    "Read the clientMetadata of registration files (--manifests DIR, or any source option of "
    "`manifest`) and infer one metadata schema: numbers, booleans, ISO 8601 datetimes, UUIDs, "
    "short strings (varchar) vs long text, enums, embeddings (lists of 1-4096 numbers) and "
    "video keyframes. Keys whose values clash are reported with counts and the first item of "
    "each kind; the command exits non-zero until they are resolved (--coerce KEY=TYPE). "
    "--apply adds keys and enum options to the organisation's schema in Encord; it never "
    "deletes or retypes a key."
)

#: `--schema encord`: check against the organisation's schema, fetched from Encord.
ORG_SCHEMA = "encord"


# --- `--schema` for manifest and register -------------------------------------------------


def add_schema_check_argument(parser: argparse.ArgumentParser) -> None:
    """Add `--schema FILE|encord` to another command's parser (manifest, register)."""
    parser.add_argument(
        "--schema",
        metavar="FILE|encord",
        help="refuse items whose clientMetadata breaks this metadata schema (a file from "
        "`encord-register schema --write`, or `encord` for the organisation's schema, read "
        "with the Encord key and domain of --ssh-key-file/--encord-domain or the ENCORD_* "
        "variables); "
        "refused items go to skipped.jsonl with the key and the reason, before anything is sent",
    )


def schema_item_checks(args: argparse.Namespace) -> list[ItemCheck]:
    """The item checks `--schema` asks for (none without it)."""
    value = getattr(args, "schema", None)
    if not value:
        return []
    if value == ORG_SCHEMA and not Path(value).exists():
        backend = _open_backend(args)
        return [make_schema_check(read_backend(backend).schema)]
    return [make_schema_check(load_schema(Path(value)))]


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
    try:
        from registration.commands.manifest import add_source_arguments
    except ImportError:  # pragma: no cover - manifest is part of the same package
        pass
    else:
        add_source_arguments(parser)

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
        default=limits.DEFAULT_ENUM_MAX_VALUES,
        metavar="N",
        help="a string key is an enum with at most N distinct values "
        f"(default {limits.DEFAULT_ENUM_MAX_VALUES}; Encord allows {limits.ENUM_MAX_VALUES})",
    )
    inf.add_argument(
        "--enum-min-repeats",
        type=float,
        default=limits.DEFAULT_ENUM_MIN_REPEATS,
        metavar="R",
        help="... each seen at least R times on average "
        f"(default {limits.DEFAULT_ENUM_MIN_REPEATS:g})",
    )
    inf.add_argument(
        "--text-threshold",
        type=int,
        default=limits.DEFAULT_TEXT_THRESHOLD,
        metavar="CHARS",
        help="strings longer than this make a key `text` instead of `varchar` "
        f"(default {limits.DEFAULT_TEXT_THRESHOLD})",
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
    act.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    _add_encord_arguments(parser)


def _add_encord_arguments(parser: argparse.ArgumentParser) -> None:
    """Encord connection flags (for --apply, --dry-run); skipped when already present."""
    known = {a for action in parser._actions for a in action.option_strings}
    enc = parser.add_argument_group("Encord (for --apply and --dry-run)")
    if "--ssh-key-file" not in known:
        enc.add_argument(
            "--ssh-key-file",
            type=Path,
            metavar="PATH",
            help="Encord SSH private key (default: ENCORD_SSH_KEY_FILE or ENCORD_SSH_KEY)",
        )
    if "--encord-domain" not in known:
        enc.add_argument(
            "--encord-domain",
            metavar="URL",
            help="Encord API domain (default: ENCORD_DOMAIN or https://api.encord.com)",
        )


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


# --- reading the metadata ---------------------------------------------------------------------


def iter_manifest_items(directory: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every `(type key, item)` of the registration files in `directory`, file by file."""
    from registration.manifest_files import iter_manifest_paths, load_manifest

    for path in iter_manifest_paths(directory):
        document = load_manifest(path)
        for media_type in limits.ITEM_LISTS:
            items = document.get(media_type)
            if isinstance(items, list):
                for item in items:
                    if isinstance(item, dict):
                        yield media_type, item


def _has_source_option(args: argparse.Namespace) -> bool:
    names = ("bucket", "inventory", "keys_file", "stack_outputs", "stack")
    return any(getattr(args, name, None) for name in names)


def _infer(
    args: argparse.Namespace, options: InferenceOptions, console: Console
) -> InferenceResult:
    inferrer = SchemaInferrer(options)

    def feed(items: Iterator[tuple[str, dict[str, Any]]]) -> None:
        add = inferrer.add
        for media_type, item in items:
            add(media_type, item)
            if inferrer.items % 8192 == 0:
                console.progress("items read", inferrer.items)

    if args.manifests is not None:
        if _has_source_option(args):
            raise UsageError("give --manifests DIR or a source option (--bucket ...), not both")
        feed(iter_manifest_items(args.manifests))
        return inferrer.result()
    if not _has_source_option(args):
        raise UsageError(
            "no metadata source: give --manifests DIR (files from `encord-register manifest`), "
            "or a source option of `manifest` such as --bucket NAME or --stack-outputs FILE"
        )
    from registration.commands.manifest import build_manifests

    with tempfile.TemporaryDirectory(prefix="encord-schema-") as tmp:
        out = Path(tmp) / "manifests"
        quiet = Console(out=console.err, err=console.err, json_mode=True, interactive=False)
        build_manifests(args, out, quiet)
        feed(iter_manifest_items(out))
    return inferrer.result()


# --- Encord ---------------------------------------------------------------------------------


def _open_backend(args: argparse.Namespace) -> MetadataSchemaBackend:
    """The organisation's schema as the SDK's `MetadataSchema` object (one GET)."""
    return _open_session(args)[1]


def _open_session(args: argparse.Namespace) -> tuple[Any, MetadataSchemaBackend]:
    from registration.encord_client import EncordSession, connect

    client = connect(
        ssh_key_file=getattr(args, "ssh_key_file", None),
        domain=getattr(args, "encord_domain", None),
    )
    session = EncordSession(client)
    backend: MetadataSchemaBackend = session.call(
        "reading the organisation's metadata schema", lambda _: client.metadata_schema()
    )
    return session, backend


def _apply(args: argparse.Namespace, schema: Schema) -> tuple[ApplyPlan, Callable[[], None]]:
    """Plan against the organisation's schema; return the plan and how to carry it out."""
    session, backend = _open_session(args)
    plan = plan_apply(read_backend(backend), schema)

    def carry_out() -> None:
        stage_plan(plan, backend)
        # The POST replaces the whole schema with the SDK object's state (the organisation's
        # keys plus our additions), so sending it again after a transient failure is safe.
        session.call("saving the organisation's metadata schema", lambda _: backend.save())

    return plan, carry_out


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


def run(args: argparse.Namespace) -> int:
    """Entry of `encord-register schema`."""
    console = Console(json_mode=args.json)
    options = _options(args)
    wants_encord = args.apply or args.dry_run
    result = _infer(args, options, console)
    report: dict[str, Any] = {
        "items": result.items,
        "items_with_metadata": result.items_with_metadata,
        "schema": result.schema.to_json(),
        "keys": [d.to_json() for d in result.decisions],
        "conflicts": [c.to_json() for c in result.conflicts],
        "unfit_values": result.unfit,
    }
    console.info(
        f"{result.items:,} items read, {result.items_with_metadata:,} with metadata: "
        f"{len(result.schema)} keys typed, {len(result.conflicts)} in conflict"
    )
    if args.show:
        console.info("inferred schema:")
        for line in _show(result):
            console.info(line)
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
        _emit_json(args, report)
        raise ChecksFailed(
            f"{len(result.conflicts)} metadata key(s) in conflict; nothing was written or applied",
            hint="fix the metadata source, or resolve each key with --coerce KEY=TYPE",
        )
    if args.write is not None:
        dump_schema(result.schema, args.write)
        console.info(f"wrote the schema to {args.write}")
    if wants_encord:
        plan, carry_out = _apply(args, result.schema)
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
            _emit_json(args, report)
            raise ChecksFailed(
                f"{len(plan.clashes)} key(s) clash with the organisation's schema and were left "
                "as they are",
                hint="change those keys in the metadata, or change the schema in Encord",
            )
    _emit_json(args, report)
    return 0


def _emit_json(args: argparse.Namespace, report: dict[str, Any]) -> None:
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_SORT_KEYS).decode() + "\n")


def schema_checked_manifests(
    manifests: Path, out_dir: Path, checks: list[ItemCheck], console: Console
) -> Path:
    """Copies of the registration files in `manifests` without the items `checks` refuse.

    Written to `out_dir` with skipped.jsonl listing each refused item with its reason;
    returns `out_dir` (what `register` then sends).
    """
    from registration.manifest_files import iter_manifest_paths, load_manifest
    from registration.metadata_schema.filtering import SKIPPED_FILE, filter_manifests

    def check(media_type: str, item: dict[str, Any]) -> str | None:
        for one in checks:
            reason = one(media_type, item)
            if reason:
                return reason
        return None

    summary = filter_manifests(iter_manifest_paths(manifests), load_manifest, out_dir, check)
    if summary.refused:
        console.warn(
            f"{summary.refused:,} item(s) refused by the metadata schema, not sent "
            f"(listed in {out_dir / SKIPPED_FILE}):"
        )
        for reason, count in sorted(summary.refused_by_reason.items()):
            console.warn(f"  {count:,} x {reason}")
    return out_dir
