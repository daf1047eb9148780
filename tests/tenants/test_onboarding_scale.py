"""Onboarding at platform scale, against the proxy's model of BigQuery's per-table DML rules
(tests/bqservice.py): many concurrent ``tenant add`` of distinct tenants all succeed with one
registry row and one quota row each; concurrent adds of one tenant leave one of each; colliding
ids are refused; an add never runs a shared dataset's migration; and an add costs few jobs."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bqmanage import api
from bqmanage.engines.bigquery import BigQueryEngine
from bqmanage.errors import NotAppliedError, UsageError
from bqmanage.ledger import LEDGER, ledger_row_sql, ledger_table
from bqmanage.render import create_table_sql
from bqmanage.settings import Settings, resolve_settings
from tests.bqservice import TOO_MANY_DML, DmlRules
from tests.faultproxy import Fault, FaultProxy
from tests.helpers import write

pytestmark = pytest.mark.emulator
DAY = dt.date(2026, 12, 7)
SCALE = 0.02  # the model's 10 s windows and the client's backoff waits run this much faster


@pytest.fixture
def proxy(emulator: str, emulator_url: str, monkeypatch: pytest.MonkeyPatch, workdir: Path) -> Iterator[FaultProxy]:
    # Modelled time: every request takes its BigQuery latency, SCALE times faster, and bqemulator's
    # own work takes none, so that 50 clients' statements meet in the model as on BigQuery.
    proxy = FaultProxy(emulator_url, scale=SCALE)
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", proxy.url)
    # The retry deadline is in wall seconds, which bqemulator stretches (it serves one request at a
    # time, about 0.2 s each here); BigQuery's 120 s default holds in modelled time.
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "3600")
    settings = resolve_settings(target="bigquery", project=emulator)
    api.apply(settings, BigQueryEngine(settings, "test"))
    yield proxy
    proxy.close()


def _engine(settings: Settings, proxy: FaultProxy) -> BigQueryEngine:
    engine = BigQueryEngine(settings, "test")
    engine.sleep = lambda seconds: proxy.clock.sleep_until(proxy.clock.now() + seconds)  # type: ignore[method-assign]
    # bqemulator answers one request at a time: with every client waiting on it at once, an answer
    # can take longer than the 60 s one HTTP request is given (BigQuery answers in about a second).
    engine.rpc_timeout = 600.0
    return engine


def _concurrently(settings: Settings, proxy: FaultProxy, tenants: list[str]) -> list[BaseException | None]:
    """``tenant add`` of each id, each in its own thread with its own client, all at once."""
    outcomes: list[BaseException | None] = [None] * len(tenants)
    start = threading.Barrier(len(tenants))

    def add(i: int) -> None:
        engine = _engine(settings, proxy)
        start.wait()
        try:
            api.tenant_add(settings, engine, tenants[i], run_date=DAY)
        except BaseException as exc:  # each outcome is asserted
            outcomes[i] = exc
        finally:
            engine.close()

    threads = [threading.Thread(target=add, args=(i,)) for i in range(len(tenants))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return outcomes


def _rows(settings: Settings) -> tuple[dict[str, int], dict[str, int]]:
    engine = BigQueryEngine(settings, "test")
    registry = engine.query("SELECT tenant_id, COUNT(*) AS n FROM `tenants`.`tenant_profiles` GROUP BY tenant_id")
    quota = engine.query(
        "SELECT tenant_id, COUNT(*) AS n FROM `tenants`.`tenant_usage_quotas` WHERE usage_date = @d GROUP BY tenant_id",
        {"d": DAY},
    )
    return {r["tenant_id"]: r["n"] for r in registry}, {r["tenant_id"]: r["n"] for r in quota}


def onboard(
    proxy: FaultProxy, project: str, count: int
) -> tuple[list[BaseException | None], dict[str, int], dict[str, int], DmlRules]:
    """``count`` concurrent adds through BigQuery's DML rules: the outcomes, the rows per tenant
    (registry, quota) and the model, with what it refused."""
    rules = proxy.dml = DmlRules(clock=proxy.clock.now)
    settings = resolve_settings(target="bigquery", project=project)
    outcomes = _concurrently(settings, proxy, [f"t{i:03d}" for i in range(count)])
    proxy.dml = None
    return outcomes, *_rows(settings), rules


def test_fifty_concurrent_adds_of_distinct_tenants_all_succeed_with_one_row_of_each(emulator: str, proxy: FaultProxy) -> None:
    outcomes, registry, quota, rules = onboard(proxy, emulator, 50)
    assert [o for o in outcomes if o is not None] == []
    expected = {f"t{i:03d}": 1 for i in range(50)}
    assert registry == expected and quota == expected
    # The model did push back (a full queue or the per-table rate), and the retries got through.
    assert sum(rules.rejected.values()) > 0


def test_concurrent_adds_of_one_tenant_leave_one_row_of_each(emulator: str, proxy: FaultProxy) -> None:
    # One registry row, one quota row, one member row and one ledger row in the tenant's dataset:
    # the four adds race through every step, and the dataset was created once.
    proxy.dml = DmlRules(clock=proxy.clock.now)
    settings = resolve_settings(target="bigquery", project=emulator)
    outcomes = _concurrently(settings, proxy, ["acme"] * 4)
    assert outcomes == [None] * 4
    assert _rows(settings) == ({"acme": 1}, {"acme": 1})
    engine = BigQueryEngine(settings, "test")
    members = engine.query("SELECT tenant_id, member FROM `tenants`.`tenant_members`")
    assert [m["tenant_id"] for m in members] == ["acme"]
    ledger = engine.query("SELECT outcome, applied_steps, total_steps FROM `tenant_acme`.`_bqmanage_migrations`")
    assert len(ledger) == 1 and ledger[0]["outcome"] == "succeeded"


def test_colliding_ids_are_refused_and_never_both_registered(emulator: str, proxy: FaultProxy) -> None:
    settings = resolve_settings(target="bigquery", project=emulator)
    outcomes = _concurrently(settings, proxy, ["acme-x", "acme_x"])
    assert all(o is None or isinstance(o, UsageError) for o in outcomes)
    registry, _ = _rows(settings)
    assert len(set(registry) & {"acme-x", "acme_x"}) <= 1
    # One after the other: the second is refused before it writes anything.
    engine = _engine(settings, proxy)
    if not registry:
        api.tenant_add(settings, engine, "acme-x", run_date=DAY)
    taken = "acme_x" if "acme-x" in _rows(settings)[0] else "acme-x"
    proxy.reset()
    with pytest.raises(UsageError, match="same name"):
        api.tenant_add(settings, engine, taken, run_date=DAY)
    assert not [b for m, _, b in proxy.bodies if b"INSERT" in b or b"MERGE" in b or b"CREATE" in b]


def test_an_add_with_a_shared_migration_pending_refuses_and_writes_nothing(
    emulator: str, proxy: FaultProxy, workdir: Path
) -> None:
    write(
        workdir / "schemas" / "tenants" / "tenant_profiles.yaml",
        (workdir / "schemas" / "tenants" / "tenant_profiles.yaml").read_text()
        + "  - {name: region, type: STRING, description: Where the tenant's data lives.}\n",
    )
    settings = resolve_settings(target="bigquery", project=emulator)
    proxy.reset()
    with pytest.raises(NotAppliedError, match=r"run `bqmanage apply`") as refused:
        api.tenant_add(settings, BigQueryEngine(settings, "test"), "acme", run_date=DAY)
    assert refused.value.exit_code == 2 and "tenants.tenant_profiles" in str(refused.value)
    assert "\n" not in str(refused.value)  # one line: the CLI prints an error as one, escaped
    assert proxy.counts["jobs.insert"] == 0 and proxy.counts["tables.patch"] == 0 and proxy.counts["datasets.insert"] == 0
    assert BigQueryEngine(settings, "test").read_datasets_exact(["tenant_acme"]) == {"tenant_acme": None}


def test_a_new_tenant_costs_at_most_six_jobs_and_a_repeated_add_two(emulator: str, proxy: FaultProxy) -> None:
    # Registry lookup and INSERT, the quota MERGE and its confirming read, one script for the
    # tenant's dataset with its ledger table and row, the row access members insert; a repeated
    # add reads the registry and the reset's status (the members table is read free).
    settings = resolve_settings(target="bigquery", project=emulator)
    proxy.reset()
    api.tenant_add(settings, BigQueryEngine(settings, "test"), "acme", run_date=DAY)
    assert proxy.jobs() <= 6
    # The ledger's row went with the dataset's CREATEs, and reads back as apply's own rows do.
    engine = BigQueryEngine(settings, "test")
    (row,) = engine.query("SELECT * FROM `tenant_acme`.`_bqmanage_migrations`")
    assert row["outcome"] == "succeeded" and row["applied_steps"] == row["total_steps"] > 0 and row["error"] is None
    assert "CREATE TABLE" in json.loads(row["statements"])[-1] and json.loads(row["backfill"]) == []
    proxy.reset()
    again = api.tenant_add(settings, BigQueryEngine(settings, "test"), "acme", run_date=DAY)
    assert proxy.jobs() <= 2 and not again.changed


def test_a_full_mutating_queue_is_answered_as_bigquery_does_and_retried(emulator: str, proxy: FaultProxy) -> None:
    settings = resolve_settings(target="bigquery", project=emulator)
    status, reason, message = TOO_MANY_DML
    full = (status, reason, message.format(table=f"{emulator}:tenants.tenant_usage_quotas"))
    proxy.faults.append(Fault("POST", re.compile(r"/jobs"), 2, full, re.compile("MERGE")))
    engine = _engine(settings, proxy)
    waits: list[float] = []
    engine.sleep = waits.append  # type: ignore[method-assign]
    report = api.tenant_add(settings, engine, "acme", run_date=DAY)
    assert report.quota_row == "created" and proxy.injected == 2
    # Jittered: each wait is within the upper half of its exponential step, and not all the same.
    assert len(waits) == 2 and 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0


def test_the_ledger_row_written_as_literals_reads_back_as_given(emulator: str) -> None:
    # The row a new tenant's script carries (ledger.ledger_row_sql), with values that a literal
    # could break: each reads back exactly, as a query parameter would. (A control character or
    # U+2028 is written \xHH or \uHHHH, which BigQuery decodes (lexical#escape_sequences) and
    # bqemulator keeps as text: the GoogleSQL tier analyzes those, tests/pipeline/test_googlesql.py.)
    settings = resolve_settings(target="bigquery", project=emulator)
    engine = BigQueryEngine(settings, "test")
    given = {
        "run_id": "r1",
        "applied_at": dt.datetime(2026, 12, 7, 23, 1, 2, 345678, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "principal": "a\"b\\c\nd`e'f\tg\r",
        "digest": "d" * 64,
        "version": "0.1.0",
        "outcome": "succeeded",
        "applied": 2,
        "total": 2,
        "statements": json.dumps(['CREATE TABLE `x` (y STRING OPTIONS(description="a \\"b\\""))']),
        "backfill": "[]",
        "error": None,
    }
    script = ";\n".join(
        ["CREATE SCHEMA IF NOT EXISTS `t_lit`", create_table_sql(ledger_table("t_lit")), ledger_row_sql("t_lit", given)]
    )
    engine.query(script)
    (row,) = engine.query(f"SELECT * FROM `t_lit`.`{LEDGER}`")
    assert row == {
        "run_id": "r1",
        "applied_at": dt.datetime(2026, 12, 7, 21, 1, 2, 345678, tzinfo=dt.UTC),
        "principal": given["principal"],
        "definitions_digest": given["digest"],
        "bqmanage_version": "0.1.0",
        "outcome": "succeeded",
        "applied_steps": 2,
        "total_steps": 2,
        "statements": given["statements"],
        "backfill": "[]",
        "error": None,
    }
