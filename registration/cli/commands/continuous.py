"""`encord-register continuous status|redrive|backfill`: look after continuous registration."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from registration.cli import options
from registration.cli.console import Console
from registration.errors import UsageError
from registration.exit_codes import ExitStatus

HELP = "continuous registration: status, send dead letters back, backfill what is there"
DESCRIPTION = """\
Look after the continuous registration of a deployed stack (its EncordContinuous output, read
with --stack-outputs FILE or --stack NAME):

  status    queue depth, dead-letter messages and their reasons, groups in progress, late
            arrivals, the last errors
  redrive   move dead-letter messages back to the queue, once their cause is fixed
  backfill  send the objects already in the watched buckets to the queue, so the same
            functions register them (resumable)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `encord-register continuous ACTION`."""
    from registration.continuous.backfill_state import DEFAULT_STATE_FILE
    from registration.continuous.status import DEFAULT_LIMIT

    actions = parser.add_subparsers(dest="continuous_action", metavar="ACTION", required=True)
    status = _action(
        actions,
        "status",
        "queue depth, dead-letter messages, groups in progress, late arrivals, last errors",
    )
    options.add_stack_options(status.add_argument_group("the stack"))
    status.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"entries shown per list (default {DEFAULT_LIMIT}; 0: counts only)",
    )
    options.add_json_option(status, "the status")

    redrive = _action(
        actions,
        "redrive",
        "move dead-letter messages back to the queue (each sent before it is deleted)",
    )
    options.add_stack_options(redrive.add_argument_group("the stack"))
    redrive.add_argument(
        "--max", type=int, metavar="N", help="move at most N messages (default: all)"
    )
    redrive.add_argument(
        "--dry-run", action="store_true", help="say how many would move; move nothing"
    )
    options.add_json_option(redrive, "what moved")

    backfill = _action(
        actions,
        "backfill",
        "send the objects already in the watched buckets to the queue (resumable)",
        "Send the objects already in the buckets continuous registration watches to its queue, "
        "many keys per message, so the same functions register them with the same rules. "
        "Default: every watched bucket and prefix (as the deployed function's settings say); "
        "--bucket, --prefix, --inventory or --keys-file narrow it, never widen it. Progress is "
        "printed; a checkpoint per bucket prefix (--state) makes a rerun continue where the "
        "last one stopped.",
    )
    options.add_source_group(backfill)
    run = backfill.add_argument_group("run")
    run.add_argument(
        "--state",
        type=Path,
        default=DEFAULT_STATE_FILE,
        metavar="FILE",
        help=f"checkpoints of this backfill (default {DEFAULT_STATE_FILE}); a rerun with the "
        "same file continues after the last batch the queue acknowledged",
    )
    run.add_argument(
        "--restart",
        action="store_true",
        help="forget the checkpoints of these buckets and prefixes: send everything again "
        "(the handler registers each object once however often it is sent)",
    )
    options.add_json_option(run, "the summary")


def _action(
    actions: Any, name: str, text: str, description: str | None = None
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(
        name, help=text, description=description or text
    )
    return parser


def run(args: argparse.Namespace, console: Console) -> int:
    """Entry of `encord-register continuous`."""
    from registration.continuous.resources import ContinuousClients, continuous_resources
    from registration.stack_outputs import load_stack_outputs

    resources = continuous_resources(load_stack_outputs(args.stack_outputs, args.stack))
    clients = ContinuousClients(resources.region)
    if args.continuous_action == "status":
        return _status(args, console, resources, clients)
    if args.continuous_action == "redrive":
        return _redrive(args, console, resources, clients)
    return _backfill(args, console, resources, clients)


def _status(args: argparse.Namespace, console: Console, resources: Any, clients: Any) -> int:
    from registration.continuous.status import MAX_LIMIT, read_status

    if not 0 <= args.limit <= MAX_LIMIT:
        raise UsageError(f"--limit {args.limit}: give 0 to {MAX_LIMIT}")
    status = read_status(resources, clients, args.limit)
    if args.json:
        console.emit_json(status.to_json())
        return int(ExitStatus.OK)
    for line in status_lines(status, options.stack_args(args)):
        console.info(line)
    return int(ExitStatus.OK)


def status_lines(status: Any, stack_args: tuple[str, ...]) -> list[str]:
    """Human lines of a `ContinuousStatus`."""
    r, q, d = status.resources, status.queue, status.dead_letter
    lines = [
        f"queue ({r.region}): {q.waiting:,} waiting, {q.in_flight:,} being handled, "
        f"{q.delayed:,} delayed (group checks)",
        f"dead-letter queue: {d.waiting:,} message(s)"
        + (f", {d.in_flight:,} being moved" if d.in_flight else ""),
    ]
    for m in status.dead_letters:
        received = f", receive count {m.receive_count}" if m.receive_count else ""
        lines.append(f"  {m.message_id}  {'; '.join(m.about)}{received}")
        reason = m.reason or "no reason recorded (older than the table keeps errors?)"
        when = ", ".join(filter(None, [m.error_kind, m.failed_at]))
        lines.append(f"      reason: {reason}" + (f" ({when})" if when else ""))
    if d.waiting:
        command = " ".join(["encord-register continuous redrive", *stack_args])
        lines.append(f"  once the cause is fixed, send them back: {command}")
    for title, section in (
        ("groups in progress", status.groups),
        ("late arrivals", status.late),
        ("last errors (newest first)", status.errors),
    ):
        more = section.total - len(section.shown)
        lines.append(f"{title}: {section.total:,}" + (f" ({more:,} not shown)" if more else ""))
        for record in section.shown:
            details = ", ".join(f"{k} {v}" for k, v in record.highlights())
            lines.append(f"  {record.at}  {record.subject}" + (f"  {details}" if details else ""))
    return lines


def _redrive(args: argparse.Namespace, console: Console, resources: Any, clients: Any) -> int:
    from registration.continuous.redrive import redrive

    if args.max is not None and args.max < 1:
        raise UsageError(f"--max {args.max}: give at least 1")
    result = redrive(clients.sqs, resources, console, max_messages=args.max, dry_run=args.dry_run)
    if args.json:
        console.emit_json(result.to_json())
    elif result.dry_run:
        waiting = result.before.waiting if result.before else 0
        console.info(
            f"dry run: {result.would_move:,} of {waiting:,} dead-letter "
            "message(s) would be moved back to the queue; nothing was moved"
        )
    else:
        left = result.after.waiting if result.after else 0
        console.info(
            f"moved {result.moved:,} message(s) back to the queue; {left:,} left in the "
            "dead-letter queue"
        )
        if result.not_deleted:
            console.warn(
                f"{result.not_deleted} moved message(s) could not be deleted from the "
                "dead-letter queue: the next redrive sends them again (the handler registers "
                "each object once)"
            )
    for refused in result.refused:
        console.warn(f"the queue refused {refused}; it stays in the dead-letter queue")
    return int(ExitStatus.PARTIAL if result.refused else ExitStatus.OK)


def _backfill(args: argparse.Namespace, console: Console, resources: Any, clients: Any) -> int:
    from registration.continuous.backfill import BackfillOptions, backfill
    from registration.continuous.resources import watched_buckets

    watched = watched_buckets(resources, clients.client("lambda"))
    summary = backfill(
        resources,
        watched,
        options.source_spec(args),
        clients.sqs,
        console,
        BackfillOptions(state=args.state, restart=args.restart),
    )
    if args.json:
        console.emit_json(summary.to_json())
        return int(ExitStatus.OK)
    console.info(
        f"{summary.listed:,} objects listed: {summary.objects_sent:,} sent in "
        f"{summary.messages_sent:,} message(s) ({summary.batches:,} batches, "
        f"{summary.rate:,.0f} objects/s over {summary.seconds:,.1f} s)"
    )
    if summary.already_sent:
        console.info(f"  {summary.already_sent:,} already sent by an earlier run (checkpoint)")
    for scope in summary.scopes_already_done:
        console.info(f"  {scope}: finished by an earlier run (--restart to send it again)")
    for reason, count in sorted(summary.not_sent.items()):
        console.info(f"  not sent, {reason}: {count:,}")
    if summary.entries_retried:
        console.info(f"  {summary.entries_retried:,} message(s) sent again after SQS refused them")
    console.info(
        "the functions register them as they read the queue: follow with "
        + " ".join(["encord-register continuous status", *options.stack_args(args)])
    )
    return int(ExitStatus.OK)
