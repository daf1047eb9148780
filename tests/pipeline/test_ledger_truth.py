"""A ledger row that says "running" is a start whose end was never written. Where bqmanage can
prove no apply is running (the local warehouse admits one writer, or readers, never both), that
is a killed run, and every reader says "interrupted", also in a dataset no later run touches; on
BigQuery, where another apply may really be running, it says it cannot tell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bqmanage.apply import ledger_params
from bqmanage.ledger import ledger_insert_sql
from bqmanage.plan import Plan
from tests.helpers import engine_for, run_cli, target_args


def _a_killed_run_in(project: str | None, dataset: str) -> None:
    """The start row a run writes before its first step in ``dataset``, and nothing after it: what
    kill -9 leaves once that dataset's statements ran but its end was not yet recorded."""
    engine = engine_for(project)
    params = ledger_params(dataset, "killed-run", "someone", "abc", "running", 0, 4, [], Plan(steps=(), refused=()), None)
    engine.query(ledger_insert_sql(dataset), params, label="test")
    engine.close()


def _ledger_line(stdout: str, dataset: str) -> str:
    return stdout.split(f"Last apply on {dataset}:")[1].splitlines()[0]


def test_a_start_without_an_end_reads_as_interrupted_where_no_apply_can_be_running(project: str | None) -> None:
    args = target_args(project)
    assert run_cli(*args, "apply").exit_code == 0
    _a_killed_run_in(project, "tenants")
    assert "Nothing to do" in run_cli(*args, "apply").stdout  # the re-run has nothing to do in tenants
    for _ in range(2):  # before and after another apply: the row stays the newest, its reading true
        plan = run_cli(*args, "plan")
        line = _ledger_line(plan.stdout, "tenants")
        outcome = json.loads(run_cli(*args, "plan", "--format", "json").stdout)["ledger"]
        (tenants,) = [e["outcome"] for e in outcome if e["dataset"] == "tenants"]
        if project is None:
            assert "interrupted: started, killed before it recorded its end" in line, plan.stdout
            assert tenants == "interrupted"
        else:
            assert "started, no end recorded (killed, or still running)" in line, plan.stdout
            assert tenants == "running"
        assert "(4 step(s) planned, how many ran is not recorded)" in line  # never "0/4" as if none ran
        assert run_cli(*args, "apply").exit_code == 0


@pytest.fixture(autouse=True)
def _in_workdir(workdir: Path) -> Path:
    return workdir
