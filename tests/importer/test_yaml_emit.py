"""Pure tier: what import writes reads back as what was live. Every scalar is the same
value after YAML reads it, and every default loads back as the same canonical default."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bqmanage.importer.emit import Unexpressible, column_lines, default_value, scalar
from bqmanage.model.defaults import default_sql, normalize_default
from bqmanage.model.schema import Column


@given(st.text(max_size=60))
def test_every_string_reads_back_as_itself(text: str) -> None:
    written = scalar(text)
    assert yaml.safe_load(f"k: {written}") == {"k": text}
    assert yaml.safe_load(f"- {{k: {written}}}") == [{"k": text}]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("Display name.", "Display name."),
        ("active, suspended or deleted.", '"active, suspended or deleted."'),
        ("true", '"true"'),
        ("2026-01-01", '"2026-01-01"'),
        ("NUMERIC(10, 2)", '"NUMERIC(10, 2)"'),
        ("", '""'),
        (1e30, "1.0e+30"),
        (True, "true"),
        (dt.date(2026, 1, 1), "2026-01-01"),
    ],
)
def test_scalars_are_as_short_as_a_person_writes_them(value: object, written: str) -> None:
    assert scalar(value) == written


@pytest.mark.parametrize(
    ("type_", "written", "params"),
    [
        ("INT64", -42, {}),
        ("FLOAT64", 1e30, {}),
        ("FLOAT64", 0.25, {}),
        ("NUMERIC", 12.5, {"precision": 10, "scale": 2}),
        ("BIGNUMERIC", "123456789012345678901234567890.5", {}),
        ("NUMERIC", 12345678901234567890, {}),
        ("BOOL", False, {}),
        ("STRING", "n/a", {}),
        ("STRING", 'it\'s "quoted"\n', {}),
        ("BYTES", "by'te\\s", {}),
        ("DATE", dt.date(2026, 1, 1), {}),
        ("DATETIME", "2026-01-01 12:30:00", {}),
        ("TIME", "12:30:00", {}),
        ("TIMESTAMP", "2026-01-01 12:30:00+00", {}),
        ("TIMESTAMP", "CURRENT_TIMESTAMP()", {}),
        ("STRING", "GENERATE_UUID()", {}),
        ("GEOGRAPHY", "ST_GEOGPOINT(-122.35, 47.62)", {}),
    ],
)
def test_a_default_is_written_as_the_yaml_that_loads_back_to_it(type_: str, written: object, params: dict[str, int]) -> None:
    canonical = default_sql(written, type_, params.get("precision"), params.get("scale"))
    column = Column(name="c", type=type_, default=normalize_default(canonical), **params)
    assert default_value(column) == written


def test_an_expression_no_definition_can_spell_is_unexpressible() -> None:
    with pytest.raises(Unexpressible, match="not a literal or one of the functions"):
        default_value(Column(name="c", type="STRING", default="CONCAT('a', 'b')"))


def test_a_long_column_becomes_a_block_and_a_struct_nests_its_fields() -> None:
    long = Column(name="c", type="STRING", description="x" * 140)
    assert column_lines(long, "  ")[0] == "  - name: c"
    struct = Column(name="s", type="STRUCT", fields=(Column(name="a", type="INT64", mode="REQUIRED"),))
    assert column_lines(struct, "  ") == [
        "  - name: s",
        "    type: STRUCT",
        "    fields:",
        "      - {name: a, type: INT64, mode: REQUIRED}",
    ]
