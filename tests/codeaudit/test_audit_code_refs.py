"""audit-code, unit level: which spellings are legacy references and which are not, where the
lexers look, the pre-filter, the parallel read, and the GoogleSQL module's compile cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bqmanage.codeaudit.lex import Lines, pieces
from bqmanage.codeaudit.read import Prefilter
from bqmanage.codeaudit.refs import LegacyIndex
from bqmanage.codeaudit.scan import Scanner, ScanStats
from bqmanage.definitions.load import load_definitions
from bqmanage.settings import LegacyConfig
from tests.helpers import write

ROOT = Path(__file__).resolve().parents[2]
INDEX = LegacyIndex(load_definitions(ROOT / "schemas"), LegacyConfig().datasets, LegacyConfig().prefixes)


def refs(kind: str, text: str) -> list[tuple[str, str]]:
    """(as written, as fixed) of every legacy reference in a file's text."""
    out = []
    for piece in pieces(kind, text)[0]:
        for ref in INDEX.find(piece):
            out.append((ref.actual, ref.replacement))
    return out


@pytest.mark.parametrize(
    "literal,expected",
    [
        ("proj.customers.customer_usage_quotas", [("proj.customers.customer_usage_quotas", "proj.tenants.tenant_usage_quotas")]),
        ("`customers.customer_usage_quotas`", [("`customers.customer_usage_quotas`", "`tenants.tenant_usage_quotas`")]),
        (
            "`proj`.`customers`.`customer_usage_quotas`",
            [("`proj`.`customers`.`customer_usage_quotas`", "`proj`.`tenants`.`tenant_usage_quotas`")],
        ),
        (
            "`my-proj.customers`.customer_profiles",
            [("`my-proj.customers`.customer_profiles", "`my-proj.tenants`.tenant_profiles")],
        ),
        ("proj:customers.customer_usage_quotas", [("proj:customers.customer_usage_quotas", "proj:tenants.tenant_usage_quotas")]),
        ("SELECT * FROM customer_usage_quotas", [("customer_usage_quotas", "tenant_usage_quotas")]),
        ("SELECT * FROM customers.orders o", [("customers.orders", "tenants.orders")]),
        (
            "SELECT * FROM customers.INFORMATION_SCHEMA.TABLES",
            [("customers.INFORMATION_SCHEMA.TABLES", "tenants.INFORMATION_SCHEMA.TABLES")],
        ),
        ("tenants.customer_profiles", [("tenants.customer_profiles", "tenants.tenant_profiles")]),
        ("customers", [("customers", "tenants")]),
        ("customer_profiles", [("customer_profiles", "tenant_profiles")]),
        # Not references: a file name, prose, a column sharing the prefix, another dataset's table.
        ("customers.json", []),
        ("Fetching customers for tenant", []),
        ("customer usage quotas", []),
        ("SELECT customer_id, customer_name FROM billing.invoices", []),
        ("analytics.customer_usage_quotas", []),
        ("app.routers.customers", []),
        ("customers_archive.orders", []),
    ],
)
def test_spellings_in_a_python_string(literal: str, expected: list[tuple[str, str]]) -> None:
    assert refs("python", f"X = {literal!r}\n") == expected


def test_python_contexts_that_are_not_references() -> None:
    source = '''\
"""Module docstring: customers.customer_usage_quotas is where quotas were."""
# customers.customer_usage_quotas in a comment
"a bare string statement: customers.customer_usage_quotas"
ROW = {"customers": 1, "k": "customers"}
COUNT = data["customers"]


def f():
    """customers.customer_usage_quotas"""
    return ("SELECT 1 "  # customers.customer_usage_quotas
            "FROM customers.customer_usage_quotas")
'''
    found = [(p.text, ref.actual) for p in pieces("python", source)[0] for ref in INDEX.find(p)]
    assert [actual for _, actual in found] == ["customers", "customers.customer_usage_quotas"]


def test_positions_survive_escapes_and_concatenation() -> None:
    source = 'Q = ("SELECT a\\tb "\n     "FROM customers.customer_usage_quotas")\nR = "x\\ny customer_usage_quotas"\n'
    lines = Lines(source)
    found = []
    for piece in pieces("python", source)[0]:
        for ref in INDEX.find(piece):
            found.append(lines.position(piece.at(ref.start)))
    assert found == [(2, 12), (3, 11)]


