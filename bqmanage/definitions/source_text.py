"""Reading a definition or the config file as text: one regular file, bounded, strictly UTF-8.

What is on disk is user input: a FIFO named like a definition must not hang the read, a huge file
must not be read whole, and bad bytes are one located problem (bqmanage/definitions/yaml_source.py then
parses the text within its own limits).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from yaml.reader import Reader

from bqmanage.errors import Problem

MAX_BYTES = 4 << 20  # see definitions/yaml_source.py: a 10,000-column table with long descriptions still fits


class SourceError(Exception):
    """A file that cannot be read as YAML text at all; carries its one located problem."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def leaves(link: Path, root: str) -> bool:
    """Whether ``link`` leads outside the directory ``root`` (a real path)."""
    target = os.path.realpath(link)
    return target != root and not target.startswith(root.rstrip("/") + "/")


def read_text(path: Path, display: str, kind: str = "YAML file") -> str:
    """The text of one regular file, read once and decoded strictly as UTF-8.

    Opened non-blocking so that a FIFO named ``x.yaml`` cannot hang the read; its type is then
    checked on the open descriptor, so a directory, FIFO or device is refused without reading.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise SourceError(Problem(display, None, "", f"cannot read: {os_reason(exc, path)}")) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SourceError(Problem(display, None, "", f"is a directory, not a {kind}"))
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(Problem(display, None, "", f"is not a regular file (a FIFO, socket or device), not a {kind}"))
        # st_size can lie (files in /proc report 0) or grow while read: the read is capped too.
        raw = b"" if info.st_size > MAX_BYTES else _read_at_most(fd, MAX_BYTES + 1)
    except OSError as exc:
        raise SourceError(Problem(display, None, "", f"cannot read: {os_reason(exc, path)}")) from None
    finally:
        os.close(fd)
    if info.st_size > MAX_BYTES or len(raw) > MAX_BYTES:
        raise SourceError(Problem(display, None, "", f"file is larger than {MAX_BYTES >> 20} MiB; refusing to parse it"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SourceError(
            Problem(display, line, "", f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8")
        ) from None
    # The same check PyYAML's reader makes, done here because its error carries no line.
    if (bad := Reader.NON_PRINTABLE.search(text)) is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise SourceError(Problem(display, line, "", f"control character U+{ord(bad.group()):04X} is not allowed in YAML"))
    return text


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := os.read(fd, limit - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def os_reason(exc: OSError, path: Path) -> str:
    """Why a path cannot be opened, in words, naming a broken link's target."""
    if exc.errno == errno.ELOOP:
        return "symlink loop (too many levels of symbolic links)"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"dangling symlink to {os.readlink(path)}"
    return exc.strerror or str(exc)
