"""What bqmanage prints and writes cannot be turned against the user: a report file never replaces
the warehouse, a source file or anything that is not a report, and never leaves its directory
through a link; text from a warehouse, a definition or a flag is printed so that it cannot start
a line (a CI workflow command) or send the terminal a control sequence, while JSON and SARIF
carry it exactly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from tests.helpers import Result, run_cli, write
from tests.runtime import run

DB = Path(".bqmanage/local.duckdb")
FORGED = "x\n::error file=x::forged"
ESCAPES = "\x1b]0;pwned\x07\x1b[31mred\x1b[0m\x9b2J\u2028next"


def _one_error(result: Result, where: str, code: int = 2) -> str:
    """Exit ``code``, one line on stderr, starting with ``error: where``, no traceback."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {where}"), result.stderr
    return lines[0]


def _state(path: Path) -> tuple[int, int, bytes]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns, path.read_bytes()[:4096]


@pytest.fixture
def applied(workdir: Path) -> Path:
    assert run_cli("apply").exit_code == 0
    return workdir


def _no_raw_controls(text: str) -> None:
    """No line of ``text`` is a forged workflow command, and no control character but newlines is in it."""
    assert not any(line.startswith("::") for line in text.splitlines()), text
    assert all(c == "\n" or (c.isprintable() and c not in "\u2028\u2029") for c in text), repr(text)


# ---- the report file ----


@pytest.mark.parametrize("command", [["check"], ["audit-code", "src"]], ids=["check", "audit-code"])
@pytest.mark.parametrize("target", [".bqmanage/local.duckdb", ".bqmanage/local.duckdb.wal"], ids=["warehouse", "wal"])
def test_a_report_never_replaces_the_warehouse_or_its_log(command: list[str], target: str, applied: Path) -> None:
    write(Path("src/app.py"), 'q = "select * from tenants.tenant_profiles"\n')
    before = _state(DB)
    _one_error(run_cli(*command, "-o", target), target)
    assert _state(DB) == before and not Path(".bqmanage/local.duckdb.wal").exists()
    assert run_cli("check").exit_code == 0  # the warehouse still opens, clean


@pytest.mark.parametrize("command", [["check"], ["audit-code", "src"]], ids=["check", "audit-code"])
@pytest.mark.parametrize(
    "target",
    [".bqmanage/local.duckdb.tmp", ".bqmanage/local.duckdb.lock", ".bqmanage/local.duckdb.tmp/spill", ".bqmanage/report.txt"],
    ids=["tmp", "lock", "in-tmp", "state-dir"],
)
def test_a_report_never_lands_among_the_warehouse_side_files(command: list[str], target: str, applied: Path) -> None:
    """Not only the file and its log: anything DuckDB keeps beside it, and bqmanage's state directory."""
    write(Path("src/app.py"), 'q = "select * from tenants.tenant_profiles"\n')
    Path(".bqmanage/local.duckdb.tmp").mkdir(exist_ok=True)
    before = sorted(p.name for p in Path(".bqmanage").rglob("*"))
    _one_error(run_cli(*command, "-o", target), target)
    assert sorted(p.name for p in Path(".bqmanage").rglob("*")) == before  # nothing written


def test_a_report_may_sit_beside_a_configured_warehouse_under_another_name(workdir: Path) -> None:
    write(Path("bqmanage.yaml"), "targets:\n  mine: {engine: local, local_path: wh.duckdb}\ndefault_target: mine\n")
    assert run_cli("apply").exit_code == 0
    _one_error(run_cli("check", "-o", "wh.duckdb.tmp"), "wh.duckdb.tmp")
    assert run_cli("check", "-o", "report.txt").exit_code == 0 and Path("report.txt").exists()


def test_a_report_never_replaces_the_configured_warehouse(workdir: Path) -> None:
    write(Path("bqmanage.yaml"), "targets:\n  mine: {engine: local, local_path: data/wh.duckdb}\ndefault_target: mine\n")
    assert run_cli("apply").exit_code == 0
    before = _state(Path("data/wh.duckdb"))
    _one_error(run_cli("check", "-o", "data/wh.duckdb"), "data/wh.duckdb")
    assert _state(Path("data/wh.duckdb")) == before


