"""audit-code, file side: which files to read, and which of them can hold a reference at all.

Walking is the whole cost on a large tree, so it does as little per file as it can: one read
into a reused buffer and a substring test of the raw bytes against the few literals that every
candidate name contains (``Prefilter``); only files that pass are decoded and parsed, and on a
large tree a second process does part of it. ``.gitignore`` files are honoured as git does
(pathspec; nested files, negation, the repository's ancestors), and checked for a file only once
it has passed the pre-filter, since most files never do; ignored directories are pruned on the
way down.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bqmanage.codeaudit.read import Prefilter, read_all
from bqmanage.errors import UsageError

if TYPE_CHECKING:
    import pathspec

# File types audit-code reads by default, by suffix, and the lexer each one gets.
LEXERS = {
    ".py": "python",
    ".pyi": "python",
    ".sql": "sql",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".js": "js",
    ".mjs": "js",
    ".cjs": "js",
    ".jsx": "js",
    ".ts": "js",
    ".tsx": "js",
    ".mts": "js",
    ".cts": "js",
    ".sh": "shell",
    ".bash": "shell",
    ".zsh": "shell",
    ".ksh": "shell",
}
_VCS_DIRS = frozenset({".git", ".hg", ".svn"})


@dataclass
class ScanStats:
    read: int = 0  # files of a scanned type that were read
    parsed: int = 0  # of those, files that held a candidate name and were parsed
    skipped_binary: int = 0
    skipped_large: int = 0
    # Never silent: what could not be read (display path, why), and links that lead out of the
    # audited tree (display path, target), which are reported instead of followed.
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    # FIFOs, sockets and devices in an audited directory: never read (a FIFO's read blocks until
    # a writer comes), and said so rather than skipped in silence.
    special: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SourceFile:
    path: str  # as opened
    display: str  # as reported: relative to the working directory when under it, POSIX separators
    kind: str  # python, sql, yaml, json, js, shell or text
    data: bytes


def display_path(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when under it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def compile_patterns(lines: Iterable[str], where: str = "") -> pathspec.GitIgnoreSpec:
    """Compile gitignore-style patterns; a bad one is bad input (``where`` says whose), or, in a
    .gitignore file (no ``where``), skipped as git skips it."""
    import pathspec

    good = []
    for line in lines:
        try:
            pathspec.GitIgnoreSpec.from_lines([line])
        except ValueError:
            if where:
                raise UsageError(f"{where}: invalid pattern {line!r}") from None
            continue
        good.append(line)
    return pathspec.GitIgnoreSpec.from_lines(good)


def _read_ignore(path: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    spec = compile_patterns(text.splitlines())
    return spec if len(spec) else None


@dataclass
class _Ignores:
    """The .gitignore files that apply in one directory: (directory, spec), outermost first."""

    chain: tuple[tuple[str, pathspec.GitIgnoreSpec], ...] = ()

    def ignored(self, path: str, is_dir: bool) -> bool:
        """Git's rule: the deepest file with a matching pattern decides, and within a file the last one."""
        for base, spec in reversed(self.chain):
            rel = os.path.relpath(path, base).replace(os.sep, "/") + ("/" if is_dir else "")
            include = spec.check_file(rel).include
            if include is not None:
                return include
        return False

    def entering(self, directory: str) -> _Ignores:
        spec = _read_ignore(Path(directory) / ".gitignore")
        return _Ignores((*self.chain, (directory, spec))) if spec is not None else self


def _repository_ignores(root: Path) -> _Ignores:
    """The ignore files above ``root`` inside its repository, as git applies them below ``root``
    (``root``'s own .gitignore is read by the walk)."""
    resolved = root.resolve()
    top = next((p for p in (resolved, *resolved.parents) if (p / ".git").exists()), None)
    if top is None:
        return _Ignores()
    ignores = _Ignores()
    exclude = top / ".git" / "info" / "exclude"
    if exclude.is_file() and (spec := _read_ignore(exclude)) is not None:
        ignores = _Ignores(((str(top), spec),))
    parts = resolved.relative_to(top).parts
    for depth in range(len(parts)):  # top, then each directory down to root's parent
        ignores = ignores.entering(str(top.joinpath(*parts[:depth])))
    return ignores


