"""A registry value is granted only as one member of the kinds its template entry allows: by default
an email principal (user:, group:, serviceAccount:). A value such as
``specialGroup:allAuthenticatedUsers`` or ``domain:example.com`` would open a tenant's dataset to
every signed-in account or a whole domain: it is refused for that tenant alone (exit 2, named,
escaped, nothing granted to it), and a live grant it made earlier is reported by check."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_cli, target_args, write
from tests.tenants.test_tenant_access import TEMPLATE, _access, _set_reader_group, _tenant

EVERYONE = "specialGroup:allAuthenticatedUsers"
WIDE = (
    "description: One tenant's pipeline data.\nlabels: {owner: platform}\naccess:\n"
    "  - {role: READER, members_from: tenant_profiles.reader_group, kinds: [group, specialGroup]}\n"
)


def test_a_special_group_in_the_registry_is_refused_and_a_live_one_is_reported(project: str | None, workdir: Path) -> None:
    assert run_cli(*target_args(project), "apply").exit_code == 0
    _tenant(project, "add", "pub1")
    _set_reader_group(project, "pub1", EVERYONE)
    refused = run_cli(*target_args(project), "tenant", "add", "pub1")
    assert refused.exit_code == 2, refused.stdout
    assert "tenant 'pub1': reader_group = 'specialGroup:allAuthenticatedUsers' cannot be granted" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _access(project, "tenant_pub1") == []
    applied = run_cli(*target_args(project), "apply", "--tenant", "pub1")
    assert applied.exit_code == 2 and "reader_group" in applied.stderr and "Traceback" not in applied.stderr
    assert _access(project, "tenant_pub1") == []

    # A grant such a value made before (a template that allowed the kind then): check reports it.
    template = workdir / TEMPLATE
    shipped = template.read_text()
    template.write_text(WIDE)
    planned = run_cli(*target_args(project), "plan", "--tenant", "pub1")
    assert "grant 1 access entry on tenant_pub1 (grant READER specialGroup:allAuthenticatedUsers)" in planned.stdout
    widened = run_cli(*target_args(project), "tenant", "add", "pub1")
    assert widened.exit_code == 0, widened.stderr
    assert "grant 1 access entry on tenant_pub1 (grant READER specialGroup:allAuthenticatedUsers)" in widened.stdout
    assert _access(project, "tenant_pub1") == [{"role": "READER", "specialGroup": "allAuthenticatedUsers"}]
    template.write_text(shipped)
    checked = run_cli(*target_args(project), "check", "--tenant", "pub1", "--format", "json")
    assert checked.exit_code == 1, checked.stdout
    kinds = [(f["kind"], f.get("actual")) for f in json.loads(checked.stdout)["findings"]]
    assert ("unexpected_grant", "READER specialGroup:allAuthenticatedUsers") in kinds


def test_a_domain_value_fails_that_tenant_alone_and_the_others_are_granted(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    for tenant in ("acme", "pub1"):
        _tenant(None, "add", tenant)
    _set_reader_group(None, "acme", "group:acme-readers@example.com")
    _set_reader_group(None, "pub1", "domain:example.com")
    result = run_cli("apply", "--all-tenants")
    assert result.exit_code == 2, result.stdout
    named = "tenant pub1: tenants.tenant_profiles: tenant 'pub1': reader_group = 'domain:example.com' cannot be granted"
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert "1 changed (1 step(s)), 0 up to date, 1 failed: pub1 (exit 2)" in result.stdout
    assert _access(None, "tenant_acme") == [{"role": "READER", "groupByEmail": "acme-readers@example.com"}]
    assert _access(None, "tenant_pub1") == []
    again = run_cli("apply", "--tenant", "pub1")
    assert again.exit_code == 2 and _access(None, "tenant_pub1") == []


def test_a_refused_value_is_named_escaped(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    _tenant(None, "add", "pub1")
    _set_reader_group(None, "pub1", "group:x@example.com\x1b[2J\nuser:y@example.com")
    result = run_cli("apply", "--tenant", "pub1")
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "reader_group = 'group:x@example.com\\x1b[2J\\nuser:y@example.com'" in result.stderr
    assert _access(None, "tenant_pub1") == []


def test_kinds_is_validated(workdir: Path) -> None:
    write(workdir / TEMPLATE, "access:\n  - {role: READER, members_from: tenant_profiles.reader_group, kinds: [view]}\n")
    result = run_cli("validate")
    assert result.exit_code == 2 and "kinds: 'view'" in result.stderr
    write(workdir / TEMPLATE, "access:\n  - {role: READER, member: 'group:{tenant}@example.com', kinds: [group]}\n")
    result = run_cli("validate")
    assert result.exit_code == 2 and "kinds is for a members_from entry" in result.stderr
