"""The row access mapping table follows the registry on the local engine: `tenant add` and
`resume` write the tenant's member, `suspend` deletes its rows; each is idempotent, and a command
stopped between its registry write and its mapping write (kill -9) is completed by running it again."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.helpers import run_cli

LOCAL = ".bqmanage/local.duckdb"


def _members() -> list[tuple[str, str]]:
    con = duckdb.connect(LOCAL, read_only=True)
    try:
        return [tuple(r) for r in con.execute("SELECT tenant_id, member FROM tenants.tenant_members ORDER BY 1, 2").fetchall()]
    finally:
        con.close()


def _by_hand(sql: str) -> None:
    con = duckdb.connect(LOCAL)
    try:
        con.execute(sql)
    finally:
        con.close()


@pytest.fixture
def applied(workdir: Path) -> Path:
    assert run_cli("apply").exit_code == 0
    return workdir


def test_add_suspend_resume_keep_the_members_and_each_is_idempotent(applied: Path) -> None:
    added = run_cli("tenant", "add", "acme")
    assert added.exit_code == 0
    assert "Row access: acme-reader@example.com may read its rows (tenants.tenant_members)." in added.stdout
    assert _members() == [("acme", "acme-reader@example.com")]
    again = run_cli("tenant", "add", "acme")
    assert again.exit_code == 0 and again.stdout.startswith("Nothing to do")
    assert _members() == [("acme", "acme-reader@example.com")]

    suspended = run_cli("tenant", "suspend", "acme")
    assert suspended.exit_code == 0 and "Row access revoked: acme-reader@example.com" in suspended.stdout
    assert _members() == []
    assert run_cli("tenant", "suspend", "acme").stdout.startswith("Nothing to do")

    resumed = run_cli("tenant", "resume", "acme")
    assert resumed.exit_code == 0 and "Row access: acme-reader@example.com" in resumed.stdout
    assert _members() == [("acme", "acme-reader@example.com")]
    assert run_cli("tenant", "resume", "acme").stdout.startswith("Nothing to do")
    assert _members() == [("acme", "acme-reader@example.com")]


def test_adding_a_suspended_tenant_again_grants_nothing(applied: Path) -> None:
    assert run_cli("tenant", "add", "acme").exit_code == 0
    assert run_cli("tenant", "suspend", "acme").exit_code == 0
    assert run_cli("tenant", "add", "acme").exit_code == 0
    assert _members() == []


def test_a_suspend_stopped_before_revoking_is_completed_by_running_it_again(applied: Path) -> None:
    assert run_cli("tenant", "add", "acme").exit_code == 0
    # What a kill -9 after suspend's registry update leaves: suspended, and its member still there.
    _by_hand("UPDATE tenants.tenant_profiles SET status = 'suspended' WHERE tenant_id = 'acme'")
    assert _members() == [("acme", "acme-reader@example.com")]
    rerun = run_cli("tenant", "suspend", "acme")
    assert rerun.exit_code == 0 and "Row access revoked" in rerun.stdout
    assert _members() == []


def test_an_add_stopped_before_granting_is_completed_by_running_it_again(applied: Path) -> None:
    assert run_cli("tenant", "add", "acme").exit_code == 0
    # What a kill -9 after add's registry and quota rows leaves: registered, no member yet.
    _by_hand("DELETE FROM tenants.tenant_members")
    rerun = run_cli("tenant", "add", "acme")
    assert rerun.exit_code == 0 and "Row access: acme-reader@example.com" in rerun.stdout
    assert _members() == [("acme", "acme-reader@example.com")]
