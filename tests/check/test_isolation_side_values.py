"""The local engine's row access policies edited by hand to values of another shape (NULL
grantees, a filter that is no SQL or NULL): check reports the policy as differing (exit 1), the
probe counts a filter it cannot evaluate as a finding, and apply repairs it; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.check.test_isolation import _by_hand, _check, isolated  # noqa: F401
from tests.helpers import run_cli

POLICY = "WHERE name = 'bqmanage_tenant_isolation'"


@pytest.mark.parametrize("change", ["grantees = NULL", "filter = 'SYNTAX ERROR ((('", "filter = NULL"])
def test_a_malformed_side_value_is_drift_apply_repairs(change: str, isolated: Path) -> None:  # noqa: F811
    _by_hand(f"UPDATE _bqmanage.row_access_policies SET {change} {POLICY}")
    for args in (["plan"], ["apply", "--dry-run"]):
        result = run_cli(*args)
        assert result.exit_code in (0, 1) and "Traceback" not in result.stderr, (args, result.stderr)
    code, findings = _check()
    assert code == 1 and "row_access_policy_differs" in {f["kind"] for f in findings}, findings
    code, findings = _check("--isolation")
    assert code == 1 and "row_access_policy_differs" in {f["kind"] for f in findings}, findings
    if "filter" in change:
        assert "isolation_leak" in {f["kind"] for f in findings}, findings
    assert run_cli("apply").exit_code == 0
    assert _check("--isolation") == (0, [])
