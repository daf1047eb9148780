"""The GitHub Action (action.yml) and the shipped workflows (deployment/github/, .github/workflows/),
run for real where they run shell: the Action's command step and the onboarding workflow's input
check are executed by bash with the values a workflow would hand them, against the local engine
instead of production. ./dev lint-deploy runs zizmor, actionlint and checkov over the same files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import engine_for, run_cli

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
SHIPPED = sorted((ROOT / "deployment" / "github").glob("*.yml"))
OWN = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BQMANAGE = str(Path(sys.executable).parent / "bqmanage")
Done = subprocess.CompletedProcess[str]


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())  # type: ignore[no-any-return]


def _steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    if "runs" in document:
        return document["runs"]["steps"]  # type: ignore[no-any-return]
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def _outputs(path: Path) -> dict[str, str]:
    """A $GITHUB_OUTPUT file as the runner reads it: name=value lines and name<<DELIM blocks."""
    values: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for item in lines:
                if item == delimiter:
                    break
                block.append(item)
            values[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def _runner(tmp_path: Path) -> dict[str, str]:
    """What the runner gives every step: its files, and a PATH without the test environment's."""
    (tmp_path / "runner").mkdir(parents=True, exist_ok=True)
    files = {"GITHUB_OUTPUT": tmp_path / "runner" / "output", "GITHUB_STEP_SUMMARY": tmp_path / "runner" / "summary"}
    for file in files.values():
        file.write_text("")
    return {"PATH": "/usr/bin:/bin", "RUNNER_TEMP": str(tmp_path / "runner")} | {k: str(v) for k, v in files.items()}


