"""The findings report of check and audit-code: its format, and its file (-o), refused up front
when it cannot be written, and written whole or not at all."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from bqmanage.errors import UsageError

if TYPE_CHECKING:
    from bqmanage.check.findings import Finding
    from bqmanage.model.schema import Definitions

FORMATS = ("text", "json", "sarif")


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"--format: expected text, json or sarif, got {fmt!r}")


def findings_document(
    fmt: str,
    findings: list[Finding],
    desired: Definitions,
    text: Callable[[], str],
    summary: Mapping[str, object] | None = None,
    *,
    extra: Mapping[str, object] | None = None,
    notifications: list[str] | None = None,
) -> str:
    """The report in ``fmt``: text as ``text`` words it, JSON (clean + findings [+ summary] [+ extra]),
    or SARIF. ``notifications`` are failures of the run itself (a tenant that could not be read):
    JSON has them in ``extra``, SARIF as tool execution notifications, and either is then not clean."""
    import json

    from bqmanage.report import text as report

    if fmt == "json":
        document = {**report.findings_json(findings), **({"summary": summary} if summary is not None else {}), **(extra or {})}
        document["clean"] = document["clean"] and not notifications
        return json.dumps(document, indent=2, default=str) + "\n"
    if fmt == "sarif":
        from bqmanage.report.sarif import to_sarif

        return json.dumps(to_sarif(findings, desired, notifications or []), indent=2, default=str) + "\n"
    return text()


def writable(
    output: str, protected: tuple[Path, ...] = (), audited: tuple[Path, ...] = (), warehouse: Path | None = None
) -> Path:
    """The report file, if it can be written: refused up front, never after the warehouse was read.

    A report replaces only what it can afford to lose: nothing at all, an empty file, or an earlier
    report of bqmanage's. Anything else that exists (the warehouse, a source file, a document) is
    refused, as is any path under ``protected`` (the definitions, the config, the warehouse file
    and its WAL, which must not come into being as a report either), and anything of the local
    ``warehouse``'s state (``warehouse_state``). Under ``audited`` (the
    paths audit-code reads) even an empty file is left alone: it is a source file.

    A symlink is followed only within its own directory: one that leads elsewhere would let a
    checked-out link write over any file the user can. What exists must be a regular file: the
    report replaces it by a rename, which would turn a device (/dev/null), a FIFO or a socket into
    a plain file.
    """
    if not output:
        raise UsageError("--output: empty path; leave the option out to print the report")
    path = Path(os.path.realpath(output))
    if path.is_dir():
        raise UsageError(f"{output}: cannot write the report: it is a directory")
    if os.path.islink(output) and path.parent != Path(os.path.realpath(os.path.dirname(output) or ".")):
        raise UsageError(f"{output}: cannot write the report: it is a symbolic link out of its directory")
    if leaves_tree(os.path.dirname(output) or "."):
        raise UsageError(
            f"{output}: cannot write the report: its directory is reached through a symbolic link out of {Path.cwd()}"
        )
    if path.exists() and not path.is_file():
        raise UsageError(
            f"{output}: cannot write the report: it is not a regular file (a device, FIFO or socket); "
            "leave -o out and redirect stdout instead"
        )
    for place in protected:
        real = Path(os.path.realpath(place))
        if path == real or real in path.parents:
            raise UsageError(f"{output}: cannot write the report over {place}, which bqmanage reads")
    if warehouse is not None and warehouse_state(path, warehouse):
        raise UsageError(f"{output}: cannot write the report among the files of the local warehouse {warehouse}")
    if path.exists() and not _replaceable(path, inside=any(_under(path, p) for p in audited)):
        raise UsageError(
            f"{output}: cannot write the report: the file exists and is not an earlier bqmanage report; "
            "remove it or choose another path"
        )
    if not path.parent.is_dir():
        raise UsageError(f"{output}: cannot write the report: directory {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{output}: cannot write the report: permission denied")
    return path


def leaves_tree(directory: str) -> bool:
    """Whether ``directory``, a path inside the working directory as written, leads out of it
    through a symbolic link in any of its components (``reports -> /elsewhere``, or ``reports/..``
    past one): a checked-out link must not let a report or an import write anywhere the user can.
    A path written outside the working directory is the user's own choice, links and all."""
    cwd = Path.cwd()
    written = Path(os.path.abspath(directory))
    if written != cwd and cwd not in written.parents:
        return False
    real, real_cwd = Path(os.path.realpath(directory)), Path(os.path.realpath(cwd))
    return real != real_cwd and real_cwd not in real.parents


