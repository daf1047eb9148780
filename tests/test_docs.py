"""The README's promises: its CLI reference is the real --help, and its commands are what CI runs."""

from __future__ import annotations

from pathlib import Path

from tests import cli_reference

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_current() -> None:
    readme = cli_reference.README.read_text()
    assert cli_reference.section(readme) == cli_reference.reference().strip("\n"), (
        "README CLI reference is stale: run python -m tests.cli_reference --write")


def test_every_command_has_help_with_an_example() -> None:
    for name in cli_reference.commands():
        text = cli_reference.help_text(name)
        assert "Example:" in text, f"bqmanage {name} --help has no example"


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0]
    assert "./dev demo" in first_block and "./dev test" in first_block
    assert "./dev test" in (ROOT / ".ci" / "run").read_text()