def _run_action(with_: dict[str, str], tmp_path: Path, cwd: Path, **overrides: str) -> tuple[Done, dict[str, str]]:
    """The Action's command step, run by bash as the runner runs it: its env: block resolved from
    the action's input defaults and the workflow's `with:`, bqmanage from this test environment."""
    action = _load(ACTION)
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()} | with_ | overrides
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "run")
    env = _runner(tmp_path)
    for name, expression in step["env"].items():
        found = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", expression)
        if found:
            env[name] = inputs[found.group(1)]
        else:
            assert expression == "${{ steps.install.outputs.bin }}", expression
            env[name] = BQMANAGE
    done = subprocess.run(["bash", "-c", step["run"]], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    return done, _outputs(Path(env["GITHUB_OUTPUT"])) | {"summary": Path(env["GITHUB_STEP_SUMMARY"]).read_text()}


def _with(workflow: str, command: str) -> dict[str, str]:
    """The `with:` of the step of a shipped workflow that runs the Action with `command`."""
    steps = _steps(_load(ROOT / "deployment" / "github" / workflow))
    return next(s["with"] for s in steps if s.get("with", {}).get("command") == command)  # type: ignore[no-any-return]


# --- supply chain: what zizmor checks, kept by a test that needs no tool ---------------------


@pytest.mark.parametrize("path", [ACTION, *SHIPPED, *OWN], ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_and_no_run_script_holds_an_expression(path: Path) -> None:
    document = _load(path)
    for step in _steps(document):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
            if step["uses"].startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
        # An expression in run: is spliced into the shell text (script injection); env: is data.
        assert "${{" not in step.get("run", ""), step.get("name")


@pytest.mark.parametrize("path", [*SHIPPED, *OWN], ids=lambda p: p.name)
def test_permissions_are_per_job_and_id_token_only_where_a_token_is_exchanged(path: Path) -> None:
    workflow = _load(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, name
        uses = [s.get("uses", "") for s in job.get("steps", [])]
        exchanges = any(u.startswith(("google-github-actions/auth@", "pypa/gh-action-pypi-publish@")) for u in uses)
        assert (job["permissions"].get("id-token") == "write") == exchanges, name


def test_upload_sarif_is_v4() -> None:
    text = (ROOT / "deployment" / "github" / "bqmanage-check.yml").read_text()
    assert re.search(r"# github/codeql-action v4\.\d+\.\d+\n\s+- uses: github/codeql-action/upload-sarif@[0-9a-f]{40}", text)


def test_apply_runs_on_main_behind_a_protected_environment_one_at_a_time() -> None:
    workflow = _load(ROOT / "deployment" / "github" / "bqmanage-apply.yml")
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads `on:` as True
    assert workflow["jobs"]["apply"]["environment"] == "production"
    assert workflow["concurrency"]["cancel-in-progress"] is False
    assert _with("bqmanage-apply.yml", "apply").get("success-exit-codes", "0") == "0"


# --- plan on a pull request ------------------------------------------------------------------


def test_pr_plan_of_an_added_column_is_green_and_shows_the_plan(workdir: Path, tmp_path: Path) -> None:
    workflow = _load(ROOT / "deployment" / "github" / "bqmanage-plan.yml")
    assert set(workflow[True]) == {"pull_request"} and "schemas/**" in workflow[True]["pull_request"]["paths"]
    assert run_cli("apply").exit_code == 0  # production as it is before the PR
    definition = workdir / "schemas" / "tenants" / "tenant_profiles.yaml"
    definition.write_text(
        definition.read_text() + "  - {name: region, type: STRING, description: Where the tenant's data lives.}\n"
    )

    # The PR's plan, against the local engine instead of production.
    done, outputs = _run_action(_with("bqmanage-plan.yml", "plan"), tmp_path, workdir, target="local", project="")
    assert done.returncode == 0, done.stderr
    assert outputs["exit-code"] == "1"  # bqmanage plan: changes pending
    assert "region" in done.stdout and "tenants.tenant_profiles" in done.stdout
    assert outputs["summary"].startswith("### bqmanage plan: exit 1 (findings or pending changes)")
    assert "region" in outputs["summary"] and Path(outputs["output-file"]).read_text() == done.stdout


def test_pr_plan_of_an_invalid_definition_fails_with_exit_2(workdir: Path, tmp_path: Path) -> None:
    definition = workdir / "schemas" / "tenants" / "tenant_profiles.yaml"
    definition.write_text(definition.read_text() + "  - {name: region, type: INT46}\n")
    done, outputs = _run_action(_with("bqmanage-plan.yml", "plan"), tmp_path, workdir, target="local", project="")
    assert done.returncode == 2 and outputs["exit-code"] == "2"
    assert "unknown type 'INT46'" in done.stderr and "::error::bqmanage plan exited 2" in done.stderr


def test_the_action_refuses_a_command_that_is_not_command_words(workdir: Path, tmp_path: Path) -> None:
    for command in ("plan; id", "--help", "plan apply check", ""):
        done, outputs = _run_action({"command": command}, tmp_path, workdir, target="local")
        assert done.returncode == 2 and "exit-code" not in outputs, command


def test_the_action_passes_each_line_of_args_as_one_argument(workdir: Path, tmp_path: Path) -> None:
    assert run_cli("apply").exit_code == 0
    args = "--name\nAcme `id` $(id) Corp\n\n--daily-limit\n7\n--\nacme"
    done, _ = _run_action({"command": "tenant add", "args": args}, tmp_path, workdir, target="local")
    assert done.returncode == 0, done.stderr
    rows = engine_for(None).query("SELECT tenant_name, daily_limit FROM `tenants`.`tenant_profiles`")
    assert rows == [{"tenant_name": "Acme `id` $(id) Corp", "daily_limit": 7}]


# --- onboarding ------------------------------------------------------------------------------

ONBOARD = ROOT / "deployment" / "github" / "bqmanage-onboard-tenant.yml"


def _check_inputs(tmp_path: Path, tenant_id: str, **inputs: str) -> tuple[int, dict[str, str]]:
    """The onboarding workflow's first job, which runs before anything else, with these inputs."""
    step = _load(ONBOARD)["jobs"]["inputs"]["steps"][0]
    env = _runner(tmp_path) | {"TENANT_ID": tenant_id, "TENANT_NAME": "", "DAILY_LIMIT": "", "MONTHLY_LIMIT": ""}
    env |= {"CONCURRENT_LIMIT": ""} | inputs
    assert set(env) - set(_runner(tmp_path)) == set(step["env"])
    done = subprocess.run(["bash", "-c", step["run"]], env=env, capture_output=True, text=True, timeout=60)
    return done.returncode, _outputs(Path(env["GITHUB_OUTPUT"]))


@pytest.mark.parametrize("tenant_id", ["--help", "-h", "-", "", "Acme", "acme x", "acme;id", "a" * 64, "acmé", "acme\n--help"])
def test_onboarding_refuses_a_bad_tenant_id_before_anything_else(tmp_path: Path, tenant_id: str) -> None:
    workflow = _load(ONBOARD)
    assert workflow["jobs"]["inputs"]["permissions"] == {} and "inputs" in workflow["jobs"]["onboard"]["needs"]
    assert "uses" not in workflow["jobs"]["inputs"]["steps"][0]  # no checkout, no credentials
    code, outputs = _check_inputs(tmp_path, tenant_id)
    assert code == 2 and outputs == {}


def test_onboarding_id_refused_by_bqmanage_too_after_the_separator(workdir: Path, tmp_path: Path) -> None:
    """Were the first check ever looser, bqmanage reads the id after `--` as the id, and refuses it."""
    assert run_cli("apply").exit_code == 0
    for tenant_id in ("--help", "-h"):
        done, outputs = _run_action({"command": "tenant add", "args": f"--\n{tenant_id}"}, tmp_path, workdir, target="local")
        assert done.returncode == 2 and outputs["exit-code"] == "2"
        assert f"invalid tenant id '{tenant_id}'" in done.stderr


def test_onboarding_concurrency_is_keyed_on_the_dataset_name_form_of_the_id(tmp_path: Path) -> None:
    onboard = _load(ONBOARD)["jobs"]["onboard"]
    assert onboard["concurrency"]["group"] == "bqmanage-onboard-${{ needs.inputs.outputs.key }}"
    keys = {_check_inputs(tmp_path / tenant_id, tenant_id)[1]["key"] for tenant_id in ("acme-x", "acme_x")}
    assert keys == {"acme_x"}


def test_onboarding_end_to_end_on_the_local_engine(workdir: Path, tmp_path: Path) -> None:
    code, outputs = _check_inputs(tmp_path, "acme-eu", TENANT_NAME="Acme; `rm -rf ~`", DAILY_LIMIT="200", MONTHLY_LIMIT="")
    assert code == 0
    assert outputs["args"].splitlines() == ["--name", "Acme; `rm -rf ~`", "--daily-limit", "200", "--", "acme-eu"]
    assert _check_inputs(tmp_path, "acme", DAILY_LIMIT="-3")[0] == 2
    assert _check_inputs(tmp_path, "acme", TENANT_NAME="two\nlines")[0] == 2

    with_ = _with("bqmanage-onboard-tenant.yml", "tenant add")
    assert with_["args"] == "${{ needs.inputs.outputs.args }}"
    assert run_cli("apply").exit_code == 0
    done, _ = _run_action(with_, tmp_path, workdir, target="local", project="", args=outputs["args"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Added tenant acme-eu to tenants.tenant_profiles (active)")
    rows = engine_for(None).query("SELECT tenant_id, tenant_name, daily_limit FROM `tenants`.`tenant_profiles`")
    assert rows == [{"tenant_id": "acme-eu", "tenant_name": "Acme; `rm -rf ~`", "daily_limit": 200}]
    assert "tenant_acme_eu" in done.stdout


def test_onboarding_no_longer_needs_the_script() -> None:
    assert "onboard_tenant.py" not in ONBOARD.read_text()