Candidate = tuple[str, str, _Ignores | None]  # a file to read: path, kind, the ignore rules that apply


@dataclass
class Scanner:
    """The files under ``roots`` that audit-code should parse."""

    roots: list[Path]
    prefilter: Prefilter
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    skip: frozenset[Path] = frozenset()  # resolved paths never audited: the definitions, the config file
    max_bytes: int = 1 << 20
    stats: ScanStats = field(default_factory=ScanStats)
    # Work the caller will need after the walk (importing the SQL parser), done while a second
    # process reads: on a large tree it then costs no time.
    meanwhile: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        for root in self.roots:
            if not root.exists():
                raise UsageError(f"{root}: no such file or directory")
            if not (root.is_dir() or root.is_file()):
                raise UsageError(f"{root}: not a file or directory")
        self._include = compile_patterns(self.include, "--include or audit_code.include") if self.include else None
        self._exclude = compile_patterns(self.exclude, "--exclude or audit_code.exclude") if self.exclude else None
        self._skip = {str(p) for p in self.skip}
        self._cwd = os.getcwd() + os.sep
        self._trees = tuple(str(r.resolve()) for r in self.roots if r.is_dir())

    def files(self) -> list[SourceFile]:
        """Every file to parse, sorted by path; ``stats`` counts what was read and skipped.

        On a large tree a forked child walks and reads about two thirds of it while this process
        first does ``meanwhile``, then the rest: walking and reading are syscalls and substring
        tests, which two processes on 2 cores share (bench/RESULTS.md). Only the few files that
        may hold a name come back through the pipe."""
        explicit: list[Candidate] = []
        units: list[tuple[str, _Ignores]] = []  # directories still to walk, with their ignore rules
        for root in self.roots:
            if self._skipped(root):
                continue  # named outright (pre-commit passes files by name): still never audited
            if root.is_dir():
                top = str(root.resolve())
                units.append((top, _repository_ignores(root).entering(top)))
            else:
                kind = self._kind(root.name, display_path(root), explicit=True)
                if kind is not None and not self._excluded(display_path(root), False):
                    explicit.append((str(root), kind, None))
        while units and len(units) < 6:  # widen the frontier, so that there is work to share
            directory, ignores = units.pop(0)
            self._walk(directory, ignores, explicit, units)
        found = self._in_two(units, explicit) if self._may_fork(units) else self._part(units, explicit)
        return sorted(found, key=lambda f: f.display)

    def _skipped(self, root: Path) -> bool:
        """``root`` is, or is inside, a path never audited (the definitions, the config file)."""
        resolved = root.resolve()
        return any(str(p) in self._skip for p in (resolved, *resolved.parents))

    def _may_fork(self, units: list[tuple[str, _Ignores]]) -> bool:
        import threading

        return (
            len(units) >= 2
            and (os.cpu_count() or 1) >= 2
            and hasattr(os, "fork")
            and threading.active_count() == 1
            and os.environ.get("BQMANAGE_AUDIT_PROCESSES") != "1"
        )

    def _in_two(self, units: list[tuple[str, _Ignores]], explicit: list[Candidate]) -> list[SourceFile]:
        import pickle

        mine, theirs = units[0::3], units[1::3] + units[2::3]
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its share, then leave at once
            try:
                os.close(read_end)
                self.stats = ScanStats()
                found = self._part(theirs, [])
                with os.fdopen(write_end, "wb") as pipe:
                    pickle.dump((found, self.stats), pipe, protocol=pickle.HIGHEST_PROTOCOL)
            finally:
                os._exit(0)  # no atexit handlers, no flushing of the parent's buffers
        os.close(write_end)
        if self.meanwhile is not None:
            self.meanwhile()
        found = self._part(mine, explicit)
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
        os.waitpid(pid, 0)
        if not payload:  # the child died before it answered: do its share here
            return found + self._part(theirs, [])
        theirs_found: list[SourceFile]
        theirs_found, stats = pickle.loads(payload)  # our own forked child's answer, never outside data
        for name in ("read", "parsed", "skipped_binary", "skipped_large", "unreadable", "links", "special"):
            setattr(self.stats, name, getattr(self.stats, name) + getattr(stats, name))
        return found + theirs_found

    def _part(self, units: list[tuple[str, _Ignores]], candidates: list[Candidate]) -> list[SourceFile]:
        """Walk ``units``, read them and ``candidates``, and keep the files that may hold a name."""
        candidates = list(candidates)
        for directory, ignores in units:
            self._walk(directory, ignores, candidates, None)
        out = []
        read = read_all(candidates, self.prefilter, self.max_bytes)
        for (path, _kind, file_ignores), (verdict, data) in zip(candidates, read, strict=False):
            if verdict is None:
                continue  # unreadable, or a script without a shebang this audits
            if verdict == "miss":  # cannot hold a name: ignore rules are only needed for the rest
                self.stats.read += 1
                continue
            if file_ignores is not None and file_ignores.ignored(path, False):
                continue
            if verdict == "unreadable":
                display = self._rel(path) if file_ignores is not None else display_path(Path(path))
                self.stats.unreadable.append((display, data.decode()))
                continue
            self.stats.read += 1
            if verdict == "large":
                self.stats.skipped_large += 1
            elif verdict == "binary":
                self.stats.skipped_binary += 1
            else:
                self.stats.parsed += 1
                display = self._rel(path) if file_ignores is not None else display_path(Path(path))
                out.append(SourceFile(path, display, verdict, data))
        return out

    def _rel(self, path: str) -> str:
        return path[len(self._cwd) :].replace(os.sep, "/") if path.startswith(self._cwd) else path

    def _excluded(self, display: str, is_dir: bool) -> bool:
        return self._exclude is not None and self._exclude.match_file(display + ("/" if is_dir else ""))

    def _kind(self, name: str, display: str, explicit: bool = False) -> str | None:
        dot = name.rfind(".")
        suffix = name[dot:] if dot > 0 else ""
        if self._include is not None:
            return LEXERS.get(suffix, "text") if self._include.match_file(display) else None
        if suffix in LEXERS:
            return LEXERS[suffix]
        if not suffix:
            return "shebang"  # decided once the first line is read
        return "text" if explicit else None

    def _walk(
        self, directory: str, ignores: _Ignores, out: list[Candidate], subdirectories: list[tuple[str, _Ignores]] | None
    ) -> None:
        """Files to read go to ``out``; subdirectories are walked, or listed in ``subdirectories``."""
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            self.stats.unreadable.append((self._rel(directory) + "/", exc.strerror or str(exc)))
            return
        filtered = self._include is not None or self._exclude is not None
        for entry in entries:
            if entry.path in self._skip:
                continue
            if entry.is_symlink():
                self._link(entry, ignores)
                continue
            if entry.is_dir():
                if entry.name in _VCS_DIRS or self._excluded(self._rel(entry.path), True) or ignores.ignored(entry.path, True):
                    continue
                if subdirectories is not None:
                    subdirectories.append((entry.path, ignores.entering(entry.path)))
                else:
                    self._walk(entry.path, ignores.entering(entry.path), out, None)
            elif not entry.is_file():
                # A FIFO, socket or device: reading it could block forever. Said, unless excluded.
                display = self._rel(entry.path)
                if not (self._excluded(display, False) or ignores.ignored(entry.path, False)):
                    self.stats.special.append(display)
            elif not filtered:
                dot = entry.name.rfind(".")
                kind = LEXERS.get(entry.name[dot:]) if dot > 0 else "shebang"
                if kind is not None:
                    out.append((entry.path, kind, ignores))
            else:
                display = self._rel(entry.path)
                kind = self._kind(entry.name, display)
                if kind is not None and not self._excluded(display, False):
                    out.append((entry.path, kind, ignores))

    def _link(self, entry: os.DirEntry[str], ignores: _Ignores) -> None:
        """A link is never followed (it could loop, or read a file twice). Its target is audited where
        it is when that is inside an audited directory; a link that leads elsewhere (or nowhere) and
        would be audited is reported, so that nothing is skipped silently."""
        target = os.path.realpath(entry.path)
        if any(target == tree or target.startswith(tree + os.sep) for tree in self._trees):
            return
        is_dir = os.path.isdir(target)
        display = self._rel(entry.path)
        if self._excluded(display, is_dir) or ignores.ignored(entry.path, is_dir):
            return
        if is_dir or self._kind(entry.name, display) not in (None, "shebang"):
            self.stats.links.append((display + ("/" if is_dir else ""), target))
