"""BigQuery has no lock: ``tenant suspend``, ``resume`` and ``add`` of one tenant can interleave
statement by statement. Each re-reads the status that stands after its own writes and makes the
dataset grant and the members row follow it, so the command to finish last leaves them consistent
with the status; ``check --tenant`` reports an inconsistent state. On bqemulator: the interleavings
are forced through on_statement (a command run inside another's statement), then a bounded number
of free-running concurrent rounds."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from bqmanage import api
from bqmanage.report.text import tenant_text
from tests.helpers import engine_for, run_cli, target_args
from tests.tenants.test_tenant import _settings
from tests.tenants.test_tenant_access import READERS, _access, _set_reader_group

pytestmark = pytest.mark.emulator
ROUNDS = 4  # free-running rounds: each is 3 commands at once, a few seconds on bqemulator


def _ready(project: str) -> None:
    assert run_cli(*target_args(project), "apply").exit_code == 0
    assert run_cli(*target_args(project), "tenant", "add", "acme").exit_code == 0
    _set_reader_group(project, "acme", "group:acme-readers@example.com")
    assert run_cli(*target_args(project), "tenant", "add", "acme").exit_code == 0  # grants the group


def _state(project: str) -> tuple[str, bool, bool]:
    engine = engine_for(project)
    [row] = engine.query("SELECT status FROM `tenants`.`tenant_profiles` WHERE tenant_id = 'acme'")
    members = engine.query("SELECT member FROM `tenants`.`tenant_members` WHERE tenant_id = 'acme'")
    return row["status"], bool(members), READERS in _access(project)


def _assert_consistent(project: str) -> None:
    status, member, granted = _state(project)
    assert (status == "active") == member == granted, (status, member, granted)
    assert run_cli(*target_args(project), "check", "--tenant", "acme").exit_code == 0


def _inside(project: str, when: Callable[[str], bool], other: Callable[[], Any]) -> Any:
    """An engine that runs ``other`` (another command, to its end) just before its first statement
    that ``when`` matches."""
    engine = engine_for(project)
    fired: list[bool] = []

    def hook(sql: str) -> None:
        if not fired and when(sql):
            fired.append(True)
            other()

    engine.on_statement = hook  # type: ignore[method-assign]
    return engine


def _members_delete(sql: str) -> bool:
    return sql.startswith("DELETE FROM") and "tenant_members" in sql


def test_a_resume_that_finishes_inside_a_suspend_is_followed_by_the_suspend(emulator: str) -> None:
    project = emulator
    _ready(project)
    settings = _settings(project)
    resume = lambda: api.tenant_resume(settings, engine_for(project), "acme")  # noqa: E731
    engine = _inside(project, _members_delete, resume)  # suspend revoked; resume runs whole; then suspend deletes
    report = api.tenant_suspend(settings, engine, "acme")
    assert report.status == "active" and report.status_by_another == "active"
    assert "Another tenant command made tenant acme active meanwhile" in tenant_text(report)
    _assert_consistent(project)


def test_a_suspend_that_finishes_inside_a_resume_is_followed_by_the_resume(emulator: str) -> None:
    project = emulator
    _ready(project)
    settings = _settings(project)
    assert run_cli(*target_args(project), "tenant", "suspend", "acme").exit_code == 0
    suspend = lambda: api.tenant_suspend(settings, engine_for(project), "acme")  # noqa: E731
    insert = lambda sql: sql.startswith("INSERT INTO") and "tenant_members" in sql  # noqa: E731
    report = api.tenant_resume(settings, _inside(project, insert, suspend), "acme")
    assert report.status == "suspended" and report.status_by_another == "suspended"
    _assert_consistent(project)


def test_an_add_that_read_suspended_follows_a_resume_made_meanwhile(emulator: str) -> None:
    project = emulator
    _ready(project)
    settings = _settings(project)
    assert run_cli(*target_args(project), "tenant", "suspend", "acme").exit_code == 0
    resume = lambda: api.tenant_resume(settings, engine_for(project), "acme")  # noqa: E731
    after_lookup = lambda sql: "tenant_usage_quotas" in sql  # noqa: E731  (add has read the status: suspended)
    report = api.tenant_add(settings, _inside(project, after_lookup, resume), "acme", name="Acme Corp")
    assert report.status == "active"
    assert "Row access revoked" not in tenant_text(report)
    _assert_consistent(project)


def test_concurrent_suspend_resume_add_leave_a_consistent_state(emulator: str) -> None:
    project = emulator
    _ready(project)
    settings = _settings(project)
    commands: list[Callable[[], Any]] = [
        lambda: api.tenant_suspend(settings, engine_for(project), "acme"),
        lambda: api.tenant_resume(settings, engine_for(project), "acme"),
        lambda: api.tenant_add(settings, engine_for(project), "acme", name="Acme Corp"),
    ]
    errors: list[BaseException] = []

    def run(command: Callable[[], Any]) -> None:
        try:
            command()
        except BaseException as exc:  # asserted below
            errors.append(exc)

    for _ in range(ROUNDS):
        threads = [threading.Thread(target=run, args=(c,)) for c in commands]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        assert errors == []
        _assert_consistent(project)


def test_check_reports_a_suspended_tenant_still_granted_and_still_a_member(emulator: str) -> None:
    project = emulator
    _ready(project)
    engine = engine_for(project)
    engine.query("UPDATE `tenants`.`tenant_profiles` SET status = 'suspended' WHERE tenant_id = 'acme'")
    result = run_cli(*target_args(project), "check", "--tenant", "acme", "--format", "json")
    assert result.exit_code == 1
    found = {(f["kind"], f.get("table"), f.get("actual")) for f in json.loads(result.stdout)["findings"]}
    assert ("unexpected_grant", None, "READER group:acme-readers@example.com") in found
    assert ("unexpected_grant", "tenant_members", "acme-reader@example.com") in found
