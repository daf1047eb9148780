"""The emulator the tests start answers concurrent requests as BigQuery does: a tabledata.list
never changes a concurrent query job's result (bqmanage/testing/emulator.py, ``_LAUNCH``).

bqemulator 1.4.0 as shipped serves tabledata.list from a worker thread on the one DuckDB
connection its query jobs use; measured here, 2 listing and 2 querying clients for 20 s gave 10
wrong answers in 314 queries (a job answered with the list's ``count_star()`` column, with no
rows, or failed with "'NoneType' object has no attribute 'schema'"). That is what made concurrent
``tenant add`` of one tenant fail now and then (they read the registry and the members table with
tabledata.list while the other adds' jobs run)."""

from __future__ import annotations

import threading

from tests.helpers import engine_for

QUERIES = 60  # per querying client; at the unpatched rate of about 3 %, all 120 right is about 3 % likely


def test_a_concurrent_tabledata_list_never_changes_a_query_jobs_result(emulator: str) -> None:
    engine = engine_for(emulator)
    engine.query("CREATE SCHEMA d")
    engine.query("CREATE TABLE d.t (a INT64, b STRING)")
    engine.query("INSERT INTO d.t (a, b) VALUES (1, 'x'), (2, 'y')")
    fields = [{"name": "a", "type": "INTEGER", "mode": "NULLABLE"}, {"name": "b", "type": "STRING", "mode": "NULLABLE"}]
    done = threading.Event()
    wrong: list[object] = []

    def lister() -> None:
        own = engine_for(emulator)
        while not done.is_set():
            try:
                rows = own.read_rows("d", "t", fields)
                if sorted((r["a"], r["b"]) for r in rows) != [(1, "x"), (2, "y")]:
                    wrong.append(("tabledata.list", rows))
            except Exception as exc:  # a wrong answer, whatever its form
                wrong.append(("tabledata.list", exc))

    def querier() -> None:
        own = engine_for(emulator)
        for _ in range(QUERIES):
            try:
                rows = own.query("SELECT a, b, 'q' AS tag FROM d.t ORDER BY a")
                if rows != [{"a": 1, "b": "x", "tag": "q"}, {"a": 2, "b": "y", "tag": "q"}]:
                    wrong.append(("query", rows))
            except Exception as exc:
                wrong.append(("query", exc))

    listers = [threading.Thread(target=lister) for _ in range(2)]
    queriers = [threading.Thread(target=querier) for _ in range(2)]
    for thread in [*listers, *queriers]:
        thread.start()
    for thread in queriers:
        thread.join(300)
    done.set()
    for thread in listers:
        thread.join(60)
    assert wrong == []
