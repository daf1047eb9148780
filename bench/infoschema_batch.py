"""How many jobs and requests `check` spends per dataset, by INFORMATION_SCHEMA batch size.

Runs the bigquery engine against bqemulator through the counting proxy (tests/faultproxy.py).
The naive approach, measured in the same run, is a tables.get per table (what `apply` reads).
Counts are measured (bqemulator-only probe queries excluded, and counted apart).
"Modelled BigQuery seconds" multiplies the measured counts by assumed
latencies (a query job about 1.5 s end to end, a metadata call about 0.15 s): an estimate, labelled
as such; the emulator's own wall time is reported too but is not BigQuery's.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bqmanage.changes import CreateDataset, CreateTable
from bqmanage.engines.bigquery import BigQueryEngine
from bqmanage.introspect import read_actual
from bqmanage.loader import load_definitions
from bqmanage.plan import Step
from bqmanage.render import create_schema_sql, create_table_sql
from bqmanage.settings import resolve_settings
from tests.emulator import running_emulator
from tests.faultproxy import FaultProxy

DATASETS = int(os.environ.get("BENCH_DATASETS", "12"))
TABLES = 2
JOB_SECONDS, CALL_SECONDS = 1.5, 0.15


def _definitions(root: Path) -> Path:
    for d in range(DATASETS):
        for t in range(TABLES):
            path = root / f"tenant_{d:03d}" / f"usage_{t}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                "partitioning: {column: day}\nclustering: [id]\ncolumns:\n"
                "  - {name: id, type: STRING, mode: REQUIRED}\n  - {name: day, type: DATE}\n"
                "  - {name: n, type: INT64, default: 0}\n  - {name: gb, type: 'NUMERIC(10, 2)'}\n"
            )
    return root


def _engine(url: str, project: str, batch: int) -> BigQueryEngine:
    os.environ["BIGQUERY_EMULATOR_HOST"] = url
    os.environ["BQMANAGE_INFO_SCHEMA_BATCH"] = str(batch)
    return BigQueryEngine(resolve_settings(target="bigquery", project=project), "bench")


def _measure(proxy: FaultProxy, func: Any) -> dict[str, Any]:
    proxy.counts.clear()
    start = time.perf_counter()
    func()
    wall = time.perf_counter() - start
    counts = Counter(proxy.counts)
    probes = counts.pop("probe", 0)
    total = sum(counts.values())
    # On bqemulator every tables.get is followed by a physical-schema query (its catalog does not
    # follow ALTER); real BigQuery needs none, so those jobs and their result polls are left out.
    jobs = counts["jobs.insert"] - probes
    calls = total - counts["jobs.insert"] - probes
    return {
        "jobs": jobs,
        "requests": jobs + calls,
        "probes": probes,
        "emulator_s": wall,
        "modelled_s": jobs * JOB_SECONDS + calls * CALL_SECONDS,
    }


def run() -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, running_emulator(Path(tmp) / "home") as url:
        desired = load_definitions(_definitions(Path(tmp) / "schemas"))
        proxy = FaultProxy(url)
        project = "bench-project-1"
        setup = _engine(proxy.url, project, 50)
        for dataset in sorted({t.dataset for t in desired.tables}):
            from bqmanage.model import Dataset

            ds = Dataset(name=dataset)
            setup.execute(
                Step(
                    "create_dataset",
                    dataset,
                    None,
                    "bench",
                    sql=create_schema_sql(ds),
                    changes=(CreateDataset(dataset=dataset, table=None, desired=ds),),
                )
            )
        for table in desired.tables:
            setup.execute(
                Step(
                    "create_table",
                    table.dataset,
                    table.name,
                    "bench",
                    sql=create_table_sql(table),
                    changes=(CreateTable(dataset=table.dataset, table=table.name, desired=table),),
                )
            )
        naive = _measure(proxy, lambda: read_actual(_engine(proxy.url, project, 50), desired))
        rows.append({"approach": "tables.get per table (naive)", **naive})
        for batch in (1, 4, DATASETS):
            result = _measure(proxy, lambda b=batch: read_actual(_engine(proxy.url, project, b), desired, bulk=True))
            rows.append({"approach": f"INFORMATION_SCHEMA, {batch} dataset(s) per UNION ALL", **result})
        proxy.close()
    base = rows[0]["modelled_s"]
    for row in rows:
        row["ratio_vs_naive"] = base / row["modelled_s"] if row["modelled_s"] else float("inf")
    return rows


if __name__ == "__main__":
    print(f"{DATASETS} datasets x {TABLES} tables, bigquery engine via bqemulator + counting proxy")
    print(f"{'approach':<48} {'jobs':>5} {'requests':>9} {'emulator s':>11} {'modelled BQ s':>14} {'vs naive':>9}")
    for r in run():
        print(
            f"{r['approach']:<48} {r['jobs']:>5} {r['requests']:>9} {r['emulator_s']:>11.2f} "
            f"{r['modelled_s']:>14.2f} {r['ratio_vs_naive']:>8.2f}x"
        )
