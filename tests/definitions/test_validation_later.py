"""Definitions that used to validate and then failed in apply or reset.

Each one is now an exit-2 problem from `validate`, and from `apply` before anything is written,
located as file:line: key.path (or at the directory, for a directory-level problem).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli, write

T = "schemas/ds/t.yaml"
Q = "schemas/ds/q.yaml"
REG = "schemas/ds/reg.yaml"
COLS = "columns:\n  - {name: id, type: STRING}\n"


def _col(spec: str) -> dict[str, str]:
    """One file ds/t.yaml whose first column (line 2) is ``spec``."""
    return {T: f"columns:\n  - {{{spec}}}\n"}


def _struct(n_fields: int) -> str:
    return "STRUCT<" + ", ".join(f"f{i} INT64" for i in range(n_fields)) + ">"


def _nested(levels: int) -> str:
    return "STRUCT<a " * (levels - 1) + "STRUCT<x INT64" + ">" * levels


# A quota table and its registry that validate; the bad cases below change one thing each.
REGISTRY = """\
columns:
  - {name: tenant_id, type: STRING, mode: REQUIRED}
  - {name: status, type: STRING}
  - {name: daily_limit, type: INT64, mode: REQUIRED}
"""
QUOTA = """\
quota:
  tenant_column: tenant_id
  date_column: day
  registry: ds.reg
columns:
  - {name: tenant_id, type: STRING, mode: REQUIRED}
  - {name: day, type: DATE, mode: REQUIRED}
  - {name: daily_limit, type: INT64, mode: REQUIRED, reset: carry}
  - {name: runs, type: INT64, mode: REQUIRED, default: 0, reset: daily}
  - {name: updated, type: TIMESTAMP, reset: now}
