"""The library's front door: Project refuses bad input before it constructs an engine, and the
CLI and the deployment script refuse through the same Project call that later opens the
warehouse."""

from __future__ import annotations

import ast
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

import bqmanage
from bqmanage import BqmanageError, Limits, Project, TenantScope
from bqmanage.errors import EXIT_BAD_INPUT
from tests.helpers import run_cli

PACKAGE = Path(bqmanage.__file__).parent
WAREHOUSE = Path(".bqmanage")


class _Tripwire(BaseHTTPRequestHandler):
    """An endpoint that answers nothing and counts every request that reaches it."""

    seen: ClassVar[list[str]] = []

    def _any(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def tripwire(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A bigquery target whose endpoint records each request bqmanage sends; the list it yields
    stays empty unless one was sent."""
    _Tripwire.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tripwire)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "1")
    # The CLI's flags fall back to these; Project.load takes them as arguments.
    monkeypatch.setenv("BQMANAGE_TARGET", "bigquery")
    monkeypatch.setenv("BQMANAGE_PROJECT", "my-project")
    try:
        yield _Tripwire.seen
    finally:
        server.shutdown()
        server.server_close()


def _break_a_definition(workdir: Path) -> Path:
    path = workdir / "schemas" / "tenants" / "tenant_profiles.yaml"
    path.write_text(path.read_text().replace("type: STRING", "type: STRNG", 1))
    return path


def test_bad_definitions_are_refused_by_project_load_before_any_warehouse_exists(workdir: Path) -> None:
    _break_a_definition(workdir)
    with pytest.raises(BqmanageError) as refused:
        Project.load()
    assert refused.value.exit_code == EXIT_BAD_INPUT
    assert "tenant_profiles.yaml" in str(refused.value)
    assert not WAREHOUSE.exists()


_BAD_CALLS = pytest.mark.parametrize(
    "call",
    [
        lambda p: p.tenant_add("Acme Corp"),
        lambda p: p.tenant_add("acme", limits=Limits(daily=-1)),
        lambda p: p.tenant_suspend("acme; DROP TABLE x"),
        lambda p: p.tenant_set_limits("acme", Limits()),
        lambda p: p.reset(table="tenants.nope"),
        lambda p: p.plan(scope=TenantScope.of(["-acme"])),
        lambda p: p.render(fmt="yaml"),
    ],
    ids=["bad id", "bad limit", "hostile id", "no limit given", "unknown quota table", "bad tenant scope", "bad format"],
)


@_BAD_CALLS
def test_bad_arguments_are_refused_before_any_request_is_sent(tripwire: list[str], call: object) -> None:
    project = Project.load(target="bigquery", project="my-project")
    with pytest.raises(BqmanageError) as refused:
        call(project)  # type: ignore[operator]
    assert refused.value.exit_code == EXIT_BAD_INPUT
    assert tripwire == []


@_BAD_CALLS
def test_bad_arguments_are_refused_before_the_local_warehouse_is_created(workdir: Path, call: object) -> None:
    project = Project.load()
    with pytest.raises(BqmanageError) as refused:
        call(project)  # type: ignore[operator]
    assert refused.value.exit_code == EXIT_BAD_INPUT
    assert not WAREHOUSE.exists()


def test_a_valid_call_does_reach_the_warehouse(tripwire: list[str]) -> None:
    # The tripwire can fail the test above: a call that passes its checks sends its requests.
    with pytest.raises(BqmanageError) as failed:
        Project.load(target="bigquery", project="my-project").tenant_list()
    assert failed.value.exit_code == 3
    assert tripwire != []


@pytest.mark.parametrize(
    "args",
    [
        ["plan"],
        ["apply"],
        ["check"],
        ["inspect"],
        ["reset", "--dry-run"],
        ["render"],
        ["tenant", "add", "acme"],
        ["tenant", "list"],
        ["tenant", "suspend", "acme"],
        ["tenant", "resume", "acme"],
        ["tenant", "set-limits", "acme", "--daily-limit", "5"],
    ],
)
def test_every_command_refuses_bad_definitions_before_opening_the_warehouse(workdir: Path, args: list[str]) -> None:
    _break_a_definition(workdir)
    result = run_cli(*args)
    assert result.exit_code == EXIT_BAD_INPUT
    assert "tenant_profiles.yaml" in result.stderr and "Traceback" not in result.stderr
    assert not WAREHOUSE.exists()


def test_a_bad_tenant_id_on_the_command_line_sends_no_request(tripwire: list[str]) -> None:
    for args in (["tenant", "add", "Acme Corp"], ["plan", "--tenant", "Acme Corp"], ["check", "--tenant", "-x"]):
        result = run_cli(*args)
        assert result.exit_code == EXIT_BAD_INPUT and "invalid tenant id" in result.stderr, args
    assert tripwire == []


def _bqmanage_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {n for n in names if n.split(".")[0] == "bqmanage"}


def _opens_an_engine(path: Path) -> bool:
    """Whether a module imports an engine opener or the engine-level api functions."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "bqmanage.engines":
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "bqmanage" and "api" in {a.name for a in node.names}:
            return True
    return False


def test_the_command_line_opens_no_engine_itself() -> None:
    # Every command but import goes through Project, which checks first and opens the engine
    # second; import validates the files it writes, not the definitions it adds to.
    assert {path.name for path in (PACKAGE / "cli").glob("*.py") if _opens_an_engine(path)} == {"imports.py"}


def test_the_onboarding_script_imports_nothing_but_the_public_api() -> None:
    script = PACKAGE.parent / "deployment" / "onboard_tenant.py"
    assert _bqmanage_imports(script) == {"bqmanage"}


def test_the_public_api_is_exported_lazily() -> None:
    import subprocess
    import sys

    code = "import sys, bqmanage; print(sorted(m for m in sys.modules if m.startswith('bqmanage.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert set(bqmanage.__all__) <= set(dir(bqmanage))
    for name in bqmanage.__all__:
        assert getattr(bqmanage, name) is not None


def test_every_command_refuses_two_quota_tables_with_one_message(workdir: Path) -> None:
    quotas = workdir / "schemas" / "tenants" / "tenant_usage_quotas.yaml"
    text = quotas.read_text().replace("table: tenant_usage_quotas", "table: tenant_usage_quotas_eu", 1)
    (quotas.parent / "tenant_usage_quotas_eu.yaml").write_text(text)
    said = set()
    for args in (["tenant", "list"], ["tenant", "add", "acme"], ["reset", "--dry-run"]):
        result = run_cli(*args)
        assert result.exit_code == EXIT_BAD_INPUT and "Traceback" not in result.stderr, args
        said.add(result.stderr.split(":", 2)[2].split(";")[0])
    assert said == {" needs exactly one quota table with its tenant registry"}
    assert "tenants.tenant_usage_quotas, tenants.tenant_usage_quotas_eu" in result.stderr
    assert not WAREHOUSE.exists()
