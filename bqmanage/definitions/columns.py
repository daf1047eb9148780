"""Columns from their definitions: one converter for top-level columns, ``fields:`` entries and
the fields of an inline ``STRUCT<...>`` type, so that every level gets the same name, type,
parameter and limit rules (an inline field used to skip them, and apply failed half-way).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

from bqmanage.definitions.row_access import policy_tags_from_spec
from bqmanage.definitions.specs import ColumnSpec, shown, structure
from bqmanage.definitions.yaml_source import KeyPath, LineMap, format_key_path
from bqmanage.errors import Problem
from bqmanage.model.defaults import DefaultProblem, default_sql
from bqmanage.model.names import column_name_problem
from bqmanage.model.schema import Column, Mode
from bqmanage.model.types import (
    DECIMAL_LIMITS,
    MAX_NESTING,
    TIME_UNIT_TYPES,
    TypeSpec,
    TypeSyntaxError,
    param_problem,
    parse_type,
    type_params,
)

# https://docs.cloud.google.com/bigquery/quotas#standard_tables: "up to 10,000 columns. This
# includes nested and repeated columns." Every field counts, a RECORD and each of its fields alike.
MAX_COLUMNS = 10_000
_PARAM_KEYS = ("precision", "scale", "maxLength")
_WHOLE_NUMBER = re.compile(r"\s*[+-]?\d+\s*\Z")


@dataclass(frozen=True)
class Where:
    """Where a column's problems are reported. An inline STRUCT field has no YAML keys of its own,
    so its problems go to the ``type`` key of the column that spells it, naming the field."""

    path: KeyPath  # the column's key path, e.g. ("columns", 3)
    field: str | None = None  # the dotted path of an inline field, e.g. "meta.a"

    def key(self, key: str) -> KeyPath:
        return (*self.path, "type") if self.field is not None else (*self.path, key)

    def say(self, message: str) -> str:
        return f"field {self.field!r}: {message}" if self.field is not None else message

    def inline(self, name: str) -> Where:
        return Where(self.path, f"{self.field}.{name}" if self.field is not None else name)

    def label(self) -> str:
        return repr(self.field) if self.field is not None else format_key_path(self.path)


class _Out:
    """The problems of one file, and its line map to locate them."""

    def __init__(self, lines: LineMap, problems: list[Problem]) -> None:
        self.lines = lines
        self.problems = problems

    def add(self, where: Where, key: str, message: str) -> None:
        self.problems.append(self.lines.problem(where.key(key), where.say(message)))


def columns_from_specs(
    raw: list[Any], at: KeyPath, lines: LineMap, problems: list[Problem], depth: int = 0
) -> tuple[list[Column], set[str]]:
    """The columns of a ``columns:`` or ``fields:`` list, and the (lower-case) names of those too
    broken to convert, so that a reference to one is not reported again as "not a column"."""
    out = _Out(lines, problems)
    entries: list[tuple[str, Where, Callable[[], Column | None]]] = []
    broken: set[str] = set()
    for i, item in enumerate(raw):
        where = Where((*at, i))
        key = _column_key(item, depth)
        known = _CONVERTED.get(key) if key is not None else None
        if known is not None:
            entries.append((known.name, where, partial(_relocated, known, lines.line(where.path))))
            continue
        before = len(problems)
        spec = structure(ColumnSpec, item, where.path, lines, problems)
        if spec is None or len(problems) > before:
            name = item.get("name") if isinstance(item, dict) else None
            broken.update([name.lower()] if isinstance(name, str) else [])
            continue
        build = partial(_from_spec, spec, where, out, depth)
        entries.append((spec.name, where, build if key is None else partial(_keep, key, build, problems)))
    return _named(entries, out), broken


# Columns that converted without a problem, by what their YAML says and their depth: a warehouse
# of 500 tenant datasets spells the same columns 500 times, and only the line differs. Kept only
# for a flat mapping of text, whole numbers, booleans and nulls: ``fields:`` has lines of its own,
# and as keys 1, 1.0 and True are equal (the value's type is part of the key for the same reason).
_CONVERTED: dict[tuple[object, ...], Column] = {}
_CONVERTED_ENTRIES = 20_000


def _column_key(item: Any, depth: int) -> tuple[object, ...] | None:
    if type(item) is not dict or "fields" in item:
        return None
    key: list[object] = [depth]
    for name, value in item.items():
        kind = type(value)
        if kind is str:
            if len(value) > 256:
                return None
        elif kind is not int and kind is not bool and value is not None:
            return None
        key += (name, kind, value)
    return tuple(key)


def _keep(key: tuple[object, ...], build: Callable[[], Column | None], problems: list[Problem]) -> Column | None:
    before = len(problems)
    column = build()
    if column is not None and len(problems) == before:
        if len(_CONVERTED) >= _CONVERTED_ENTRIES:
            _CONVERTED.clear()
        _CONVERTED[key] = column
    return column


def _relocated(column: Column, line: int | None) -> Column:
    return column if column.line == line else column.model_copy(update={"line": line})


def _named(entries: list[tuple[str, Where, Callable[[], Column | None]]], out: _Out) -> list[Column]:
    """Names are valid and unique (case-insensitively) at each level; then each entry converts."""
    columns: list[Column] = []
    first: dict[str, Where] = {}
    for name, where, build in entries:
        if (why := column_name_problem(name)) is not None:
            out.add(where, "name", why)
        earlier = first.setdefault(name.lower(), where)
        if earlier is not where:
            kind = "column" if where.field is None else "field"
            out.add(where, "name", f"duplicate {kind} {name!r} (names are case-insensitive; first at {earlier.label()})")
        if (column := build()) is not None:
            columns.append(column)
    return columns


def _from_spec(spec: ColumnSpec, where: Where, out: _Out, depth: int) -> Column | None:
    try:
        parsed = parse_type(spec.type)
    except TypeSyntaxError as exc:
        out.add(where, "type", str(exc))
        return None
    return _convert(spec.name, parsed, spec, where, out, depth)


def _convert(name: str, parsed: TypeSpec, spec: ColumnSpec | None, where: Where, out: _Out, depth: int) -> Column | None:
    """The one converter from a parsed type (plus the column's keys, if it has any) to a Column."""
    mode = spec.mode.upper() if spec is not None and spec.mode else None
    if parsed.base == "ARRAY":
        if mode == "REQUIRED":
            out.add(where, "mode", "an ARRAY column cannot be REQUIRED (arrays are REPEATED)")
        if parsed.element is not None and parsed.element.base == "ARRAY":
            out.add(where, "type", "ARRAY of ARRAY is not allowed; wrap the inner array in a STRUCT")
            return None
        parsed, mode = parsed.element or parsed, "REPEATED"
    fields: tuple[Column, ...] = ()
    given = spec.fields if spec is not None else None
    if parsed.base == "STRUCT":
        if depth >= MAX_NESTING:
            out.add(
                where, "type", f"more than {MAX_NESTING} levels of nested STRUCT/RECORD; BigQuery allows at most {MAX_NESTING}"
            )
            return None
        if parsed.fields and given:
            out.add(where, "fields", "give the STRUCT fields inline in the type or under fields, not both")
        if given:
            fields = tuple(columns_from_specs(given, (*where.path, "fields"), out.lines, out.problems, depth + 1)[0])
        elif parsed.fields:
            fields = tuple(_inline_fields(parsed, where, out, depth + 1))
        else:
            out.add(where, "fields", "a STRUCT/RECORD column needs fields")
    elif given:
        out.add(where, "fields", f"fields are only allowed on STRUCT/RECORD, not {parsed.base}")
    if parsed.base == "RANGE" and parsed.range_element not in TIME_UNIT_TYPES:
        out.add(where, "type", "RANGE takes DATE, DATETIME or TIMESTAMP")
    precision, scale, max_length = _params(parsed, spec, where, out)
    column_mode = cast(Mode, mode or "NULLABLE")  # ColumnSpec allows only the three modes
    # An inline STRUCT field (spec None) has only a name and a type: no keys, no line of its own.
    default = None if spec is None else _default(spec, parsed.base, column_mode, precision, scale, max_length, where, out, depth)
    if spec is not None and spec.description is not None and len(spec.description) > 1024:
        out.add(where, "description", "column description is longer than 1,024 characters")
    tags = None
    if spec is not None:
        tags = policy_tags_from_spec(spec.policy_tags, spec.policyTags, parsed.base == "STRUCT", partial(out.add, where))
    return Column(
        name=name,
        type=parsed.base,
        mode=column_mode,
        precision=precision,
        scale=scale,
        max_length=max_length,
        range_element=parsed.range_element,
        fields=fields,
        default=default,
        description=None if spec is None else spec.description,
        reset=None if spec is None else spec.reset,
        policy_tags=tags,
        line=None if spec is None else out.lines.line(where.path),
    )


def _inline_fields(parsed: TypeSpec, where: Where, out: _Out, depth: int) -> list[Column]:
    """The fields of ``STRUCT<a INT64, b NUMERIC(10, 2)>``: the same converter, with no keys of their own."""
    entries: list[tuple[str, Where, Callable[[], Column | None]]] = [
        (field, where.inline(field), partial(_convert, field, sub, None, where.inline(field), out, depth))
        for field, sub in parsed.fields
    ]
    return _named(entries, out)


def _params(parsed: TypeSpec, spec: ColumnSpec | None, where: Where, out: _Out) -> tuple[int | None, int | None, int | None]:
    """Type parameters, from the type (``NUMERIC(10, 2)``) or from ``bq show --schema`` keys."""
    if not parsed.params and (spec is None or (spec.precision is None and spec.scale is None and spec.maxLength is None)):
        return None, None, None  # what most columns spell: nothing to judge
    keys = _param_keys(spec, where, out)
    given = [k for k in _PARAM_KEYS if spec is not None and getattr(spec, k) is not None]
    if len(keys) < len(given):
        return None, None, None  # a key that is not a number was reported; judging the rest would guess
    if parsed.params and given:
        out.add(where, given[0], f"{given[0]} is given in the type and as a key; give the parameters once")
        return None, None, None
    params = list(parsed.params)
    base = parsed.base
    if not params:
        precision, scale, max_length = keys.get("precision"), keys.get("scale"), keys.get("maxLength")
        if precision is not None and scale is None:
            scale = 0
    elif base not in DECIMAL_LIMITS and base not in ("STRING", "BYTES"):
        out.add(where, "type", f"{base} takes no parameters")
        return None, None, None
    else:
        if base in DECIMAL_LIMITS and len(params) > 2:
            out.add(where, "type", f"{base} takes at most (precision, scale)")
        if base in ("STRING", "BYTES") and len(params) > 1:
            out.add(where, "type", f"{base} takes one length parameter")
        precision, scale, max_length = type_params(parsed)
    if (why := param_problem(base, precision, scale, max_length)) is not None:
        out.add(where, given[0] if given else "type", why)
    return precision, scale, max_length


def _param_keys(spec: ColumnSpec | None, where: Where, out: _Out) -> dict[str, int]:
    values: dict[str, int] = {}
    for key in _PARAM_KEYS:
        value = getattr(spec, key) if spec is not None else None
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not _WHOLE_NUMBER.match(str(value)):
            out.add(where, key, f"{key} must be a whole number (got {shown(value)})")
        else:
            values[key] = int(value)
    return values


def _default(
    spec: ColumnSpec,
    base: str,
    mode: str,
    precision: int | None,
    scale: int | None,
    max_length: int | None,
    where: Where,
    out: _Out,
    depth: int,
) -> str | None:
    if "default" not in spec.model_fields_set:
        return None
    if depth > 0:
        out.add(where, "default", "defaults are allowed on top-level columns only")
        return None
    if spec.default is None:
        if mode == "REQUIRED":
            out.add(where, "default", "a REQUIRED column cannot have a NULL default")
        return None
    if mode == "REPEATED" or base == "STRUCT":
        out.add(where, "default", "bqmanage supports defaults on scalar columns only")
        return None
    try:
        value = spec.default
        if type(value) in (int, bool) or (type(value) is str and len(value) <= 64):
            return _known_default(type(value).__name__, value, base, precision, scale, max_length)
        return default_sql(value, base, precision, scale, max_length)
    except DefaultProblem as exc:
        out.add(where, "default", str(exc))
        return None


@functools.lru_cache(maxsize=4096)
def _known_default(kind: str, value: object, base: str, precision: int | None, scale: int | None, max_length: int | None) -> str:
    # The same few defaults (0, false, CURRENT_TIMESTAMP()) recur on every table of a warehouse. The
    # key names the value's type: 1, 1.0 and True are equal keys, and not the same default.
    return default_sql(value, base, precision, scale, max_length)


def column_count_problem(columns: list[Column]) -> str | None:
    """Why the table has more columns than BigQuery allows, counting nested fields, or None."""

    def count(column: Column) -> int:
        return 1 + sum(count(f) for f in column.fields)

    total = sum(count(c) for c in columns)
    if total > MAX_COLUMNS:
        return f"the table has {total:,} columns counting nested fields; BigQuery allows at most {MAX_COLUMNS:,}"
    return None