"""


def _quota(old: str = "", new: str = "", registry: str = REGISTRY) -> dict[str, str]:
    return {Q: QUOTA.replace(old, new), REG: registry}


# (id, files to write, where the one problem is, a fragment of its message)
BAD = [
    # DATE/DATETIME/TIME/TIMESTAMP defaults must be literals BigQuery parses (data-types#canonical_format...).
    (
        "date_not_a_date",
        _col("name: d, type: DATE, default: not-a-date"),
        f"{T}:2: columns[0].default:",
        "'not-a-date' is not a DATE literal (YYYY-[M]M-[D]D)",
    ),
    (
        "date_no_such_day",
        _col("name: d, type: DATE, default: '2026-02-30'"),
        f"{T}:2: columns[0].default:",
        "day 30 is out of range",
    ),
    (
        "date_year_zero",
        _col("name: d, type: DATE, default: '0000-01-01'"),
        f"{T}:2: columns[0].default:",
        "year 0 is out of range",
    ),
    (
        "date_given_a_datetime",
        _col("name: d, type: DATE, default: 2026-01-01 10:00:00"),
        f"{T}:2: columns[0].default:",
        "is not a DATE literal",
    ),
    (
        "datetime_with_zone",
        _col("name: d, type: DATETIME, default: '2026-01-01 10:00:00+01'"),
        f"{T}:2: columns[0].default:",
        "is not a DATETIME literal",
    ),
    ("time_hour_24", _col("name: d, type: TIME, default: '24:00:00'"), f"{T}:2: columns[0].default:", "hour 24 is out of range"),
    ("time_unquoted", _col("name: d, type: TIME, default: 10:00:00"), f"{T}:2: columns[0].default:", "quote it"),
    (
        "timestamp_zone",
        _col("name: d, type: TIMESTAMP, default: '2026-01-01 10:00:00 Mars/Olympus'"),
        f"{T}:2: columns[0].default:",
        "unknown time zone 'Mars/Olympus'",
    ),
    (
        "timestamp_7_digits",
        _col("name: d, type: TIMESTAMP, default: '2026-01-01 10:00:00.1234567'"),
        f"{T}:2: columns[0].default:",
        "is not a TIMESTAMP literal",
    ),
    (
        "timestamp_offset",
        _col("name: d, type: TIMESTAMP, default: '2026-01-01 10:00:00+15'"),
        f"{T}:2: columns[0].default:",
        "offset",
    ),
    # Inline STRUCT fields: the same name and parameter rules as columns.
    (
        "struct_duplicate_field",
        _col("name: s, type: 'STRUCT<a INT64, A STRING>'"),
        f"{T}:2: columns[0].type:",
        "field 'A': duplicate field 'A'",
    ),
    (
        "struct_numeric_params",
        _col("name: s, type: 'STRUCT<n NUMERIC(100, 50)>'"),
        f"{T}:2: columns[0].type:",
        "field 'n': NUMERIC(100, 50): scale must be between 0 and 9",
    ),
    (
        "struct_string_zero",
        _col("name: s, type: 'ARRAY<STRUCT<s STRING(0)>>'"),
        f"{T}:2: columns[0].type:",
        "field 's': STRING(0): length must be at least 1",
    ),
    (
        "struct_int_params",
        _col("name: s, type: 'STRUCT<i INT64(5)>'"),
        f"{T}:2: columns[0].type:",
        "field 'i': INT64 takes no parameters",
    ),
    (
        "struct_nested_field",
        _col("name: s, type: 'STRUCT<o STRUCT<x BYTES(0)>>'"),
        f"{T}:2: columns[0].type:",
        "field 'o.x': BYTES(0)",
    ),
    (
        "struct_too_deep",
        _col(f"name: s, type: '{_nested(16)}'"),
        f"{T}:2: columns[0].type:",
        "field 'a.a.a.a.a.a.a.a.a.a.a.a.a.a.a': more than 15 levels",
    ),
    (
        "record_fields_duplicate",
        {
            T: "columns:\n  - name: r\n    type: RECORD\n    fields:\n"
            "      - {name: a, type: INT64}\n      - {name: A, type: STRING}\n"
        },
        f"{T}:6: columns[0].fields[1].name:",
        "duplicate column 'A'",
    ),
    # Names bqmanage keeps for itself, and names only case tells apart.
    (
        "ledger_table",
        {"schemas/ds/_bqmanage_migrations.yaml": COLS},
        "schemas/ds/_bqmanage_migrations.yaml:1: table:",
        "reserved",
    ),
    (
        "reserved_prefix_any_case",
        {"schemas/ds/_BQManage_notes.yaml": COLS},
        "schemas/ds/_BQManage_notes.yaml:1: table:",
        "prefix '_bqmanage' is reserved",
    ),
    ("reserved_dataset", {"schemas/_bqmanage_x/t.yaml": COLS}, "schemas/_bqmanage_x:", "prefix '_bqmanage' is reserved"),
    (
        "table_case_collision",
        {"schemas/ds/Orders.yaml": COLS, "schemas/ds/orders.yaml": COLS},
        "schemas/ds/orders.yaml:1: table:",
        "differs only in case from 'Orders' (schemas/ds/Orders.yaml)",
    ),
    (
        "table_yaml_and_yml",
        {T: COLS, "schemas/ds/t.yml": COLS},
        "schemas/ds/t.yml:1: table:",
        "table 't' is also defined in schemas/ds/t.yaml",
    ),
    (
        "dataset_case_collision",
        {T: COLS, "schemas/DS/t.yaml": COLS},
        "schemas/ds:",
        "differs only in case from 'DS' (schemas/DS)",
    ),
    # BigQuery's limits (quotas#standard_tables, data-types#parameterized_data_types, locations).
    (
        "too_many_columns",
        {T: f"columns:\n  - {{name: id, type: STRING}}\n  - {{name: s, type: '{_struct(9999)}'}}\n"},
        f"{T}:1: columns:",
        "10,001 columns",
    ),
    (
        "string_length_max",
        _col("name: s, type: 'STRING(9223372036854775808)'"),
        f"{T}:2: columns[0].type:",
        "at most 9223372036854775807",
    ),
    (
        "bytes_length_key_max",
        _col("name: s, type: BYTES, maxLength: '9223372036854775808'"),
        f"{T}:2: columns[0].maxLength:",
        "at most 9223372036854775807",
    ),
    (
        "max_length_not_a_number",
        _col("name: s, type: STRING, maxLength: ten"),
        f"{T}:2: columns[0].maxLength:",
        "maxLength must be a whole number (got 'ten')",
    ),
    (
        "precision_not_a_number",
        _col("name: n, type: NUMERIC, precision: p10, scale: 2"),
        f"{T}:2: columns[0].precision:",
        "precision must be a whole number",
    ),
    (
        "scale_not_a_number",
        _col("name: n, type: NUMERIC, precision: 10, scale: two"),
        f"{T}:2: columns[0].scale:",
        "scale must be a whole number",
    ),
    (
        "precision_key_on_string",
        _col("name: s, type: STRING, precision: 5"),
        f"{T}:2: columns[0].precision:",
        "STRING takes no precision or scale",
    ),
    (
        "params_twice",
        _col("name: n, type: 'NUMERIC(10, 2)', precision: 12"),
        f"{T}:2: columns[0].precision:",
        "given in the type and as a key",
    ),
    (
        "unknown_location",
        {"schemas/ds/_dataset.yaml": "description: x\nlocation: mars-west1\n", T: COLS},
        "schemas/ds/_dataset.yaml:2: location:",
        "unknown BigQuery location 'mars-west1'",
    ),
    # What `reset` needs from the quota table and its registry.
    (
        "registry_lacks_carry_column",
        _quota(registry=REGISTRY.replace("  - {name: daily_limit, type: INT64, mode: REQUIRED}\n", "")),
        f"{Q}:8: columns[2].reset:",
        "registry ds.reg has no column 'daily_limit'",
    ),
    (
        "registry_carry_type",
        _quota(registry=REGISTRY.replace("name: daily_limit, type: INT64", "name: daily_limit, type: STRING")),
        f"{Q}:8: columns[2].reset:",
        "ds.reg.daily_limit is STRING",
    ),
    (
        "registry_not_defined",
        _quota("registry: ds.reg", "registry: ds.nope"),
        f"{Q}:4: quota.registry:",
        "'ds.nope' is not a defined table",
    ),
    (
        "registry_not_dataset_table",
        _quota("registry: ds.reg", "registry: reg"),
        f"{Q}:4: quota.registry:",
        "must be dataset.table",
    ),
    (
        "registry_lacks_status",
        _quota(registry=REGISTRY.replace("  - {name: status, type: STRING}\n", "")),
        f"{Q}:4: quota.registry:",
        "has no column 'status'",
    ),
    (
        "registry_tenant_type",
        _quota(registry=REGISTRY.replace("name: tenant_id, type: STRING", "name: tenant_id, type: INT64")),
        f"{Q}:4: quota.registry:",
        "ds.reg.tenant_id is INT64",
    ),
    (
        "no_tie_break",
        _quota("type: TIMESTAMP, reset: now", "type: TIMESTAMP, reset: daily"),
        f"{Q}:1: quota:",
        "needs a `now` column",
    ),
    ("date_tie_break", _quota("type: TIMESTAMP, reset: now", "type: DATE, reset: now"), f"{Q}:1: quota:", "needs a `now` column"),
    (
        "required_daily_without_default",
        _quota("default: 0, reset: daily", "reset: daily"),
        f"{Q}:9: columns[3].reset:",
        "needs a default",
    ),
    # A directory with no table files.
    ("empty_directory", {"schemas/empty/README.md": "notes\n"}, "schemas/empty:", "no table definitions"),
]


# Nothing listens on port 9: a warehouse call on the bigquery target would exit 3, not 2.
NO_WAREHOUSE = ("--target", "bigquery", "--project", "some-project")


def assert_one_problem(where: str, fragment: str) -> None:
    """validate, apply and a remote plan all exit 2 with exactly this one problem; nothing is written."""
    for command in (["validate"], ["apply"], [*NO_WAREHOUSE, "plan"]):
        result = run_cli(*command)
        assert result.exit_code == 2, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        problems = [ln for ln in result.stderr.splitlines() if ln.startswith("schemas")]
        assert len(problems) == 1, result.stderr  # one message per problem, no follow-on noise
        assert problems[0].startswith(where + " "), problems[0]
        assert fragment in problems[0], problems[0]
        assert result.stderr.rstrip().endswith("1 problem in the definitions.")
    assert not Path(".bqmanage").exists()


@pytest.mark.parametrize("name,files,where,fragment", BAD, ids=[b[0] for b in BAD])
def test_fails_at_validate_not_later(
    name: str, files: dict[str, str], where: str, fragment: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9")
    for path, text in files.items():
        write(Path(path), text)
    assert_one_problem(where, fragment)


GOOD = [
    ("date_one_digit_parts", _col("name: d, type: DATE, default: '2026-1-5'")),
    ("date_unquoted_yaml", _col("name: d, type: DATE, default: 2026-01-05")),
    ("datetime_t_fraction", _col("name: d, type: DATETIME, default: '2026-01-05t10:00:00.123456'")),
    ("datetime_date_only", _col("name: d, type: DATETIME, default: '2026-01-05'")),
    ("time_short_hour", _col("name: d, type: TIME, default: '9:05:00'")),
    ("time_leap_second", _col("name: d, type: TIME, default: '23:59:60'")),
    ("timestamp_zone_name", _col("name: d, type: TIMESTAMP, default: '2026-01-05 10:00:00 America/Los_Angeles'")),
    ("timestamp_z", _col("name: d, type: TIMESTAMP, default: '2026-01-05T10:00:00.5z'")),
    (
        "timestamp_offsets",
        {
            T: "columns:\n  - {name: a, type: TIMESTAMP, default: '2026-01-05 10:00:00-8'}\n"
            "  - {name: b, type: TIMESTAMP, default: '2026-01-05 10:00:00+05:30'}\n"
            "  - {name: c, type: TIMESTAMP, default: 2026-01-05T10:00:00Z}\n"
        },
    ),
    ("struct_15_levels", _col(f"name: s, type: '{_nested(15)}'")),
    ("ten_thousand_columns", {T: f"columns:\n  - {{name: id, type: STRING}}\n  - {{name: s, type: '{_struct(9998)}'}}\n"}),
    ("string_length_int64_max", _col("name: s, type: STRING, maxLength: '9223372036854775807'")),
    ("bq_show_schema_params", _col("name: n, type: NUMERIC, precision: '10', scale: '2'")),
    ("location_any_case", {"schemas/ds/_dataset.yaml": "location: Europe-West4\n", T: COLS}),
    ("location_multi_region", {"schemas/ds/_dataset.yaml": "location: eu\n", T: COLS}),
    ("quota_with_registry", _quota()),
    (
        "quota_carry_with_default",
        _quota(
            "type: INT64, mode: REQUIRED, reset: carry",
            "type: INT64, mode: REQUIRED, default: 5, reset: carry",
            registry=REGISTRY.replace("  - {name: daily_limit, type: INT64, mode: REQUIRED}\n", ""),
        ),
    ),
    ("quota_registry_widens", _quota("name: daily_limit, type: INT64", "name: daily_limit, type: NUMERIC")),
]


@pytest.mark.parametrize("name,files", GOOD, ids=[g[0] for g in GOOD])
def test_valid_definitions_stay_valid(name: str, files: dict[str, str], workdir: Path) -> None:
    for path, text in files.items():
        write(Path(path), text)
    result = run_cli("validate")
    assert result.exit_code == 0, result.stderr


def test_a_dataset_file_alone_is_an_intended_empty_dataset(workdir: Path) -> None:
    write(Path("schemas/staging/_dataset.yaml"), "description: Filled by a loader, not by bqmanage.\n")
    result = run_cli("validate")
    assert result.exit_code == 0, result.stderr
    assert "3 table(s) in 2 dataset(s)" in result.stdout
    applied = run_cli("apply")
    assert applied.exit_code == 0, applied.stderr
    assert "create_dataset: create dataset staging" in applied.stderr  # progress goes to stderr
    assert "Nothing to do" in run_cli("apply").stdout


def test_every_problem_in_every_file_at_once(workdir: Path) -> None:
    # Structural errors (a bad granularity, strategy or mode) used to hide every other problem of the file.
    write(
        Path(T),
        "partitioning: {column: day, granularity: WEEK}\n"
        "quota: {tenant_column: id, date_column: day, strategy: weekly}\n"
        "columns:\n"
        "  - {name: id, type: INT46}\n"
        "  - {name: day, type: DATE, mode: OPTIONAL}\n"
        "  - {name: n, type: INT64, default: zero}\n"
        "  - {name: s, type: 'STRUCT<a INT64, A STRING>'}\n",
    )
    write(Path("schemas/ds/u.yaml"), "columns:\n  - {name: x, type: 'STRING(0)'}\n")
    write(Path("schemas/ds/_dataset.yaml"), "location: mars-west1\n")
    for command in ("validate", "apply"):
        result = run_cli(command)
        assert result.exit_code == 2
        assert "Traceback" not in result.stderr
        problems = [ln for ln in result.stderr.splitlines() if ln.startswith("schemas")]
        wheres = [p.split(" ", 1)[0] for p in problems]
        assert wheres == [
            f"{T}:1:",
            f"{T}:2:",
            f"{T}:4:",
            f"{T}:5:",
            f"{T}:6:",
            f"{T}:7:",
            "schemas/ds/u.yaml:2:",
            "schemas/ds/_dataset.yaml:1:",
        ], result.stderr
        assert "partitioning.granularity" in problems[0] and "quota.strategy" in problems[1]
        # `day` is broken, not missing: no follow-on "is not a column" for the partitioning or the quota.
        assert "is not a column" not in result.stderr
        assert result.stderr.rstrip().endswith("8 problems in the definitions.")
    assert not Path(".bqmanage").exists()


def test_a_bad_file_hides_no_cross_file_problem(workdir: Path) -> None:
    files = _quota(registry=REGISTRY.replace("  - {name: daily_limit, type: INT64, mode: REQUIRED}\n", ""))
    files["schemas/ds/other.yaml"] = "columns:\n  - {name: x, type: INT46}\n"
    files["schemas/EMPTY/README.md"] = "notes\n"
    for path, text in files.items():
        write(Path(path), text)
    result = run_cli("validate")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    problems = [ln.split(" ", 2)[:2] for ln in result.stderr.splitlines() if ln.startswith("schemas")]
    assert problems == [
        ["schemas/EMPTY:", "no"],
        ["schemas/ds/other.yaml:2:", "columns[0].type:"],
        [f"{Q}:8:", "columns[2].reset:"],
    ], result.stderr


def test_an_invalid_registry_is_not_called_undefined(workdir: Path) -> None:
    for path, text in _quota(
        registry=REGISTRY.replace("type: INT64, mode: REQUIRED", "type: INT64, mode: REQUIRED, tpye: x")
    ).items():
        write(Path(path), text)
    result = run_cli("validate")
    assert result.exit_code == 2
    problems = [ln for ln in result.stderr.splitlines() if ln.startswith("schemas")]
    assert len(problems) == 1 and problems[0].startswith(f"{REG}:4: columns[2].tpye: unknown key"), result.stderr
