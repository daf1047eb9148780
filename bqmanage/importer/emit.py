"""Emit stage of ``import``: the model -> definition files, written the way a person writes them.

The shipped files are the style guide (schemas/tenants/*.yaml): keys in a fixed order, a short
column as one flow mapping on one line, a STRUCT (or a column too long for one line) as a block
with its ``fields`` nested, defaults as YAML literals or the allowed functions. Every scalar is
plain where YAML reads it back as the same string, else double-quoted; every default is checked
to load back to the same canonical default before it is written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import yaml

from bqmanage.importer.access import access_lines
from bqmanage.model.defaults import DefaultProblem, _unquote, default_sql, normalize_default
from bqmanage.model.row_access import DEFAULT_GRANTEES
from bqmanage.model.schema import Column, Dataset, Partitioning, Table

# Lines up to this width (the project's own line length) stay one flow mapping; longer ones become blocks.
WIDTH = 130
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ .'/+%-]*\Z")
_PLAIN_BLOCK = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ .,'/+%-]*\Z")  # a comma ends a value only in flow style
# Characters written as escapes in a double-quoted scalar: what YAML refuses raw (PyYAML's
# NON_PRINTABLE), the line breaks it would fold (NEL, LS, PS), and the BOM.
_ESCAPED = re.compile('[^\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff"\\\\]')


@dataclass
class LiveDataset:
    """One live dataset and its tables, read into the model: what import writes definitions of."""

    dataset: Dataset
    tables: list[Table] = field(default_factory=list)


class Unexpressible(ValueError):
    """A live default that no definition can spell (an expression beyond a literal or the allowed functions)."""


def scalar(value: object, block: bool = False) -> str:
    """One YAML scalar, as short as it can be while reading back as the same value (``block``: as
    the value of a block mapping, where a comma needs no quotes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    if (_PLAIN_BLOCK if block else _PLAIN).match(text) and not text.endswith(" ") and _reads_back(text, text, block):
        return text
    return '"' + _ESCAPED.sub(_escape, text) + '"'


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in '"\\':
        return "\\" + char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _reads_back(text: str, value: object, block: bool = False) -> bool:
    try:
        in_flow = block or yaml.safe_load(f"{{k: {text}}}") == {"k": value}
        return bool(in_flow and yaml.safe_load(f"k: {text}") == {"k": value})
    except yaml.YAMLError:
        return False


def _float(value: float) -> str:
    text = repr(value)
    if "e" in text and "." not in text:
        text = text.replace("e", ".0e")  # YAML 1.1 reads 1e+30 as a string, 1.0e+30 as a float
    elif "." not in text and "e" not in text:
        text += ".0"
    return text


def default_value(column: Column) -> object:
    """The YAML value of a live column's default: loading it gives back the same default."""
    text = column.default
    assert text is not None
    for value in _candidates(column.type, text):
        try:
            loaded = default_sql(value, column.type, column.precision, column.scale, column.max_length)
        except DefaultProblem:
            continue
        if normalize_default(loaded) == normalize_default(text):
            return value
    raise Unexpressible(f"default {text} is not a literal or one of the functions a definition allows")


def _candidates(type_: str, text: str) -> list[object]:
    """What a person would write for ``text``, most natural first."""
    out: list[object] = []
    if type_ == "BOOL" and text.upper() in ("TRUE", "FALSE"):
        out.append(text.upper() == "TRUE")
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is not None and number.is_finite():
        if number == number.to_integral_value() and type_ != "FLOAT64":
            out.append(int(number))
        as_float = float(number)
        if math.isfinite(as_float) and Decimal(repr(as_float)) == number:
            out.append(as_float)
        out.append(text)  # a quoted decimal keeps every digit
    for prefix in ("DATE ", "DATETIME ", "TIME ", "TIMESTAMP "):
        if text.upper().startswith(prefix) and text[len(prefix) :][:1] in ("'", '"'):
            literal = _unquote(text[len(prefix) :])
            if prefix == "DATE ":
                with contextlib.suppress(ValueError):  # a date YAML reads as one, if it is one
                    out.append(dt.date.fromisoformat(literal))
            out.append(literal)
    if text[:1] in ("b", "B") and text[1:2] in ("'", '"'):
        out.append(_unquote(text[1:]))
    elif text[:1] in ("'", '"'):
        out.append(_unquote(text))
    out.append(text)  # a function: CURRENT_TIMESTAMP(), ST_GEOGPOINT(x, y)
    return out


def type_text(column: Column) -> str:
    """The ``type`` a person writes: STRUCT with nested fields, REPEATED as a mode, parameters inline."""
    return "STRUCT" if column.type == "STRUCT" else column.element_type_sql()


def column_items(column: Column) -> list[tuple[str, str]]:
    """The keys of one column, in the house order: name, type, mode, default, reset, description."""
    items = [("name", scalar(column.name)), ("type", scalar(type_text(column)))]
    if column.mode != "NULLABLE":
        items.append(("mode", column.mode))
    if column.default is not None:
        items.append(("default", scalar(default_value(column))))
    if column.reset is not None:
        items.append(("reset", column.reset))
    if column.description:
        items.append(("description", scalar(column.description)))
    if column.policy_tags:
        items.append(("policy_tags", "[" + ", ".join(scalar(t) for t in column.policy_tags) + "]"))
    return items


def column_lines(column: Column, indent: str) -> list[str]:
    """A column as list-item lines: one flow mapping when short, else a block (always for a STRUCT)."""
    items = column_items(column)
    flow = f"{indent}- {{{', '.join(f'{k}: {v}' for k, v in items)}}}"
    if not column.fields and len(flow) <= WIDTH:
        return [flow]
    inner = indent + "  "
    blocked = [(k, scalar(column.description, block=True) if k == "description" else v) for k, v in items]
    lines = [f"{indent}- {blocked[0][0]}: {blocked[0][1]}"] + [f"{inner}{k}: {v}" for k, v in blocked[1:]]
    if column.fields:
        lines.append(f"{inner}fields:")
        for field in column.fields:
            lines += column_lines(field, inner + "  ")
    return lines


def _flow(mapping: dict[str, object], raw: tuple[str, ...] = ()) -> str:
    """A one-line flow mapping; the ``raw`` keys hold text that is already YAML."""
    return "{" + ", ".join(f"{scalar(k)}: {v if k in raw else scalar(v)}" for k, v in mapping.items()) + "}"


def partitioning_text(partitioning: Partitioning) -> str:
    items: dict[str, object] = {}
    if partitioning.column:
        items["column"] = partitioning.column
    if partitioning.range is not None:
        r = partitioning.range
        items["range"] = f"{{start: {r.start}, end: {r.end}, interval: {r.interval}}}"
    elif partitioning.granularity != "DAY" or not partitioning.column:
        items["granularity"] = partitioning.granularity
    return _flow(items, raw=("range",))


def _days(days: float) -> object:
    return int(days) if days == int(days) else days


def table_yaml(
    table: Table, header: list[str] | None = None, quota: dict[str, object] | None = None, comments: list[str] | None = None
) -> str:
    """One table file: ``header`` lines become comments at the top; ``quota`` is a quota section
    kept as it was written (bqmanage's own, like ``legacy_names`` and each column's ``reset``);
    ``comments`` are the comment lines that opened the file import replaces, kept as they were."""
    lines = [*(comments or []), *(f"# {line}" for line in header or [])]
    lines.append(f"table: {scalar(table.name, block=True)}")
    if table.description:
        lines.append(f"description: {scalar(table.description, block=True)}")
    if table.friendly_name:
        lines.append(f"friendly_name: {scalar(table.friendly_name, block=True)}")
    if table.labels:
        lines.append(f"labels: {_flow(dict(table.labels))}")
    if table.legacy_names:
        lines.append(f"legacy_names: [{', '.join(scalar(n) for n in table.legacy_names)}]")
    if table.partitioning is not None:
        lines.append(f"partitioning: {partitioning_text(table.partitioning)}")
    if table.clustering:
        lines.append(f"clustering: [{', '.join(scalar(c) for c in table.clustering)}]")
    if table.partition_expiration_days is not None:
        lines.append(f"partition_expiration_days: {scalar(_days(table.partition_expiration_days))}")
    if table.require_partition_filter:
        lines.append("require_partition_filter: true")
    if quota:
        lines.append("quota:")
        lines += [f"  {scalar(k)}: {scalar(v)}" for k, v in quota.items()]
    if (access := table.row_access) is not None and access.member:  # no member: import said why
        lines += ["row_access:", f"  tenant_column: {scalar(access.tenant_column)}", f"  members: {scalar(access.members)}"]
        lines.append(f"  member: {scalar(access.member)}")
        if access.grant_to != DEFAULT_GRANTEES:
            lines.append(f"  grant_to: [{', '.join(scalar(g) for g in access.grant_to)}]")
    lines.append("columns:")
    for column in table.columns:
        lines += column_lines(column, "  ")
    return "\n".join(lines) + "\n"


def dataset_yaml(dataset: Dataset, header: list[str] | None = None, *, name_it: bool = False) -> str | None:
    """The ``_dataset.yaml`` of a dataset, or None when it would say nothing (``name_it``: always
    write one, naming the dataset, as an empty dataset needs it to exist)."""
    lines = [f"# {line}" for line in header or []]
    body = []
    if dataset.description:
        body.append(f"description: {scalar(dataset.description, block=True)}")
    if dataset.location:
        body.append(f"location: {scalar(dataset.location)}")
    if dataset.labels:
        body.append(f"labels: {_flow(dict(dataset.labels))}")
    body += access_lines(dataset, scalar)
    if not body and not name_it:
        return None
    if not body:
        body.append(f"dataset: {scalar(dataset.name)}")
    return "\n".join(lines + body) + "\n"
