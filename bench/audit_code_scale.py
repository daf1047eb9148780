"""audit-code against grep as the tree grows: 2,500 to 20,000 files, both measured in the same run
(median of 3 whole-process runs each), written to bench/audit_code.png (cost against scale) and
printed as a table. The tree and the method are bench/audit_code.py's."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from audit_code import run  # noqa: E402

SIZES = (2_500, 5_000, 10_000, 20_000)


def plot(rows: list[dict[str, object]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False  # the bench extra is not installed: the table is still printed
    files = [int(r["files"]) for r in rows]  # type: ignore[call-overload]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(files, [r["grep_seconds"] for r in rows], "o-", label="grep -rnF (same names)")
    ax.plot(files, [r["audit_seconds"] for r in rows], "s-", label="bqmanage audit-code")
    ax.plot(files, [3 * float(r["grep_seconds"]) for r in rows], ":", color="grey", label="3x grep (the bound)")  # type: ignore[arg-type]
    ax.set_xlabel("source files in the tree")
    ax.set_ylabel("wall seconds (median of 3)")
    ax.set_title("audit-code against grep, measured on this machine")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


if __name__ == "__main__":
    rows = [run(runs=3, files=n) for n in SIZES]
    print(f"{'files':>7} {'MB':>6} {'grep s':>7} {'audit s':>8} {'ratio':>6} {'found':>9}")
    for r in rows:
        print(
            f"{r['files']:>7,} {r['megabytes']:>6.1f} {r['grep_seconds']:>7.2f} {r['audit_seconds']:>8.2f} "
            f"{r['ratio']:>5.2f}x {r['found']:>4}/{r['planted']}"
        )
    out = HERE / "audit_code.png"
    print(f"plot: {out}" if plot(rows, out) else "plot skipped: pip install -e '.[bench]' for matplotlib")
