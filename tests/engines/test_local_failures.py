"""When the local warehouse file cannot do its part, the command says what happened in one line and
exits 3: a file with damaged blocks, a file that is no DuckDB database at all, a directory that
cannot be written, a full disk. Nothing is
half-written, and a refused write is not reported as a conflict with another writer."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Result, run_cli

DB = Path(".bqmanage/local.duckdb")
BLOCK = 256 * 1024  # DuckDB's block size; the first blocks hold the file's headers


def _failed(result: Result, fragment: str) -> str:
    assert result.exit_code == 3, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {DB}: "), result.stderr
    assert fragment in errors[0] and "concurrent update" not in errors[0], errors[0]
    return errors[0]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def with_tenant(workdir: Path) -> Path:
    assert run_cli("apply").exit_code == 0
    assert run_cli("tenant", "add", "acme").exit_code == 0
    return workdir


COMMANDS = {
    "check": ["check"],
    "tenant-list": ["tenant", "list"],
    "reset": ["reset"],
    "tenant-add": ["tenant", "add", "beta"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_damaged_warehouse_file_is_one_message_and_exit_3(command: str, with_tenant: Path) -> None:
    size = DB.stat().st_size
    assert size > 4 * BLOCK
    with DB.open("r+b") as handle:
        for offset in range(3 * BLOCK, size, BLOCK):
            handle.seek(offset + 100)
            handle.write(b"\xde\xad\xbe\xef" * 64)
    _failed(run_cli(*COMMANDS[command]), "the local warehouse file is damaged")


WRITES = {
    "reset": lambda: ["reset", "--date", (dt.date.today() + dt.timedelta(days=1)).isoformat(), "--allow-future-date"],
    "set-limits": lambda: ["tenant", "set-limits", "acme", "--daily-limit", "7"],
    "tenant-add": lambda: ["tenant", "add", "beta"],
}


@pytest.fixture
def read_only_directory(with_tenant: Path) -> Iterator[Path]:
    """The warehouse's directory, made unwritable: mode 555 for an ordinary user; root ignores
    modes, so for root the immutable attribute, where the file system has it."""
    directory = DB.parent
    if os.geteuid() != 0:
        directory.chmod(0o555)
    elif subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode != 0:
        pytest.skip("running as root on a file system without chattr +i: no directory is read-only to root")
    yield directory
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(directory)], check=True)
    directory.chmod(0o755)


@pytest.mark.parametrize("command", list(WRITES))
def test_a_read_only_warehouse_directory_is_said_and_exit_3(command: str, read_only_directory: Path) -> None:
    before = _digest(DB)
    _failed(run_cli(*WRITES[command]()), "the local warehouse could not save the change")
    assert _digest(DB) == before


@pytest.fixture
def full_disk(with_tenant: Path) -> Iterator[Path]:
    """The warehouse on a file system with no byte left: a tmpfs just the size of the file."""
    kept = Path("kept.duckdb")
    shutil.copy(DB, kept)
    size_kib = (kept.stat().st_size + 4095) // 4096 * 4
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(DB.parent)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here to fill: {mounted.stderr.decode().strip()}")
    try:
        shutil.copy(kept, DB)
        yield DB.parent
    finally:
        subprocess.run(["umount", str(DB.parent)], check=True)


@pytest.mark.parametrize("command", list(WRITES))
def test_a_full_disk_is_said_and_exit_3(command: str, full_disk: Path) -> None:
    before = _digest(DB)
    _failed(run_cli(*WRITES[command]()), "No space left on device")
    assert _digest(DB) == before


# What a user's file at the warehouse path may hold instead of a warehouse.
NOT_A_WAREHOUSE = {
    "text": b"hello\n",
    "zip": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4,
    "empty": b"",  # DuckDB refuses an empty file too, and writes nothing to it
}
EVERY_COMMAND = {
    "check": ["check"],
    "plan": ["plan"],
    "apply": ["apply"],
    "tenant-list": ["tenant", "list"],
    "tenant-add": ["tenant", "add", "beta"],
    "reset": ["reset"],
    "inspect": ["inspect"],
    "import": ["import", "--all", "--out", "imported"],
}


@pytest.mark.parametrize("command", list(EVERY_COMMAND))
@pytest.mark.parametrize("content", list(NOT_A_WAREHOUSE))
def test_a_file_at_the_warehouse_path_that_is_no_duckdb_database_is_a_warehouse_failure_exit_3(
    content: str, command: str, workdir: Path
) -> None:
    DB.parent.mkdir()
    DB.write_bytes(NOT_A_WAREHOUSE[content])
    error = _failed(run_cli(*EVERY_COMMAND[command]), "not a DuckDB database")
    assert "BQMANAGE_LOCAL_PATH" in error
    assert DB.read_bytes() == NOT_A_WAREHOUSE[content]  # untouched, even the empty one
    assert sorted(p.name for p in DB.parent.iterdir()) == [DB.name]  # no WAL beside it
    assert not Path("imported").exists()


@pytest.mark.parametrize("kind", ["directory", "dev-null"])
@pytest.mark.parametrize("command", ["plan", "apply", "check"])
def test_a_local_path_that_is_no_regular_file_is_bad_configuration_exit_2(
    kind: str, command: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = {"directory": "box", "dev-null": os.devnull}[kind]
    Path("box").mkdir()
    Path("notes.txt").write_text("keep\n")
    monkeypatch.setenv("BQMANAGE_LOCAL_PATH", path)
    result = run_cli(command)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ") and "BQMANAGE_LOCAL_PATH" in lines[0], result.stderr
    assert Path("notes.txt").read_text() == "keep\n" and list(Path("box").iterdir()) == []


def test_a_local_path_inside_the_definitions_is_refused(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BQMANAGE_LOCAL_PATH", "schemas/local.duckdb")
    before = sorted(p.name for p in Path("schemas").iterdir())
    result = run_cli("apply")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: BQMANAGE_LOCAL_PATH: schemas/local.duckdb is inside the definitions directory")
    assert len(result.stderr.splitlines()) == 1
    assert sorted(p.name for p in Path("schemas").iterdir()) == before
