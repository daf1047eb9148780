"""Dataset access on the bigquery engine, through the proxy in front of bqemulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.cloud import bigquery

from tests.faultproxy import FaultProxy
from tests.helpers import run_cli, write

pytestmark = pytest.mark.emulator

BQ = ("--target", "bigquery", "--project", "acc-probe", "--location", "US")


def test_probe(proxy: FaultProxy, workdir: Path, emulator_url: str) -> None:
    write(workdir / "schemas" / "sales" / "_dataset.yaml", "access:\n  - {role: READER, member: group:analysts@example.com}\n")
    write(workdir / "schemas" / "sales" / "orders.yaml", "columns:\n  - {name: id, type: INT64}\n")
    r = run_cli(*BQ, "apply")
    r = run_cli(*BQ, "check")
    print(r.exit_code, r.stdout, r.stderr)
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    c = bigquery.Client("acc-probe", credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=emulator_url))
    d = c.get_dataset("sales")
    print(d._properties)
    d._properties["access"] = d._properties.get("access", []) + [{"role": "WRITER", "userByEmail": "eve@example.com"}]
    c.update_dataset(d, ["access_entries"])
    print(c.get_dataset("sales")._properties)
    r = run_cli(*BQ, "check")
    print(r.exit_code, r.stdout, r.stderr)
    assert False
