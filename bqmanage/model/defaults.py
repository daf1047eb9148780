"""Column DEFAULT expressions: what the YAML may say, and one canonical spelling for comparing.

BigQuery allows a literal or one of a few functions, of the column's type
(default-values#default_value_expression). The live side (INFORMATION_SCHEMA, tables.get,
the local side table) is normalised with ``normalize_default`` so that ``0`` and ``0.00`` or
``'x'`` and ``"x"`` compare equal.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Context, Decimal, InvalidOperation

from bqmanage.model.names import string_literal
from bqmanage.model.temporal import FORMATS, literal_problem

FUNCTIONS = {
    "CURRENT_DATE": "DATE",
    "CURRENT_DATETIME": "DATETIME",
    "CURRENT_TIME": "TIME",
    "CURRENT_TIMESTAMP": "TIMESTAMP",
    "GENERATE_UUID": "STRING",
    "RAND": "FLOAT64",
    "SESSION_USER": "STRING",
}
_CALL = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\s*\)\s*\Z")
_GEOGPOINT = re.compile(r"\s*ST_GEOGPOINT\s*\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)\s*\Z", re.I)
_TYPED = re.compile(r"\s*(DATE|DATETIME|TIME|TIMESTAMP|JSON|NUMERIC|BIGNUMERIC)\s+(['\"].*['\"])\s*\Z", re.I | re.S)
_NUMBER_TYPES = ("INT64", "FLOAT64", "NUMERIC", "BIGNUMERIC")
_TEMPORAL = ("DATE", "DATETIME", "TIME", "TIMESTAMP")


class DefaultProblem(ValueError):
    """The YAML default is not allowed for the column."""


def default_sql(
    value: object,
    type_: str,
    precision: int | None = None,
    scale: int | None = None,
    max_length: int | None = None,
) -> str:
    """Turn a YAML default into canonical GoogleSQL for a column of ``type_``."""
    if isinstance(value, str):
        call = _CALL.match(value)
        if call:
            name = call.group(1).upper()
            if name not in FUNCTIONS:
                allowed = ", ".join(f"{f}()" for f in FUNCTIONS)
                raise DefaultProblem(f"default {value!r} is not allowed; use a literal or one of {allowed}, ST_GEOGPOINT(x, y)")
            if FUNCTIONS[name] != type_:
                raise DefaultProblem(f"default {name}() returns {FUNCTIONS[name]}, not {type_}")
            return f"{name}()"
        point = _GEOGPOINT.match(value)
        if point:
            if type_ != "GEOGRAPHY":
                raise DefaultProblem(f"default ST_GEOGPOINT returns GEOGRAPHY, not {type_}")
            return f"ST_GEOGPOINT({point.group(1)}, {point.group(2)})"
    if type_ == "BOOL":
        if not isinstance(value, bool):
            raise DefaultProblem(f"default {value!r} is not a BOOL (use true or false)")
        return "TRUE" if value else "FALSE"
    if type_ in _NUMBER_TYPES:
        return _number_default(value, type_, precision, scale)
    if type_ in ("STRING", "BYTES"):
        if not isinstance(value, str):
            raise DefaultProblem(f"default {value!r} is not a {type_} (quote it)")
        if max_length is not None and len(value) > max_length:
            raise DefaultProblem(f"default {value!r} is longer than {type_}({max_length})")
        return ("B" if type_ == "BYTES" else "") + string_literal(value)
    if type_ in _TEMPORAL:
        text = (
            value.isoformat(sep=" ")
            if isinstance(value, dt.datetime)
            else value.isoformat()
            if isinstance(value, (dt.date, dt.time))
            else value
        )
        if not isinstance(text, str):
            # YAML 1.1 reads an unquoted 10:00:00 as the number 36000.
            raise DefaultProblem(f"default {value!r} is not a {type_} literal; quote it ({FORMATS[type_]})")
        if (why := literal_problem(type_, text)) is not None:
            raise DefaultProblem(why)
        return f"{type_} {string_literal(text)}"
    raise DefaultProblem(f"a default on a {type_} column must be one of the allowed functions")


_INT64 = (-(2**63), 2**63 - 1)


def _number_default(value: object, type_: str, precision: int | None, scale: int | None) -> str:
    if isinstance(value, str) and type_ in ("NUMERIC", "BIGNUMERIC"):
        # A quoted decimal keeps every digit; YAML would read an unquoted one as a float.
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise DefaultProblem(f"default {value!r} is not a number for {type_}") from None
        if not value.is_finite():
            raise DefaultProblem(f"default {value} is not a finite number for {type_}")
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise DefaultProblem(f"default {value!r} is not a number for {type_}")
    if type_ == "INT64" and not isinstance(value, int):
        raise DefaultProblem(f"default {value!r} is not an INT64")
    if type_ == "INT64" and not _INT64[0] <= value <= _INT64[1]:
        raise DefaultProblem(f"default {value} is outside INT64 ({_INT64[0]} to {_INT64[1]})")
    if isinstance(value, float) and not math.isfinite(value):
        raise DefaultProblem(f"default {value} is not a finite number for {type_}")
    number = Decimal(str(value))
    if precision is not None:
        digits = len(str(abs(int(number)))) if int(number) else 0
        if digits > precision - (scale or 0):
            raise DefaultProblem(f"default {value} does not fit {type_}({precision}, {scale or 0})")
    return _canonical_number(number)


def _canonical_number(number: Decimal) -> str:
    # Wide enough for BIGNUMERIC's 76 digits: the default context would round to 28.
    text = format(number.normalize(Context(prec=100)), "f")
    return "0" if text in ("-0", "0") else text


def default_expression(type_: str, default: str) -> str:
    """A canonical default as BigQuery must read it, wherever a default appears (CREATE, SET
    DEFAULT, the backfill, the reset, tables.patch). A bare number is an INT64 or FLOAT64 literal
    to GoogleSQL: 12345678901234567890 is an invalid integer literal, and a FLOAT64 of 1e30 must
    not become a 31-digit integer. So NUMERIC and BIGNUMERIC get typed literals and FLOAT64 the
    shortest float spelling
    (https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#numeric_literals)."""
    if type_ in ("NUMERIC", "BIGNUMERIC", "FLOAT64"):
        try:
            number = Decimal(default)
        except InvalidOperation:
            return default  # a function, e.g. RAND()
        if type_ == "FLOAT64":
            text = repr(float(number))
            return text if any(c in text for c in ".en") else f"{text}.0"
        return f"{type_} {string_literal(_canonical_number(number))}"
    return default


def normalize_default(text: str | None) -> str | None:
    """Canonical spelling of a live default expression, for comparing with the definitions."""
    if text is None:
        return None
    text = text.strip()
    if not text or text.upper() == "NULL":
        return None
    call = _CALL.match(text)
    if call:
        return f"{call.group(1).upper()}()"
    point = _GEOGPOINT.match(text)
    if point:
        return f"ST_GEOGPOINT({point.group(1)}, {point.group(2)})"
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper()
    try:
        return _canonical_number(Decimal(text))
    except InvalidOperation:
        pass
    typed = _TYPED.match(text)
    if typed and typed.group(1).upper() in ("NUMERIC", "BIGNUMERIC"):
        try:
            return _canonical_number(Decimal(_unquote(typed.group(2))))
        except InvalidOperation:
            pass
    if typed:
        return f"{typed.group(1).upper()} {string_literal(_unquote(typed.group(2)))}"
    if text[:1] in ("b", "B") and text[1:2] in ("'", '"'):
        return "B" + string_literal(_unquote(text[1:]))
    if text[:1] in ("'", '"') and text[-1:] == text[:1]:
        return string_literal(_unquote(text))
    return text


# GoogleSQL's escape sequences (lexical#escape_sequences): hex, Unicode, octal, the named ones.
_ESCAPE = re.compile(r"\\([xX][0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.S)
_NAMED_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unescaped(match: re.Match[str]) -> str:
    sequence = match.group(1)
    if len(sequence) > 1:
        return chr(int(sequence, 8)) if sequence.isdigit() else chr(int(sequence[1:], 16))
    return _NAMED_ESCAPES.get(sequence, sequence)


def _unquote(literal: str) -> str:
    return _ESCAPE.sub(_unescaped, literal[1:-1])
