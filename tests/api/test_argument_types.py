"""The public API checks its arguments' types where they enter: a wrong type is a BqmanageError
(exit 2) naming the argument, before any warehouse is opened (nothing written), never a raw
TypeError or AttributeError, nor a str taken as the list of its characters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bqmanage import EXIT_BAD_INPUT, BqmanageError, Limits, Project, TenantScope, UsageError

CALLS: dict[str, tuple[Callable[[Project], Any], str]] = {
    "tenant_add bytes id": (lambda p: p.tenant_add(b"x"), "tenant_id"),  # type: ignore[arg-type]
    "tenant_add int name": (lambda p: p.tenant_add("x", name=123), "name"),  # type: ignore[arg-type]
    "tenant_add dict limits": (lambda p: p.tenant_add("x", limits={"daily": 5}), "limits"),  # type: ignore[arg-type]
    "plan str scope": (lambda p: p.plan(scope="all"), "scope"),  # type: ignore[arg-type]
    "apply str scope": (lambda p: p.apply(scope="all"), "scope"),  # type: ignore[arg-type]
    "check str scope": (lambda p: p.check(scope="all"), "scope"),  # type: ignore[arg-type]
    "reset str date": (lambda p: p.reset(run_date="2026-12-07"), "run_date"),  # type: ignore[arg-type]
    "reset datetime date": (lambda p: p.reset(run_date=dt.datetime(2026, 12, 7, 3), dry_run=True), "run_date"),
    "tenant_resume str date": (lambda p: p.tenant_resume("x", run_date="2026-12-07"), "run_date"),  # type: ignore[arg-type]
    "tenant_set_limits int limits": (lambda p: p.tenant_set_limits("x", 5), "limits"),  # type: ignore[arg-type]
    "audit_code str paths": (lambda p: p.audit_code("src"), "paths"),  # type: ignore[arg-type]
    "check str code": (lambda p: p.check(code="src"), "code"),  # type: ignore[arg-type]
    "render str tenants": (lambda p: p.render(tenants="acme"), "tenants"),  # type: ignore[arg-type]
    "inspect str flag": (lambda p: p.inspect(all_datasets="yes"), "all_datasets"),  # type: ignore[arg-type]
    "unknown keyword": (lambda p: p.tenant_add("x", limit=Limits(daily=1)), "limit"),  # type: ignore[call-arg]
}


@pytest.mark.parametrize("case", sorted(CALLS))
def test_a_wrong_argument_type_is_a_bqmanage_error_naming_it_and_nothing_is_written(case: str, workdir: Path) -> None:
    call, argument = CALLS[case]
    project = Project.load()
    with pytest.raises(BqmanageError) as caught:
        call(project)
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == EXIT_BAD_INPUT
    assert argument in str(caught.value) and "\n" not in str(caught.value)
    assert not (workdir / ".bqmanage").exists()


@pytest.mark.parametrize(
    "kwargs, argument", [({"schemas": 5}, "schemas"), ({"target": ["local"]}, "target"), ({"settings": "x"}, "settings")]
)
def test_load_refuses_a_wrong_argument_type(kwargs: dict[str, Any], argument: str, workdir: Path) -> None:
    with pytest.raises(UsageError, match=argument):
        Project.load(**kwargs)


@pytest.mark.parametrize("limits", [{"daily": True}, {"concurrent": False}, {"monthly": 1.0}, {"daily": "5"}])
def test_limits_are_whole_numbers_and_never_bools(limits: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match="is not a limit"):
        Limits(**limits)


def test_a_single_tenant_id_given_as_a_str_is_one_id() -> None:
    assert TenantScope.of("acme").ids == ("acme",)
    assert TenantScope.of(["acme", "globex"]).ids == ("acme", "globex")
    for bad in (5, b"acme", [b"acme"], ["acme", 3]):
        with pytest.raises(UsageError, match="ids"):
            TenantScope.of(bad)  # type: ignore[arg-type]


def test_right_types_still_pass(workdir: Path) -> None:
    project = Project.load(schemas="schemas")
    assert [t.tenant for t in project.plan(scope=TenantScope.of("acme")).tenants] == ["acme"]
    assert project.render("sql", None, ("acme",))
    project.apply()
    assert project.reset(run_date=dt.date(2026, 12, 7), dry_run=True) is not None
    assert project.tenant_add("acme", name="Acme", limits=Limits(daily=5)).tenant == "acme"


def test_paths_given_as_str_are_read_as_paths(workdir: Path) -> None:
    """The API admits a str wherever it takes a path, and the code below it reads it as a Path."""
    (workdir / "src").mkdir()
    (workdir / "src" / "q.sql").write_text("SELECT * FROM customers.customer_usage_quotas\n")
    project = Project.load()
    audited = project.audit_code([str(workdir / "src" / "q.sql")])
    assert audited.findings  # the legacy name in the file named by a str
    checked = project.check(code=[str(workdir / "src")])
    assert any("customer_usage_quotas" in f.message for f in checked.findings)
