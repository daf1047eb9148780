"""Issue 8: runtime failures give one located message and the documented exit code, never a
traceback, and leave nothing half-written: report paths, interrupts, network failures, jobs that
outlive their deadline, bad credential files, and exact BYTES/STRING defaults."""

from __future__ import annotations

import json
from pathlib import Path

from bqmanage import api
from bqmanage.settings import resolve_settings
from tests.helpers import engine_for, run_cli, write

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

