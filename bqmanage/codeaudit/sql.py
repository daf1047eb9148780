"""audit-code, SQL: table and column references of statements that touch a managed table.

A managed table is one in a dataset the definitions define. Each statement that names a managed
dataset is parsed as GoogleSQL (sqlglot, ``read="bigquery"``); one that does not parse is counted
and skipped, never a finding. Tables are checked against the definitions, then every column the
statement names is resolved the way BigQuery scopes them: a qualified column through its table
alias, an unqualified one through the tables of its SELECT (and the enclosing ones, for
correlated subqueries). Whenever a column could come from something whose columns are not known
(an unmanaged table, a subquery, UNNEST, a CTE) it is not reported: no guess is ever a finding.

``--analyzer googlesql`` hands the same statements to Google's analyzer (bqmanage/codeaudit/googlesql.py).
"""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bqmanage.codeaudit.lex import SQL_TOKENS
from bqmanage.codeaudit.refs import NOT_DEFINED_TABLES, LegacyIndex

if TYPE_CHECKING:
    from sqlglot import exp

# Columns BigQuery adds to tables of the right kind; no definition lists them.
PSEUDO_COLUMNS = frozenset(
    {"_partitiontime", "_partitiondate", "_table_suffix", "_file_name", "_change_type", "_change_timestamp"}
)


@dataclass(frozen=True)
class SqlIssue:
    kind: str  # unknown_table_reference, unknown_column_reference or sql_type_error
    start: int  # offset in the statement
    message: str
    dataset: str | None = None
    table: str | None = None
    actual: str | None = None
    expected: str | None = None


class Analyzer(Protocol):
    def check(self, sql: str) -> list[SqlIssue] | None:
        """The issues of one statement, or None when it does not parse."""


def statements(text: str) -> list[tuple[int, int]]:
    """(start, end) of each statement, split at each ``;`` outside strings and comments."""
    out: list[tuple[int, int]] = []
    start = 0
    protected = [(m.start(), m.end()) for m in SQL_TOKENS.finditer(text)]
    k = 0
    for semicolon in re.finditer(";", text):
        i = semicolon.start()
        while k < len(protected) and protected[k][1] <= i:
            k += 1
        if k < len(protected) and protected[k][0] <= i:
            continue  # inside a string or a comment
        out.append((start, i))
        start = i + 1
    out.append((start, len(text)))
    return [(a, b) for a, b in out if text[a:b].strip()]


# Placeholders of string templating that are no GoogleSQL: DB-API %s and %(name)s, str.format's
# {} and {name}, and :name binds.
_TEMPLATE = re.compile(r"%\(\w+\)s|%s|\{\w*\}|(?<=[\s=(,]):(?=[A-Za-z_]\w*)")


def with_parameters(text: str, holes: tuple[tuple[int, int], ...]) -> str:
    """A placeholder that stands alone (``WHERE id = {tenant}``) is a value: make it a query
    parameter (``@_____``, same length). One inside an identifier or a string stays underscores.
    Templating placeholders in plain strings (%s, {name}, :name) are treated the same way."""
    template = [(m.start(), m.end()) for m in _TEMPLATE.finditer(text)]
    chars = list(text)
    for a, b in template:  # same length, in place: rebuilding the string each time is quadratic
        chars[a:b] = "@" if b - a == 1 else "_" * (b - a)  # :name becomes @name
    text = "".join(chars)
    for a, b in [*holes, *((a, b) for a, b in template if b - a > 1)]:
        before = text[a - 1] if a > 0 else " "
        after = text[b] if b < len(text) else " "
        if not (before.isalnum() or before in "_.`'\"@") and not (after.isalnum() or after in "_.`'\""):
            chars[a] = "@"
    return "".join(chars)