@pytest.mark.parametrize(
    "kind,text,expected",
    [
        (
            "sql",
            "-- customers.customer_usage_quotas\n/* customers.customer_profiles */\nSELECT 'customers' FROM `customers`.x;\n",
            ["'customers'"[1:-1], "`customers`.x"],
        ),
        (
            "yaml",
            "# customers.customer_usage_quotas\ncustomers: customers\nlist: [a, 'customer_profiles']\n"
            "sql: |\n  SELECT 1 FROM customers.customer_usage_quotas\n",
            ["customers", "customer_profiles", "customers.customer_usage_quotas"],
        ),
        ("json", '{"customers": "customers", "t": "customers.customer_profiles"}', ["customers", "customers.customer_profiles"]),
        (
            "js",
            "// customers.customer_usage_quotas\n"
            'const q = `SELECT * FROM ${p}.customers.customer_usage_quotas`; const d = "customers";\n',
            ["____.customers.customer_usage_quotas", "customers"],
        ),
        (
            "shell",
            "# customers.customer_usage_quotas\nbq ls customers\n"
            "bq show \"proj:customers.customer_profiles\"\necho 'Fetching customers'\n",
            ["customers", "proj:customers.customer_profiles"],
        ),
    ],
)
def test_where_each_language_is_read(kind: str, text: str, expected: list[str]) -> None:
    assert [actual for actual, _ in refs(kind, text)] == expected


def test_the_prefilter_covers_names_by_shared_prefixes() -> None:
    prefilter = Prefilter(INDEX.candidates())
    assert INDEX.candidates() == ["customer_members", "customer_profiles", "customer_usage_quotas", "customers", "tenants"]
    assert prefilter.literals == (b"customer", b"tenants")
    assert prefilter(b"x tenants y") and not prefilter(b"tenant_id only")


def test_two_processes_find_what_one_finds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(60):
        body = "T = 'customers.customer_usage_quotas'\n" if i % 7 == 0 else "x = 1\n"
        write(tmp_path / f"d{i % 9}" / f"e{i % 4}" / f"f{i:02}.py", body)
    write(tmp_path / "d1/big.sql", "SELECT 1 FROM tenants.x;\n" + "-- pad\n" * 12_000)  # over 64 KiB
    (tmp_path / "d2/bin.json").write_bytes(b"\0tenants")
    write(tmp_path / "d3/.gitignore", "*.py\n")

    def scan() -> tuple[list[tuple[str, str]], ScanStats]:
        scanner = Scanner([tmp_path], Prefilter(INDEX.candidates()), meanwhile=lambda: None)
        return [(f.display, f.kind) for f in scanner.files()], scanner.stats

    found, stats = scan()
    monkeypatch.setenv("BQMANAGE_AUDIT_PROCESSES", "1")
    assert scan() == (found, stats)
    assert len(found) == 9 and (stats.skipped_binary, stats.skipped_large) == (1, 0)  # 8 + big.sql; d3's is ignored
    assert [d for d, _ in found] == sorted(d for d, _ in found)


def test_googlesql_announces_its_one_compile_and_caches_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the minute of compiling: the compile step hands back the module already cached."""
    pytest.importorskip("zetasql")
    import wasmtime

    from bqmanage.codeaudit import googlesql

    real = googlesql.cache_dir() / f"zetasql-{googlesql._versions()}.cwasm"
    if not real.exists():
        googlesql.googlesql()  # the GoogleSQL tier compiles it once; so does this
    compiled = []
    monkeypatch.setattr(
        wasmtime.Module,
        "from_file",
        staticmethod(lambda engine, path: compiled.append(path) or wasmtime.Module.deserialize_file(engine, str(real))),
    )
    monkeypatch.setenv("BQMANAGE_CACHE_DIR", str(tmp_path / "cache"))
    notices: list[str] = []
    googlesql.GoogleSQL(notices.append).parse("SELECT 1")
    assert notices == [f"compiling Google's GoogleSQL analyzer once, about a minute (cached in {tmp_path / 'cache'})"]
    assert len(compiled) == 1 and (tmp_path / "cache" / real.name).exists()
    googlesql.GoogleSQL(notices.append).parse("SELECT 1")
    assert len(notices) == 1 and len(compiled) == 1  # the second start deserializes the cache
    shutil.rmtree(tmp_path / "cache")
