"""BigQuery identifier rules and quoting, in one place.

Every identifier is validated against BigQuery's rules before it is quoted and formatted into
SQL; values never are (they go in query parameters). Rules:
https://cloud.google.com/bigquery/docs/datasets#dataset-naming,
https://cloud.google.com/bigquery/docs/tables#table_naming and
https://cloud.google.com/bigquery/docs/schemas#column_names.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DATASET = re.compile(r"[A-Za-z0-9_]+\Z")
_PROJECT = re.compile(r"([a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]\Z")
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}\Z")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}\Z")
# https://docs.cloud.google.com/bigquery/docs/schemas#column_names
RESERVED_COLUMN_PREFIXES = (
    "_TABLE_",
    "_FILE_",
    "_PARTITION",
    "_ROW_TIMESTAMP",
    "__ROOT__",
    "_COLIDENTIFIER",
    "_CHANGE_SEQUENCE_NUMBER",
    "_CHANGE_TYPE",
    "_CHANGE_TIMESTAMP",
)
_TABLE_CATEGORIES = ("L", "M", "N", "Pc", "Pd", "Zs")
# bqmanage's own names: the ledger table in every dataset it manages and the local engine's side
# schema. DuckDB folds case, so every spelling of the prefix would collide there.
RESERVED_PREFIX = "_bqmanage"


def column_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid BigQuery column name, or None."""
    # The same column names recur in every dataset of a warehouse: each is judged once.
    return _column_name_problem(name) if len(name) <= 300 else f"column name {name[:20]!r}... is longer than 300 characters"


@functools.lru_cache(maxsize=4096)
def _column_name_problem(name: str) -> str | None:
    if not name:
        return "column name is empty"
    if not _COLUMN.match(name):
        return f"invalid column name {name!r}: use letters, digits and underscores, starting with a letter or underscore"
    upper = name.upper()
    for prefix in RESERVED_COLUMN_PREFIXES:
        if upper.startswith(prefix):
            return f"column name {name!r} uses the reserved prefix {prefix!r}"
    return None


def dataset_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid dataset name, or None."""
    if not name or len(name) > 1024 or not _DATASET.match(name):
        return f"invalid dataset name {name!r}: use 1-1024 letters, digits and underscores"
    return None


def table_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid table name, or None."""
    # Every tenant dataset repeats the same table names (and legacy names): each is judged once.
    return _table_name_problem(name) if len(name) <= 1024 else f"invalid table name {name!r}: use 1-1024 bytes"


@functools.lru_cache(maxsize=4096)
def _table_name_problem(name: str) -> str | None:
    if not name or len(name.encode()) > 1024:
        return f"invalid table name {name!r}: use 1-1024 bytes"
    for char in name:
        if not unicodedata.category(char).startswith(_TABLE_CATEGORIES):
            return f"invalid table name {name!r}: character {char!r} is not allowed"
    return None


def is_own(name: str) -> bool:
    """Whether a live dataset or table is bqmanage's own (the ledger, the local engine's side
    schema), which no definition names, check never compares, and import never writes."""
    return name.lower().startswith(RESERVED_PREFIX)


def reserved_name_problem(name: str, kind: str) -> str | None:
    """Why a dataset or table (``kind``) may not be called ``name`` under bqmanage, or None."""
    if is_own(name):
        return (
            f"{kind} name {name!r}: the prefix {RESERVED_PREFIX!r} is reserved for bqmanage's ledger "
            f"({RESERVED_PREFIX}_migrations) and the local engine's {RESERVED_PREFIX} schema, in any case"
        )
    return None


def project_problem(project: str) -> str | None:
    """Why ``project`` is not a valid project id, or None."""
    if not _PROJECT.match(project):
        return f"invalid project id {project!r}: 6-30 lowercase letters, digits and hyphens, starting with a letter"
    return None


# https://cloud.google.com/bigquery/docs/labels-intro#requirements
MAX_LABELS = 64


def label_problem(key: str, value: str) -> str | None:
    """Why a label pair is invalid, or None (labels-intro#requirements)."""
    if not _LABEL_KEY.match(key):
        return f"invalid label key {key!r}: lowercase letters, digits, '_' or '-', starting with a letter"
    if not _LABEL_VALUE.match(value):
        return f"invalid label value {value!r} for {key!r}: lowercase letters, digits, '_' or '-'"
    return None


def quote(identifier: str) -> str:
    """Backtick-quote one validated identifier part."""
    return "`" + identifier.replace("\\", "\\\\").replace("`", "\\`") + "`"


# Characters a string literal writes as an escape, so that the SQL text holds none raw: C0
# controls, DEL, C1 controls, the line and paragraph separators, bidirectional overrides and the
# BOM (as terminal.printable escapes them), besides the backslash and the quote.
_LITERAL_ESCAPED = re.compile('[\\\\"\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]')
_LITERAL_NAMED = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _literal_escape(match: re.Match[str]) -> str:
    char = match.group()
    # GoogleSQL's \xHH is a byte: beyond ASCII a character is written \uHHHH.
    return _LITERAL_NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x80 else f"\\u{ord(char):04x}")


def string_literal(value: str) -> str:
    """A GoogleSQL double-quoted string literal with escapes
    (https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#escape_sequences): the
    same value, and no raw control character in the SQL text, so that the DDL render prints is the
    text plan and apply send, byte for byte, and a terminal shows it as it is."""
    return f'"{_LITERAL_ESCAPED.sub(_literal_escape, value)}"'
