"""Helpers shared by tests: run the CLI in-process, open engines the way the CLI does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from bqmanage.cli import app
from bqmanage.engines import Engine, open_engine
from bqmanage.settings import resolve_settings


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


def target_args(project: str | None) -> list[str]:
    """CLI flags for the local engine (project None) or the bigquery engine on the emulator."""
    return ["--target", "bigquery", "--project", project] if project else []


def engine_for(project: str | None) -> Engine:
    settings = resolve_settings(target="bigquery" if project else "local", project=project)
    return open_engine(settings, "test")


def record(engine: Engine) -> list[str]:
    """Every statement (or API call) bqmanage sends through ``engine`` from now on, in GoogleSQL."""
    sent: list[str] = []
    engine.on_statement = sent.append
    return sent


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
