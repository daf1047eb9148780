"""``--tenant ID`` names a registered tenant: an id the registry does not list (a typo) is refused
with exit 2 and one line naming it, before anything is written; it gets no dataset of its own."""

from __future__ import annotations

from tests.helpers import engine_for, run_cli, target_args
from tests.tenants.test_templates import register

LINE = "error: tenant 'typo-acme': not registered in tenants.tenant_profiles; run `bqmanage tenant add typo-acme`\n"


def test_an_unregistered_tenant_is_refused_by_apply_plan_and_check(project: str | None) -> None:
    args = target_args(project)
    assert run_cli(*args, "apply").exit_code == 0
    register(project, acme="active", initech="suspended")
    before = sorted(engine_for(project).list_datasets())
    for command in ("apply", "plan", "check"):
        result = run_cli(*args, command, "--tenant", "typo-acme")
        assert result.exit_code == 2, (command, result.stdout)
        assert result.stderr == LINE, (command, result.stderr)
    mixed = run_cli(*args, "apply", "--tenant", "acme", "--tenant", "typo-acme")
    assert mixed.exit_code == 2 and mixed.stderr == LINE
    assert sorted(engine_for(project).list_datasets()) == before  # nothing written: no tenant_typo_acme, no tenant_acme
    # A registered tenant, active or suspended, is taken as before.
    assert run_cli(*args, "apply", "--tenant", "acme", "--tenant", "initech").exit_code == 0
    assert run_cli(*args, "check", "--tenant", "initech").exit_code == 0
