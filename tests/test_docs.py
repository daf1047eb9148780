"""The README's promises: its CLI reference is the real --help, and its commands are what CI runs."""

from __future__ import annotations

import runpy
import shlex
from pathlib import Path

from tests import cli_reference
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_current() -> None:
    readme = cli_reference.README.read_text()
    assert cli_reference.section(readme) == cli_reference.reference().strip("\n"), (
        "README CLI reference is stale: run python -m tests.cli_reference --write"
    )


def test_every_command_has_help_with_an_example() -> None:
    for name in cli_reference.commands():
        text = cli_reference.help_text(name)
        assert "Example:" in text, f"bqmanage {name} --help has no example"


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0]
    assert "./dev demo" in first_block and "./dev test" in first_block
    assert "./dev test" in (ROOT / ".ci" / "run").read_text()


def _demo_commands() -> list[list[str]]:
    """What `./dev demo` runs, read from the script itself, so that the two cannot drift apart."""
    body = (ROOT / "dev").read_text().split("\n  demo)", 1)[1].split(";;", 1)[0]
    return [shlex.split(line.strip()) for line in body.splitlines() if line.strip().startswith(".venv/bin/")]


def _quick_tour() -> list[tuple[str, str]]:
    """(command, expected output) pairs of the README's Quick tour block."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Quick tour", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    pairs: list[tuple[str, str]] = []
    for chunk in block.split("$ ")[1:]:
        command, _, output = chunk.partition("\n")
        pairs.append((command.strip(), output.strip()))
    return pairs


def test_quick_tour_is_what_a_new_user_sees_after_the_demo(workdir: Path) -> None:
    for argv in _demo_commands():
        if argv[0].endswith("bqmanage"):
            assert run_cli(*argv[1:]).exit_code == 0
        else:
            assert argv[0].endswith("python")
            runpy.run_path(str(ROOT / argv[1]), run_name="__main__")
    tour = _quick_tour()
    assert len(tour) >= 5
    for command, expected in tour:
        argv = shlex.split(command)
        assert argv[0] == "bqmanage", command
        result = run_cli(*argv[1:])
        assert result.exit_code == 0, (command, result.stdout, result.stderr)
        assert (result.stderr + result.stdout).strip() == expected, command
