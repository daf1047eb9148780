"""A live access entry's text is the warehouse's: plan, apply, check and import print it escaped,
on its one line, so that a member holding a newline cannot end plan's SQL comment and add a
statement of its own."""

from __future__ import annotations

from pathlib import Path

from bqmanage.engines.duck_access import ACCESS_DDL
from bqmanage.engines.local import LocalEngine
from tests.helpers import engine_for, run_cli
from tests.pipeline.test_dataset_access import _sales

EVIL = "user:eve@example.com\nDROP TABLE sales.orders; --"


def _grant_by_hand(member: str) -> None:
    engine = engine_for(None)
    assert isinstance(engine, LocalEngine)
    engine.con.execute(ACCESS_DDL)
    engine.con.execute("INSERT INTO _bqmanage.dataset_access VALUES ('sales', 'READER', ?)", [member])
    engine.close()


def test_a_live_member_with_a_newline_stays_on_its_line(workdir: Path) -> None:
    _sales(workdir, "access_exclusive: true\n")
    assert run_cli("apply").exit_code == 0
    _grant_by_hand(EVIL)
    for args in (("plan",), ("check",), ("apply", "--dry-run")):
        result = run_cli(*args)
        assert result.exit_code in (0, 1), (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        out = result.stdout + result.stderr
        assert not any(line.startswith("DROP TABLE") for line in out.splitlines()), (args, out)
        assert "eve@example.com\\nDROP TABLE" in out, (args, out)


def test_import_notes_are_escaped(workdir: Path) -> None:
    _sales(workdir)
    assert run_cli("apply").exit_code == 0
    _grant_by_hand("specialGroup:all\nDROP TABLE x; --")
    result = run_cli("import", "--dataset", "sales", "--out", str(workdir / "imported"))
    assert "Traceback" not in result.stderr
    out = result.stdout + result.stderr
    assert not any(line.startswith("DROP TABLE") for line in out.splitlines()), out
