"""The console script has typer build only the command it runs (cli/__init__.py for_the_command):
that command's help and usage errors must be the ones the whole app gives, and anything that is
not one plain command must get the whole app."""

from __future__ import annotations

import pytest
from typer.main import get_command_name
from typer.testing import CliRunner

from bqmanage.cli import for_the_command, invoked
from bqmanage.cli.main import app

NAMES = [c.name or get_command_name(c.callback.__name__) for c in app.registered_commands if c.callback] + [
    g.name for g in app.registered_groups if g.name
]


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["check"], "check"),
        (["--target", "local", "--schemas=s", "--log-format", "json", "tenant", "add", "x"], "tenant"),
        (["--config=c.yaml", "check", "--format", "json"], "check"),
        (["--help"], None),
        (["--version", "check"], None),
        (["--no-such-flag", "check"], None),
        (["--target"], None),
        ([], None),
    ],
)
def test_the_invoked_command_is_the_first_word_after_the_global_flags(argv: list[str], name: str | None) -> None:
    assert invoked(argv) == name


@pytest.mark.parametrize("name", NAMES)
def test_a_command_alone_answers_as_in_the_whole_app(name: str) -> None:
    only = for_the_command(app, [name])
    assert only is not app and len(only.registered_commands) + len(only.registered_groups) == 1
    for args in ([name, "--help"], [name, "--no-such-flag"]):
        alone, whole = CliRunner().invoke(only, args), CliRunner().invoke(app, args)
        assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output), args
    assert len(app.registered_commands) + len(app.registered_groups) == len(NAMES)  # the app itself stays whole


def test_anything_but_one_known_command_gets_the_whole_app() -> None:
    assert for_the_command(app, ["chek"]) is app  # click's "Did you mean 'check'?" needs every name
    assert for_the_command(app, ["--help"]) is app
