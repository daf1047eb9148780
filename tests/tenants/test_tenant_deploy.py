"""The deploy script onboards a tenant through the library API, with the CLI's
exit codes, and the GitHub Actions example runs it with Workload Identity."""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import engine_for, run_cli

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deployment" / "onboard_tenant.py"
WORKFLOW = ROOT / "deployment" / "github" / "bqmanage-onboard-tenant.yml"


def _main() -> Callable[[list[str]], int]:
    spec = importlib.util.spec_from_file_location("onboard_tenant", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main  # type: ignore[no-any-return]


def test_the_script_uses_the_library_api_not_a_subprocess() -> None:
    tree = ast.parse(SCRIPT.read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "bqmanage.api" in imported or "bqmanage" in imported
    assert not {"subprocess", "os.system"} & imported and "subprocess" not in SCRIPT.read_text()


def test_onboarding_exit_codes_match_the_cli(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main = _main()
    assert main(["acme", "--daily-limit", "5"]) == 2  # before apply: bad input, nothing to write to
    assert "run `bqmanage apply` first" in capsys.readouterr().err
    assert run_cli("apply").exit_code == 0
    assert main(["acme", "--name", "Acme Corp", "--daily-limit", "200"]) == 0
    assert capsys.readouterr().out.startswith("Added tenant acme to tenants.tenant_profiles (active)")
    assert main(["acme", "--name", "Acme Corp", "--daily-limit", "200"]) == 0
    assert capsys.readouterr().out.startswith("Nothing to do: tenant acme is already in tenants.tenant_profiles")
    assert main(["acme", "--daily-limit", "300", "--format", "json"]) == 0
    assert '"daily_limit": [\n      200,\n      300\n    ]' in capsys.readouterr().out
    assert main(["acme; DROP TABLE x"]) == 2
    assert capsys.readouterr().err.startswith("error: invalid tenant id 'acme; DROP TABLE x': the tenant id holds")
    assert main(["globex", "--daily-limit", "-3"]) == 2
    with pytest.raises(SystemExit) as usage:  # argparse: exit 2, like a CLI usage error
        main(["globex", "--daily-limit", "many"])
    assert usage.value.code == 2
    rows = engine_for(None).query("SELECT tenant_id, daily_limit FROM `tenants`.`tenant_profiles`")
    assert rows == [{"tenant_id": "acme", "daily_limit": 300}]


def test_onboarding_against_an_unreachable_warehouse_is_exit_3(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "2")
    assert _main()(["acme", "--target", "bigquery", "--project", "my-project"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: bigquery project my-project at http://127.0.0.1:9:") and "Traceback" not in err
