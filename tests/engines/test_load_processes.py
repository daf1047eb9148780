"""The loader reads many dataset directories in two processes (bqmanage/definitions/forked.py): the outcome,
problems, their order and the digest included, is the one a single process gives."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bqmanage.definitions.forked import map_in_two
from bqmanage.definitions.load import PARALLEL_FROM, load_definitions
from bqmanage.errors import DefinitionError

ROOT = Path(__file__).resolve().parents[2]


def _tree(root: Path, datasets: int) -> Path:
    for i in range(datasets):
        target = root / f"tenant_{i:03d}"
        shutil.copytree(ROOT / "schemas" / "tenants", target)
        for path in target.glob("*.yaml"):
            text = path.read_text().replace("tenants.tenant_profiles", f"tenant_{i:03d}.tenant_profiles")
            text = text.replace("tenants.tenant_members", f"tenant_{i:03d}.tenant_members")
            path.write_text(text.replace("customers.customer_", f"legacy_{i:03d}.customer_"))
    return root


def _outcome(schemas: Path) -> str:
    try:
        definitions = load_definitions(schemas)
    except DefinitionError as exc:
        return f"problems:\n{exc}"
    return f"{definitions.digest} {len(definitions.tables)} {definitions.model_dump_json()}"


@pytest.mark.parametrize("broken", [False, True])
def test_two_processes_give_what_one_gives(broken: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schemas = _tree(tmp_path / "schemas", PARALLEL_FROM + 6)
    if broken:  # problems in both halves, and one between them (names that differ only in case)
        for name in ("tenant_002", "tenant_066"):
            path = schemas / name / "tenant_usage_quotas.yaml"
            path.write_text(path.read_text().replace("type: INT64", "type: INT46", 1))
        shutil.copytree(schemas / "tenant_003", schemas / "Tenant_003")
    monkeypatch.setenv("BQMANAGE_LOAD_PROCESSES", "1")
    one = _outcome(schemas)
    monkeypatch.delenv("BQMANAGE_LOAD_PROCESSES")
    two = _outcome(schemas)
    assert two == one
    assert one.startswith("problems:") == broken


def test_a_child_that_fails_leaves_its_part_to_the_parent() -> None:
    parent = os.getpid()

    def double(x: int) -> int:
        if x == 9 and os.getpid() != parent:
            raise ValueError("only in the child")
        return 2 * x

    assert map_in_two(double, list(range(12))) == [2 * x for x in range(12)]

    def broken(x: int) -> int:
        if x == 9:
            raise ValueError("everywhere")
        return x

    with pytest.raises(ValueError, match="everywhere"):  # raised here, as one process raises it
        map_in_two(broken, list(range(12)))
