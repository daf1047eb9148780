"""The local engine reaches DuckDB through its C extension alone (bqmanage/engines/duck_client.py):
what it uses must be the very objects ``import duckdb`` hands out, so that the two behave the
same and a DuckDB error is caught whichever module names its class."""

from __future__ import annotations

import duckdb

from bqmanage.engines.duck_client import duckdb as client

# Every name of the client the engines use (grep 'duckdb\.' bqmanage/engines).
USED = (
    "connect",
    "DuckDBPyConnection",
    "Error",
    "ConnectionException",
    "FatalException",
    "IOException",
    "InterruptException",
    "TransactionException",
)


def test_the_client_is_the_extension_the_package_re_exports() -> None:
    assert client.__name__ == "_duckdb"  # the fast path is taken with the duckdb pyproject.toml allows
    assert [name for name in USED if getattr(client, name) is not getattr(duckdb, name)] == []


def test_a_connection_of_the_client_is_the_package_s() -> None:
    con = client.connect(":memory:")
    try:
        assert isinstance(con, duckdb.DuckDBPyConnection)
        assert con.execute("SELECT 42, [1, 2], {'a': 'b'}").fetchall() == [(42, [1, 2], {"a": "b"})]
        try:
            con.execute("SELECT * FROM no_such_table")
        except duckdb.CatalogException as exc:  # raised by the client, caught by the package's class
            assert "no_such_table" in str(exc)
        else:
            raise AssertionError("no error")
    finally:
        con.close()
