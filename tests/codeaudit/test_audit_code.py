"""`bqmanage audit-code` on a tree in the incident's shape (seeds/002: legacy
`customer_usage_quotas` references left in auth.py and tenant_management.py), --fix, the SQL
checks with both analyzers, suppression, the output contracts and every bad input."""

from __future__ import annotations

import ast
import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest
import sqlglot
import yaml

from tests.helpers import run_cli, write

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).parents[1] / "fixtures" / "app"
SCHEMAS = str(ROOT / "schemas")

# Every planted reference: (path, line, column, replacement). Nothing else in the tree is one.
PLANTED = [
    ("config/app.yaml", 4, 18, "tenants"),
    ("config/app.yaml", 5, 16, "tenants.tenant_usage_quotas"),
    ("reports/daily_usage.sql", 7, 6, "`acme-data-prod.tenants.tenant_usage_quotas`"),
    ("src/app/dependencies/auth.py", 10, 17, "{PROJECT}.tenants.tenant_usage_quotas"),
    ("src/app/dependencies/auth.py", 11, 19, "tenants"),
    ("src/app/dependencies/auth.py", 19, 14, "`{PROJECT}.tenants.tenant_usage_quotas`"),
    ("src/app/dependencies/auth.py", 35, 14, "tenant_usage_quotas"),
    ("src/app/dependencies/auth.py", 38, 16, "`{PROJECT}`.`tenants`.`{table}`"),
    ("src/app/routers/tenant_management.py", 11, 16, "tenants.tenant_usage_quotas"),
    ("src/app/routers/tenant_management.py", 21, 45, "{settings.project}.tenants.tenant_profiles"),
    ("src/app/routers/tenant_management.py", 28, 31, "tenant_usage_quotas"),
    ("src/app/routers/tenant_management.py", 32, 28, "tenants"),
    ("src/app/routers/tenant_management.py", 32, 47, "tenant_usage_quotas"),
]
# Decoys: prose, comments, docstrings, a dict key, a YAML key, a column named customer_id.
DECOYS = [
    ("README.md", 3, "customers.customer_usage_quotas"),
    ("src/app/dependencies/auth.py", 3, "customer usage quotas"),
    ("src/app/dependencies/auth.py", 9, "customers.customer_usage_quotas"),
    ("src/app/dependencies/auth.py", 12, '"customers"'),
    ("src/app/dependencies/auth.py", 24, "customer usage quotas"),
    ("src/app/dependencies/auth.py", 30, "customer_id"),
    ("reports/daily_usage.sql", 1, "customers.customer_usage_quotas"),
    ("reports/daily_usage.sql", 9, "customer usage quotas"),
    ("config/app.yaml", 8, "customers:"),
    ("src/app/routers/tenant_management.py", 26, "customer usage quotas"),
]


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fixture tree (--fix writes), as the working directory."""
    shutil.copytree(APP, tmp_path / "app")
    monkeypatch.chdir(tmp_path / "app")
    for var in ("BQMANAGE_SCHEMAS", "BQMANAGE_CONFIG", "BQMANAGE_TARGET"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "app"


def audit(*args: str) -> tuple[int, dict, str]:
    result = run_cli("--schemas", SCHEMAS, "audit-code", "--format", "json", *args)
    return result.exit_code, json.loads(result.stdout), result.stderr


def located(report: dict) -> list[tuple[str, int, int, str]]:
    return [(f["path"], f["line"], f["column"], f["replacement"]) for f in report["findings"]]


def test_incident_tree_gives_exactly_the_planted_references(app: Path) -> None:
    code, report, _ = audit(".")
    assert code == 1
    assert located(report) == PLANTED
    assert {f["kind"] for f in report["findings"]} == {"legacy_reference"}
    for path, line, decoy in DECOYS:  # the decoys are really there, and none is a finding
        assert decoy in (app / path).read_text().splitlines()[line - 1], (path, line)
        assert not any(f["path"] == path and f["line"] == line for f in report["findings"])
    # Each finding's column points at the reference as the file spells it.
    for finding in report["findings"]:
        text = (app / finding["path"]).read_text().splitlines()[finding["line"] - 1]
        assert text[finding["column"] - 1 :].startswith(finding["actual"])


def test_fix_makes_a_second_run_clean_and_the_files_still_parse(app: Path) -> None:
    (app / "src/app/dependencies/auth.py").chmod(0o640)
    result = run_cli("--schemas", SCHEMAS, "audit-code", ".", "--fix")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert '+QUOTA_TABLE = f"{PROJECT}.tenants.tenant_usage_quotas"' in result.stdout
    assert "Fixed 13 legacy reference(s) in 4 file(s)." in result.stdout
    code, report, _ = audit(".")
    assert (code, report["findings"]) == (0, [])
    assert report["summary"]["sql_statements"] >= 6  # the fixed queries now name a managed table: all checked
    for path in app.rglob("*.py"):
        ast.parse(path.read_text())
    yaml.safe_load((app / "config/app.yaml").read_text())
    sqlglot.parse((app / "reports/daily_usage.sql").read_text(), read="bigquery")
    assert oct((app / "src/app/dependencies/auth.py").stat().st_mode & 0o777) == oct(0o640)
    assert "`acme-data-prod`.tenants.tenant_profiles" in (app / "reports/daily_usage.sql").read_text()  # style kept
    assert not list(app.rglob("*.bqmanage"))  # no temporary file left behind


def test_fix_dry_run_shows_the_diff_and_writes_nothing(app: Path) -> None:
    before = {p: p.read_bytes() for p in app.rglob("*") if p.is_file()}
    result = run_cli("--schemas", SCHEMAS, "audit-code", ".", "--fix", "--dry-run")
    assert result.exit_code == 1
    assert "--- a/config/app.yaml\n+++ b/config/app.yaml" in result.stdout
    assert (
        "-  quota_dataset: customers\n-  quota_table: customers.customer_usage_quotas\n+  quota_dataset: tenants\n"
        in result.stdout
    )
    assert "Would fix 13 legacy reference(s) in 4 file(s) (dry run: nothing written)." in result.stdout
    assert {p: p.read_bytes() for p in app.rglob("*") if p.is_file()} == before


def test_a_file_that_would_not_parse_is_left_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    broken = write(tmp_path / "broken.py", 'QUERY = "SELECT * FROM customers.customer_usage_quotas"\nif True print(QUERY)\n')
    fine = write(tmp_path / "fine.sh", "#!/bin/sh\nbq show proj:customers.customer_usage_quotas\n")
    fine.chmod(0o755)
    result = run_cli("--schemas", SCHEMAS, "audit-code", ".", "--fix")
    assert result.exit_code == 1  # the broken file's reference remains
    assert "broken.py: not fixed: would not parse as Python after the fix" in result.stdout
    assert "customers.customer_usage_quotas" in broken.read_text()
    assert fine.read_text().endswith("bq show proj:tenants.tenant_usage_quotas\n")
    assert os.access(fine, os.X_OK)
    assert "broken.py:1:" in result.stdout and "1 file(s) did not parse and were read loosely" in result.stdout


# ---- schema references ----

TYPO = 'def bump(client):\n    client.query("UPDATE tenants.tenant_usage_quotas SET max_concurent_reached = 1 WHERE TRUE")\n'
UNMANAGED = (
    'Q1 = "SELECT nope, max_concurent_reached FROM billing.invoices"\n'
    'Q2 = "UPDATE analytics.daily SET quota_exceeded = 0 WHERE TRUE"\n'
    'Q3 = "SELECT x FROM unqualified_table"\n'
)


@pytest.mark.parametrize("analyzer", ["sqlglot", pytest.param("googlesql", marks=pytest.mark.googlesql)])
def test_a_misspelt_column_is_one_finding_with_a_suggestion(
    analyzer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "job.py", TYPO)
    write(tmp_path / "other.py", UNMANAGED)
    code, report, _ = audit(".", "--analyzer", analyzer)
    assert code == 1
    (finding,) = report["findings"]
    assert finding["kind"] == "unknown_column_reference"
    assert (finding["path"], finding["line"], finding["column"]) == ("job.py", 2, 58)
    assert (finding["actual"], finding["replacement"]) == ("max_concurent_reached", "max_concurrent_reached")
    assert report["summary"]["sql_unparsable"] == 0


@pytest.mark.googlesql
def test_googlesql_reports_type_errors_with_googles_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "job.py",
        'RESET = f"UPDATE `{PROJECT}.tenants.tenant_usage_quotas` SET quota_exceeded = 0 WHERE tenant_id = {tid}"\n'
        'OK = "UPDATE tenants.tenant_usage_quotas SET quota_exceeded = FALSE WHERE tenant_id = @t"\n',
    )
    code, report, _ = audit(".", "--analyzer", "googlesql")
    assert code == 1
    (finding,) = report["findings"]
    assert finding["kind"] == "sql_type_error" and finding["line"] == 1
    assert finding["message"] == "Value of type INT64 cannot be assigned to quota_exceeded, which has type BOOL"
    # sqlglot knows no types: it passes the statement.
    assert audit(".", "--analyzer", "sqlglot")[0] == 0


def test_unknown_tables_and_what_is_not_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "q.sql",
        """\
