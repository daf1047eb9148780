"""Run the benchmarks under bench/ and record what they measured: bench/results/NAME.json per
benchmark, and bench/RESULTS.md and bench/results.png made from all of them (bench/record.py).

    ./dev bench                           every benchmark, full sizes; records each
    ./dev bench --only NAME,... --record  some benchmarks, full sizes; records those, keeps the rest
    ./dev bench --only NAME,...           some benchmarks, printed; records nothing
    ./dev bench --quick                   smallest sizes only, printed (a smoke run); records nothing
    --out DIR                             write RESULTS.md and results.png into DIR instead

A benchmark is a module here with ``bench(quick) -> harness.Result`` (see bench/harness.py).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The whole full run, on a 2-core machine. Raised from 15 minutes: tenant_fleet creates 5,000
# tenants' datasets in one `apply --all-tenants` (about 10 minutes of it at load 17) and
# embedded_scale builds and reads 2,000 datasets, as the thousands-of-tenants goals require.
BUDGET_SECONDS = 40 * 60

sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import harness  # noqa: E402
import record  # noqa: E402


class LoadSampler:
    """The machine's one-minute load average every few seconds while a benchmark runs: on a shared
    machine the load during the run, not at its end, is what explains a wall time."""

    def __init__(self, every: float = 5.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every: float) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(every):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def benchmarks() -> list[str]:
    names = []
    for script in sorted(HERE.glob("*.py")):
        if script.stem in ("run", "harness", "record") or script.stem.startswith("_"):
            continue
        if "def bench(" in script.read_text(encoding="utf-8"):
            names.append(script.stem)
    return names


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smallest sizes only, printed; records nothing")
    parser.add_argument("--only", default="", help="comma-separated benchmark names; printed, recorded only with --record")
    parser.add_argument("--record", action="store_true", help="with --only: record those benchmarks' results")
    parser.add_argument("--out", type=Path, default=None, help="record into DIR instead of bench/")
    args = parser.parse_args(argv)
    names = benchmarks()
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            print(f"unknown benchmark(s): {', '.join(unknown)}; there are: {', '.join(names)}", file=sys.stderr)
            return 2
        names = wanted
    if args.quick and args.record:
        print("--quick runs the smallest sizes only: it records nothing", file=sys.stderr)
        return 2
    recording = not args.quick and (args.record or not args.only)
    out = args.out if args.out is not None else HERE
    start = time.perf_counter()
    for name in names:
        print(f"== {name}", flush=True)
        began = time.perf_counter()
        with LoadSampler() as load:
            result: harness.Result = importlib.import_module(name).bench(quick=args.quick)
        result.seconds = time.perf_counter() - began
        print(harness.section(result), flush=True)
        if recording:
            record.save(result, record.stamp(result, load.samples), out / "results")
    total = time.perf_counter() - start
    print(f"all benchmarks: {total:.0f} s")
    if recording:
        full = not args.only
        note = (
            f"The last full run took {total / 60:.1f} minutes, "
            + ("within" if total < BUDGET_SECONDS else "**over**")
            + f" its budget of {BUDGET_SECONDS // 60} minutes."
            if full
            else f"The budget of a full run is {BUDGET_SECONDS // 60} minutes; each section gives its own time."
        )
        record.write(benchmarks(), out, note)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
