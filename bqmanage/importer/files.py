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
from typing import Any

from bqmanage.definitions.load import load_definitions
from bqmanage.definitions.tree import display_of
from bqmanage.errors import DefinitionError, ImportRefusedError, Problem, UsageError
from bqmanage.model.schema import Dataset, Definitions, Table


@dataclass(frozen=True)
class GeneratedFile:
    path: Path  # where it goes: under the definitions directory
    text: str
    old: str | None  # what is there now, None when nothing is
    same_meaning: bool = False  # the file there now defines exactly this, however it is written

    @property
    def status(self) -> str:
        if self.old is None:
            return "new"
        return "unchanged" if self.old == self.text or self.same_meaning else "changed"

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
    for rel in files:  # names were checked against BigQuery's rules; this is the last word on paths
        parts = Path(rel).parts
        if len(parts) != 2 or any(p in ("", ".", "..") or p.startswith(".") for p in parts) or Path(rel).is_absolute():
            raise UsageError(f"import: {rel!r} would not be a file of one dataset directory under --out; nothing written")
    if not files:
        return Staged(out, Path(tempfile.mkdtemp(prefix=".bqmanage-import-")), [])  # nothing to validate or move
    # Staged beside --out's real directory, never inside it: --out . would stage under the tree it
    # copies, and the copy would copy itself until the path grows too long.
    real = Path(os.path.realpath(out))
    if real.parent == real:
        raise UsageError(f"--out {out}: the filesystem root cannot hold definitions; nothing written")
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix=".bqmanage-import-", dir=real.parent))
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write there: {exc.strerror or exc}; nothing written") from None
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
            _refuse_links(out, final)
            _write(check / final.relative_to(out), text)
            _write(root / "out" / final.relative_to(out), text)
            generated.append(GeneratedFile(final, text, final.read_text(encoding="utf-8") if final.is_file() else None))
        staged = _validate(check, out)
        return Staged(out, root, _by_meaning(generated, staged, check, out))
    except OSError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise UsageError(f"--out {out}: cannot write there: {exc.strerror or exc}; nothing written") from None
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def check_out(out: Path) -> None:
    """Refuse an --out that cannot hold definitions, before the warehouse is read: a file, or a
    path under one, or a place that cannot be written (``/proc``)."""
    place = out
    while not place.exists() and place != place.parent:
        if place.is_symlink():
            raise UsageError(f"--out {out}: {place} is a dangling symbolic link")
        place = place.parent
    if not place.is_dir():
        what = "is not a directory" if place == out else f"is under {place}, which is not a directory"
        raise UsageError(f"--out {out}: {what}; give the definitions directory")
    real = Path(os.path.realpath(place))
    if real.parts[1:2] in (("proc",), ("sys",), ("dev",)) or not os.access(real, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: cannot write under {place}")


def _existing_spelling(path: Path) -> Path:
    """A table already defined as ``<table>.yml`` keeps that file: two files would define it twice."""
    yml = path.with_suffix(".yml")
    return yml if path.suffix == ".yaml" and not path.exists() and yml.is_file() else path


def _refuse_links(out: Path, final: Path) -> None:
    """Refuse a file whose dataset directory or itself is a symbolic link: the staged copy keeps
    links as links, so writing the file would write through one, wherever it leads."""
    place = out
    for part in final.relative_to(out).parts:
        place = place / part
        if place.is_symlink():
            raise UsageError(f"import: {place} is a symbolic link; import does not write through links; nothing written")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _by_meaning(generated: list[GeneratedFile], staged: Definitions, check: Path, out: Path) -> list[GeneratedFile]:
    """Mark each file whose text differs but whose definitions do not: a line wrapped otherwise,
    a comment, flow or block style. Those are left as they are, never reported as drift."""
    differing = [f for f in generated if f.old is not None and f.old != f.text]
    if not differing:
        return generated
    try:
        current = load_definitions(out)
    except DefinitionError:
        return generated  # what is there does not load: compare text only
    staged_root, real_root = display_of(check), display_of(out)
    now, new = _meanings(current), _meanings(staged)
    out_files = []
    for f in generated:
        if f in differing:
            source = display_of(f.path)
            same = source in now and now[source] == new.get(source.replace(real_root, staged_root, 1))
            f = GeneratedFile(f.path, f.text, f.old, same)
        out_files.append(f)
    return out_files


def _meanings(defs: Definitions) -> dict[str, list[Any]]:
    """What each definition file defines (source path -> its datasets and tables, as plain data
    without lines or paths)."""
    out: dict[str, list[Any]] = {}
    items: list[Dataset | Table] = [*defs.datasets, *defs.tables, *defs.templates, *defs.template_tables]
    for item in items:
        if item.source is not None:
            out.setdefault(item.source, []).append(_plain(item.model_dump()))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in ("line", "source")}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _validate(check: Path, out: Path) -> Definitions:
    """Load the staged tree; its problems are reported at the paths the files would have."""
    try:
        return load_definitions(check)
    except DefinitionError as exc:
        staged, real = display_of(check), display_of(out)
        problems = [Problem(p.path.replace(staged, real, 1), p.line, p.key_path, p.message) for p in exc.problems]
        raise ImportRefusedError(problems) from None
