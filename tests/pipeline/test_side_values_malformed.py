"""Side tables of the local engine edited by hand to values of another shape: drift that apply
repairs, never a traceback."""

from __future__ import annotations

from pathlib import Path

from bqmanage.engines.local import LocalEngine
from tests.helpers import engine_for, run_cli, write


def test_policy_tags_that_are_no_object_are_drift_apply_repairs(workdir: Path) -> None:
    write(workdir / "schemas" / "sales" / "orders.yaml", "columns:\n  - {name: id, type: STRING}\n")
    assert run_cli("apply").exit_code == 0
    engine = engine_for(None)
    assert isinstance(engine, LocalEngine)
    engine.con.execute("""UPDATE _bqmanage.columns SET meta = '{"policyTags":"oops"}' WHERE dataset = 'sales'""")
    engine.close()
    for args in (("check",), ("plan",), ("apply",), ("check",)):
        result = run_cli(*args)
        assert result.exit_code in (0, 1), (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
    assert run_cli("check").exit_code == 0
