"""Shared fixtures: the real engines. The local DuckDB engine, and bqemulator driven through the
official BigQuery client (started once per session as a subprocess from its own environment,
offline; see bqmanage/testing/emulator.py)."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faultproxy import FaultProxy

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
_projects = itertools.count(1)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory holding a copy of the production definitions."""
    shutil.copytree(SCHEMAS, tmp_path / "schemas")
    monkeypatch.chdir(tmp_path)
    for var in ("BQMANAGE_TARGET", "BQMANAGE_PROJECT", "BQMANAGE_SCHEMAS", "BQMANAGE_CONFIG", "BQMANAGE_LOCATION"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture(params=["local", pytest.param("emulator", marks=pytest.mark.emulator)])
def project(request: pytest.FixtureRequest, workdir: Path) -> str | None:
    """Each engine in turn: None for the local engine, else a fresh bqemulator project for the
    bigquery engine. The emulator case carries the `emulator` marker."""
    return None if request.param == "local" else str(request.getfixturevalue("emulator"))


def pytest_configure(config: pytest.Config) -> None:
    """bqmanage's pytest plugin (the fixtures an application's tests use; tests/sample_app uses
    them too) comes by its pytest11 entry point once bqmanage is installed from this pyproject;
    an install from before the entry point existed gets it here."""
    import bqmanage.testing.pytest_plugin as plugin

    if not config.pluginmanager.is_registered(plugin):
        config.pluginmanager.register(plugin, "bqmanage")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that reaches bqemulator is marked `emulator`, so that `-m "not emulator"` is a
    tier that never starts it and `-m emulator` runs exactly the emulator tier."""
    for item in items:
        if {"emulator", "emulator_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.emulator)


@pytest.fixture(scope="session")
def emulator_url(bqmanage_emulator_url: str) -> str:
    """A bqemulator 1.4.0 server on a free loopback port, for the whole session: the plugin's, so
    that one session starts one emulator."""
    return bqmanage_emulator_url


@pytest.fixture
def emulator(emulator_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the bigquery target at bqemulator, in a project of its own; returns the project id."""
    project = f"emu-project-{next(_projects):04d}"
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", emulator_url)
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "15")
    return project


@pytest.fixture
def proxy(emulator_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """The bigquery target through the counting, fault-injecting proxy in front of bqemulator (a
    test file that needs other settings, a latency model or answers edited, defines its own)."""
    proxy = FaultProxy(emulator_url)
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", proxy.url)
    monkeypatch.setenv("BQMANAGE_RETRY_DEADLINE", "15")
    try:
        yield proxy
    finally:
        proxy.close()
