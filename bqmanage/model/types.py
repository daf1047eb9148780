"""BigQuery data types: parsing inline type strings, canonical names and parameter rules.

Both sides of a comparison are normalised here, so that ``INTEGER`` (REST, legacy) and
``INT64`` (GoogleSQL) or ``NUMERIC(10,2)`` and ``NUMERIC(10, 2)`` compare equal.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

CANONICAL = (
    "INT64",
    "FLOAT64",
    "NUMERIC",
    "BIGNUMERIC",
    "BOOL",
    "STRING",
    "BYTES",
    "DATE",
    "DATETIME",
    "TIME",
    "TIMESTAMP",
    "GEOGRAPHY",
    "JSON",
    "INTERVAL",
    "STRUCT",
    "RANGE",
)
ALIASES = {
    "INTEGER": "INT64",
    "INT": "INT64",
    "SMALLINT": "INT64",
    "BIGINT": "INT64",
    "TINYINT": "INT64",
    "BYTEINT": "INT64",
    "FLOAT": "FLOAT64",
    "BOOLEAN": "BOOL",
    "RECORD": "STRUCT",
    "DECIMAL": "NUMERIC",
    "BIGDECIMAL": "BIGNUMERIC",
}
# The REST API and `bq show --schema` spell these with legacy names.
LEGACY = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "STRUCT": "RECORD"}
# The types a RANGE holds, and the types of a time-unit partition column.
TIME_UNIT_TYPES = ("DATE", "DATETIME", "TIMESTAMP")
# STRING(L) and BYTES(L): "L is a positive INT64 value"
# (https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/data-types#parameterized_string_type).
MAX_LENGTH = 2**63 - 1
# NUMERIC(P, S) and BIGNUMERIC(P, S): (integer digits P - S may reach, largest scale S). Without
# parameters they hold exactly that much: NUMERIC is (38, 9), BIGNUMERIC (76.76, 38)
# (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#decimal_types).
DECIMAL_LIMITS = {"NUMERIC": (29, 9), "BIGNUMERIC": (38, 38)}


class TypeSyntaxError(ValueError):
    """An inline type string does not parse."""


def canonical_name(name: str) -> str | None:
    """The canonical GoogleSQL name of a type name, or None when unknown."""
    upper = name.strip().upper()
    upper = ALIASES.get(upper, upper)
    return upper if upper in CANONICAL else None


@dataclass(frozen=True)
class TypeSpec:
    """A parsed inline type: ``ARRAY<STRUCT<a NUMERIC(10, 2)>>`` and friends."""

    base: str
    params: tuple[int, ...] = ()
    element: TypeSpec | None = None  # ARRAY<element>
    fields: tuple[tuple[str, TypeSpec], ...] = field(default=())  # STRUCT<name type, ...>
    range_element: str | None = None  # RANGE<DATE>


_TOKEN = re.compile(r"\s*(?:(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>\d+)|(?P<sym>[<>(),]))")


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise TypeSyntaxError(f"unexpected {text[pos:].strip()[:10]!r} in type {text!r}")
        tokens.append(match.group("word") or match.group("num") or match.group("sym"))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            want = f"{expected!r}" if expected else "more"
            raise TypeSyntaxError(f"expected {want} in type {self.text!r}")
        self.pos += 1
        return token

    def parse(self) -> TypeSpec:
        spec = self.type()
        if self.peek() is not None:
            raise TypeSyntaxError(f"unexpected {self.peek()!r} in type {self.text!r}")
        return spec

    def type(self, depth: int = 0) -> TypeSpec:
        # Far deeper than BigQuery's 15 levels (validation says that, per field): this only keeps
        # the recursive parser away from Python's recursion limit, whatever the YAML says.
        if depth > _PARSE_DEPTH:
            raise TypeSyntaxError(f"type {self.text[:60]!r}... nests more than {_PARSE_DEPTH} levels")
        word = self.take()
        upper = word.upper()
        if upper == "ARRAY":
            self.take("<")
            element = self.type(depth + 1)
            self.take(">")
            return TypeSpec("ARRAY", element=element)
        if upper in ("STRUCT", "RECORD"):
            if self.peek() != "<":
                return TypeSpec("STRUCT")  # fields given separately, as in `bq show --schema`
            self.take("<")
            fields: list[tuple[str, TypeSpec]] = []
            while True:
                name = self.take()
                fields.append((name, self.type(depth + 1)))
                if self.peek() == ",":
                    self.take(",")
                    continue
                self.take(">")
                return TypeSpec("STRUCT", fields=tuple(fields))
        if upper == "RANGE":
            self.take("<")
            element_name = canonical_name(self.take()) or "?"
            self.take(">")
            return TypeSpec("RANGE", range_element=element_name)
        base = canonical_name(word)
        if base is None:
            raise TypeSyntaxError(f"unknown type {word!r}")
        params: list[int] = []
        if self.peek() == "(":
            self.take("(")
            while True:
                token = self.take()
                if not token.isdigit():
                    raise TypeSyntaxError(f"type parameter {token!r} is not a number")
                params.append(int(token))
                if self.peek() == ",":
                    self.take(",")
                    continue
                self.take(")")
                break
        return TypeSpec(base, params=tuple(params))


# https://cloud.google.com/bigquery/docs/nested-repeated#limitations (nested RECORD levels).
MAX_NESTING = 15
_PARSE_DEPTH = 100


def parse_type(text: str) -> TypeSpec:
    """Parse an inline GoogleSQL type string; raises TypeSyntaxError."""
    # A warehouse spells the same few types thousands of times (500 datasets, 20,000 columns);
    # TypeSpec is immutable, so each spelling is parsed once. Long strings are not kept.
    return _parse_cached(text) if len(text) <= 256 else _Parser(text).parse()


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> TypeSpec:
    return _Parser(text).parse()


def type_params(spec: TypeSpec) -> tuple[int | None, int | None, int | None]:
    """(precision, scale, max_length) that a type spells itself: ``NUMERIC(10, 2)``, ``STRING(8)``."""
    if spec.base in DECIMAL_LIMITS and spec.params:
        return spec.params[0], (spec.params[1] if len(spec.params) > 1 else 0), None
    if spec.base in ("STRING", "BYTES") and spec.params:
        return None, None, spec.params[0]
    return None, None, None


def param_problem(base: str, precision: int | None, scale: int | None, max_length: int | None) -> str | None:
    """Why the parameters do not fit the type, or None (data-types#parameterized_data_types)."""
    if max_length is not None:
        if base not in ("STRING", "BYTES"):
            return f"{base} takes no length parameter"
        if max_length < 1:
            return f"{base}({max_length}): length must be at least 1"
        if max_length > MAX_LENGTH:
            return f"{base}({max_length}): length must be at most {MAX_LENGTH} (a positive INT64)"
    if precision is None and scale is None:
        return None
    if base not in DECIMAL_LIMITS:
        return f"{base} takes no precision or scale"
    if precision is None:
        return f"{base}: scale given without precision"
    s = scale or 0
    span, max_scale = DECIMAL_LIMITS[base]
    if not 0 <= s <= max_scale:
        return f"{base}({precision}, {s}): scale must be between 0 and {max_scale}"
    if not max(1, s) <= precision <= s + span:
        return f"{base}({precision}, {s}): precision must be between {max(1, s)} and {s + span}"
    return None
