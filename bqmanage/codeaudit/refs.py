"""audit-code, legacy names: which spellings are references, and what each should say instead.

The candidate names are finite and known up front: every ``legacy_names`` entry, every dataset of
the config's dataset map, and every name the prefix map would turn into a defined table or
dataset (``customer_profiles`` because ``tenant_profiles`` is defined; ``customer_id`` is no
candidate, as no table ``tenant_id`` exists). A hit is then widened to the dotted path around it
(``proj.customers.x``, `` `proj.customers.x` ``, `` `proj`.`customers`.`x` ``, ``proj:customers.x``)
and read part by part, so that a fix rewrites only the parts that changed and keeps the quoting.

A bare legacy dataset name is an ordinary word (``customers``), so alone it counts only as a
whole value (a config value, a string literal) or quoted as an identifier; ``customers.json``
is a file name, so a legacy dataset followed by an unknown table counts only with a project in
front, backticks, or a SQL keyword such as FROM before it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from bqmanage.codeaudit.lex import Piece
from bqmanage.model.schema import Definitions

_PART = r"`[^`\n]*`|[A-Za-z0-9_][\w-]*"
PATH = re.compile(rf"(?:{_PART})(?:[.:](?:{_PART}))*")
_PATH_CHARS = frozenset("`.:-_") | frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_TABLE_KEYWORD = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE|USING|MERGE|SCHEMA)\s+$", re.I)
# Tables every managed dataset may hold without a definition (bqmanage's ledger, metadata views,
# wildcards), and an f-string placeholder where the table name goes (underscores only).
NOT_DEFINED_TABLES = re.compile(r"_bqmanage|INFORMATION_SCHEMA|__TABLES|.*\*|_+$", re.I)


@dataclass(frozen=True)
class Edit:
    start: int  # offsets in the file
    end: int
    text: str


@dataclass(frozen=True)
class LegacyRef:
    start: int  # offset in the piece of the whole path
    end: int
    actual: str  # the path as written
    replacement: str  # the same path, renamed, quoted as it was
    target: str  # what it refers to now: dataset or dataset.table
    edits: tuple[tuple[int, int, str], ...]  # (start, end, new text) in the piece
    names: frozenset[str]  # what a config allowlist entry may name: the path, or a legacy name in it


@dataclass(frozen=True)
class Part:
    name: str
    start: int
    end: int
    quoted: bool


class LegacyIndex:
    """Every legacy name, from the definitions and the config, with what replaced it."""

    def __init__(self, desired: Definitions, datasets: dict[str, str], prefixes: dict[str, str]) -> None:
        defined = {(t.dataset, t.name) for t in desired.tables}
        self.managed = frozenset({t.dataset for t in desired.tables} | {d.name for d in desired.datasets})
        self.tables_by_dataset = {ds: {t.name: t for t in desired.tables if t.dataset == ds} for ds in self.managed}
        self.qualified: dict[tuple[str, str], tuple[str, str]] = {}
        self.tables: dict[str, tuple[str, str]] = {}  # bare legacy table name -> (dataset, table) now
        self.datasets: dict[str, str] = {}
        for table in sorted(desired.tables, key=lambda t: (t.dataset, t.name)):
            for legacy in table.legacy_names:
                old_ds, _, old_table = legacy.partition(".")
                self.qualified[(old_ds, old_table)] = (table.dataset, table.name)
                self.tables.setdefault(old_table, (table.dataset, table.name))
                if old_ds not in self.managed:
                    self.datasets.setdefault(old_ds, table.dataset)
            for old, new in prefixes.items():
                if table.name.startswith(new) and (old_name := old + table.name[len(new) :]) != table.name:
                    self.tables.setdefault(old_name, (table.dataset, table.name))
        for old, new in datasets.items():
            if old not in self.managed:
                self.datasets[old] = new
        for dataset in sorted(self.managed):
            for old, new in prefixes.items():
                if dataset.startswith(new) and (old_name := old + dataset[len(new) :]) not in self.managed:
                    self.datasets.setdefault(old_name, dataset)
        for old_table, (ds, _name) in list(self.tables.items()):
            if (ds, old_table) in defined:
                del self.tables[old_table]  # still a defined name: not legacy
        names = sorted(set(self.tables) | set(self.datasets), key=len, reverse=True)
        self.pattern = re.compile(rf"(?<![\w$-])(?:{'|'.join(map(re.escape, names))})(?![\w$-])") if names else None

    def candidates(self) -> list[str]:
        """Every name a file must contain to hold a reference: legacy names and managed datasets."""
        return sorted(set(self.tables) | set(self.datasets) | self.managed)

    def find(self, piece: Piece) -> Iterator[LegacyRef]:
        if self.pattern is None:
            return
        text = piece.text
        done_until = -1
        for hit in self.pattern.finditer(text):
            if hit.start() < done_until:
                continue  # already read as part of a path
            start = hit.start()
            while start > 0 and text[start - 1] in _PATH_CHARS:
                start -= 1
            path = PATH.match(text, start)
            while path is not None and path.end() < hit.end() and start < hit.start():
                start += 1  # the widening swallowed something that is not a path; narrow it
                path = PATH.match(text, start)
            if path is None or path.end() < hit.end():
                continue
            done_until = path.end()
            ref = self._read(piece, path_parts(path.group(), path.start()), path.start(), path.end())
            if ref is not None:
                yield ref

    def _read(self, piece: Piece, parts: list[Part], start: int, end: int) -> LegacyRef | None:
        text = piece.text
        names = [p.name for p in parts]
        quoted = any(p.quoted for p in parts)
        edits: list[tuple[Part, str]] = []
        target = ""
        # [project.]legacy_dataset.table
        i = next((i for i in (0, 1) if i + 1 < len(parts) and names[i] in self.datasets), None)
        if i is not None:
            dataset, table = names[i], names[i + 1]
            new_ds, new_table = self.qualified.get((dataset, table)) or (self.datasets[dataset], self._renamed(table))
            strong = (dataset, table) in self.qualified or table in self.tables or i == 1 or quoted
            if not strong and not _TABLE_KEYWORD.search(text, max(0, start - 12), start):
                return None
            edits = [(parts[i], new_ds)] + ([(parts[i + 1], new_table)] if new_table != table else [])
            target = f"{new_ds}.{new_table}"
        elif (j := next((j for j, n in enumerate(names) if n in self.tables), None)) is not None and j <= 2:
            new_ds, new_table = self.tables[names[j]]
            if j == 0:
                edits = [(parts[0], new_table)]
            elif names[j - 1] in self.managed:
                edits = [(parts[j - 1], new_ds), (parts[j], new_table)]
            else:
                return None  # a table of that name in some other dataset is not ours
            target = f"{new_ds}.{new_table}"
        elif len(parts) <= 2 and names[-1] in self.datasets:
            part = parts[-1]
            alone = len(parts) == 1 and (
                (piece.whole and text == part.name)
                or part.quoted
                or (
                    part.start > 0 and part.end < len(text) and text[part.start - 1] == text[part.end] and text[part.end] in "'\""
                )
            )
            with_project = len(parts) == 2 and text[parts[0].end : parts[1].start].startswith(":")
            if not (alone or with_project):
                return None
            edits = [(part, self.datasets[part.name])]
            target = self.datasets[part.name]
        else:
            return None
        actual = text[start:end]
        replaced = actual
        for part, new in sorted(edits, key=lambda e: e[0].start, reverse=True):
            replaced = replaced[: part.start - start] + new + replaced[part.end - start :]
        # An allowlist entry may name the path as written (without backticks), or a legacy name in it.
        plain = actual.replace("`", "")
        legacy = {n for n in names if n in self.datasets or n in self.tables}
        legacy |= {f"{a}.{b}" for a, b in itertools.pairwise(names) if (a, b) in self.qualified or a in self.datasets}
        return LegacyRef(
            start,
            end,
            actual,
            replaced,
            target,
            tuple((p.start, p.end, new) for p, new in edits if p.name != new),
            frozenset({plain, plain.split(":")[-1], *legacy}),
        )

    def _renamed(self, table: str) -> str:
        return self.tables[table][1] if table in self.tables else table


def path_parts(path: str, offset: int) -> list[Part]:
    """The identifiers of a dotted path, with the offsets of their names (inside any backticks)."""
    out: list[Part] = []
    for m in re.finditer(_PART, path):
        token, at = m.group(), offset + m.start()
        if token.startswith("`"):
            inner = token.strip("`")
            pos = at + 1
            for name in re.split(r"[.:]", inner):
                out.append(Part(name, pos, pos + len(name), True))
                pos += len(name) + 1
        else:
            out.append(Part(token, at, at + len(token), False))
    return out