@pytest.mark.parametrize("command", [["audit-code", "src"], ["check", "--code", "src"]], ids=["audit-code", "check--code"])
@pytest.mark.parametrize("name", ["app.py", "empty.py"])
def test_a_report_never_replaces_a_file_it_audits(command: list[str], name: str, applied: Path) -> None:
    write(Path("src/app.py"), 'q = "select * from customers.customer_usage_quotas"\n')
    write(Path("src/empty.py"), "")
    before = _state(Path(f"src/{name}"))
    _one_error(run_cli(*command, "-o", f"src/{name}"), f"src/{name}")
    assert _state(Path(f"src/{name}")) == before


def test_a_report_never_replaces_a_file_that_is_not_a_report(applied: Path) -> None:
    write(Path("notes.md"), "# my notes\nClean: is a word I use.\n")  # a report's words inside, not at its end
    before = _state(Path("notes.md"))
    message = _one_error(run_cli("check", "-o", "notes.md"), "notes.md")
    assert "not an earlier bqmanage report" in message
    assert _state(Path("notes.md")) == before


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_an_earlier_report_or_an_empty_file_is_replaced(fmt: str, applied: Path) -> None:
    write(Path("src/app.py"), 'q = "select * from customers.customer_usage_quotas"\n')
    Path("out").write_text("")  # as `mktemp` leaves it
    assert run_cli("check", "--format", fmt, "-o", "out").exit_code == 0
    first = Path("out").read_text()
    assert first
    assert run_cli("audit-code", "src", "--format", fmt, "-o", "out").exit_code == 1  # check's report, replaced
    assert Path("out").read_text() != first
    assert run_cli("check", "--format", fmt, "-o", "out").exit_code == 0  # and audit-code's
    assert Path("out").read_text() == first


