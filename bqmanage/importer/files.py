"""The files of ``import``: staged in a temporary directory beside the definitions, validated there
by the loader together with the definitions already in place, then moved in one rename each.

Nothing under the definitions directory changes before every generated file has validated and,
for an overwrite, the user has seen the diff and confirmed. A file is replaced by a rename from
the same filesystem, so a reader sees the old file or the whole new one.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bqmanage.definitions.load import load_definitions
from bqmanage.definitions.tree import display_of
from bqmanage.errors import DefinitionError, ImportRefusedError, Problem


@dataclass(frozen=True)
class GeneratedFile:
    path: Path  # where it goes: under the definitions directory
    text: str
    old: str | None  # what is there now, None when nothing is

    @property
    def status(self) -> str:
        return "new" if self.old is None else "unchanged" if self.old == self.text else "changed"

    def diff(self) -> str:
        shown = self.path.as_posix()
        return "".join(
            difflib.unified_diff((self.old or "").splitlines(True), self.text.splitlines(True), f"a/{shown}", f"b/{shown}")
        )


class Staged:
    """Validated files waiting in ``root`` to be moved under ``out``; ``discard`` in every case."""

    def __init__(self, out: Path, root: Path, files: list[GeneratedFile]) -> None:
        self.out = out
        self.root = root
        self.files = files

    def changed(self) -> list[GeneratedFile]:
        return [f for f in self.files if f.status == "changed"]

    def to_write(self) -> list[GeneratedFile]:
        return [f for f in self.files if f.status != "unchanged"]

    def commit(self) -> list[GeneratedFile]:
        """Move every new or changed file into place (keeping an overwritten file's mode)."""
        written = []
        for file in self.to_write():
            source = self.root / "out" / file.path.relative_to(self.out)
            if file.old is not None:
                os.chmod(source, file.path.stat().st_mode & 0o777)
            file.path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, file.path)
            written.append(file)
        return written

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def stage(out: Path, files: dict[str, str], renames: dict[str, str] | None = None) -> Staged:
    """Stage ``files`` (relative path -> text) for ``out``: validate them beside the definitions
    already there, and raise ImportRefusedError, writing nothing, when they do not validate.

    ``renames`` maps a dataset directory of ``files`` to the one it is written as (a tenant's
    dataset to its template), and validated as.
    """
    renames = renames or {}
    if not files:
        return Staged(out, Path(tempfile.mkdtemp(prefix=".bqmanage-import-")), [])  # nothing to validate or move
    out.parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=".bqmanage-import-", dir=out.parent))
    try:
        check = root / "check"
        if out.is_dir():
            # A template import rewrites is validated as it will be, not beside its old self.
            replaced = set(renames.values())

            def ignore(directory: str, names: list[str]) -> list[str]:
                return [n for n in names if Path(directory) == out and n in replaced]

            shutil.copytree(out, check, symlinks=True, ignore=ignore)
        generated = []
        for rel, text in sorted(files.items()):
            head, _, tail = rel.partition("/")
            final = _existing_spelling(out / renames.get(head, head) / tail)
            _write(check / final.relative_to(out), text)
            _write(root / "out" / final.relative_to(out), text)
            generated.append(GeneratedFile(final, text, final.read_text(encoding="utf-8") if final.is_file() else None))
        _validate(check, out)
        return Staged(out, root, generated)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _existing_spelling(path: Path) -> Path:
    """A table already defined as ``<table>.yml`` keeps that file: two files would define it twice."""
    yml = path.with_suffix(".yml")
    return yml if path.suffix == ".yaml" and not path.exists() and yml.is_file() else path


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _validate(check: Path, out: Path) -> None:
    """Load the staged tree; its problems are reported at the paths the files would have."""
    try:
        load_definitions(check)
    except DefinitionError as exc:
        staged, real = display_of(check), display_of(out)
        problems = [Problem(p.path.replace(staged, real, 1), p.line, p.key_path, p.message) for p in exc.problems]
        raise ImportRefusedError(problems) from None
