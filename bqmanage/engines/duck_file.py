"""The local engine's DuckDB file: opening it beside other bqmanage processes, and interrupts.

DuckDB lets one process write a database file, or many processes read it, never both: a second
process's connect fails at once with a lock error. bqmanage commands are short, so every command
waits for the lock (bounded, and saying so on stderr) instead of failing; read-only commands open
the file read-only, so that they can run side by side, and never create it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bqmanage.engines.duck_client import duckdb
from bqmanage.errors import ConfigError, WarehouseError

_HOLDER = re.compile(r"\(PID (\d+)\)")


# DuckDB shares one database instance per file within a process, and the file lock only keeps
# other processes out: two engines of one process (threads of a library caller, concurrent
# `tenant add`s) would otherwise meet in catalog write-write conflicts. One lock per file makes
# them take turns, as separate processes do.
_FILE_LOCKS: dict[str, threading.RLock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def file_lock(path: Path) -> threading.RLock:
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(str(path.resolve()), threading.RLock())


# What a bad local warehouse path says to do about it.
_MOVE = "(point BQMANAGE_LOCAL_PATH, or the target's local_path, at a warehouse file or where one may be created)"


# DuckDB installs (downloading it, over plain HTTP) and loads an extension by itself when a file or
# a statement needs one. The local engine never does: what it uses (json, icu) is built into the
# duckdb wheel and loaded already.
NO_EXTENSIONS: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def _open(database: str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(database, read_only=read_only, config=NO_EXTENSIONS)
    except duckdb.ConnectionException as exc:
        if "different configuration" not in str(exc):
            raise
    # This process has the file open already, with DuckDB's default configuration (a library
    # caller's own connection): share that instance, and turn the same settings off in it.
    con = duckdb.connect(database, read_only=read_only)
    for name in NO_EXTENSIONS:
        con.execute(f"SET {name} = false")
    return con


def _sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False  # no file yet, or unreadable: connect says so


def connect(path: Path, read_only: bool, lock_timeout: float, on_wait: Callable[[str], None]) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse file, waiting up to ``lock_timeout`` s for another process."""
    if read_only and not path.exists():
        # Nothing live yet: an empty in-memory warehouse reads as "every dataset is missing",
        # which is what check and plan should say, and no file or directory is created.
        return _open(":memory:")
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file where the directory should be, no permission, no such parent
            raise ConfigError(
                f"{path}: cannot create the local warehouse's directory {path.parent}: "
                f"{exc.strerror or exc} (set BQMANAGE_LOCAL_PATH to move it)"
            ) from None
    if path.exists() and not path.is_file():  # a directory, /dev/null: configuration, not a warehouse failure
        raise ConfigError(f"{path}: the local warehouse must be a file, and this is not a regular file {_MOVE}")
    if _sqlite(path):  # DuckDB would open it with its sqlite extension: a SQLite file is not a warehouse
        raise WarehouseError(
            f"{path}: the file there is a SQLite database, not a DuckDB one, so the local warehouse cannot be opened; "
            f"it was left as it is (restore the warehouse from a copy, or {_MOVE[1:-1]})"
        )
    deadline = time.monotonic() + lock_timeout
    delay, told = 0.05, False
    while True:
        try:
            return _open(str(path), read_only)
        except duckdb.ConnectionException as exc:
            if read_only and "different configuration" in str(exc):
                # This process already has the file open for writing (a library caller or a test
                # holding an engine): DuckDB shares one instance per process, so share that one.
                return _open(str(path))
            raise WarehouseError(f"{path}: cannot open the local warehouse: {_first_line(exc)}") from None
        except duckdb.IOException as exc:
            if "not a valid DuckDB database file" in str(exc):
                # A file is there, as a warehouse would be, and it cannot be used: a warehouse
                # failure (exit 3), like a damaged one. DuckDB refuses it (an empty file too) and
                # writes nothing to it; neither does bqmanage.
                raise WarehouseError(
                    f"{path}: the file there is not a DuckDB database, so the local warehouse cannot be opened; "
                    f"it was left as it is (restore the warehouse from a copy, or {_MOVE[1:-1]})"
                ) from None
            if "lock" not in str(exc).lower():
                raise WarehouseError(f"{path}: cannot open the local warehouse: {_first_line(exc)}") from None
            match = _HOLDER.search(str(exc))
            holder = f" (PID {match.group(1)})" if match else ""
            if time.monotonic() + delay > deadline:
                raise WarehouseError(
                    f"{path}: still in use by another process{holder} after {lock_timeout:g} s "
                    "(BQMANAGE_LOCK_TIMEOUT); run again when it has finished"
                ) from None
            if not told:
                on_wait(
                    f"{path}: waiting for another bqmanage using it{holder} (up to {lock_timeout:g} s, BQMANAGE_LOCK_TIMEOUT)..."
                )
                told = True
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        except duckdb.Error as exc:
            raise WarehouseError(f"{path}: cannot open the local warehouse: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    # DuckDB appends a C++ stack trace to internal errors; the user needs the first line.
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def is_interrupt(exc: BaseException) -> bool:
    """Whether DuckDB stopped a statement because of a signal.

    Ctrl-C (or SIGTERM, which the CLI turns into the same interrupt) reaches DuckDB as a pending
    Python signal. DuckDB 1.x then raises RuntimeError("Query interrupted") from the signal
    handler's KeyboardInterrupt; DuckDB's own interrupt, and newer releases, raise
    duckdb.InterruptException.
    """
    if isinstance(exc, duckdb.InterruptException):
        return True
    if isinstance(exc, RuntimeError):
        return isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt) or "interrupted" in str(exc).lower()
    return False