@pytest.mark.parametrize("command", [["check"], ["audit-code", "src"]], ids=["check", "audit-code"])
@pytest.mark.parametrize("output", ["reports/new.json", "reports/old.json", "reports/../new.json"])
def test_a_report_through_a_directory_link_out_of_the_tree_is_refused(
    command: list[str], output: str, applied: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    write(Path("src/app.py"), 'q = "select * from tenants.tenant_profiles"\n')
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "sub"
    elsewhere.mkdir()
    (elsewhere / "old.json").write_text("")  # an empty file, which a report may replace in its own tree
    Path("reports").symlink_to(elsewhere)
    _one_error(run_cli(*command, "-o", output), f"{output}: cannot write the report: its directory is reached through")
    assert sorted(p.name for p in elsewhere.parent.rglob("*")) == ["old.json", "sub"]
    assert (elsewhere / "old.json").read_text() == ""


def test_a_report_through_a_directory_link_within_the_tree_is_written(applied: Path) -> None:
    Path("real").mkdir()
    Path("reports").symlink_to("real")
    assert run_cli("check", "--format", "json", "-o", "reports/new.json").exit_code == 0
    assert json.loads(Path("real/new.json").read_text())["clean"] is True


@pytest.mark.parametrize("command", [["check", "--code", "src"], ["audit-code", "src"]], ids=["check", "audit-code"])
@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_a_report_written_into_the_audited_tree_is_not_audited_by_the_next_run(
    command: list[str], fmt: str, applied: Path
) -> None:
    write(Path("src/app.py"), 'q = "select * from customers.customer_usage_quotas"\n')
    reports = []
    for _ in range(3):
        assert run_cli(*command, "--format", fmt, "-o", "src/report.json").exit_code == 1
        reports.append(Path("src/report.json").read_text())
    assert reports[0] == reports[1] == reports[2]
    assert "src/app.py" in reports[0] and "src/report.json" not in reports[0]


def test_a_report_link_out_of_its_directory_is_refused(applied: Path) -> None:
    victim = write(Path("elsewhere/victim.json"), '{"clean": true}\n')  # even a report, elsewhere
    Path("reports").mkdir()
    Path("reports/drift.json").symlink_to("../elsewhere/victim.json")
    message = _one_error(run_cli("check", "--format", "json", "-o", "reports/drift.json"), "reports/drift.json")
    assert "symbolic link" in message
    assert victim.read_text() == '{"clean": true}\n'


def test_a_report_link_within_its_directory_writes_its_target(applied: Path) -> None:
    Path("reports").mkdir()
    Path("reports/drift.json").write_text("")
    Path("reports/latest.json").symlink_to("drift.json")
    assert run_cli("check", "--format", "json", "-o", "reports/latest.json").exit_code == 0
    assert Path("reports/latest.json").is_symlink()
    assert json.loads(Path("reports/drift.json").read_text())["clean"] is True


# ---- text from outside, printed ----


def _forge_live(description: str = FORGED, table: str = "x\n::error::tbl") -> None:
    con = duckdb.connect(str(DB))
    con.execute(f"COMMENT ON COLUMN tenants.tenant_profiles.tenant_name IS '{description}'")
    con.execute(f'CREATE TABLE tenants."{table}" (a INT)')
    con.close()


def test_check_text_prints_live_descriptions_and_table_names_on_their_own_line(applied: Path) -> None:
    _forge_live()
    result = run_cli("check")
    assert result.exit_code == 1
    _no_raw_controls(result.stdout)
    assert "description is 'x\\n::error file=x::forged'" in result.stdout  # quoted, as a table's
    assert "tenants.x\\n::error::tbl" in result.stdout


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_check_json_and_sarif_carry_live_values_exactly(fmt: str, applied: Path) -> None:
    _forge_live()
    result = run_cli("check", "--format", fmt)
    assert result.exit_code == 1
    document = json.loads(result.stdout)  # valid JSON, and no line of it is raw
    _no_raw_controls(result.stdout)
    messages = (
        [f["message"] for f in document["findings"]]
        if fmt == "json"
        else [r["message"]["text"] for r in document["runs"][0]["results"]]
    )
    assert any(FORGED in m for m in messages) and any("x\n::error::tbl" in m for m in messages)


def test_check_text_escapes_control_sequences_of_a_definition(applied: Path) -> None:
    path = Path("schemas/tenants/tenant_profiles.yaml")
    text = path.read_text()
    assert "description: Display name." in text
    path.write_text(text.replace("description: Display name.", 'description: "\\e]0;pwned\\a\\e[31mred\\x9b2J\\L"', 1))
    result = run_cli("check")
    assert result.exit_code == 1
    _no_raw_controls(result.stdout)
    assert "\\x1b]0;pwned\\x07\\x1b[31mred\\x9b2J\\u2028" in result.stdout


def test_plan_and_apply_escape_control_sequences_of_a_definition(applied: Path) -> None:
    path = Path("schemas/tenants/tenant_profiles.yaml")
    path.write_text(path.read_text().replace("description: Display name.", 'description: "\\e]0;pwned\\a\\e[2J"', 1))
    for command in ("plan", "apply"):
        result = run_cli(command)
        assert result.exit_code in (0, 1), result.stderr
        _no_raw_controls(result.stdout + result.stderr)
    assert run_cli("plan").exit_code == 0  # what apply set is what the definition says: no drift left


def test_render_writes_the_ddl_plan_sends_with_no_raw_control_character(workdir: Path) -> None:
    """String literals (descriptions, defaults) are GoogleSQL escapes in the SQL text itself, and
    render writes that text as it is, piped too: `render > ddl.sql` is what plan and apply send."""
    from tests.runtime import run

    write(Path("schemas/evil/_dataset.yaml"), "location: US\n")
    write(
        Path("schemas/evil/t.yaml"),
        'table: t\ndescription: "desc\\e]0;pwned\\a\\e[2J\\nApplied 3 step(s)\\x9b\\t"\n'
        "columns:\n  - name: a\n    type: STRING\n    default: \"'x\\e[31m'\"\n",
    )
    rendered = run("render", "--table", "evil.t", cwd=workdir)  # a pipe, not a terminal
    assert rendered.returncode == 0, rendered.stderr
    ddl = rendered.stdout
    assert all(c == "\n" or (c.isprintable() and c not in "\u2028\u2029") for c in ddl), repr(ddl)
    assert '"desc\\x1b]0;pwned\\x07\\x1b[2J\\nApplied 3 step(s)\\u009b\\t"' in ddl, ddl
    assert "\\x1b[31m" in ddl
    planned = run_cli("plan")
    assert planned.exit_code == 1 and ddl.rstrip("\n") in planned.stdout, (ddl, planned.stdout)
    assert run_cli("apply").exit_code == 0
    assert run_cli("check").exit_code == 0  # the escapes mean the same value: no drift


def test_plan_and_inspect_escape_live_names(applied: Path) -> None:
    _forge_live()
    for command in ("plan", "inspect"):
        result = run_cli(command, "--all") if command == "inspect" else run_cli(command)
        _no_raw_controls(result.stdout + result.stderr)


def test_tenant_name_with_control_characters_is_refused_and_nothing_written(applied: Path) -> None:
    before = _state(DB)
    name = "Evil\x1b[31mRED\x1b[0m\nFAKE LINE: tenant root active"
    message = _one_error(run_cli("tenant", "add", "evil1", "--name", name), "--name:")
    assert "\\x1b[31mRED" in message and "\\nFAKE LINE" in message
    assert _state(DB) == before


def test_a_tenant_name_longer_than_a_label_is_refused_and_nothing_written(applied: Path) -> None:
    before = _state(DB)
    message = _one_error(run_cli("tenant", "add", "evil1", "--name", "n" * 100_000), "--name:")
    assert len(message) < 200  # named by its length, not printed
    assert _state(DB) == before
    assert run_cli("tenant", "add", "evil1", "--name", "n" * 1024).exit_code == 0


def test_tenant_list_escapes_names_written_around_bqmanage(applied: Path) -> None:
    assert run_cli("tenant", "add", "evil1", "--name", "Evil").exit_code == 0
    con = duckdb.connect(str(DB))
    con.execute("UPDATE tenants.tenant_profiles SET tenant_name = ? WHERE tenant_id = 'evil1'", [f"Evil{ESCAPES}\nroot  active"])
    con.close()
    result = run_cli("tenant", "list")
    assert result.exit_code == 0
    _no_raw_controls(result.stdout)
    rows = [line for line in result.stdout.splitlines() if line.startswith("evil1")]
    assert len(rows) == 1 and "\\nroot  active" in rows[0]
    listed = json.loads(run_cli("tenant", "list", "--format", "json").stdout)
    assert f"Evil{ESCAPES}\nroot  active" in [t["name"] for t in listed["tenants"]]


@pytest.mark.parametrize(
    "args",
    [
        ["--target", FORGED, "check"],
        ["check", "--tenant", FORGED],
        ["import", "--dataset", FORGED],
        ["reset", "--table", FORGED],
        ["--schemas", f"missing{ESCAPES}", "validate"],
    ],
    ids=["target", "tenant", "import", "reset", "schemas"],
)
def test_error_messages_quote_input_on_their_own_line(args: list[str], workdir: Path) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    _no_raw_controls(result.stderr)
    assert result.stderr.splitlines()[0].startswith(("error: ", "missing\\x1b]0;pwned\\x07")), result.stderr


def test_a_definition_file_named_with_a_line_break_is_reported_on_one_line(workdir: Path) -> None:
    write(Path("schemas/tenants/x\n::error::y.yaml"), "columns: 3\n")
    result = run_cli("validate")
    assert result.exit_code == 2
    _no_raw_controls(result.stderr)
    assert os.path.exists("schemas/tenants/x\n::error::y.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "# Usage\n\nRun `bqmanage check -o report.txt`; it prints:\n\nClean: target local matches the definitions\n",
        '{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}\n',
        '{"clean": true, "findings": [], "owner": "ops"}\n',
        '{"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "runs": [{"tool": {"driver": {"name": "other"}}}]}\n',
        "# Notes\n\nbqmanage report sha256:" + "0" * 64 + "\n",
    ],
)
def test_a_document_that_only_looks_like_a_report_is_never_replaced(text: str, applied: Path) -> None:
    write(Path("README.md"), text)
    before = _state(Path("README.md"))
    message = _one_error(run_cli("check", "-o", "README.md"), "README.md")
    assert "not an earlier bqmanage report" in message
    assert _state(Path("README.md")) == before


