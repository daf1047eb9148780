"""check, plan and a no-op apply on the embedded (DuckDB) engine as the warehouse grows, each a whole
CLI process, against the per-table catalog reads they used to make."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
import harness  # noqa: E402

SIZES = (10, 50, 500, 2000)
QUICK_SIZES = (10, 50)
TABLES = 3
COMMANDS = ("check", "plan", "apply")
SAMPLE = 30  # tables timed with the naive per-table read at each size (all of them below that)
RUNS = 2  # each command's time is the best of RUNS: the machine is shared

# Every kind of column the local engine reads back differently: a believed default, a function
# default, NUMERIC(P, S), a STRUCT, a REPEATED column, descriptions, partitioning and clustering.
TABLE_YAML = """table: events_{t}
description: Bench table {t}.
partitioning: {{column: day}}
clustering: [id]
labels: {{kind: bench}}
columns:
  - {{name: id, type: STRING, mode: REQUIRED, description: Row id.}}
  - {{name: day, type: DATE}}
  - {{name: n, type: INT64, mode: REQUIRED, default: 0}}
  - {{name: gb, type: 'NUMERIC(10, 2)', default: 0}}
  - {{name: at, type: TIMESTAMP, default: 'CURRENT_TIMESTAMP()'}}
  - {{name: meta, type: 'STRUCT<source STRING, tries INT64>', description: Where it came from.}}
  - {{name: tags, type: 'ARRAY<STRING>'}}
