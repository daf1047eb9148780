"""Generate the README's CLI reference from --help, so the docs cannot drift from the code.

python -m tests.cli_reference          # print it
python -m tests.cli_reference --write  # rewrite the section of README.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

from bqmanage.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- cli-reference:start -->", "<!-- cli-reference:end -->"


def commands() -> list[str]:
    """Every command, a sub-command as "group command" (``tenant add``), after its group."""
    import typer.main

    names: list[str] = []
    for name, command in typer.main.get_command(app).commands.items():  # type: ignore[attr-defined]
        names.append(name)
        names += [f"{name} {sub}" for sub in getattr(command, "commands", {})]  # a group's own commands
    return names


def help_text(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], terminal_width=100, env={"COLUMNS": "100"})
    return result.stdout.rstrip() + "\n"


def reference() -> str:
    parts = ["```text\n$ bqmanage --help\n" + help_text() + "```\n"]
    for name in commands():
        parts.append(f"#### `bqmanage {name}`\n\n```text\n$ bqmanage {name} --help\n" + help_text(*name.split()) + "```\n")
    return "\n".join(parts)


def section(text: str) -> str:
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n")


def write() -> None:
    text = README.read_text()
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    README.write_text(f"{head}{START}\n{reference()}{END}{tail}")


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
    else:
        print(reference())
