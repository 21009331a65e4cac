"""Run the Encord stand-in on its own (`make demo`, `make emulators`, and by hand).

    python -m tests.standin --integration TITLE --public-key-file KEY [--port N]
        [--job-latency SECONDS] [--job-latency-per-item SECONDS] [--concurrent-jobs]
        [--integration-uuid UUID]
        [--ready-file PATH]

Prints one line ``ready <domain> integration=<uuid>`` when serving; serves until
SIGTERM/SIGINT. See `--help` for every option.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from tests.standin.keys import ACCEPTED_FORMS, KeyFormatError, public_key_hex_from_text
from tests.standin.server import EncordStandIn

DESCRIPTION = """\
A local stand-in for Encord's v2 API, for tests, `make demo` and `make emulators` only:
production code never imports it or knows it exists. It serves the endpoints
`encord-register` uses (cloud integrations, folders, registration jobs with long polling,
items, the metadata schema) on 127.0.0.1, checks the Ed25519 signature of every request
against the public keys it was given, and keeps everything in memory (gone when it stops).

When it is serving it prints `ready http://127.0.0.1:PORT integration=UUID`; point the
SDK or `encord-register` at that domain (--encord-domain or ENCORD_DOMAIN). Runs until
SIGTERM or Ctrl-C.

See what it holds (JSON):
  GET <domain>/_standin/folders               the folders
  GET <domain>/_standin/folders/<uuid>/items  the items registered into one folder
  GET <domain>/_standin/calls                 API calls served, by route
"""


def _public_hex(path: Path) -> str:
    """The key id (public key hex) of the key in `path`; `KeyFormatError` says what is wrong."""
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError:
        raise KeyFormatError(f"not a text file; expected {ACCEPTED_FORMS}") from None
    return public_key_hex_from_text(text)


def build_parser() -> argparse.ArgumentParser:
    """The stand-in's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.standin",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--integration",
        action="append",
        default=[],
        required=True,
        metavar="TITLE",
        help="title of an AWS cloud integration every key can see (repeatable; "
        "`register --integration` matches it)",
    )
    parser.add_argument(
        "--integration-uuid",
        metavar="UUID",
        help="the UUID of the first --integration (default: a new random UUID)",
    )
    parser.add_argument(
        "--public-key-file",
        type=Path,
        action="append",
        required=True,
        metavar="PATH",
        help="a user's key; requests signed by it are accepted (repeatable). The file holds "
        f"{ACCEPTED_FORMS}; nothing secret is printed",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port on 127.0.0.1 (default 0: any free port, printed in the ready line)",
    )
    parser.add_argument(
        "--job-latency",
        type=float,
        default=0.2,
        metavar="SECONDS",
        help="how long each registration job takes before its result is ready (default 0.2)",
    )
    parser.add_argument(
        "--job-latency-per-item",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="added to a job's latency for each of its units: with --job-latency, a fixed "
        "cost per job plus a cost per item (default 0)",
    )
    parser.add_argument(
        "--concurrent-jobs",
        action="store_true",
        help="process registration jobs that overlap in time side by side: each checks for "
        "duplicate URLs against the items that existed when it started, so two overlapping jobs "
        "holding one URL both register it (default: one job at a time, in start order)",
    )
    parser.add_argument(
        "--ready-file",
        type=Path,
        metavar="PATH",
        help="also write the ready line to this file once serving (for scripts)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until terminated."""
    parser = build_parser()
    args = parser.parse_args(argv)
    keys: list[str] = []
    for key_file in args.public_key_file:
        try:
            keys.append(_public_hex(key_file))
        except KeyFormatError as exc:
            parser.error(f"--public-key-file {key_file}: {exc}")
        except OSError as exc:
            parser.error(f"--public-key-file {key_file}: cannot read it: {exc.strerror}")
    standin = EncordStandIn(
        job_latency=args.job_latency,
        port=args.port,
        concurrent_jobs=args.concurrent_jobs,
        job_latency_per_item=args.job_latency_per_item,
    )
    for key in keys:
        standin.register_public_key(key)
    uuids = [standin.store.add_integration(args.integration[0], args.integration_uuid)]
    uuids += [standin.add_integration(title) for title in args.integration[1:]]
    line = f"ready {standin.domain} integration={uuids[0]}"
    if args.ready_file:  # written whole, then renamed: a reader never sees half a line
        partial = args.ready_file.with_name(args.ready_file.name + ".partial")
        partial.write_text(line + "\n", encoding="utf-8")
        partial.replace(args.ready_file)
    print(line, flush=True)

    def _stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=standin.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # A long-lived server allocating thousands of items per job: keep the startup heap out of
    # the cyclic collector and collect young objects less often (as the CLI does).
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
    standin.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
