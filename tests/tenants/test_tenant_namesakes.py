"""Two tenant ids that would share a dataset name (``race-1`` and ``race_1``), added at the same
instant: never both registered. The one that finds the other after its own insert takes its row
back and is refused (exit 2's UsageError, naming the other id)."""

from __future__ import annotations

import threading

from bqmanage import api
from bqmanage.errors import UsageError
from bqmanage.settings import Settings, resolve_settings
from tests.helpers import engine_for, run_cli, target_args

REGISTRY = "`tenants`.`tenant_profiles`"


def _race(settings: Settings, project: str | None, ids: list[str]) -> tuple[dict[str, str], list[BaseException]]:
    """Add the ``ids`` at the same instant, each with its own engine: the refusals (id: message), and anything else."""
    barrier = threading.Barrier(len(ids))
    refused: dict[str, str] = {}
    unexpected: list[BaseException] = []

    def add(tenant: str) -> None:
        engine = engine_for(project)
        try:
            barrier.wait()
            api.tenant_add(settings, engine, tenant, None)
        except UsageError as exc:
            refused[tenant] = str(exc)
        except BaseException as exc:
            unexpected.append(exc)
        finally:
            engine.close()

    threads = [threading.Thread(target=add, args=(tenant,)) for tenant in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    return refused, unexpected


def test_namesakes_added_at_once_are_never_both_registered(project: str | None) -> None:
    assert run_cli(*target_args(project), "apply").exit_code == 0
    settings = resolve_settings(target="bigquery" if project else "local", project=project)
    for n in range(3):
        ids = [f"race-{n}", f"race_{n}"]
        refused, unexpected = _race(settings, project, ids)
        assert unexpected == []
        for tenant, message in refused.items():
            other = next(i for i in ids if i != tenant)
            assert f"tenant {other!r} is already registered" in message, message
        engine = engine_for(project)
        registered = {r["tenant_id"] for r in engine.query(f"SELECT tenant_id FROM {REGISTRY}") if r["tenant_id"] in ids}
        engine.close()
        assert len(registered) <= 1, registered  # never both
        assert registered == set(ids) - set(refused)
        if not registered:  # both found each other and stood back: the id can be added now
            api.tenant_add(settings, engine_for(project), ids[0], None)
    result = run_cli(*target_args(project), "check", "--all-tenants")
    assert result.exit_code in (0, 1), result.stderr