def _suggest(name: str, choices: list[str]) -> str | None:
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if not match:
        match = difflib.get_close_matches(name.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
        match = [next(c for c in choices if c.lower() == match[0])] if match else []
    return match[0] if match else None


class SqlglotAnalyzer:
    """The default analyzer: sqlglot's BigQuery parser and bqmanage's own scoping."""

    def __init__(self, index: LegacyIndex) -> None:
        import sqlglot

        logging.getLogger("sqlglot").setLevel(logging.ERROR)  # it warns on syntax it falls back on
        self._sqlglot = sqlglot
        self.index = index
        self._columns: dict[tuple[str, str], dict[str, str] | None] = {}

    def check(self, sql: str) -> list[SqlIssue] | None:
        from sqlglot import exp
        from sqlglot.errors import SqlglotError

        try:
            tree = self._sqlglot.parse_one(sql, read="bigquery")
        except (SqlglotError, ValueError, RecursionError):
            return None
        if isinstance(tree, exp.Create) and isinstance(tree.expression, exp.Query):
            tree = tree.expression  # CREATE TABLE ... AS SELECT: the query reads tables
        if not isinstance(tree, (exp.Query, exp.Insert, exp.Update, exp.Delete, exp.Merge)):
            return []  # DDL on managed datasets is apply's job; other statements name no columns
        issues = self._tables(tree)
        issues += _Resolver(self.index, self._known).issues(tree)
        return issues

    def _known(self, table: exp.Table) -> dict[str, str] | None:
        """The columns of a defined managed table (lower-case -> as defined), else None; once per table."""
        key = (table.db, table.name)
        if key not in self._columns:
            defined = self.index.tables_by_dataset.get(table.db, {}).get(table.name) if table.db else None
            self._columns[key] = None if defined is None else {c.name.lower(): c.name for c in defined.columns}
        return self._columns[key]

    def _tables(self, tree: exp.Expr) -> list[SqlIssue]:
        from sqlglot import exp

        out = []
        for table in tree.find_all(exp.Table):
            dataset, name = table.db, table.name
            if not dataset or dataset not in self.index.managed or not name or NOT_DEFINED_TABLES.match(name):
                continue
            tables = self.index.tables_by_dataset.get(dataset, {})
            if name in tables or name in self.index.tables:
                continue  # defined, or a legacy name (that finding has the fix)
            suggestion = _suggest(name, sorted(tables))
            hint = f"; did you mean {dataset}.{suggestion}?" if suggestion else ""
            out.append(
                SqlIssue(
                    "unknown_table_reference",
                    _start(table.this),
                    f"{dataset}.{name}: no such table in the definitions of dataset {dataset}{hint}",
                    dataset,
                    name,
                    f"{dataset}.{name}",
                    f"{dataset}.{suggestion}" if suggestion else None,
                )
            )
        return out


def _start(node: Any) -> int:
    meta = getattr(node, "meta", None) or {}
    return int(meta.get("start", 0))


Sources = dict[str, "dict[str, str] | None"]  # alias -> known columns, or None when unknown


class _Resolver:
    """Resolve every column of one statement against the tables in its scope. A scope's sources and
    aliases are built once per scope node (by id; the tree outlives this), not once per column."""

    def __init__(self, index: LegacyIndex, known: Any) -> None:
        self.index = index
        self.known = known
        self._sources_cache: dict[int, tuple[Sources, dict[str, exp.Table]]] = {}
        self._aliases_cache: dict[int, set[str]] = {}

    def aliases(self, scope: exp.Expr) -> set[str]:
        cached = self._aliases_cache.get(id(scope))
        if cached is None:
            cached = self._aliases_cache[id(scope)] = _aliases(scope)
        return cached

    def issues(self, tree: exp.Expr) -> list[SqlIssue]:
        from sqlglot import exp

        out: list[SqlIssue] = []
        for column in tree.find_all(exp.Column):
            issue = self._column(column)
            if issue is not None:
                out.append(issue)
        if isinstance(tree, exp.Insert) and isinstance(tree.this, exp.Schema) and isinstance(tree.this.this, exp.Table):
            target = tree.this.this
            columns = self.known(target)
            allowed = columns.keys() | PSEUDO_COLUMNS if columns is not None else set()  # once, not per column
            for ident in tree.this.expressions if columns is not None else ():
                if isinstance(ident, exp.Identifier) and ident.name.lower() not in allowed:
                    out.append(self._unknown(ident.name, ident, target, columns))
        return out

    def _scopes(self, node: exp.Expr) -> list[exp.Expr]:
        from sqlglot import exp

        chain: list[exp.Expr] = []
        parent = node.parent
        while parent is not None:
            # A MERGE's WHEN ... THEN UPDATE/INSERT is part of the MERGE's scope, not one of its own.
            if isinstance(parent, (exp.Select, exp.Update, exp.Delete, exp.Merge)) and not isinstance(parent.parent, exp.When):
                chain.append(parent)
            parent = parent.parent
        return chain

    def _sources(self, scope: exp.Expr) -> tuple[Sources, dict[str, exp.Table]]:
        cached = self._sources_cache.get(id(scope))
        if cached is None:
            cached = self._sources_cache[id(scope)] = self._scope_sources(scope)
        return cached

    def _scope_sources(self, scope: exp.Expr) -> tuple[Sources, dict[str, exp.Table]]:
        from sqlglot import exp

        found: list[exp.Expr] = []
        if isinstance(scope, exp.Select):
            if scope.args.get("from_") is not None:
                found.append(scope.args["from_"].this)
            found += [j.this for j in scope.args.get("joins") or []]
        else:
            found.append(scope.this)
            for key in ("from_", "using"):
                value = scope.args.get(key)
                if isinstance(value, exp.From):
                    found.append(value.this)
                elif isinstance(value, exp.Expression):
                    found.append(value)
                elif isinstance(value, list):
                    found += value
            found += [j.this for j in scope.args.get("joins") or []]
        sources: Sources = {}
        tables: dict[str, exp.Table] = {}
        for source in found:
            alias = source.alias_or_name if isinstance(source, exp.Expression) else ""
            if isinstance(source, exp.Table):
                sources[alias] = self.known(source)
                tables[alias] = source
            else:  # a subquery, UNNEST or function: its columns are not known here
                sources[alias or f"#{len(sources)}"] = None
        return sources, tables

    def _column(self, column: exp.Column) -> SqlIssue | None:
        from sqlglot import exp

        name, qualifier = column.name, column.table
        if (
            isinstance(column.this, exp.Star)
            or not name
            or column.args.get("db") is not None
            or set(name) <= {"_"}
            or name.lower() in PSEUDO_COLUMNS
        ):
            return None
        scopes = self._scopes(column)
        if not scopes:
            return None
        if isinstance(scopes[0], exp.Merge) and self._merge_target_column(column, scopes[0]):
            target = scopes[0].this
            columns = self.known(target) if isinstance(target, exp.Table) else None
            if columns is None or name.lower() in columns:
                return None
            return self._unknown(name, column.this, target, columns)
        chain = [self._sources(scope) for scope in scopes]
        if qualifier:
            for sources, tables in chain:
                if qualifier in sources:
                    columns = sources[qualifier]
                    if columns is None or name.lower() in columns:
                        return None
                    return self._unknown(name, column.this, tables[qualifier], columns)
            return None  # a STRUCT column's field, or a name this resolver does not model
        every = [columns for sources, _ in chain for columns in sources.values()]
        if not every or any(columns is None for columns in every):
            return None
        if any(name.lower() in columns for columns in every if columns is not None):
            return None
        if any(name in sources for sources, _ in chain) or name.lower() in self.aliases(scopes[0]):
            return None  # a whole row by its alias, or a SELECT alias in GROUP BY / ORDER BY
        own_sources, own_tables = chain[0]
        table = next(iter(own_tables.values()), None)
        if table is None:
            return None
        return self._unknown(name, column.this, table, {k: v for c in own_sources.values() if c for k, v in c.items()})

    def _merge_target_column(self, column: exp.Column, merge: exp.Merge) -> bool:
        """A column MERGE assigns (UPDATE SET x =) or inserts (INSERT (x, ...)) is the target's."""
        from sqlglot import exp

        parent = column.parent
        if isinstance(parent, exp.EQ) and parent.this is column and isinstance(parent.parent, exp.Update):
            return parent.parent.parent is not None and isinstance(parent.parent.parent, exp.When)
        return isinstance(parent, exp.Tuple) and isinstance(parent.parent, exp.Insert) and parent.parent.this is parent

    def _unknown(self, name: str, node: Any, table: exp.Table, columns: dict[str, str]) -> SqlIssue:
        suggestion = _suggest(name, sorted(columns.values()))
        hint = f"; did you mean {suggestion}?" if suggestion else ""
        where = f"{table.db}.{table.name}" if table.db else table.name
        return SqlIssue(
            "unknown_column_reference",
            _start(node),
            f"{where}.{name}: no such column in the definition{hint}",
            table.db or None,
            table.name,
            name,
            suggestion,
        )


def _aliases(scope: exp.Expr) -> set[str]:
    from sqlglot import exp

    if not isinstance(scope, exp.Select):
        return set()
    return {e.alias.lower() for e in scope.expressions if isinstance(e, exp.Alias)}


_MANAGED_WORD_CACHE: dict[frozenset[str], re.Pattern[str]] = {}


def names_managed_dataset(sql: str, managed: frozenset[str]) -> bool:
    """Does the statement name a managed dataset at all? Everything else is not ours to check."""
    pattern = _MANAGED_WORD_CACHE.get(managed)
    if pattern is None:
        alternatives = "|".join(re.escape(d) for d in sorted(managed, key=len, reverse=True)) or r"(?!)"
        pattern = _MANAGED_WORD_CACHE[managed] = re.compile(rf"(?<![\w-])`?(?:{alternatives})`?\s*[.:`]")
    return pattern.search(sql) is not None


class GoogleSqlAnalyzer:
    """``--analyzer googlesql``: each statement resolved by Google's analyzer against a catalog of
    the definitions. Its "Table not found" for a table outside the managed datasets means the
    statement is not ours to check; any other rejection of a statement on a managed table is a
    finding with Google's own message."""

    def __init__(self, index: LegacyIndex, tables: tuple[Any, ...], notice: Any = None) -> None:
        from bqmanage.codeaudit.googlesql import googlesql

        self.google = googlesql(notice)
        self.index = index
        self.tables = tables

    def check(self, sql: str) -> list[SqlIssue] | None:
        from bqmanage.codeaudit.googlesql import GoogleSQLError

        canonical, referenced = _canonical_paths(sql, self.index)
        try:
            self.google.analyze(canonical, self.tables, undeclared_parameters=True)
        except GoogleSQLError as error:
            return self._issues(error, sql, referenced)
        return []

    def _issues(self, error: Any, sql: str, referenced: list[tuple[str, str]]) -> list[SqlIssue] | None:
        message = error.message
        starts = [0] + [m.end() for m in re.finditer(r"\n", sql)]
        at = starts[error.line - 1] + error.column - 1 if error.line and error.line <= len(starts) else 0
        dataset, table = referenced[0] if referenced else (None, None)
        if message.startswith("Syntax error"):
            return None
        if m := re.match(r"Table not found: `?([\w.-]+)`?(?:; Did you mean ([\w.]+)\?)?", message):
            parts = m.group(1).split(".")
            if (
                len(parts) < 2
                or parts[-2] not in self.index.managed
                or parts[-1] in self.index.tables
                or NOT_DEFINED_TABLES.match(parts[-1])
            ):
                return []  # someone else's table, a legacy name (that finding has the fix), a placeholder
            known = sorted(self.index.tables_by_dataset.get(parts[-2], {}))
            suggestion = (m.group(2) or "").split(".")[-1] or _suggest(parts[-1], known)
            return [
                SqlIssue(
                    "unknown_table_reference",
                    at,
                    message,
                    parts[-2],
                    parts[-1],
                    ".".join(parts[-2:]),
                    f"{parts[-2]}.{suggestion}" if suggestion else None,
                )
            ]
        m = (
            re.match(r"Unrecognized name: (\w+)(?:; Did you mean (\w+)\?)?", message)
            or re.match(r"Name (\w+) not found inside \w+(?:; Did you mean (\w+)\?)?", message)
            or re.match(r"Column (\w+) is not present in (?:target )?table()", message)
        )
        if m:
            if set(m.group(1)) <= {"_"}:
                return []  # an f-string placeholder where a name goes: unknown by design
            return [SqlIssue("unknown_column_reference", at, message, dataset, table, m.group(1), m.group(2) or None)]
        if re.search(r"not found|not supported|[Uu]nsupported", message):
            return []  # a function or feature Google's catalog lacks (a UDF, ML.*): cannot tell
        return [SqlIssue("sql_type_error", at, message, dataset, table)]


def _canonical_paths(sql: str, index: LegacyIndex) -> tuple[str, list[tuple[str, str]]]:
    """Managed table paths as ``dataset.table`` padded to their length: the catalog has no project
    level, and BigQuery resolves `proj.ds.t`, `proj`.`ds`.`t` and proj.ds.t alike."""
    from bqmanage.codeaudit.refs import PATH, path_parts

    out, referenced, last = [], [], 0
    for path in PATH.finditer(sql):
        parts = path_parts(path.group(), path.start())
        names = [p.name for p in parts]
        i = next((i for i in (0, 1) if i + 1 < len(names) and names[i] in index.managed), None)
        if i is None:
            continue
        referenced.append((names[i], names[i + 1]))
        canonical = ".".join(n if re.fullmatch(r"[A-Za-z_]\w*", n) else f"`{n}`" for n in names[i:])
        if len(canonical) <= len(path.group()):
            out += [sql[last : path.start()], canonical.ljust(len(path.group()))]
            last = path.end()
    out.append(sql[last:])
    return "".join(out), referenced
