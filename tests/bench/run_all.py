"""`make bench`: every benchmark of tests/bench at its defaults, one after the other.

    .venv/bin/python tests/bench/run_all.py [--only NAME ...] [--list]

Each one starts its own private services and prints its own figures (see README.md for what
each measures and the figures recorded). At the defaults the whole set takes well over an
hour on a 2-core machine; `--only messages cluster_nodes` runs a selection. The exit status
is 1 when any benchmark failed to run; the figures themselves pass or fail nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: In an order where the quick ones come first.
BENCHMARKS = (
    "queue_compare",
    "cluster_bench",
    "simnet_bench",
    "messages_bench",
    "webhook_bench",
    "neonize_bench",
    "idle_memory_bench",
    "memory_bench",
    "sessions_bench",
    "cluster_nodes_bench",
    "backlog_bench",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="e.g. messages cluster_nodes")
    parser.add_argument("--list", action="store_true", help="print the names and exit")
    args = parser.parse_args()
    if args.list:
        print("\n".join(BENCHMARKS))
        return 0
    chosen = [b for b in BENCHMARKS if not args.only or b.removesuffix("_bench") in args.only]
    if args.only and not chosen:
        parser.error(f"no benchmark named {args.only}; --list shows them")
    failed = []
    for name in chosen:
        print(f"\n=== {name}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(HERE / f"{name}.py")])
        print(f"=== {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed to run: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