"""


HEADERS = ["datasets", "tables", "validate s", "check s", "plan s", "no-op apply s", "bulk read s", "naive reads s", "ratio"]


def _definitions(schemas: Path, datasets: int) -> None:
    for d in range(datasets):
        directory = schemas / f"tenant_{d:04d}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "_dataset.yaml").write_text("description: One tenant's tables.\nlabels: {tier: bench}\n")
        for t in range(TABLES):
            (directory / f"events_{t}.yaml").write_text(TABLE_YAML.format(t=t))


def build(root: Path, datasets: int) -> None:
    """The warehouse `apply` leaves for ``datasets`` tenant datasets, ledgers included.

    Applying 1,500 tables one step at a time takes minutes, so bqmanage's own apply creates the
    first dataset, and DuckDB copies it (tables, comments, side-table rows, ledger rows) in one
    transaction; the benchmark then checks that the copies read as applied (check is clean)."""
    from bqmanage import api
    from bqmanage.engines.local import LocalEngine
    from bqmanage.settings import resolve_settings

    _definitions(root / "schemas", datasets)
    first = root / "first"
    _definitions(first, 1)
    engine = LocalEngine(root / ".bqmanage" / "local.duckdb")
    try:
        api.apply(resolve_settings(schemas=str(first)), engine)
        con = engine.con
        template = "tenant_0000"
        tables = con.execute(
            "SELECT table_name, sql, comment FROM duckdb_tables() WHERE schema_name = ? ORDER BY 1", [template]
        ).fetchall()
        columns = con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE schema_name = ? AND comment IS NOT NULL",
            [template],
        ).fetchall()
        con.execute("BEGIN TRANSACTION")
        for d in range(1, datasets):
            name = f"tenant_{d:04d}"
            con.execute(f"CREATE SCHEMA {name}")
            for table, sql, comment in tables:
                con.execute(sql.replace(f"CREATE TABLE {template}.", f"CREATE TABLE {name}.", 1))
                if comment:
                    con.execute(f"COMMENT ON TABLE {name}.{table} IS '{comment}'")
            for table, column, comment in columns:
                con.execute(f"COMMENT ON COLUMN {name}.{table}.\"{column}\" IS '{comment}'")
            con.execute(f"INSERT INTO {name}._bqmanage_migrations SELECT * FROM {template}._bqmanage_migrations")
            if d % 200 == 0:  # what a transaction creates stays in memory until a checkpoint
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
                con.execute("BEGIN TRANSACTION")
        for side in ("datasets", "tables", "columns"):
            con.execute(
                f"INSERT INTO _bqmanage.{side} SELECT s.* REPLACE (printf('tenant_%04d', r.i) AS dataset) "
                f"FROM _bqmanage.{side} s, range(1, {datasets}) r(i) WHERE s.dataset = ?",
                [template],
            )
        con.execute("COMMIT")
    finally:
        engine.close()


def _cli(root: Path, command: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BQMANAGE_LOCAL_PATH": str(root / ".bqmanage" / "local.duckdb")}
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "bqmanage", command], cwd=root, env=env, capture_output=True, text=True)
        best = min(best, time.perf_counter() - start)
        # A clean warehouse: check finds nothing, plan and apply have nothing to do.
        if out.returncode != 0 or not any(word in out.stdout for word in ("OK:", "Clean:", "No changes", "Nothing to do")):
            raise RuntimeError(f"bqmanage {command} at {root}: exit {out.returncode}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return best


def _naive_read(con: Any, dataset: str, table: str) -> None:
    """What one get_table cost before this change: the statements it sent, each over the whole catalog."""
    con.execute(
        "SELECT comment FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ? AND table_name = ?",
        [dataset, table],
    ).fetchall()
    con.execute("SELECT meta, modified FROM _bqmanage.tables WHERE dataset = ? AND tbl = ?", [dataset, table]).fetchall()
    con.execute("SELECT path, meta FROM _bqmanage.columns WHERE dataset = ? AND tbl = ?", [dataset, table]).fetchall()
    con.execute(
        "SELECT column_name, is_nullable, column_default, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? ORDER BY column_index",
        [dataset, table],
    ).fetchall()
    _ = con.sql(f'SELECT * FROM "{dataset}"."{table}" LIMIT 0').types
    con.execute(f'SELECT count(*) FROM "{dataset}"."{table}"').fetchall()


def _catalog_reads(root: Path, datasets: int) -> tuple[float, float, int]:
    """(bulk read of every table, naive per-table reads of every table, tables sampled), in-process."""
    import duckdb

    from bqmanage.engines.local import LocalEngine

    path = root / ".bqmanage" / "local.duckdb"
    engine = LocalEngine(path, read_only=True)
    start = time.perf_counter()
    found = engine.read_catalog({f"tenant_{d:04d}": None for d in range(datasets)})
    bulk = time.perf_counter() - start
    engine.close()
    assert len(found) == datasets * TABLES, len(found)
    con = duckdb.connect(str(path), read_only=True)
    pairs = [(f"tenant_{d:04d}", f"events_{t}") for d in range(datasets) for t in range(TABLES)]
    sample = pairs[:: max(1, len(pairs) // SAMPLE)][:SAMPLE]
    start = time.perf_counter()
    for dataset, table in sample:
        _naive_read(con, dataset, table)
    naive = (time.perf_counter() - start) / len(sample) * len(pairs)
    con.close()
    return bulk, naive, len(sample)


def measure(datasets: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        build(root, datasets)
        row: dict[str, Any] = {"datasets": datasets, "tables": datasets * TABLES, "build_s": time.perf_counter() - start}
        row["load"] = os.getloadavg()[0]
        for command in ("validate", *COMMANDS):
            row[command] = _cli(root, command)
        row["bulk_s"], row["naive_s"], row["sampled"] = _catalog_reads(root, datasets)
    return row


def bench(quick: bool = False) -> harness.Result:
    rows = [measure(n) for n in (QUICK_SIZES if quick else SIZES)]
    by = {r["datasets"]: r for r in rows}
    big, mid, base = by[max(by)], by[500 if 500 in by else max(by)], by[50]
    criteria = []
    loads = ", ".join(f"{r['load']:.1f}" for r in rows)
    for command in COMMANDS:
        name = "no-op apply" if command == "apply" else command
        if big is not mid:
            criteria.append(
                harness.Criterion(
                    f"embedded: `{name}` at {big['datasets']} datasets x 3 tables within 4.4x its time at {mid['datasets']}",
                    big[command] <= 4.4 * mid[command],
                    f"{big[command]:.2f} s against 4.4 x {mid[command]:.2f} s = {4.4 * mid[command]:.2f} s",
                )
            )
        criteria.append(
            harness.Criterion(
                f"embedded: `{name}` at {mid['datasets']} datasets within 3x of its time at 50",
                mid[command] <= 3 * base[command],
                f"{mid[command]:.2f} s against 3 x {base[command]:.2f} s = {3 * base[command]:.2f} s",
            )
        )
    criteria.append(
        harness.Criterion(
            f"embedded: `check` at {mid['datasets']} datasets x 3 tables within 3 s on a quiet machine",
            mid["check"] <= 3,
            f"{mid['check']:.2f} s (whole process, validation included); load average at each size: {loads}",
        )
    )
    table = [
        [
            r["datasets"],
            r["tables"],
            r["validate"],
            r["check"],
            r["plan"],
            r["apply"],
            r["bulk_s"],
            r["naive_s"],
            f"{r['naive_s'] / r['bulk_s']:.0f}x",
        ]
        for r in rows
    ]
    sizes = [float(r["datasets"]) for r in rows]
    plot = harness.Plot(
        title="Embedded engine: commands and catalog reads against warehouse size",
        xlabel="datasets (x 3 tables)",
        ylabel="seconds",
        logx=True,
        logy=True,
        series=[
            harness.Series("check (CLI)", sizes, [r["check"] for r in rows]),
            harness.Series("plan (CLI)", sizes, [r["plan"] for r in rows], "s-"),
            harness.Series("no-op apply (CLI)", sizes, [r["apply"] for r in rows], "^-"),
            harness.Series("validate (CLI)", sizes, [r["validate"] for r in rows], "x:"),
            harness.Series("catalog, bulk read", sizes, [r["bulk_s"] for r in rows], "d-"),
            harness.Series("catalog, per-table reads (naive)", sizes, [r["naive_s"] for r in rows], "v--"),
        ],
    )
    return harness.Result(
        name="embedded_scale",
        title=f"Embedded engine: check, plan and no-op apply from 10 to {SIZES[-1]:,} datasets",
        method=f"""
