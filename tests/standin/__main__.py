"""Run the Encord stand-in on its own (for the demo).

    python -m tests.standin --integration TITLE --public-key-file KEY [--port N]
        [--job-latency SECONDS] [--integration-uuid UUID] [--ready-file PATH]

`--public-key-file` takes either a public key as hex (one line) or an OpenSSH Ed25519
private key file (the public key is derived; nothing secret is printed). Prints one
line ``ready <domain> integration=<uuid>`` when serving; serves until SIGTERM/SIGINT.
Inspect what it holds at ``<domain>/_standin/folders`` and
``<domain>/_standin/folders/<uuid>/items``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from tests.standin.keys import public_key_hex_from_private_text
from tests.standin.server import EncordStandIn


def _public_hex(path: Path) -> str:
    text = path.read_text(encoding="ascii").strip()
    if "PRIVATE KEY" in text:
        return public_key_hex_from_private_text(text + "\n")
    bytes.fromhex(text)
    return text


def main(argv: list[str] | None = None) -> int:
    """Serve until terminated."""
    parser = argparse.ArgumentParser(prog="python -m tests.standin")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--integration", action="append", default=[], required=True)
    parser.add_argument("--integration-uuid")
    parser.add_argument("--public-key-file", type=Path, action="append", required=True)
    parser.add_argument("--job-latency", type=float, default=0.2)
    parser.add_argument("--ready-file", type=Path)
    args = parser.parse_args(argv)
    standin = EncordStandIn(job_latency=args.job_latency, port=args.port)
    for key_file in args.public_key_file:
        standin.register_public_key(_public_hex(key_file))
    uuids = [standin.store.add_integration(args.integration[0], args.integration_uuid)]
    uuids += [standin.add_integration(title) for title in args.integration[1:]]
    line = f"ready {standin.domain} integration={uuids[0]}"
    if args.ready_file:
        args.ready_file.write_text(line + "\n", encoding="utf-8")
    print(line, flush=True)

    def _stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=standin.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    standin.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
