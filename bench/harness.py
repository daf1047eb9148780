"""What every benchmark hands to ``bench/run``: a measured table, a plot of cost against scale, and
the acceptance criteria it decides.

A benchmark is a module ``bench/<name>.py`` with ``def bench(quick: bool = False) -> Result``.
``quick`` runs the smallest sizes only (a smoke run, seconds); the full run is what RESULTS.md
records. Each module can also run alone: ``python bench/<name>.py [--quick]`` prints its section.
Nothing here is a result: every number comes from a measurement in the same run.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass
class Series:
    label: str
    x: list[float]
    y: list[float]
    style: str = "o-"


@dataclass
class Plot:
    title: str
    xlabel: str
    ylabel: str
    series: list[Series]
    logx: bool = False
    logy: bool = False


@dataclass
class Criterion:
    """One acceptance item, decided by the numbers measured in this run."""

    text: str
    met: bool
    measured: str  # the numbers that decide it, in words


@dataclass
class Result:
    name: str  # the module's stem
    title: str
    method: str  # markdown: what is measured, how, and what the naive approach is
    headers: list[str]
    rows: list[list[Any]]
    notes: str = ""  # markdown after the table: what the numbers say
    plot: Plot | None = None
    criteria: list[Criterion] = field(default_factory=list)
    seconds: float = 0.0  # filled in by bench/run: how long the benchmark itself took


def cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def table_markdown(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def section(result: Result) -> str:
    parts = [f"## {result.title} (`bench/{result.name}.py`, {result.seconds:.0f} s)", result.method.strip()]
    parts.append(table_markdown(result.headers, result.rows))
    if result.notes.strip():
        parts.append(result.notes.strip())
    if result.plot is not None:
        parts.append(f"Plotted in `results.png`: {result.plot.title}.")
    if result.criteria:
        parts.append("Acceptance decided by this run:\n\n" + criteria_markdown([result]))
    return "\n\n".join(parts) + "\n"


def criteria_markdown(results: list[Result]) -> str:
    rows = [[("met" if c.met else "**not met**"), c.text, c.measured, f"`{r.name}`"] for r in results for c in r.criteria]
    return table_markdown(["", "criterion", "measured", "benchmark"], rows)


def machine() -> str:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average {load} at the end, "
        f"Python {platform.python_version()} on {platform.system()}"
    )


def plot_all(results: list[Result], path: Path) -> bool:
    """One panel per benchmark that has a plot; False when matplotlib is not installed."""
    plots = [r.plot for r in results if r.plot is not None]
    if not plots:
        return False
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    cols = 2 if len(plots) > 1 else 1
    rows = (len(plots) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 4.2 * rows), squeeze=False)
    for ax, p in zip(axes.flat, plots, strict=False):
        for s in p.series:
            ax.plot(s.x, s.y, s.style, label=s.label)
        ax.set_title(p.title, fontsize=10)
        ax.set_xlabel(p.xlabel)
        ax.set_ylabel(p.ylabel)
        if p.logx:
            ax.set_xscale("log")
        if p.logy:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(plots) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def main(bench: Any) -> None:
    """``python bench/<name>.py [--quick]``: run one benchmark and print its section."""
    import time

    start = time.perf_counter()
    result: Result = bench(quick="--quick" in sys.argv[1:])
    result.seconds = time.perf_counter() - start
    print(section(result))
