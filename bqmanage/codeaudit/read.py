"""audit-code's reading of files: one read into a reused buffer, and a substring test of the raw
bytes against the few literals every candidate name contains (``Prefilter``); bytes are copied out
only for the files that may hold a name."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

_SHEBANGS = {b"python": "python", b"bash": "shell", b"sh": "shell", b"zsh": "shell", b"dash": "shell", b"ksh": "shell"}
_CHUNK = 65536  # the first read; most source files are smaller, and a 1 MiB buffer per file costs page faults


class Prefilter:
    """Does a file's raw text contain any candidate name? ``bytes.__contains__`` of a few literals.

    Python's ``re`` scans an alternation of names at well under 100 MB/s; a substring test runs at
    memory speed. Names sharing a prefix of 6+ characters are covered by that prefix
    (customer_usage_quotas, customer_profiles and customers by ``customer``), so the test stays a
    handful of passes however many names there are. Exact matching happens after, on hits only.
    """

    def __init__(self, names: Iterable[str]) -> None:
        literals: list[str] = []
        for name in sorted(set(names)):
            # Names sorted, so a shared prefix is a shared leading string (character by character is meant).
            if literals and len(common := os.path.commonprefix([literals[-1], name])) >= 6:  # noqa: RUF071
                literals[-1] = common
            else:
                literals.append(name)
        self.literals = tuple(dict.fromkeys(lit.encode() for lit in literals))

    def __call__(self, data: bytes) -> bool:
        return any(literal in data for literal in self.literals)


def _read_to_end(fd: int, n: int, max_bytes: int) -> bytes:
    """What follows the first ``n`` bytes, read until end of file (or just past ``max_bytes``)."""
    parts: list[bytes] = []
    total = n
    while total <= max_bytes:
        part = os.read(fd, min(_CHUNK, max_bytes + 1 - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return b"".join(parts)


def read_all(
    files: Sequence[tuple[str, str, object | None]], prefilter: Prefilter, max_bytes: int
) -> list[tuple[str | None, bytes]]:
    """(verdict, data) of each file: its kind when it may hold a name (with its bytes), else
    "miss", "large", "binary", "unreadable" (the reason as its bytes), or None when it is no script.

    Each file is read into one reused buffer and tested there; bytes are copied out only for the
    few that may hold a name."""
    out: list[tuple[str | None, bytes]] = []
    append, literals = out.append, prefilter.literals
    buffer = bytearray(_CHUNK)
    open_, readv, read, close, flags = os.open, os.readv, os.read, os.close, os.O_RDONLY
    for path, kind, ignores in files:
        rest = b""
        named = ignores is None  # named on the command line: no ignore rules, as the walk did not find it
        try:
            fd = open_(path, flags)
            try:
                n = readv(fd, [buffer])
                if named:
                    # Read to the end whatever the first read returned: a file whose size lies
                    # (procfs, sysfs) answers short reads long before its end.
                    rest = _read_to_end(fd, n, max_bytes)
                elif n == _CHUNK:
                    rest = read(fd, max_bytes + 1 - _CHUNK)
            finally:
                close(fd)
        except OSError as exc:
            append(("unreadable", (exc.strerror or str(exc)).encode()))
            continue
        if kind == "shebang":
            first = bytes(buffer[: min(n, 128)]).split(b"\n", 1)[0].rstrip()
            kind = next((k for word, k in _SHEBANGS.items() if first.startswith(b"#!") and first.endswith(word)), "")
            if not kind and named:
                kind = "text"  # named outright: audited as text, never dropped as "no script"
            if not kind:
                append((None, b""))
                continue
        if n + len(rest) > max_bytes:
            append(("large", b""))
        elif buffer.find(b"\0", 0, min(n, 8192)) != -1:
            append(("binary", b""))
        elif rest:  # over 64 KiB: test the whole file
            data = bytes(buffer[:n]) + rest
            append((kind, data) if prefilter(data) else ("miss", b""))
        else:
            for literal in literals:
                if buffer.find(literal, 0, n) != -1:
                    append((kind, bytes(buffer[:n])))
                    break
            else:
                append(("miss", b""))
    return out