def warehouse_state(path: Path, warehouse: Path) -> bool:
    """Whether ``path`` (resolved) is part of the local warehouse's state: the DuckDB file, or a
    file beside it whose name starts with its name (DuckDB's write-ahead log ``.wal``, its ``.tmp``
    spill directory, and whatever side files a later release or a lock adds), or anything in the
    state directory bqmanage keeps it in by default (``.bqmanage/``). Replacing any of them can
    lose the warehouse, and a name list would miss the next one."""
    real = Path(os.path.realpath(warehouse))
    for part in (path, *path.parents):
        if part.parent == real.parent and part.name.startswith(real.name):
            return True
    return real.parent.name == ".bqmanage" and _under(path, real.parent)


def _under(path: Path, place: Path) -> bool:
    real = Path(os.path.realpath(place))
    return path == real or real in path.parents


_SEAL = re.compile(rb"\nbqmanage report sha256:([0-9a-f]{64})\n\Z")


def sealed(fmt: str, text: str) -> str:
    """The report as its file holds it. A text report ends in a line with the SHA-256 of all that
    precedes it: the proof, when the next run is asked to replace the file, that bqmanage wrote
    it. A document that only quotes a report (a README) cannot carry the right sum by accident."""
    if fmt != "text":
        return text  # JSON and SARIF are recognised by parsing them
    body = text if text.endswith("\n") else text + "\n"
    return f"{body}bqmanage report sha256:{hashlib.sha256(body.encode()).hexdigest()}\n"


def _replaceable(path: Path, inside: bool) -> bool:
    """Whether an existing file may be replaced by a report: empty (outside audited trees), or one
    bqmanage provably wrote; anything a heuristic could mistake (a README, a JSON schema) is not."""
    try:
        data = path.read_bytes()
    except OSError:
        return True  # unreadable: the permission check that follows says so
    if not data:
        return not inside
    seal = _SEAL.search(data)
    if seal:
        return hashlib.sha256(data[: seal.start() + 1]).hexdigest() == seal.group(1).decode()
    try:
        document = json.loads(data)
    except ValueError:
        return False
    if not isinstance(document, dict):
        return False
    if "runs" in document:  # SARIF: its tool is bqmanage
        runs = document.get("runs")
        return isinstance(runs, list) and len(runs) == 1 and _driver(runs[0]) == "bqmanage"
    # Findings JSON: exactly the keys bqmanage writes
    keys = set(document)
    return {"clean", "findings"} <= keys <= {"clean", "findings", "summary", "tenants"} and (
        isinstance(document["clean"], bool) and isinstance(document["findings"], list)
    )


def _driver(run: object) -> object:
    tool = run.get("tool") if isinstance(run, dict) else None
    driver = tool.get("driver") if isinstance(tool, dict) else None
    return driver.get("name") if isinstance(driver, dict) else None


def write_whole(path: Path, text: str) -> None:
    """Write beside the report, then rename over it: readers see the old report or the whole new
    one, never a half-written file, whatever stops the write."""
    import tempfile

    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~umask()
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the report: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, mode)  # mkstemp's 0600 is not what a report file should get
        os.replace(temp, path)
    except BaseException as exc:
        Path(temp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UsageError(f"{path}: cannot write the report: {exc.strerror or exc}") from None
        raise


def umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
