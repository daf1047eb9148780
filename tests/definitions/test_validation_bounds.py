"""Values BigQuery cannot hold as written are refused by `validate` (and by apply, before anything
is written), located at their key: partition expiration beyond INT64 milliseconds or finer than
one millisecond, flags that are not booleans, NUL characters in text, an empty legacy prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.definitions.test_validation_later import T, assert_one_problem
from tests.helpers import run_cli, write

PARTITIONED = "columns:\n  - {name: d, type: DATE}\npartitioning: {column: d}\n"

BAD = [
    # An INT64 of milliseconds (timePartitioning.expirationMs) holds at most about 1.07e11 days.
    ("expiration_int64_overflow", "partition_expiration_days: 99999999999999999999", "is too large"),
    ("expiration_float_overflow", "partition_expiration_days: 1.0e+300", "is too large"),
    # 1e-7 days is 8.64 ms: stored as 8 ms, it reads back as another number and drifts for ever.
    ("expiration_below_a_millisecond", "partition_expiration_days: 0.0000001", "not a whole number of milliseconds"),
    ("expiration_as_text", "partition_expiration_days: '5'", "valid number"),
    ("expiration_unquoted_exponent", "partition_expiration_days: 1e300", "valid number"),  # YAML 1.1: a string
    ("expiration_bool", "partition_expiration_days: true", "valid number"),
    ("filter_yes_string", "require_partition_filter: 'yes'", "valid boolean"),
    ("filter_one", "require_partition_filter: 1", "valid boolean"),
    ("filter_true_string", "require_partition_filter: 'true'", "valid boolean"),
]


@pytest.mark.parametrize(("name", "line", "fragment"), BAD, ids=[b[0] for b in BAD])
def test_partition_options_beyond_what_bigquery_holds_are_refused(
    name: str, line: str, fragment: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9")
    write(Path(T), PARTITIONED + line + "\n")
    assert_one_problem(f"{T}:4: {line.split(':')[0]}:", fragment)


@pytest.mark.parametrize(
    ("column", "key"),
    [
        ('{name: a, type: STRING, description: "before\\0after"}', "columns[0].description"),
        ('{name: a, type: STRING, default: "x\\0"}', "columns[0].default"),
        ('{name: a, type: STRUCT, fields: [{name: f, type: STRING, description: "\\0"}]}', "columns[0].fields[0].description"),
    ],
)
def test_a_nul_character_in_text_is_refused(column: str, key: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9")
    write(Path(T), f"columns:\n  - {column}\n")
    assert_one_problem(f"{T}:2: {key}:", "NUL character")


def test_a_nul_character_in_a_table_description_is_refused(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9")
    write(Path(T), 'description: "a\\0b"\ncolumns:\n  - {name: a, type: STRING}\n')
    assert_one_problem(f"{T}:1: description:", "NUL character")


def test_valid_expirations_stay_valid(workdir: Path) -> None:
    for days in ("1", "1.5", "0.29", "0.5", "106751991167"):
        write(Path(T), PARTITIONED + f"partition_expiration_days: {days}\nrequire_partition_filter: true\n")
        result = run_cli("validate")
        assert result.exit_code == 0, (days, result.stderr)


@pytest.mark.parametrize("legacy", ['prefixes: {"": tenant_}', 'prefixes: {" ": tenant_}', 'datasets: {"": tenants}'])
def test_an_empty_legacy_prefix_is_refused_in_the_config(legacy: str, workdir: Path) -> None:
    """Every name starts with the empty prefix: check would call tenant_profiles legacy."""
    write(workdir / "bqmanage.yaml", f"legacy:\n  {legacy}\n")
    for command in (["check"], ["apply"], ["validate"]):
        result = run_cli(*command)
        assert result.exit_code == 2, (command, result.stdout)
        assert result.stderr.count("\n") == 1, result.stderr
        assert "bqmanage.yaml:2: legacy." in result.stderr and "must not be empty" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (workdir / ".bqmanage").exists()
