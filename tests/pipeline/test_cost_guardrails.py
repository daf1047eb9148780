"""Cost you can see before you pay: ``plan`` shows what each data step would bill (a dry run), and a
target's ``maximum_bytes_billed`` caps every job bqmanage sends (BigQuery enforces it) and makes
``apply`` refuse up front, exit 2, when the plan's estimate is above it.

bqemulator estimates no bytes; the proxy answers dry runs as BigQuery would for a large quota table
(``_LARGE`` bytes), which is what a backfill over a big table scans."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import seed
from tests.faultproxy import FaultProxy
from tests.helpers import engine_for, run_cli, write

_LARGE = 50 * 1024**3  # 50 GiB


@pytest.fixture
def proxy(emulator_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    proxy = FaultProxy(emulator_url)
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", proxy.url)
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "15")
    proxy.edit_answer = _large_dry_runs
    try:
        yield proxy
    finally:
        proxy.close()


def _large_dry_runs(method: str, path: str, data: bytes) -> bytes:
    if method != "POST" or not path.split("?")[0].endswith("/jobs"):
        return data
    job = json.loads(data)
    if not (job.get("configuration") or {}).get("dryRun"):
        return data
    statistics = job.setdefault("statistics", {})
    statistics["totalBytesProcessed"] = str(_LARGE)
    statistics.setdefault("query", {})["totalBytesProcessed"] = str(_LARGE)
    return json.dumps(job).encode()


def _target(workdir: Path, project: str, cap: int) -> list[str]:
    write(
        workdir / "bqmanage.yaml",
        f"targets:\n  prod: {{engine: bigquery, project: {project}, maximum_bytes_billed: {cap}}}\n",
    )
    return ["--target", "prod"]


def _jobs(proxy: FaultProxy) -> list[dict[str, object]]:
    return [json.loads(b) for m, p, b in proxy.bodies if m == "POST" and p.split("?")[0].endswith("/jobs")]


def test_plan_shows_the_bytes_each_data_step_would_bill(proxy: FaultProxy, workdir: Path) -> None:
    project = "cost-plan"
    seed.create_old_table(engine_for(project))
    result = run_cli(*_target(workdir, project, 10 * _LARGE), "plan")
    assert result.exit_code == 1, result.stderr
    backfill = result.stdout.split("] backfill:")[1]
    assert f"-- estimated bytes billed: {_LARGE:,} (dry run)" in backfill.splitlines()[1]
    assert f"-- estimated bytes billed in all: {_LARGE:,}" in result.stdout


def test_apply_refuses_up_front_when_the_estimate_is_above_the_cap(proxy: FaultProxy, workdir: Path) -> None:
    project = "cost-refused"
    seed.create_old_table(engine_for(project))
    proxy.reset()
    result = run_cli(*_target(workdir, project, 10 * 1024**3), "apply")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "maximum_bytes_billed" in result.stderr and "nothing was run" in result.stderr
    # Nothing that changes anything was sent: only reads and dry runs.
    assert not [m for m, _, _ in proxy.bodies if m in ("PATCH", "PUT", "DELETE")]
    sent = [j["configuration"]["query"]["query"] for j in _jobs(proxy) if not j["configuration"].get("dryRun")]  # type: ignore[index]
    assert not [q for q in sent if not q.lstrip().upper().startswith(("SELECT", "WITH"))]


def test_every_job_carries_the_cap(proxy: FaultProxy, workdir: Path) -> None:
    project = "cost-capped"
    seed.create_old_table(engine_for(project))
    proxy.reset()
    cap = 100 * _LARGE
    assert run_cli(*_target(workdir, project, cap), "apply").exit_code == 0
    jobs = [j for j in _jobs(proxy) if not j["configuration"].get("dryRun")]  # type: ignore[union-attr]
    assert jobs and all(j["configuration"]["query"].get("maximumBytesBilled") == str(cap) for j in jobs)  # type: ignore[index]