Each size is a warehouse of N tenant datasets x 3 tables (7 columns: a believed default, a
`CURRENT_TIMESTAMP()` default, `NUMERIC(10, 2)`, a STRUCT, a REPEATED column, descriptions,
partitioning, clustering, labels) with their ledgers. bqmanage's own `apply` creates the first
dataset and DuckDB copies it in one transaction (applying 1,500 tables step by step takes minutes);
every command below then finds it clean. `validate`, `check`, `plan` and `apply` are each a whole
CLI process (`python -m bqmanage ...`), best of {RUNS} wall-clock runs. **Naive**, in the same run on
the same file: the per-table catalog read bqmanage made before (the six statements one `get_table`
sent, three of them over the whole catalog), timed on up to {SAMPLE} tables spread over the
warehouse and multiplied by the number of tables; against it, the engine's bulk `read_catalog` of
every table, in-process.
""",
        headers=HEADERS,
        rows=table,
        notes="""
Per command the engine reads `duckdb_schemas()`, `duckdb_tables()`, `duckdb_columns()` and each
side table once, filtered to the datasets in question, and the ledgers in one UNION ALL per 100
tables: `plan` their whole rows (it prints the history), a no-op `apply` and `check` only each
ledger's newest outcome and the rows of unfinished entries. No command counts rows. Each distinct
column read back is built once; a definition file copied into many datasets is parsed once; diff
compares a column list shared by many tables once. What grows with the warehouse beyond that is
validation and the diff of every table.
""",
        plot=plot,
        criteria=criteria,
    )


if __name__ == "__main__":
    harness.main(bench)