SELECT tenant_id FROM tenants.tenant_profile;
SELECT p.tenant_id, p.status, x.anything FROM tenants.tenant_profiles p JOIN other.t x USING (tenant_id);
SELECT anything FROM tenants.tenant_profiles p JOIN other.t x USING (tenant_id);
WITH c AS (SELECT tenant_id AS t FROM tenants.tenant_profiles) SELECT t, n FROM c, UNNEST([1]) AS n;
SELECT COUNT(*) AS n FROM tenants.tenant_profiles GROUP BY status ORDER BY n;
SELECT * FROM tenants._bqmanage_migrations;
INSERT INTO tenants.tenant_profiles (tenant_id, tenant_nmae) VALUES ('a', 'b');
SELECT this is not sql FROM tenants.tenant_profiles WHERE;
""",
    )
    code, report, _ = audit(".")
    assert code == 1
    found = [(f["line"], f["kind"], f.get("actual"), f["replacement"]) for f in report["findings"]]
    assert found == [
        (1, "unknown_table_reference", "tenants.tenant_profile", "tenants.tenant_profiles"),
        (7, "unknown_column_reference", "tenant_nmae", "tenant_name"),
    ]
    assert report["summary"]["sql_unparsable"] == 1


# ---- the walk: .gitignore, include/exclude, binary and large files ----


def test_gitignore_globs_binary_and_large_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ref = 'T = "customers.customer_usage_quotas"\n'
    (tmp_path / ".git").mkdir()
    write(tmp_path / ".gitignore", "build/\n*.gen.py\n")
    write(tmp_path / "build/out.py", ref)
    write(tmp_path / "a.gen.py", ref)
    write(tmp_path / "pkg/.gitignore", "local_*.py\n!local_keep.py\n")
    write(tmp_path / "pkg/local_x.py", ref)
    write(tmp_path / "pkg/local_keep.py", ref)
    write(tmp_path / "pkg/vendor/lib.py", ref)
    write(tmp_path / "notes.md", ref)
    write(tmp_path / "run", "#!/usr/bin/env bash\nbq show customers.customer_usage_quotas\n")
    (tmp_path / "blob.json").write_bytes(b"\x00\x01customers.customer_usage_quotas")
    write(tmp_path / "huge.sql", "SELECT 1 FROM customers.customer_usage_quotas;\n" + "-- padding\n" * 110_000)
    os.mkfifo(tmp_path / "pipe.py")  # never opened: reading a FIFO would wait forever
    _code, report, _ = audit(".", "--exclude", "pkg/vendor/")
    assert sorted(f["path"] for f in report["findings"]) == ["pkg/local_keep.py", "run"]
    assert (report["summary"]["skipped_binary"], report["summary"]["skipped_large"]) == (1, 1)
    # Scanning a subdirectory still honours the repository's .gitignore above it.
    assert audit("build")[1]["findings"] == []
    # An explicit file is audited even if its type is not a default one; --include narrows the walk.
    assert [f["path"] for f in audit("notes.md")[1]["findings"]] == ["notes.md"]
    assert [f["path"] for f in audit(".", "--include", "*.md")[1]["findings"]] == ["notes.md"]


# ---- suppression ----


def test_inline_comments_and_the_config_allowlist_suppress_and_are_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "a.py",
        'A = "customers.customer_usage_quotas"  # bqmanage: ignore[legacy_reference]\n'
        'B = "customers.customer_profiles"  # bqmanage: ignore[unknown_column_reference]\n'
        'C = "customers.customer_usage_quotas"  # bqmanage: ignore\n',
    )
    write(tmp_path / "b.sql", "SELECT 1 FROM customers.customer_profiles; -- bqmanage: ignore\n")
    write(tmp_path / "c.js", 'const t = "customers.customer_usage_quotas"; // bqmanage: ignore[legacy_reference]\n')
    write(tmp_path / "legacy/old.py", 'T = "customer_usage_quotas"\n')
    write(tmp_path / "d.yaml", "table: customers.customer_profiles  # bqmanage: ignore[legacy_reference]\n")
    code, report, _ = audit(".")
    assert [(f["path"], f["line"]) for f in report["findings"]] == [("a.py", 2), ("legacy/old.py", 1)]
    assert report["summary"]["suppressed"] == 5
    write(tmp_path / "bqmanage.yaml", "audit_code:\n  allow:\n    paths: [legacy/]\n    names: [customers.customer_profiles]\n")
    code, report, _ = audit(".")
    assert (code, report["findings"], report["summary"]["suppressed"]) == (0, [], 7)


# ---- contracts ----


def test_json_and_sarif_validate_against_their_schemas(app: Path) -> None:
    write(app / "src/app/jobs.py", TYPO)
    _code, report, _ = audit(".")
    jsonschema.validate(report, json.loads((ROOT / "deployment" / "findings.schema.json").read_text()))
    assert {f["kind"] for f in report["findings"]} == {"legacy_reference", "unknown_column_reference"}
    result = run_cli("--schemas", SCHEMAS, "audit-code", ".", "--format", "sarif", "-o", "out.sarif")
    assert result.exit_code == 1 and result.stdout == ""
    sarif = json.loads((app / "out.sarif").read_text())
    jsonschema.Draft4Validator(json.loads((ROOT / "tests/schemas/sarif-schema-2.1.0.json").read_text())).validate(sarif)
    regions = [
        (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["locations"][0]["physicalLocation"]["region"])
        for r in sarif["runs"][0]["results"]
    ]
    assert ("src/app/jobs.py", {"startLine": 2, "startColumn": 58}) in regions
    assert len(regions) == len(report["findings"])


def test_check_code_adds_the_code_findings_to_the_drift_report(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    write(workdir / "src/job.py", TYPO)
    result = run_cli("check", "--code", "src", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    jsonschema.validate(report, json.loads((ROOT / "deployment" / "findings.schema.json").read_text()))
    assert [(f["kind"], f["path"]) for f in report["findings"]] == [("unknown_column_reference", "src/job.py")]
    text = run_cli("check", "--code", "src")
    [line] = [s for s in text.stdout.splitlines() if s.startswith("src/job.py:")]
    assert line.startswith("src/job.py:2:58: error unknown_column_reference: tenants.tenant_usage_quotas.max_concurent_reached")
    # The same finding prints the same line under audit-code.
    assert line in run_cli("audit-code", "src").stdout.splitlines()


@pytest.mark.parametrize(
    "args,message",
    [
        (["audit-code", "missing/"], "error: missing: no such file or directory"),
        (["audit-code", ".", "--format", "xml"], "error: --format: expected text, json or sarif, got 'xml'"),
        (["audit-code", ".", "--dry-run"], "error: --dry-run: only with --fix"),
        (["audit-code", ".", "--analyzer", "zeta"], "error: --analyzer: expected sqlglot or googlesql, got 'zeta'"),
        (["audit-code", ".", "--exclude", "!"], "error: --exclude or audit_code.exclude: invalid pattern '!'"),
        (
            ["--config", "bad.yaml", "audit-code", "."],
            "error: bad.yaml:2: audit_code.exclud: unknown key 'exclud'; did you mean 'exclude'?",
        ),
        (["--schemas", "nowhere", "audit-code", "."], "nowhere: schemas directory not found"),
    ],
)
def test_bad_input_is_one_message_and_exit_2(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "bad.yaml", "audit_code:\n  exclud: [x]\n")
    result = run_cli(*(args if args[0] == "--schemas" else ["--schemas", SCHEMAS, *args]))
    assert result.exit_code == 2
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_this_repository_audits_clean_with_its_documented_excludes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    page = (ROOT / "docs" / "audit-code.md").read_text()
    command = next(line for line in page.splitlines() if line.startswith("$ bqmanage audit-code . --exclude"))
    args = command.split()[2:]
    result = run_cli(*args)
    assert result.exit_code == 0, result.stdout


def test_the_pre_commit_hook_runs_audit_code_on_the_files_it_is_given(app: Path) -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "bqmanage-audit-code" and hook["language"] == "python"
    program, *args = hook["entry"].split()
    assert program == "bqmanage"  # the console script of pyproject.toml
    result = run_cli("--schemas", SCHEMAS, *args, "src/app/dependencies/auth.py", "config/app.yaml")  # as pre-commit calls it
    assert result.exit_code == 1 and "7 finding(s) in 2 file(s)" in result.stdout


SHAPES = Path(__file__).parents[1] / "fixtures" / "sql_shapes.py"  # CTE, UNION, EXISTS, UPDATE FROM, MERGE, templating


@pytest.mark.parametrize(
    "analyzer,expected",
    [
        (
            "sqlglot",
            [
                (12, "unknown_column_reference", "pipelines_run_todya"),
                (18, "unknown_column_reference", "tenant_nam"),
                (19, "unknown_column_reference", "statuz"),
            ],
        ),
        pytest.param(
            "googlesql",
            [
                (12, "unknown_column_reference", "pipelines_run_todya"),
                (15, "sql_type_error", None),  # '10:30' compared with a TIMESTAMP
                (18, "unknown_column_reference", "tenant_nam"),  # Google stops at the first error of a statement
                (20, "unknown_column_reference", "_PARTITIONDATE"),  # a column-partitioned table has no _PARTITIONDATE
                (22, "unknown_column_reference", "labels"),  # t.labels.env: no column labels
            ],
            marks=pytest.mark.googlesql,
        ),
    ],
)
def test_statement_shapes_and_templating_placeholders(
    analyzer: str, expected: list[tuple[int, str, str | None]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copy(SHAPES, tmp_path / "shapes.py")
    code, report, _ = audit("shapes.py", "--analyzer", analyzer)
    assert code == 1
    assert [(f["line"], f["kind"], f.get("actual")) for f in report["findings"]] == expected
    assert (report["summary"]["sql_statements"], report["summary"]["sql_unparsable"]) == (8, 0)  # %s, {}, :tid parse


def test_googlesql_without_the_extra_installed_is_one_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "job.py", TYPO)
    monkeypatch.setitem(__import__("sys").modules, "zetasql.wasi", None)  # as if zetasql were not installed
    result = run_cli("--schemas", SCHEMAS, "audit-code", ".", "--analyzer", "googlesql")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --analyzer googlesql: Google's analyzer is not installed; "
        "pip install 'bqmanage[googlesql]' (the PyPI package zetasql)\n"
    )


def test_fix_keeps_line_endings_and_a_python_coding_declaration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "crlf.py").write_bytes(b'\xc3\xa9 = "\xc3\xbc"; T = "customers.customer_usage_quotas"\r\nX = 1\r\n')
    (tmp_path / "latin.py").write_bytes(b'# -*- coding: latin-1 -*-\nT = "\xe9 customer_usage_quotas"\n')
    _code, report, _ = audit(".")
    assert [(f["path"], f["line"], f["column"]) for f in report["findings"]] == [("crlf.py", 1, 15), ("latin.py", 2, 8)]
    assert run_cli("--schemas", SCHEMAS, "audit-code", ".", "--fix").exit_code == 0
    assert (tmp_path / "crlf.py").read_bytes() == b'\xc3\xa9 = "\xc3\xbc"; T = "tenants.tenant_usage_quotas"\r\nX = 1\r\n'
    assert (tmp_path / "latin.py").read_bytes() == b'# -*- coding: latin-1 -*-\nT = "\xe9 tenant_usage_quotas"\n'
