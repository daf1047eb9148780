"""Bad definitions give exit 2, one message per problem with file:line, and no warehouse call."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import run_cli, write

GOOD_COLUMNS = """\
  - {name: id, type: STRING, mode: REQUIRED}
  - {name: day, type: DATE}
"""

# (name, yaml text of schemas/ds/t.yaml, expected line, expected message fragment)
BAD = [
    ("yaml_syntax", "table: t\ncolumns: [\n  {name: id, type: STRING\n", 4, "invalid YAML"),
    (
        "unknown_type",
        "columns:\n  - {name: id, type: STRING}\n  - {name: n, type: INT46}\n",
        3,
        "columns[1].type: unknown type 'INT46'",
    ),
    (
        "unknown_key",
        "columns:\n  - {name: id, tpye: STRING, type: STRING}\n",
        2,
        "columns[0].tpye: unknown key 'tpye'; did you mean 'type'?",
    ),
    ("missing_type", "columns:\n  - {name: id}\n", 2, "required key 'type' is missing"),
    (
        "bad_column_name",
        "columns:\n  - {name: id, type: STRING}\n  - {name: 2fast, type: INT64}\n",
        3,
        "columns[1].name: invalid column name '2fast'",
    ),
    ("reserved_prefix", "columns:\n  - {name: _PARTITIONTIME, type: TIMESTAMP}\n", 2, "reserved prefix '_PARTITION'"),
    (
        "duplicate_case_insensitive",
        "columns:\n  - {name: Tenant, type: STRING}\n  - {name: tenant, type: STRING}\n",
        3,
        "duplicate column 'tenant'",
    ),
    ("numeric_scale", "columns:\n  - {name: x, type: 'NUMERIC(10, 12)'}\n", 2, "scale must be between 0 and 9"),
    ("numeric_precision", "columns:\n  - {name: x, type: 'NUMERIC(40, 2)'}\n", 2, "precision must be between 2 and 31"),
    ("string_length", "columns:\n  - {name: x, type: 'STRING(0)'}\n", 2, "length must be at least 1"),
    (
        "too_many_clustering",
        "clustering: [a, b, c, d, e]\ncolumns:\n" + "".join(f"  - {{name: {c}, type: STRING}}\n" for c in "abcde"),
        1,
        "at most 4 clustering columns",
    ),
    (
        "clustering_unknown",
        "clustering: [nope]\ncolumns:\n  - {name: id, type: STRING}\n",
        1,
        "clustering[0]: clustering column 'nope'",
    ),
    (
        "partition_type",
        "partitioning: {column: id}\ncolumns:\n  - {name: id, type: STRING}\n",
        1,
        "partition column 'id' is STRING",
    ),
    (
        "partition_missing",
        "partitioning: {column: day}\ncolumns:\n  - {name: id, type: STRING}\n",
        1,
        "partition column 'day' is not a column",
    ),
    ("default_function", "columns:\n  - {name: ts, type: TIMESTAMP, default: 'NOW()'}\n", 2, "default 'NOW()' is not allowed"),
    ("default_type", "columns:\n  - {name: n, type: INT64, default: 'zero'}\n", 2, "default 'zero' is not a number for INT64"),
    (
        "default_function_type",
        "columns:\n  - {name: d, type: DATE, default: 'CURRENT_TIMESTAMP()'}\n",
        2,
        "returns TIMESTAMP, not DATE",
    ),
    (
        "null_default_required",
        "columns:\n  - {name: n, type: INT64, mode: REQUIRED, default: null}\n",
        2,
        "REQUIRED column cannot have a NULL default",
    ),
    ("bad_mode", "columns:\n  - {name: n, type: INT64, mode: OPTIONAL}\n", 2, "columns[0].mode"),
    ("array_required", "columns:\n  - {name: tags, type: 'ARRAY<STRING>', mode: REQUIRED}\n", 2, "cannot be REQUIRED"),
    ("struct_without_fields", "columns:\n  - {name: meta, type: RECORD}\n", 2, "needs fields"),
    (
        "range_partition_expiration",  # managing-partitioned-tables#partition-expiration: time partitions only
        "partitioning: {column: b, range: {start: 0, end: 10, interval: 1}}\npartition_expiration_days: 7\n"
        "columns:\n  - {name: b, type: INT64}\n",
        2,
        "partition_expiration_days is not supported on integer-range",
    ),
    (
        "expiration_nan",
        "partitioning: {column: day}\npartition_expiration_days: .nan\ncolumns:\n  - {name: day, type: DATE}\n",
        2,
        "partition_expiration_days must be a positive number of days",
    ),
    ("float_default_nan", "columns:\n  - {name: x, type: FLOAT64, default: .nan}\n", 2, "not a finite number"),
    ("numeric_default_inf", "columns:\n  - {name: x, type: NUMERIC, default: .inf}\n", 2, "not a finite number"),
    (
        "too_many_labels",
        "labels: {" + ", ".join(f"k{i}: v" for i in range(65)) + "}\ncolumns:\n  - {name: id, type: STRING}\n",
        1,
        "65 labels; BigQuery allows at most 64",
    ),
    ("legacy_name_is_defined", "legacy_names: [ds.t]\ncolumns:\n  - {name: id, type: STRING}\n", 1, "is a defined table"),
    (
        "nested_too_deep",
        "columns:\n  - {name: x, type: '" + "ARRAY<" * 3000 + "INT64" + ">" * 3000 + "'}\n",
        2,
        "nests more than 100 levels",
    ),
    ("int64_default_range", "columns:\n  - {name: n, type: INT64, default: 9223372036854775808}\n", 2, "is outside INT64"),
    ("numeric_default_not_a_number", "columns:\n  - {name: n, type: NUMERIC, default: 'many'}\n", 2, "not a number for NUMERIC"),
    ("table_name_mismatch", "table: other\ncolumns:\n  - {name: id, type: STRING}\n", 1, "must match its file name"),
    ("label", "labels: {Owner: x}\ncolumns:\n  - {name: id, type: STRING}\n", 1, "invalid label key 'Owner'"),
    (
        "duplicate_yaml_key",
        "columns:\n  - {name: id, type: STRING}\ncolumns:\n  - {name: x, type: STRING}\n",
        3,
        "duplicate key 'columns'",
    ),
    (
        "require_filter_unpartitioned",
        "require_partition_filter: true\ncolumns:\n  - {name: id, type: STRING}\n",
        1,
        "needs a partitioned table",
    ),
    (
        "nested_default",
        "columns:\n  - name: meta\n    type: RECORD\n    fields:\n      - {name: a, type: INT64, default: 1}\n",
        5,
        "top-level columns only",
    ),
]


@pytest.mark.parametrize("name,text,line,fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_definition(name: str, text: str, line: int, fragment: str, workdir: Path) -> None:
    write(Path("schemas/ds/t.yaml"), text)
    result = run_cli("validate")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    problems = [ln for ln in result.stderr.splitlines() if ln.startswith("schemas/")]
    mine = [p for p in problems if p.startswith("schemas/ds/t.yaml:")]
    assert len(mine) == 1, result.stderr  # one message per problem
    assert mine[0].startswith(f"schemas/ds/t.yaml:{line}:"), mine[0]
    assert fragment in mine[0]


def test_every_problem_is_reported_not_just_the_first(workdir: Path) -> None:
    write(
        Path("schemas/ds/t.yaml"),
        "clustering: [a, b, c, d, e]\ncolumns:\n  - {name: a, type: INT46}\n"
        "  - {name: b, type: 'NUMERIC(99)'}\n  - {name: A, type: STRING}\n",
    )
    result = run_cli("validate")
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("schemas/ds/t.yaml")]
    assert len(lines) >= 4
    assert re.search(r"^error: \d+ problems in the definitions\.$", result.stderr, re.M)


@pytest.mark.parametrize("command", ["apply", "plan"])
def test_bad_definitions_make_no_warehouse_call(command: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(Path("schemas/ds/t.yaml"), "columns:\n  - {name: n, type: INT46}\n")
    # Nothing listens on port 9: any warehouse call would fail with exit 3, not 2.
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9")
    remote = run_cli("--target", "bigquery", "--project", "some-project", command)
    assert remote.exit_code == 2, remote.stderr
    local = run_cli(command)
    assert local.exit_code == 2
    assert not Path(".bqmanage").exists()  # the local warehouse was never opened


def test_production_definitions_are_valid(workdir: Path) -> None:
    result = run_cli("validate")
    assert result.exit_code == 0, result.stderr
    assert "3 table(s) in 1 dataset(s)" in result.stdout


def test_missing_schemas_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("--schemas", "nowhere", "validate")
    assert result.exit_code == 2
    assert result.stderr.startswith("nowhere: schemas directory not found")


def test_missing_credentials_is_one_clear_message(workdir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("BIGQUERY_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no gcloud application-default credentials
    # Keep google-auth's metadata-server probe on loopback, where nothing answers.
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    result = run_cli("--target", "bigquery", "--project", "my-project-1", "check")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: bigquery: no Google credentials found")
    assert "Traceback" not in result.stderr


def test_bad_project_and_target_are_exit_2(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    bad_project = run_cli("--target", "bigquery", "--project", "Bad_Project!", "plan")
    assert bad_project.exit_code == 2 and "--project: invalid project id 'Bad_Project!'" in bad_project.stderr
    bad_target = run_cli("--target", "prod", "plan")
    assert bad_target.exit_code == 2 and "--target: unknown target 'prod'" in bad_target.stderr
    no_project = run_cli("--target", "bigquery", "plan")
    assert no_project.exit_code == 2 and "the bigquery target needs a project" in no_project.stderr
