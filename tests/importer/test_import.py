"""`bqmanage import` on the local engine and on bqemulator. Round trips (import, then
validate, check and plan on the same target), the shipped definitions reproduced, what is skipped
and why, and its safety: no overwrite without --overwrite and confirmation, nothing written when
the generated files do not validate."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bqmanage.definitions.load import load_definitions
from bqmanage.model.schema import Column, Definitions, Partitioning, Table
from tests import seed
from tests.helpers import engine_for, run_cli, target_args

ROOT = Path(__file__).resolve().parents[2]
KITCHEN = ROOT / "tests" / "fixtures" / "everything" / "kitchen"
# Properties bqemulator drops (the bigquery engine declares them unobservable there): an import
# from it cannot have them, and check on it cannot see them.
EMULATOR_DROPS = ("default", "description", "labels", "clustering", "require_partition_filter", "friendly_name")
# What else bqemulator reports differently from what was created, measured: a GEOGRAPHY column
# reads back as BYTES, and only DAY partitioning on a column survives (HOUR on a TIMESTAMP, MONTH
# by ingestion time and integer ranges all read back as ingestion-time DAY partitioning).
EMULATOR_TYPES = {("all_types", "place"): "BYTES"}
EMULATOR_PARTITIONING = {"all_types": Partitioning(), "by_ingestion": Partitioning(), "by_range": Partitioning()}


def _bare(column: Column, drops: tuple[str, ...]) -> Column:
    update: dict[str, Any] = {"line": None, "reset": None, "fields": tuple(_bare(f, drops) for f in column.fields)}
    update.update({k: None for k in ("default", "description") if k in drops})
    if drops:  # type parameters too
        update.update(precision=None, scale=None, max_length=None)
    return column.model_copy(update=update)


def _bare_table(table: Table, drops: tuple[str, ...] = ()) -> Table:
    """A table as the warehouse can hold it: without bqmanage's own keys (quota, reset,
    legacy_names), which live only in the definitions, and without what the target drops."""
    update: dict[str, Any] = {
        "source": None,
        "line": None,
        "quota": None,
        "legacy_names": (),
        "row_access_policies": None,  # live only: a definition never holds them
        "columns": tuple(_bare(c, drops) for c in table.columns),
    }
    for key, empty in (("description", None), ("labels", {}), ("clustering", ()), ("friendly_name", None)):
        if key in drops:
            update[key] = empty
    if "require_partition_filter" in drops:
        update["require_partition_filter"] = None
    return table.model_copy(update=update)


def _kitchen(workdir: Path, emulator: bool) -> Path:
    """The every-type fixture as a definitions directory of its own. bqemulator refuses BYTES(64)
    in CREATE TABLE ("Type 'BLOB' does not take any type parameters"), so there it is BYTES."""
    defs = workdir / "kitchen_defs"
    shutil.copytree(KITCHEN, defs / "kitchen")
    if emulator:
        path = defs / "kitchen" / "all_types.yaml"
        path.write_text(path.read_text().replace('type: "BYTES(64)"', "type: BYTES"))
    return defs


def _as_emulator_reports(table: Table) -> Table:
    table = _bare_table(table, EMULATOR_DROPS)
    columns = tuple(
        c.model_copy(update={"type": EMULATOR_TYPES[(table.name, c.name)]}) if (table.name, c.name) in EMULATOR_TYPES else c
        for c in table.columns
    )
    partitioning = EMULATOR_PARTITIONING.get(table.name, table.partitioning)
    return table.model_copy(update={"columns": columns, "partitioning": partitioning})


def test_round_trip_of_the_seed_table_and_every_type(project: str | None, workdir: Path) -> None:
    args = target_args(project)
    kitchen = _kitchen(workdir, project is not None)
    engine = engine_for(project)
    try:
        old = seed.create_old_table(engine)  # the incident's 13-column table
    finally:
        engine.close()
    assert run_cli(*args, "--schemas", str(kitchen), "apply").exit_code == 0

    result = run_cli(*args, "import", "--all", "--out", "imported")
    assert result.exit_code == 0, result.stderr
    assert "Imported 5 table(s) of 2 dataset(s)" in result.stdout
    for command in ("validate", "check", "plan"):
        after = run_cli(*args, "--schemas", "imported", command)
        assert after.exit_code == 0, (command, after.stdout, after.stderr)
    assert "Clean: target" in run_cli(*args, "--schemas", "imported", "check").stdout
    assert "No changes" in run_cli(*args, "--schemas", "imported", "plan").stdout

    imported = load_definitions(Path("imported"))
    created = (*load_definitions(kitchen).tables, old)
    for table in created:
        live = imported.table(table.dataset, table.name)
        assert live is not None, table.name
        if project is None:
            assert _bare_table(live) == _bare_table(table), table.name
        else:
            assert _bare_table(live, EMULATOR_DROPS) == _as_emulator_reports(table), table.name
    quotas = imported.table("tenants", "tenant_usage_quotas")
    assert quotas is not None and len(quotas.columns) == 13
    if project is not None:
        # The emulator does not report defaults (and the rest of EMULATOR_DROPS): import says so.
        assert "does not report" in result.stdout and "column defaults" in result.stdout
        assert all(c.default is None for t in imported.tables for c in t.columns)
    else:
        assert "does not report" not in result.stdout


def _normal(data: Any, drops: tuple[str, ...]) -> Any:
    """A definition file's data with bqmanage's own keys (quota, reset, legacy_names; row_access,
    whose member no warehouse without tenants holds: tests/importer/test_import_row_access.py) and
    what the target drops taken out, as (key, value) lists: key order counts, formatting does not."""
    own = ("quota", "reset", "legacy_names", "row_access")
    if isinstance(data, dict):
        if drops and isinstance(data.get("type"), str):  # and type parameters: NUMERIC(10, 2) is NUMERIC there
            data = {**data, "type": re.sub(r"\(.*\)", "", data["type"])}
        return [(k, _normal(v, drops)) for k, v in data.items() if k not in own and k not in drops]
    if isinstance(data, list):
        return [_normal(v, drops) for v in data]
    return data


def test_import_of_the_shipped_tenants_dataset_reproduces_its_definitions(project: str | None, workdir: Path) -> None:
    args = target_args(project)
    assert run_cli(*args, "apply").exit_code == 0
    result = run_cli(*args, "import", "--dataset", "tenants", "--out", "imported")
    assert result.exit_code == 0, result.stderr
    drops = (*EMULATOR_DROPS, "location") if project else ()
    for shipped in sorted((ROOT / "schemas" / "tenants").glob("*.yaml")):
        imported = Path("imported/tenants") / shipped.name
        if shipped.name == "_dataset.yaml" and project:
            continue  # bqemulator drops the dataset's description and labels (it reports its location only)
        want = _normal(yaml.safe_load(shipped.read_text()), drops)
        assert _normal(yaml.safe_load(imported.read_text()), drops) == want, shipped.name


def _view(project: str | None) -> None:
    engine = engine_for(project)
    try:
        sql = "CREATE VIEW {}tenants.active_tenants AS SELECT tenant_id FROM {}tenants.tenant_profiles"
        prefix = f"`{project}`." if project else ""
        if project:
            engine.query(sql.format(prefix, prefix))
        else:
            engine.con.execute(sql.format("", ""))  # type: ignore[attr-defined]  # DuckDB: bqmanage itself never makes views
    finally:
        engine.close()


def test_views_and_the_ledger_are_skipped_and_named(project: str | None, workdir: Path) -> None:
    args = target_args(project)
    assert run_cli(*args, "apply").exit_code == 0
    _view(project)
    result = run_cli(*args, "import", "--dataset", "tenants", "--out", "imported")
    assert result.exit_code == 0, result.stderr
    assert "skipped tenants._bqmanage_migrations: bqmanage's own ledger" in result.stdout
    assert "skipped tenants.active_tenants: a view is not a table; bqmanage defines tables only" in result.stdout
    assert sorted(p.name for p in Path("imported/tenants").iterdir()) == [
        "_dataset.yaml",
        "tenant_members.yaml",
        "tenant_profiles.yaml",
        "tenant_usage_quotas.yaml",
    ]


def _tree(path: Path) -> dict[str, str]:
    return {p.relative_to(path).as_posix(): p.read_text() for p in sorted(path.rglob("*")) if p.is_file()}


def test_files_that_differ_are_replaced_only_with_overwrite_a_diff_and_confirmation(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    assert run_cli("import", "--dataset", "tenants", "--out", "imported").exit_code == 0
    again = run_cli("import", "--dataset", "tenants", "--out", "imported")
    assert again.exit_code == 0 and "4 file(s) already matched" in again.stdout
    assert again.stdout.splitlines()[-1].startswith("Nothing to write: ")

    edited = Path("imported/tenants/tenant_profiles.yaml")
    edited.write_text(edited.read_text().replace("Display name.", "Shown name."))
    before = _tree(Path("imported"))
    refused = run_cli("import", "--dataset", "tenants", "--out", "imported")
    assert refused.exit_code == 2
    assert "imported/tenants/tenant_profiles.yaml: exists and differs from what is live; nothing written" in refused.stderr
    assert "--overwrite" in refused.stderr
    # --overwrite shows the diff, then asks; with no terminal to ask on, it refuses.
    no_tty = run_cli("import", "--dataset", "tenants", "--out", "imported", "--overwrite")
    assert no_tty.exit_code == 2
    assert "-  - {name: tenant_name, type: STRING, description: Shown name.}" in no_tty.stdout
    assert "+  - {name: tenant_name, type: STRING, description: Display name.}" in no_tty.stdout
    assert "pass --yes" in no_tty.stderr
    assert _tree(Path("imported")) == before
    assert run_cli("import", "--dataset", "tenants", "--yes").exit_code == 2  # --yes alone means nothing

    yes = run_cli("import", "--dataset", "tenants", "--out", "imported", "--overwrite", "--yes")
    assert yes.exit_code == 0, yes.stderr
    assert "replaced imported/tenants/tenant_profiles.yaml" in yes.stdout
    assert "Display name." in edited.read_text()
    assert not list(workdir.glob(".bqmanage-import-*"))  # the staging directory is gone


def test_nothing_is_written_when_the_generated_files_do_not_validate(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    engine = engine_for(None)
    try:  # a live column no definition may have: BigQuery column names have no spaces
        engine.con.execute('CREATE TABLE tenants.odd ("bad name" INTEGER)')  # type: ignore[attr-defined]
    finally:
        engine.close()
    result = run_cli("import", "--dataset", "tenants", "--out", "imported")
    assert result.exit_code == 2
    assert "imported/tenants/odd.yaml:" in result.stderr and "invalid column name 'bad name'" in result.stderr
    assert "nothing was written" in result.stderr
    assert not Path("imported").exists() or _tree(Path("imported")) == {}
    assert not list(workdir.glob(".bqmanage-import-*"))


def test_generated_files_are_validated_with_the_definitions_already_there(project: str | None, workdir: Path) -> None:
    args = target_args(project)
    assert run_cli(*args, "apply").exit_code == 0
    Path("schemas/tenants/broken.yaml").write_text("table: broken\ncolumns:\n  - {name: x, type: INT46}\n")
    before = _tree(Path("schemas"))
    result = run_cli(*args, "import", "--dataset", "tenants", "--overwrite", "--yes")
    assert result.exit_code == 2
    assert "schemas/tenants/broken.yaml:3: columns[0].type: unknown type 'INT46'" in result.stderr
    assert _tree(Path("schemas")) == before


def test_legacy_datasets_only_when_asked_with_the_legacy_names_entry_check_needs(workdir: Path) -> None:
    legacy = workdir / "legacy_defs" / "customers"
    legacy.mkdir(parents=True)
    (legacy / "customer_usage_quotas.yaml").write_text(
        "table: customer_usage_quotas\ncolumns:\n  - {name: tenant_id, type: STRING, mode: REQUIRED}\n"
    )
    assert run_cli("--schemas", "legacy_defs", "apply").exit_code == 0
    assert run_cli("apply").exit_code == 0

    every = run_cli("import", "--all", "--out", "imported")
    assert every.exit_code == 0, every.stderr
    assert "skipped dataset customers: a legacy dataset (its replacement is tenants)" in every.stdout
    assert not Path("imported/customers").exists()

    # The shipped tenants.tenant_usage_quotas already names it: importing it beside that definition
    # would define a legacy name again, which validation refuses, so nothing is written.
    beside = run_cli("import", "--dataset", "customers")
    assert beside.exit_code == 2
    assert "legacy name 'customers.customer_usage_quotas' is a defined table" in beside.stderr
    assert not Path("schemas/customers").exists()
    apart = run_cli("import", "--dataset", "customers", "--out", "legacy_imported")
    assert apart.exit_code == 0, apart.stderr
    assert (
        "note: customers.customer_usage_quotas is the legacy name of tenants.tenant_usage_quotas: "
        "schemas/tenants/tenant_usage_quotas.yaml already lists it in legacy_names" in apart.stdout
    )
    quotas = Path("schemas/tenants/tenant_usage_quotas.yaml")
    quotas.write_text(quotas.read_text().replace("legacy_names: [customers.customer_usage_quotas]\n", ""))
    unlinked = run_cli("import", "--dataset", "customers", "--out", "legacy_again")
    assert (
        "add `legacy_names: [customers.customer_usage_quotas]` to schemas/tenants/tenant_usage_quotas.yaml, "
        "so that check reports it as legacy" in unlinked.stdout
    )


def test_a_default_no_definition_can_spell_is_left_out_and_said(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    engine = engine_for(None)
    try:
        engine.con.execute("CREATE TABLE tenants.notes (body VARCHAR DEFAULT ('a' || 'b'))")  # type: ignore[attr-defined]
    finally:
        engine.close()
    result = run_cli("import", "--dataset", "tenants", "--out", "imported")
    assert result.exit_code == 0, result.stderr
    assert "note: tenants.notes.body: default" in result.stdout and "left out (check will report it as drift)" in result.stdout
    assert "default" not in Path("imported/tenants/notes.yaml").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name the datasets to import with --dataset NAME"),
        (("--dataset", "nope"), "--dataset: nope not found on target local (live datasets: tenants)"),
        (("--all", "--dataset", "tenants"), "--all and --dataset: choose one"),
    ],
)
def test_bad_flags_are_one_message_and_exit_2(workdir: Path, args: tuple[str, ...], message: str) -> None:
    assert run_cli("apply").exit_code == 0
    result = run_cli("import", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_definitions_are_a_fixed_point(workdir: Path) -> None:
    """Import, apply the imported files to a fresh warehouse, import again: the same files."""
    assert run_cli("apply").exit_code == 0
    assert run_cli("import", "--dataset", "tenants", "--out", "first").exit_code == 0
    fresh = ["--config", "fresh.yaml"]
    Path("fresh.yaml").write_text("targets:\n  fresh: {engine: local, local_path: fresh.duckdb}\ndefault_target: fresh\n")
    assert run_cli(*fresh, "--schemas", "first", "apply").exit_code == 0
    assert run_cli(*fresh, "import", "--dataset", "tenants", "--out", "second").exit_code == 0
    assert _tree(Path("first")) == _tree(Path("second"))
    desired: Definitions = load_definitions(Path("first"))
    assert {t.name for t in desired.tables} == {"tenant_members", "tenant_profiles", "tenant_usage_quotas"}


def _tenant_datasets(workdir: Path) -> None:
    """Three tenants' datasets as an older deploy left them: globex has a column more, initech's
    amount has another type, and acme is as the others should be."""
    base = "table: events\ndescription: What happened.\ncolumns:\n  - {name: id, type: STRING, mode: REQUIRED}\n"
    for tenant, extra in (
        ("acme", "  - {name: amount, type: NUMERIC, default: 0}\n"),
        ("globex", "  - {name: amount, type: NUMERIC, default: 0}\n  - {name: note, type: STRING}\n"),
        ("initech", "  - {name: amount, type: FLOAT64, default: 0}\n"),
    ):
        path = workdir / "tenant_defs" / f"tenant_{tenant}" / "events.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(base + extra)
    assert run_cli("--schemas", "tenant_defs", "apply").exit_code == 0


def test_as_template_writes_one_tenant_as_the_template_and_names_the_tenants_that_differ(workdir: Path) -> None:
    _tenant_datasets(workdir)
    result = run_cli("import", "--dataset", "tenant_acme", "--as-template", "tenant_{tenant}", "--out", "imported")
    assert result.exit_code == 0, result.stderr
    assert "wrote imported/tenant_{tenant}/events.yaml" in result.stdout
    assert not Path("imported/tenant_acme").exists()
    assert "- {name: amount, type: NUMERIC, default: 0}" in Path("imported/tenant_{tenant}/events.yaml").read_text()
    lines = result.stdout.splitlines()
    assert "tenant_globex differs from the template (1 difference(s)):" in lines
    assert any(line.startswith("  tenant_globex.events.note: column STRING is live but not defined") for line in lines)
    assert "tenant_initech differs from the template (1 difference(s)):" in lines
    assert any("tenant_initech.events.amount" in line and "FLOAT64" in line for line in lines)
    again = run_cli("import", "--dataset", "tenant_acme", "--as-template", "tenant_{tenant}", "--out", "imported")
    assert again.exit_code == 0 and "1 file(s) already matched" in again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--as-template", "tenant_{tenant}", "--all"), "--as-template: name the one tenant dataset"),
        (("--dataset", "tenant_acme", "--as-template", "tenant"), "a template holds {tenant} exactly once"),
        (("--dataset", "tenant_acme", "--as-template", "customer_{tenant}"), "does not match the template customer_{tenant}"),
    ],
)
def test_bad_template_flags_are_refused(workdir: Path, args: tuple[str, ...], message: str) -> None:
    _tenant_datasets(workdir)
    result = run_cli("import", *args)
    assert result.exit_code == 2 and message in result.stderr


def test_overwrite_asks_on_a_terminal_and_replaces_only_on_yes(workdir: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    assert run_cli("apply").exit_code == 0
    assert run_cli("import", "--dataset", "tenants", "--out", "imported").exit_code == 0
    edited = Path("imported/tenants/tenant_profiles.yaml")
    changed = edited.read_text().replace("Display name.", "Shown name.")

    def answer(reply: str) -> subprocess.CompletedProcess[str]:
        edited.write_text(changed)
        controller, terminal = pty.openpty()  # stdin is a terminal, as for a person at a shell
        try:
            os.write(controller, reply.encode())
            command = [sys.executable, "-m", "bqmanage", "import", "--dataset", "tenants", "--out", "imported", "--overwrite"]
            return subprocess.run(command, stdin=terminal, capture_output=True, text=True, timeout=120)
        finally:
            os.close(controller)
            os.close(terminal)

    no = answer("n\n")
    assert no.returncode == 2
    assert "Replace 1 file(s)? [y/N]" in no.stdout and "Nothing written." in no.stderr
    assert "Shown name." in edited.read_text()
    yes = answer("y\n")
    assert yes.returncode == 0, yes.stderr
    assert "replaced imported/tenants/tenant_profiles.yaml" in yes.stdout
    assert "Display name." in edited.read_text()


def test_an_empty_warehouse_has_nothing_to_import(workdir: Path) -> None:
    result = run_cli("import", "--all", "--out", "imported")
    assert result.exit_code == 0, result.stderr
    assert "note: target local has no dataset to import" in result.stdout
    assert not Path("imported").exists() and not Path(".bqmanage").exists()  # read-only: not even the file


def test_import_over_the_definitions_keeps_what_only_they_hold(workdir: Path) -> None:
    """quota sections, reset policies, legacy_names and opening comments are not in the warehouse:
    importing over the shipped files keeps them, and a file that means what is live (the one column
    the shipped file wraps by hand included) is left exactly as it was written."""
    shipped = _tree(Path("schemas/tenants"))
    assert run_cli("apply").exit_code == 0
    result = run_cli("import", "--dataset", "tenants", "--overwrite", "--yes")
    assert result.exit_code == 0, result.stderr
    assert _tree(Path("schemas/tenants")) == shipped
    assert run_cli("validate").exit_code == 0 and run_cli("check").exit_code == 0
