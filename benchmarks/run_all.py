"""Every benchmark in `benchmarks/`, one after another, each as its own
`python -m benchmarks.<name>` process (so each starts and stops its own embedded PostgreSQL and
none inherits another's state), with modest sizes; `--quick` uses smaller ones. `make bench`
runs this. Figures are printed, not asserted; record them in docs/benchmarks.md.

Run: `python -m benchmarks.run_all [--quick] [--only NAME ...]`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> (modest flags, --quick flags); the flags are each module's own argparse options.
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "repo": (["--runs", "1"], ["--edges", "10000", "--jobs", "2000", "--runs", "1"]),
    "api": (["--seconds", "3"], ["--seconds", "1", "--clients", "10", "--definitions", "2000"]),
    "worker_throughput": (["--runs", "1"], ["--jobs", "2000", "--runs", "1"]),
    "latency": (["--jobs", "200"], ["--jobs", "50"]),
    "cron_accuracy": (["--seconds", "10"], ["--seconds", "3", "--counts", "1,100"]),
    "peers": (["--runs", "1"], ["--jobs", "2000", "--runs", "1"]),
    "cmd_throughput": (["--runs", "1"], ["--jobs", "300", "--runs", "1"]),
    "prune": (["--dags", "200"], ["--dags", "10", "--solo", "2000"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    args = parser.parse_args()
    failed: list[str] = []
    for name in args.only:
        full, quick = BENCHMARKS[name]
        argv = [sys.executable, "-m", f"benchmarks.{name}", *(quick if args.quick else full)]
        print(f"\n=== {' '.join(argv[1:])}", flush=True)
        start = time.perf_counter()
        code = subprocess.run(argv, cwd=ROOT, env=os.environ.copy(), check=False).returncode
        print(f"=== {name}: exit {code} after {time.perf_counter() - start:.0f} s", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