@contextmanager
def interrupts_as_keyboard() -> Iterator[None]:
    """Re-raise DuckDB's interrupt as the KeyboardInterrupt it started as, so that apply records
    the stop and the CLI says "interrupted" instead of printing a C++ error."""
    try:
        yield
    except (duckdb.InterruptException, RuntimeError) as exc:
        if is_interrupt(exc):
            raise KeyboardInterrupt from None
        raise


def refused_commit(path: Path, exc: Exception) -> None:
    """Fail with why a write to the warehouse file was not saved (a read-only directory, a full
    disk), unless ``exc`` is a conflict with another writer, which the caller retries."""
    if "conflict" in str(exc).lower():
        return
    reason = _first_line(exc).split("Failed to commit: ", 1)[-1]
    raise WarehouseError(
        f"{path}: the local warehouse could not save the change: {reason} (a read-only directory or a full disk?)"
    ) from None


def damaged(exc: BaseException) -> bool:
    """Whether DuckDB says the file is damaged, or gave up on the database after a fatal error."""
    first = _first_line(exc)
    return isinstance(exc, duckdb.FatalException) or "Corrupt database file" in first or "invalidated" in first


def failure(path: Path, exc: duckdb.Error) -> WarehouseError:
    """The one message for a DuckDB error no caller expected: a damaged file, or anything else."""
    if damaged(exc):
        return WarehouseError(
            f"{path}: the local warehouse file is damaged: {_first_line(exc)}; restore it from a copy, "
            "or move it away and run `bqmanage apply` to start a new one"
        )
    return WarehouseError(f"{path}: the local warehouse failed: {_first_line(exc)}")


@contextmanager
def damage_as_failure(path: Path) -> Iterator[None]:
    """A damaged file fails the command with one message, wherever DuckDB notices it."""
    try:
        yield
    except duckdb.Error as exc:
        if damaged(exc):
            raise failure(path, exc) from None
        raise


# A CHECKPOINT after this many tables created. Until a checkpoint, DuckDB keeps what each new table
# holds in memory it cannot evict (about 300 KB a tenant dataset with its ledger), and the WAL of
# one new dataset is about 10 KB: creating thousands never reached the 16 MB auto-checkpoint, and
# apply --all-tenants ran out of the memory limit at about 800 tenants. After a checkpoint the
# same data is on disk, in blocks the buffer pool can evict. A checkpoint writes the whole catalog
# (0.03 s at 150 tables, 0.3 s at 8,000), so a fixed cadence made each tenant dearer as tenants
# grew: the cadence grows with the catalog, to a share of it, up to a cap that keeps what waits
# for a checkpoint well under the memory limit.
CHECKPOINT_TABLES = 200
CHECKPOINT_SHARE = 10  # tables created between checkpoints: at least the catalog's tables / this
CHECKPOINT_TABLES_MAX = 800


def checkpoint_cadence(tables: int) -> int:
    """Tables to create before the next checkpoint, in a catalog of ``tables``: each checkpoint
    then costs a bounded amount per table created, whatever the size of the catalog (until the cap)."""
    return min(CHECKPOINT_TABLES_MAX, max(CHECKPOINT_TABLES, tables // CHECKPOINT_SHARE))