def _forge_registry() -> None:
    """A registry row and a column written around bqmanage, each with a line that would be a command."""
    con = duckdb.connect(str(DB))
    con.execute(
        "INSERT INTO tenants.tenant_profiles (tenant_id, tenant_name, status, daily_limit, concurrent_limit, created_at)"
        " VALUES (?, 'n', 'active', 1, 1, now()), ('okay', 'n', ?, 1, 1, now())",
        ["evil\n::error::id", "weird\n::warning::status"],
    )
    con.execute('ALTER TABLE tenants.tenant_profiles ADD COLUMN "y\n::error::col" VARCHAR')
    con.close()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["check", "--all-tenants"], 2),
        (["apply", "--all-tenants"], 2),
        (["plan", "--all-tenants"], 2),
        (["plan"], 2),
        (["tenant", "list"], 0),
    ],
    ids=["check", "apply", "plan-tenants", "plan", "tenant-list"],
)
def test_registry_ids_statuses_and_live_columns_are_printed_on_their_own_line(args: list[str], code: int, applied: Path) -> None:
    _forge_registry()
    result = run_cli(*args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    _no_raw_controls(result.stdout)
    _no_raw_controls(result.stderr)
    shown = result.stdout + result.stderr
    assert "evil\\n::error::id" in shown or "y\\n::error::col" in shown or "weird\\n::warning::status" in shown


# ---- the config file: every error path quotes it escaped ----

HOSTILE_KEY = "evil\x1b[31mRED\x1b]0;title\x07\n::error::forged"
CONFIGS = {
    "unknown-key": f'default_target: local\n"{HOSTILE_KEY}": 1\n',
    "unknown-target-key": f'targets:\n  prod: {{engine: bigquery, "{HOSTILE_KEY}": 1}}\n',
    "unknown-audit-key": f'audit_code: {{"{HOSTILE_KEY}": []}}\n',
    "bad-legacy-value": f'legacy: {{datasets: {{"{HOSTILE_KEY}": [1]}}}}\n',
    "bad-default-target": f'default_target: "{HOSTILE_KEY}"\n',
    # A target's name is printed in every report ("Applied 3 step(s) to target ..."): refused.
    "target-name": f'targets:\n  "{HOSTILE_KEY}": {{engine: local}}\ndefault_target: "{HOSTILE_KEY}"\n',
}


@pytest.mark.parametrize("command", [["validate"], ["check"], ["audit-code", "."]], ids=["validate", "check", "audit-code"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_a_config_file_is_quoted_escaped_on_every_error_path(config: str, command: list[str], workdir: Path) -> None:
    """The config's own words (a key, a value) reach the error line escaped, through the direct
    parser (validate, audit-code) and typer's (check) alike; nothing is created."""
    Path("bqmanage.yaml").write_text(CONFIGS[config].replace("\n::", "\\n::").replace("\x1b", "\\e").replace("\x07", "\\a"))
    done = run(*command, cwd=workdir)  # a real process: validate and audit-code take the direct parser
    result = Result(done.returncode, done.stdout, done.stderr)
    line = _one_error(result, "bqmanage.yaml")
    _no_raw_controls(result.stderr)
    if config.startswith("unknown"):
        # A key that is no setting's name is not shown at all (the file may not be a config:
        # --config /etc/shadow), only its line and the keys valid there.
        assert "unknown key (not shown" in line and "evil" not in line and "forged" not in line
    else:
        assert "\\x1b[31m" in line and "\\n::error::forged" in line  # shown, escaped, never sent
    assert not Path(".bqmanage").exists()
