"""`python -m bench` (`make bench`): run every benchmark module in this package.

Each `bench/*_bench.py` module defines `main(argv) -> int`; they run in name order with
their default (few-minute) sizes. Run one with its own flags for bigger sizes, e.g.
`python -m bench.manifest_bench --sizes 1000000 10000000`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    """Run every benchmark module found next to this file; non-zero if any failed."""
    status = 0
    here = Path(__file__).parent
    for module in sorted(m.name for m in pkgutil.iter_modules([str(here)])):
        if not module.endswith("_bench"):
            continue
        print(f"== bench.{module}", flush=True)
        code = importlib.import_module(f"bench.{module}").main([])
        status = status or int(code)
    return status


if __name__ == "__main__":
    sys.exit(main())
