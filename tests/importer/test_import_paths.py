"""``import`` writes only under --out: a live name that is not a BigQuery name (``../x``, which the
local engine accepts) is skipped and said, a table named ``_dataset`` gets a file of its own, and an
--out that cannot hold definitions is refused before the warehouse is read."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.helpers import Result, run_cli

DB = ".bqmanage/local.duckdb"


def _tree(root: Path) -> set[str]:
    return {os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root) for n in dirs + files}


def _one_error(result: Result, where: str) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {where}"), result.stderr
    return lines[0]


@pytest.fixture
def applied(workdir: Path) -> Path:
    assert run_cli("apply").exit_code == 0
    return workdir


def test_live_names_that_would_leave_out_are_skipped_and_nothing_is_written_outside(applied: Path) -> None:
    (applied / "box").mkdir()
    con = duckdb.connect(DB)
    con.execute('CREATE TABLE tenants."../../victim/pwn" (a INT)')
    con.execute('CREATE SCHEMA "../victim2"')
    con.execute('CREATE TABLE "../victim2".t (a INT)')
    con.execute('CREATE TABLE tenants."x\n::error::y" (a INT)')
    con.close()
    before = _tree(applied) - _tree(applied / "box")
    result = run_cli("import", "--all", "--out", "box/schemas")
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "skipped dataset ../victim2: invalid dataset name" in result.stdout
    assert "skipped tenants.../../victim/pwn: invalid table name" in result.stdout
    assert "skipped tenants.x\\n::error::y: invalid table name" in result.stdout
    assert not any(line.startswith("::") for line in result.stdout.splitlines())
    after = _tree(applied)
    assert {p for p in after if not p.startswith("box")} == {p for p in before if not p.startswith("box")}
    assert not (applied / "victim").exists() and not (applied / "victim2").exists()
    assert sorted(p.name for p in (applied / "box/schemas/tenants").iterdir()) == [
        "_dataset.yaml",
        "tenant_members.yaml",
        "tenant_profiles.yaml",
        "tenant_usage_quotas.yaml",
    ]


def test_a_named_dataset_that_is_not_a_bigquery_name_is_refused(applied: Path) -> None:
    con = duckdb.connect(DB)
    con.execute('CREATE SCHEMA "../victim2"')
    con.close()
    _one_error(run_cli("import", "--dataset", "../victim2", "--out", "box"), "--dataset: invalid dataset name '../victim2'")
    assert not (applied / "box").exists() and not (applied / "victim2").exists()


def test_a_table_named_dataset_is_imported_beside_the_dataset_file(applied: Path) -> None:
    con = duckdb.connect(DB)
    con.execute('CREATE TABLE tenants."_dataset" (a INT64)')
    con.execute("COMMENT ON TABLE tenants.tenant_profiles IS 'profiles'")  # so that a _dataset.yaml is written too
    con.close()
    result = run_cli("import", "--dataset", "tenants", "--out", "box")
    assert result.exit_code == 0, result.stderr
    assert (applied / "box/tenants/_dataset.yml").read_text().startswith("table: _dataset\n")
    assert run_cli("--schemas", "box", "validate").exit_code == 0
    listed = run_cli("--schemas", "box", "check", "--format", "json")
    assert not [f for f in json.loads(listed.stdout)["findings"] if f["table"] == "_dataset"], listed.stdout
    # Imported again: the same files, unchanged.
    again = run_cli("import", "--dataset", "tenants", "--out", "box")
    assert again.exit_code == 0 and "already matched" in again.stdout, again.stdout


@pytest.fixture
def unwritable(workdir: Path) -> Iterator[Path]:
    """A directory nobody can create files in: mode 555 for an ordinary user; root ignores modes,
    so for root the immutable attribute, where the file system has it."""
    path = workdir / "locked"
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
    elif subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a file system without chattr +i: no directory is unwritable to root")
    yield path
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    path.chmod(0o755)


@pytest.mark.parametrize("out", ["file", "file/sub", "/proc/self", "/proc/self/defs"])
def test_an_out_that_cannot_hold_definitions_is_refused_before_reading(out: str, applied: Path) -> None:
    Path("file").write_text("keep\n")
    before = _tree(applied)
    _one_error(run_cli("import", "--all", "--out", out), f"--out {out}:")
    assert _tree(applied) == before and Path("file").read_text() == "keep\n"


def test_an_out_in_an_unwritable_directory_is_refused(unwritable: Path, applied: Path) -> None:
    _one_error(run_cli("import", "--all", "--out", "locked/schemas"), "--out locked/schemas:")
    assert list(unwritable.iterdir()) == []


def _sums(root: Path) -> dict[str, bytes]:
    return {p: (root / p).read_bytes() for p in _tree(root) if (root / p).is_file()}


def test_a_dataset_directory_linked_outside_is_refused_and_its_target_is_left_alone(applied: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "tenant_profiles.yaml").write_text("keep\n")
    (applied / "schemas/tenants").rename(tmp_path / "bak")
    (applied / "schemas/tenants").symlink_to(outside)
    before = _sums(outside)
    line = _one_error(run_cli("import", "--dataset", "tenants"), "import: schemas/tenants")
    assert "symbolic link" in line and "nothing written" in line
    assert _sums(outside) == before
    assert not [p for p in os.listdir(applied) if p.startswith(".bqmanage-import")]


def test_out_as_the_working_directory_stages_beside_it_not_inside_it(applied: Path) -> None:
    before = _sums(applied)
    result = run_cli("import", "--dataset", "tenants", "--out", ".")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert len(result.stderr) < 2000, result.stderr[:300]
    assert result.stderr.rstrip().endswith("nothing was written.")
    assert _sums(applied) == before
    assert not [p for p in os.listdir(applied.parent) if p.startswith(".bqmanage-import")]


@pytest.mark.parametrize("out", ["linked", "linked/schemas", "linked/../schemas2"])
def test_an_out_through_a_directory_link_out_of_the_tree_is_refused(
    out: str, applied: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "sub"
    elsewhere.mkdir()
    Path("linked").symlink_to(elsewhere)
    before = _tree(applied)
    _one_error(run_cli("import", "--all", "--out", out), f"--out {out}: it is reached through a symbolic link out of")
    assert _tree(applied) == before and _tree(elsewhere.parent) == {"sub"}


def test_an_out_through_a_directory_link_within_the_tree_is_written(applied: Path) -> None:
    Path("real").mkdir()
    Path("linked").symlink_to("real")
    result = run_cli("import", "--all", "--out", "linked/schemas")
    assert result.exit_code == 0, result.stderr
    assert (applied / "real/schemas/tenants/tenant_profiles.yaml").is_file()


@pytest.mark.parametrize("out", [".bqmanage", ".bqmanage/local.duckdb.tmp", ".bqmanage/defs"])
def test_an_out_among_the_local_warehouse_files_is_refused(out: str, applied: Path) -> None:
    before = _tree(applied)
    _one_error(run_cli("import", "--all", "--out", out), f"--out {out}: cannot write definitions among the files of")
    assert _tree(applied) == before
