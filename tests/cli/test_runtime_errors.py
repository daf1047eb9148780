"""Runtime failures give one located message and the documented exit code, never a
traceback, and leave nothing half-written: report paths, interrupts, network failures, jobs that
outlive their deadline, bad credential files, and exact BYTES/STRING defaults."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import time
from pathlib import Path

import pytest

from bqmanage import api
from bqmanage.ledger import LEDGER
from bqmanage.report.text import name_list
from bqmanage.settings import resolve_settings
from tests import seed
from tests.faultproxy import Fault, FaultProxy, SlowJobs
from tests.helpers import engine_for, run_cli, target_args, write
from tests.runtime import broken_endpoint, run, start

# ---- check --output ----


@pytest.mark.parametrize("path", ["/nonexistent/x.json", "/"])
def test_check_output_that_cannot_be_written_is_exit_2_before_any_warehouse_work(path: str, workdir: Path) -> None:
    result = run_cli("check", "--format", "json", "-o", path)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"error: {path}:") and "Traceback" not in result.stderr
    assert not Path(".bqmanage").exists()  # refused before the warehouse was opened (or created)


def test_check_output_is_written_whole_or_not_at_all(workdir: Path) -> None:
    Path("reports").mkdir()
    result = run_cli("check", "--format", "json", "-o", "reports/drift.json")
    assert result.exit_code == 1 and result.stdout == ""
    assert json.loads(Path("reports/drift.json").read_text())["clean"] is False
    assert [p.name for p in Path("reports").iterdir()] == ["drift.json"]  # no temporary file left beside it


@pytest.mark.parametrize("kind", ["fifo", "device", "definition", "config", "empty"])
def test_check_output_never_replaces_what_is_not_a_report(kind: str, workdir: Path) -> None:
    """The report is renamed into place, which would turn /dev/null or a FIFO into a plain file
    and could overwrite a definition: all refused, exit 2, the target untouched."""
    if kind == "fifo":
        target = "pipe"
        os.mkfifo(target)
    elif kind == "device":
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root")
        target = "null"
        os.mknod(target, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    elif kind == "definition":
        target = "schemas/tenants/tenant_profiles.yaml"
    elif kind == "config":
        target = "bqmanage.yaml"
        write(Path(target), "default_target: local\n")
    else:
        target = ""
    before = os.lstat(target) if target else None
    result = run_cli("check", "-o", target)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    if before is not None:
        after = os.lstat(target)
        assert (stat.S_IFMT(after.st_mode), after.st_size, after.st_mtime_ns) == (
            stat.S_IFMT(before.st_mode),
            before.st_size,
            before.st_mtime_ns,
        )
    assert not Path(".bqmanage").exists()


# ---- Ctrl-C and SIGTERM in the middle of a DuckDB statement ----


def _big_old_table(copies: int) -> None:
    """The seed's old table with 3 * ``copies`` rows, so that the backfill UPDATE takes a while."""
    engine = engine_for(None)
    seed.create_old_table(engine)
    seed.insert_old_rows(engine)
    engine.con.execute(  # type: ignore[attr-defined]  # bulk fill straight in DuckDB: test setup only
        "INSERT INTO tenants.tenant_usage_quotas SELECT q.* REPLACE (q.usage_id || '-' || r.i AS usage_id) "
        f"FROM tenants.tenant_usage_quotas q, range({copies}) r(i)"
    )
    engine.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_the_backfill_exits_130_and_a_rerun_resumes(sig: signal.Signals, workdir: Path) -> None:
    _big_old_table(300_000)  # 900,003 rows
    proc = start("apply", cwd=workdir)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "backfill:" in line:  # printed right before the UPDATE is transpiled and sent
            break
    # At once: the UPDATE of 900k rows takes about a second, so the signal lands in the backfill step;
    # a fixed wait could outlast it on a fast machine and find the apply finished.
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    err = "".join(seen) + err
    assert proc.returncode == 130, err
    assert "interrupted; re-run to resume" in err
    assert "Traceback" not in err and "Query interrupted" not in err and "Applied" not in out
    engine = engine_for(None)
    outcomes = [r["outcome"] for r in engine.query(f"SELECT outcome FROM `tenants`.`{LEDGER}` ORDER BY applied_at")]
    assert outcomes[-1] == "failed", outcomes  # the interrupted run says so in the ledger
    assert engine.query("SELECT count(*) AS n FROM `tenants`.`tenant_usage_quotas` WHERE quota_exceeded IS NULL")[0]["n"] > 0
    engine.close()
    resumed = run("apply", cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr
    engine = engine_for(None)
    assert engine.query("SELECT count(*) AS n FROM `tenants`.`tenant_usage_quotas` WHERE quota_exceeded IS NULL")[0]["n"] == 0
    assert api.make_plan(resolve_settings(), engine).plan.steps == ()


# ---- network failures on the bigquery target ----


@pytest.mark.parametrize("command", ["check", "plan", "apply", "inspect"])
def test_unreachable_endpoint_is_exit_3_naming_endpoint_project_and_operation(
    command: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "2")
    started = time.monotonic()
    result = run_cli("--target", "bigquery", "--project", "my-project", command)
    assert result.exit_code == 3, result.stderr
    assert re.match(r"error: bigquery project my-project at http://127\.0\.0\.1:9: \w+\.\w+ failed", result.stderr), result.stderr
    assert "cannot reach" in result.stderr and "Connection refused" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("mode", ["drop", "hang"])
def test_dropped_or_hanging_connections_are_exit_3_within_the_deadline(mode: str, workdir: Path) -> None:
    with broken_endpoint(mode) as url:
        started = time.monotonic()
        result = run(
            "--target",
            "bigquery",
            "--project",
            "my-project",
            "check",
            cwd=workdir,
            BIGQUERY_EMULATOR_HOST=url,
            BQMANAGE_RETRY_DEADLINE="2",
            timeout=60,
        )
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith(f"error: bigquery project my-project at {url}: datasets.list failed")
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 30


# ---- a query job that outlives its deadline ----


@pytest.mark.parametrize("cancel", ["cancelled", "refused"])
def test_job_past_its_timeout_is_cancelled_recorded_and_exit_3(
    cancel: str, emulator_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = FaultProxy(emulator_url)
    try:
        project = f"slow-job-{cancel}"
        if cancel == "refused":
            proxy.faults.append(
                Fault("POST", re.compile(r"/jobs/[^/]+/cancel"), 5, (403, "accessDenied", "Access Denied: bigquery.jobs.update"))
            )
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", proxy.url)
        monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "15")
        monkeypatch.setenv("BQMANAGE_JOB_TIMEOUT", "2")
        seed.create_old_table(engine_for(project))
        seed.insert_old_rows(engine_for(project))
        proxy.slow = SlowJobs(body=re.compile(r'"query": ?"UPDATE'), seconds=3600)  # the backfill runs "for an hour"
        result = run_cli(*target_args(project), "apply")
        assert result.exit_code == 3, result.stderr
        assert "Traceback" not in result.stderr
        match = re.search(r"job (\S+) did not finish within 2 s \(BQMANAGE_JOB_TIMEOUT\)", result.stderr)
        assert match, result.stderr
        assert f"bigquery project {project} at {proxy.url}: jobs.getQueryResults failed" in result.stderr
        if cancel == "cancelled":
            assert "; cancelled it" in result.stderr
        else:  # the job may still run: the message names it, and how to stop it
            assert "it may still be running (403 " in result.stderr and "Access Denied: bigquery.jobs.update" in result.stderr
            assert f"stop it with `bq cancel {match.group(1)}`" in result.stderr
        assert proxy.slowed >= 1
        engine = engine_for(project)
        rows = engine.query(f"SELECT outcome, error FROM `tenants`.`{LEDGER}` ORDER BY applied_at")
        assert rows[-1]["outcome"] == "failed" and match.group(1) in rows[-1]["error"]
        proxy.slow = None
        resumed = run_cli(*target_args(project), "apply")
        assert resumed.exit_code == 0, resumed.stderr
        assert all(r["quota_exceeded"] is False for r in seed.read_rows(engine_for(project)))
    finally:
        proxy.close()


def test_ctrl_c_while_waiting_for_a_job_cancels_it(emulator_url: str, workdir: Path) -> None:
    proxy = FaultProxy(emulator_url)
    try:
        project = "interrupted-job"
        env = {"BIGQUERY_EMULATOR_HOST": proxy.url, "BQMANAGE_RETRY_DEADLINE": "15"}
        assert run("--target", "bigquery", "--project", project, "apply", cwd=workdir, **env).returncode == 0
        write(
            Path("schemas/tenants/tenant_profiles.yaml"),
            Path("schemas/tenants/tenant_profiles.yaml").read_text() + "  - {name: region, type: STRING, default: eu}\n",
        )
        proxy.slow = SlowJobs(body=re.compile(r'"query": ?"UPDATE'), seconds=3600)
        proc = start("--target", "bigquery", "--project", project, "apply", cwd=workdir, **env)
        assert proc.stderr is not None
        for line in proc.stderr:
            if "backfill:" in line:
                break
        while proxy.slowed == 0:  # the job runs; bqmanage waits for it
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "interrupted; re-run to resume" in err and "Traceback" not in err
        assert proxy.counts["cancel.insert"] == 1  # jobs.cancel: not left running behind the stopped command
    finally:
        proxy.close()


# ---- GOOGLE_APPLICATION_CREDENTIALS that points nowhere useful ----


@pytest.mark.parametrize(
    "content, cause",
    [(None, "does not exist"), ("not json {", "is not JSON"), ("", "is a directory")],
    ids=["missing", "not_json", "directory"],
)
def test_bad_credentials_file_is_exit_2_naming_the_variable_the_path_and_the_cause(
    content: str | None, cause: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BIGQUERY_EMULATOR_HOST", raising=False)
    path = workdir / "keys" / "sa.json"
    if content == "":
        path.mkdir(parents=True)
    elif content is not None:
        write(path, content)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    result = run_cli("--target", "bigquery", "--project", "my-project", "check")
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"error: GOOGLE_APPLICATION_CREDENTIALS={path}: ")
    assert cause in result.stderr and "no Google credentials found" not in result.stderr
    assert "Traceback" not in result.stderr


# ---- inspect with invalid definitions ----


def test_inspect_with_invalid_definitions_creates_nothing(workdir: Path) -> None:
    path = Path("schemas/tenants/tenant_profiles.yaml")
    path.write_text(path.read_text().replace("type: INT64", "type: INT46", 1))
    result = run_cli("inspect")
    assert result.exit_code == 2
    assert "schemas/tenants/tenant_profiles.yaml:" in result.stderr and "unknown type 'INT46'" in result.stderr
    assert not Path(".bqmanage").exists()


# ---- defaults stored exactly as defined ----

TRICKY = """\
table: blobs
columns:
  - {name: id, type: INT64}
  - {name: b, type: BYTES, default: "by'te\\\\s"}
  - {name: b2, type: BYTES, default: "\\\\x41 \\"q\\" caf\\u00e9\\nend"}
  - {name: s, type: STRING, default: "it's a \\\\ back\\\\slash\\\\n, \\"quoted\\"\\ttab\\nnewline"}
"""


def test_bytes_and_string_defaults_round_trip_exactly(workdir: Path) -> None:
    write(Path("schemas/tenants/blobs.yaml"), TRICKY)
    desired = api.validate(resolve_settings()).table("tenants", "blobs")
    assert desired is not None
    defined = {c.name: c.default for c in desired.columns}
    assert defined["b"] == 'B"by\'te\\\\s"'
    assert run_cli("apply").exit_code == 0
    engine = engine_for(None)
    live = api.inspect(resolve_settings(), engine)
    stored = {c.name: c.default for t in live if t.name == "blobs" for c in t.columns}
    assert stored == defined
    engine.query("INSERT INTO `tenants`.`blobs` (id) VALUES (1)")
    row = engine.query("SELECT b, b2, s FROM `tenants`.`blobs`")[0]
    assert row["b"] == b"by'te\\s"
    assert row["b2"] == '\\x41 "q" café\nend'.encode()
    assert row["s"] == 'it\'s a \\ back\\slash\\n, "quoted"\ttab\nnewline'
    engine.close()
    assert run_cli("check").exit_code == 0


def test_backfill_gives_old_rows_the_exact_bytes(workdir: Path) -> None:
    write(Path("schemas/tenants/blobs.yaml"), "table: blobs\ncolumns:\n  - {name: id, type: INT64}\n")
    assert run_cli("apply").exit_code == 0
    engine = engine_for(None)
    engine.query("INSERT INTO `tenants`.`blobs` (id) VALUES (1)")
    engine.close()
    write(Path("schemas/tenants/blobs.yaml"), TRICKY)
    assert run_cli("apply").exit_code == 0
    row = engine_for(None).query("SELECT b, s FROM `tenants`.`blobs`")[0]
    assert row["b"] == b"by'te\\s"
    assert row["s"] == 'it\'s a \\ back\\slash\\n, "quoted"\ttab\nnewline'


def test_check_sees_a_default_stored_altered(workdir: Path) -> None:
    write(Path("schemas/tenants/blobs.yaml"), TRICKY)
    assert run_cli("apply").exit_code == 0
    engine = engine_for(None)
    # What bqmanage before this fix stored: the backslash lost, while the side table kept the definition.
    engine.con.execute("""ALTER TABLE tenants.blobs ALTER COLUMN b SET DEFAULT CAST('by''tes' AS BLOB)""")  # type: ignore[attr-defined]
    engine.close()
    result = run_cli("check", "--format", "json")
    assert result.exit_code == 1
    kinds = {(f["kind"], f["column"]) for f in json.loads(result.stdout)["findings"]}
    assert kinds == {("default_mismatch", "b")}
    assert run_cli("apply").exit_code == 0
    assert run_cli("check").exit_code == 0


# ---- long lists in text output ----


def test_name_list_truncates_text_and_keeps_the_count() -> None:
    names = [f"ds{i}" for i in range(1800)]
    assert name_list(names, full=None) == ", ".join(names[:20]) + " and 1,780 more"
    assert name_list(names).endswith(", ds19 and 1,780 more (--format json lists them all)")
    assert name_list(names[:3]) == "ds0, ds1, ds2"
    assert name_list(names[:20]) == ", ".join(names[:20])


def test_apply_summary_over_many_datasets_is_one_short_line(workdir: Path) -> None:
    for i in range(30):
        write(Path(f"schemas/ds{i:02d}/t.yaml"), "columns:\n  - {name: id, type: STRING}\n")
    bookkeeping = [line for line in run_cli("plan").stdout.splitlines() if "bookkeeping" in line]
    assert len(bookkeeping) == 1 and f"ds19.{LEDGER} and 11 more" in bookkeeping[0]
    result = run_cli("apply")
    assert result.exit_code == 0, result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("Applied ") and summary.endswith(", ds19 and 11 more.")
    assert "ds29" not in summary and len(summary) < 400


def test_every_allowed_default_function_works_on_the_local_engine(workdir: Path) -> None:
    """Each function a definition may use as a default (defaults.FUNCTIONS) creates a column the
    local engine can fill; CURRENT_DATETIME() has no DuckDB twin and once failed at CREATE."""
    from bqmanage.model.defaults import FUNCTIONS

    columns = "".join(
        f"  - {{name: c_{name.lower()}, type: {type_}, default: '{name}()'}}\n" for name, type_ in FUNCTIONS.items()
    )
    write(Path("schemas/tenants/clocks.yaml"), f"table: clocks\ncolumns:\n  - {{name: id, type: INT64}}\n{columns}")
    assert run_cli("apply").exit_code == 0
    engine = engine_for(None)
    engine.query("INSERT INTO `tenants`.`clocks` (id) VALUES (1)")
    row = engine.query("SELECT * FROM `tenants`.`clocks`")[0]
    engine.close()
    assert all(row[f"c_{name.lower()}"] is not None for name in FUNCTIONS)
    assert run_cli("check").exit_code == 0


# ---- standard streams the process was started without ----


def test_apply_with_stderr_closed_applies_and_exits_0(workdir: Path) -> None:
    """`bqmanage apply 2>&-`: Python has no sys.stderr; progress and notes have nowhere to go, the
    apply still runs to its end."""
    import subprocess
    import sys

    from tests.runtime import cli_env

    def closed(*fds: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bqmanage", "apply"],
            cwd=workdir,
            env=cli_env(),
            stdout=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
            preexec_fn=lambda: [os.close(fd) for fd in fds],  # type: ignore[func-returns-value]
        )

    result = closed(2)
    assert result.returncode == 0, result.stdout
    assert re.search(r"^Applied \d+ step\(s\) to target local", result.stdout, re.M), result.stdout
    assert closed(1, 2).returncode == 0  # neither stream: nothing left to do, and no crash either
    assert run_cli("plan").exit_code == 0
