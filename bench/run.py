"""Run every benchmark under bench/ and write what they measured: bench/RESULTS.md and bench/results.png.

    ./dev bench                  every benchmark, full sizes; rewrites RESULTS.md and results.png
    ./dev bench --quick          smallest sizes only, printed (a smoke run); writes nothing
    ./dev bench --only NAME,...  some benchmarks, printed; writes nothing
    --out DIR                    write RESULTS.md and results.png into DIR instead (any mode)

A benchmark is a module here with ``bench(quick) -> harness.Result`` (see bench/harness.py).
"""

from __future__ import annotations

import argparse
import importlib
import sys
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


def benchmarks() -> list[str]:
    names = []
    for script in sorted(HERE.glob("*.py")):
        if script.stem in ("run", "harness") or script.stem.startswith("_"):
            continue
        if "def bench(" in script.read_text(encoding="utf-8"):
            names.append(script.stem)
    return names


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="./dev bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smallest sizes only; writes nothing unless --out")
    parser.add_argument("--only", default="", help="comma-separated benchmark names; writes nothing unless --out")
    parser.add_argument("--out", type=Path, default=None, help="directory for RESULTS.md and results.png")
    args = parser.parse_args(argv)
    names = benchmarks()
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            print(f"unknown benchmark(s): {', '.join(unknown)}; there are: {', '.join(names)}", file=sys.stderr)
            return 2
        names = wanted
    out = args.out if args.out is not None else (None if args.quick or args.only else HERE)
    results: list[harness.Result] = []
    start = time.perf_counter()
    for name in names:
        print(f"== {name}", flush=True)
        began = time.perf_counter()
        result: harness.Result = importlib.import_module(name).bench(quick=args.quick)
        result.seconds = time.perf_counter() - began
        results.append(result)
        print(harness.section(result), flush=True)
    total = time.perf_counter() - start
    print(f"all benchmarks: {total:.0f} s")
    if out is not None:
        write(results, out, total, full=not args.quick and not args.only)
    return 0


def write(results: list[harness.Result], out: Path, total: float, full: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    plotted = harness.plot_all(results, out / "results.png")
    parts = [
        "# Benchmark results",
        "Written by `./dev bench` (`bench/run.py`); do not edit by hand. Measured on this machine: "
        f"{harness.machine()}. The whole run took {total / 60:.1f} minutes. Every ratio is against the "
        "naive approach, measured in the same run.",
        "## Acceptance\n\n" + harness.criteria_markdown(results),
        (
            f"The whole run is {'within' if total < BUDGET_SECONDS else '**over**'} its budget of {BUDGET_SECONDS // 60} minutes."
            if full
            else "A partial run (--quick or --only): not a record of the full benchmarks."
        ),
        "![cost against scale](results.png)" if plotted else "(No plot: `pip install -e '.[bench]'` for matplotlib.)",
    ]
    parts += [harness.section(r) for r in results]
    (out / "RESULTS.md").write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    print(f"wrote {out / 'RESULTS.md'}" + (f" and {out / 'results.png'}" if plotted else ""))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
