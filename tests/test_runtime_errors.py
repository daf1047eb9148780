"""Issue 8: runtime failures give one located message and the documented exit code, never a
traceback, and leave nothing half-written: report paths, interrupts, network failures, jobs that
outlive their deadline, bad credential files, and exact BYTES/STRING defaults."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import pytest

from bqmanage import api
from bqmanage.apply import LEDGER
from bqmanage.settings import resolve_settings
from tests import seed
from tests.helpers import engine_for, run_cli, write
from tests.runtime import run, start

# ---- Ctrl-C and SIGTERM in the middle of a DuckDB statement ----


def _big_old_table(copies: int) -> None:
    """The seed's old table with 3 * ``copies`` rows, so that the backfill UPDATE takes a while."""
    engine = engine_for(None)
    seed.create_old_table(engine)
    seed.insert_old_rows(engine)
    engine.con.execute(  # type: ignore[attr-defined]  # bulk fill straight in DuckDB: test setup only
        "INSERT INTO tenants.tenant_usage_quotas SELECT q.* REPLACE (q.usage_id || '-' || r.i AS usage_id) "
        f"FROM tenants.tenant_usage_quotas q, range({copies}) r(i)")
    engine.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_the_backfill_exits_130_and_a_rerun_resumes(sig: signal.Signals, workdir: Path) -> None:
    _big_old_table(300_000)  # 900,003 rows
    proc = start("apply", cwd=workdir)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "backfill:" in line:  # printed right before the UPDATE is transpiled and sent
            break
    time.sleep(0.3)  # into the UPDATE, which takes about 0.8 s on 900k rows here (more under load)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    err = "".join(seen) + err
    assert proc.returncode == 130, err
    assert "interrupted; re-run to resume" in err
    assert "Traceback" not in err and "Query interrupted" not in err and "Applied" not in out
    engine = engine_for(None)
    outcomes = [r["outcome"] for r in engine.query(f"SELECT outcome FROM `tenants`.`{LEDGER}` ORDER BY applied_at")]
    assert outcomes[-1] == "failed", outcomes  # the interrupted run says so in the ledger
    assert engine.query("SELECT count(*) AS n FROM `tenants`.`tenant_usage_quotas` WHERE quota_exceeded IS NULL")[0]["n"] > 0
    engine.close()
    resumed = run("apply", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    engine = engine_for(None)
    assert engine.query("SELECT count(*) AS n FROM `tenants`.`tenant_usage_quotas` WHERE quota_exceeded IS NULL")[0]["n"] == 0
    assert api.make_plan(resolve_settings(), engine).plan.steps == ()


# ---- inspect with invalid definitions ----


def test_inspect_with_invalid_definitions_creates_nothing(workdir: Path) -> None:
    path = Path("schemas/tenants/tenant_profiles.yaml")
    path.write_text(path.read_text().replace("type: INT64", "type: INT46", 1))
    result = run_cli("inspect")
    assert result.exit_code == 2
    assert "schemas/tenants/tenant_profiles.yaml:" in result.stderr and "unknown type 'INT46'" in result.stderr
    assert not Path(".bqmanage").exists()


# ---- defaults stored exactly as defined ----

TRICKY = """\
table: blobs
columns:
  - {name: id, type: INT64}
  - {name: b, type: BYTES, default: "by'te\\\\s"}
  - {name: b2, type: BYTES, default: "\\\\x41 \\"q\\" caf\\u00e9\\nend"}
  - {name: s, type: STRING, default: "it's a \\\\ back\\\\slash\\\\n, \\"quoted\\"\\ttab\\nnewline"}
"""


def test_bytes_and_string_defaults_round_trip_exactly(workdir: Path) -> None:
    write(Path("schemas/tenants/blobs.yaml"), TRICKY)
    desired = api.validate(resolve_settings()).table("tenants", "blobs")
    assert desired is not None
    defined = {c.name: c.default for c in desired.columns}
    assert defined["b"] == 'B"by\'te\\\\s"'
    assert run_cli("apply").exit_code == 0
    engine = engine_for(None)
    live = api.inspect(resolve_settings(), engine)
    stored = {c.name: c.default for t in live if t.name == "blobs" for c in t.columns}
    assert stored == defined
    engine.query("INSERT INTO `tenants`.`blobs` (id) VALUES (1)")
    row = engine.query("SELECT b, b2, s FROM `tenants`.`blobs`")[0]
    assert row["b"] == b"by'te\\s"
    assert row["b2"] == '\\x41 "q" café\nend'.encode()
    assert row["s"] == 'it\'s a \\ back\\slash\\n, "quoted"\ttab\nnewline'
    engine.close()
    assert run_cli("check").exit_code == 0


def test_backfill_gives_old_rows_the_exact_bytes(workdir: Path) -> None:
    write(Path("schemas/tenants/blobs.yaml"), "table: blobs\ncolumns:\n  - {name: id, type: INT64}\n")
    assert run_cli("apply").exit_code == 0
    engine = engine_for(None)
    engine.query("INSERT INTO `tenants`.`blobs` (id) VALUES (1)")
    engine.close()
    write(Path("schemas/tenants/blobs.yaml"), TRICKY)
    assert run_cli("apply").exit_code == 0
    row = engine_for(None).query("SELECT b, s FROM `tenants`.`blobs`")[0]
    assert row["b"] == b"by'te\\s"
    assert row["s"] == 'it\'s a \\ back\\slash\\n, "quoted"\ttab\nnewline'


def test_check_sees_a_default_stored_altered(workdir: Path) -> None:
    write(Path("schemas/tenants/blobs.yaml"), TRICKY)
    assert run_cli("apply").exit_code == 0
    engine = engine_for(None)
    # What bqmanage before this fix stored: the backslash lost, while the side table kept the definition.
    engine.con.execute("""ALTER TABLE tenants.blobs ALTER COLUMN b SET DEFAULT CAST('by''tes' AS BLOB)""")  # type: ignore[attr-defined]
    engine.close()
    result = run_cli("check", "--format", "json")
    assert result.exit_code == 1
    kinds = {(f["kind"], f["column"]) for f in json.loads(result.stdout)["findings"]}
    assert kinds == {("default_mismatch", "b")}
    assert run_cli("apply").exit_code == 0
    assert run_cli("check").exit_code == 0

