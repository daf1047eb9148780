"""The shapes of the definition files (pydantic), and how a shape error becomes a located problem.

Each part of a file (the table's own keys, each column, each STRUCT field, partitioning, quota)
is checked on its own, so that one structural error (a misspelt key, a bad mode) hides nothing
else: the rest of the file still goes through BigQuery's rules.
"""

from __future__ import annotations

import difflib
import typing
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from bqmanage.definitions.yaml_source import KeyPath, LineMap
from bqmanage.errors import Problem
from bqmanage.model.schema import RangePartitioning

S = TypeVar("S", bound=BaseModel)


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    @field_validator("description", "friendly_name", "default", check_fields=False)
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # A NUL ends a C string: text holding one is cut short or refused somewhere on its way to
        # BigQuery and back, and would then drift for ever.
        if isinstance(value, str) and "\0" in value:
            raise ValueError("text holds a NUL character (\\0), which is not allowed")
        return value


# A number of days (an int or a float, never a string or a bool) and a strict bool: pydantic's lax
# mode reads "yes", "1" or 1 as true and "1e300" as a number, which the author did not write.
Days = Annotated[float, Field(strict=True)]


class ColumnSpec(Spec):
    name: str
    type: str
    mode: Literal["NULLABLE", "REQUIRED", "REPEATED", "nullable", "required", "repeated"] | None = None
    description: str | None = None
    fields: list[Any] | None = None  # each one a ColumnSpec, checked on its own
    default: Any = None
    reset: Literal["daily", "monthly", "carry", "now", "generated"] | None = None
    # `bq show --schema` spells parameters as separate keys, as strings; the converter reads them.
    precision: Any = None
    scale: Any = None
    maxLength: Any = None
    policyTags: Any = None  # as `bq show --schema` prints it: {names: [...]}
    policy_tags: list[str] | None = None


class PartitioningSpec(Spec):
    column: str | None = None
    granularity: Literal["HOUR", "DAY", "MONTH", "YEAR"] = "DAY"
    range: RangePartitioning | None = None


class TableSpec(Spec):
    table: str | None = None
    description: str | None = None
    friendly_name: str | None = None
    labels: dict[str, str] = {}
    legacy_names: list[str] = []
    partitioning: Any = None  # a PartitioningSpec, checked on its own
    clustering: list[str] = []
    partition_expiration_days: Days | None = None
    require_partition_filter: StrictBool | None = None
    quota: Any = None  # the model's QuotaSpec, checked on its own
    row_access: Any = None  # a RowAccessSpec, checked on its own (definitions/row_access.py)
    columns: list[Any]  # each one a ColumnSpec, checked on its own


class DatasetSpec(Spec):
    dataset: str | None = None
    description: str | None = None
    location: str | None = None
    labels: dict[str, str] = {}
    access: list[Any] | None = None  # each one an AccessSpec (definitions/access.py), checked on its own
    access_exclusive: StrictBool = False


def structure(spec: type[S], data: Any, at: KeyPath, lines: LineMap, problems: list[Problem], partial: bool = False) -> S | None:
    """``data`` as ``spec``, or None after adding one problem per bad key.

    With ``partial``, a spec with only some bad keys is built again without them, so that the
    caller can still check the rest (it must not accept the result: problems were added). Use
    it only where a dropped key cannot cause a false problem elsewhere: a column whose bad
    ``reset`` is dropped would be reported again as having no reset policy.
    """
    if not isinstance(data, dict):
        if not at:
            problems.append(lines.problem(at, "expected a mapping of keys at the top of the file"))
        else:
            problems.append(lines.problem(at, f"expected a mapping of keys (got {shown(data)})"))
        return None
    try:
        return spec.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
    seen: set[tuple[str, int | None, str]] = set()
    for err in errors:
        problem = _problem(spec, err, at, lines, data)
        key = (problem.path, problem.line, problem.key_path)
        if key not in seen:  # a union (int | str) fails once per member; say it once
            seen.add(key)
            problems.append(problem)
    if not partial:
        return None
    bad = {err["loc"][0] for err in errors if err["loc"]}
    try:
        return spec.model_validate({k: v for k, v in data.items() if k not in bad})
    except ValidationError:
        return None  # a required key is missing or bad


def _problem(spec: type[BaseModel], err: Any, at: KeyPath, lines: LineMap, data: Any) -> Problem:
    loc = _file_path(err["loc"], data)
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        model = _model_at(spec, loc[:-1])
        hint = difflib.get_close_matches(key, list(model.model_fields), n=1) if model else []
        suffix = f"; did you mean {hint[0]!r}?" if hint else ""
        return lines.problem((*at, *loc), f"unknown key {key!r}{suffix}")
    if err["type"] == "missing":
        return lines.problem((*at, *loc[:-1]), f"required key {loc[-1]!r} is missing")
    message = str(err["ctx"]["error"]) if err["type"] == "value_error" else err["msg"][:1].lower() + err["msg"][1:]
    return lines.problem((*at, *loc), f"{message} (got {shown(err.get('input'))})")


def _file_path(loc: tuple[str | int, ...], data: Any) -> KeyPath:
    """The part of pydantic's error location that is a path in the file. Pydantic also names the
    member of a union that failed (``str``, ``literal['A']``); those are not keys of the file, and
    a key of the file can look like one (``str``, ``[``), so the data decides where it can."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        if in_dict or (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
            node = node[part]
            path.append(part)
        elif isinstance(node, dict) and not _union_tag(part):
            node = None  # a required key that is missing: the path ends here
            path.append(part)
    return tuple(path)


def _union_tag(part: str | int) -> bool:
    return isinstance(part, str) and (part in ("str", "int", "float", "bool", "none") or "[" in part)


def _model_at(spec: type[BaseModel], loc: KeyPath) -> type[BaseModel] | None:
    """The model whose keys are valid at ``loc`` (for "did you mean" hints)."""
    model: type[BaseModel] = spec
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        nested = [t for t in _types_in(field.annotation if field else None) if isinstance(t, type) and issubclass(t, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def _types_in(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    return [annotation] if not args else [t for a in args for t in _types_in(a)]


def shown(value: object, limit: int = 80) -> str:
    """A value as a message quotes it: repr, cut short, since a YAML value can be megabytes."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"
