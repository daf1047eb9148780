"""The record of what the benchmarks measured: one JSON file per benchmark under bench/results/, and
bench/RESULTS.md and bench/results.png made from them.

Each benchmark's file holds its last recorded run: the table, the plot's series, the criteria it
decided, and when, where and at which commit it ran. A full run rewrites every file; a partial run
(``./dev bench --only NAME --record``) rewrites only its own, so one benchmark can be measured again
on a quiet machine without re-running the hour-long ones. Each section of RESULTS.md says when its
run happened and at what load, so rows from different runs are never presented as one. A benchmark
with no file yet keeps the section an earlier, hand-assembled RESULTS.md gave it, marked as such.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

import harness

HERE = Path(__file__).resolve().parent


def stamp(result: harness.Result, loads: list[float]) -> dict[str, Any]:
    """When, where and at which commit ``result`` was measured, and the load seen while it ran."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "bqmanage"], cwd=HERE, capture_output=True, text=True).stdout
    return {
        "machine": harness.machine(),
        "commit": (commit or "unknown") + (" with uncommitted changes to bqmanage/" if dirty.strip() else ""),
        "load": [min(loads), max(loads)] if loads else [],
        "seconds": result.seconds,
    }


def save(result: harness.Result, measured: dict[str, Any], store: Path) -> Path:
    store.mkdir(parents=True, exist_ok=True)
    path = store / f"{result.name}.json"
    path.write_text(json.dumps({"measured": measured, "result": asdict(result)}, indent=1, default=str) + "\n", encoding="utf-8")
    return path


def load(path: Path) -> tuple[harness.Result, dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    raw = data["result"]
    plot = raw.pop("plot")
    if plot is not None:
        plot = harness.Plot(**{**plot, "series": [harness.Series(**s) for s in plot["series"]]})
    criteria = [harness.Criterion(**c) for c in raw.pop("criteria")]
    return harness.Result(**raw, plot=plot, criteria=criteria), data["measured"]


def _earlier_sections(text: str) -> dict[str, tuple[str, list[str]]]:
    """The sections of an earlier RESULTS.md by benchmark name, with that benchmark's acceptance rows."""
    sections: dict[str, tuple[str, list[str]]] = {}
    parts = re.split(r"(?m)^(?=## )", text)
    acceptance = next((p for p in parts if p.startswith("## Acceptance")), "")
    top_rows = [ln for ln in acceptance.splitlines() if ln.startswith("| ") and ln.rstrip().endswith("` |")]
    for part in parts:
        found = re.match(r"## .*\(`bench/(\w+)\.py`", part)
        if found is None or found.group(1) in sections:
            continue
        name = found.group(1)
        # The section's own "Acceptance decided by this run" table repeats the top rows: keep the top ones.
        body = part.split("Acceptance decided by this run:")[0].rstrip() + "\n"
        sections[name] = (body, [r for r in top_rows if r.rstrip().endswith(f"`{name}` |")])
    return sections


def write(names: list[str], out: Path, budget_note: str) -> None:
    """RESULTS.md and results.png in ``out`` from every benchmark recorded in ``out``/results, in
    ``names`` order."""
    out.mkdir(parents=True, exist_ok=True)
    earlier_path = out / "RESULTS.md"
    earlier = _earlier_sections(earlier_path.read_text(encoding="utf-8")) if earlier_path.exists() else {}
    recorded: list[tuple[harness.Result, dict[str, Any]]] = []
    sections: list[str] = []
    rows: list[str] = []
    for name in names:
        path = out / "results" / f"{name}.json"
        if path.exists():
            result, measured = load(path)
            recorded.append((result, measured))
            sections.append(_stamped(harness.section(result), measured))
            rows += harness.criteria_markdown([result]).splitlines()[2:]
        elif name in earlier:
            body, old_rows = earlier[name]
            note = (
                "*Not re-run since the hand-assembled record it comes from: the last full run "
                "(2026-11-23 UTC) unless the text below gives a later date.*"
            )
            sections.append(body if note in body else body.replace("\n\n", f"\n\n{note}\n\n", 1))
            rows += old_rows
        else:
            sections.append(f"## `bench/{name}.py`\n\nNot recorded yet: `./dev bench --only {name} --record`.\n")
    plotted = harness.plot_all([r for r, _ in recorded], out / "results.png")
    head = [
        "# Benchmark results",
        "Written by `./dev bench` (`bench/run.py`, `bench/record.py`) from what each benchmark last recorded "
        "under `bench/results/`; do not edit by hand. Each section says when, at which commit and at what "
        "machine load its own run happened; every ratio is against the naive approach, measured in that "
        "same run. " + budget_note,
        "## Acceptance\n\n" + "\n".join(["|  | criterion | measured | benchmark |", "|---|---|---|---|", *rows]),
        "![cost against scale](results.png)" if plotted else "(No plot: `pip install -e '.[bench]'` for matplotlib.)",
    ]
    (out / "RESULTS.md").write_text("\n\n".join(head + sections) + "\n", encoding="utf-8")
    print(f"wrote {out / 'RESULTS.md'}" + (f" and {out / 'results.png'}" if plotted else ""))


def _stamped(section: str, measured: dict[str, Any]) -> str:
    load = measured.get("load") or []
    during = f"load average {load[0]:.1f}-{load[1]:.1f} while it ran" if load else "load not recorded"
    line = f"*Measured {measured['machine']}; {during}; commit {measured['commit']}.*"
    title, _, rest = section.partition("\n\n")
    return f"{title}\n\n{line}\n\n{rest}"
