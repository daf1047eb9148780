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
        text = cli_reference.help_text(*name.split())
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


def test_the_check_excerpt_names_the_steps_plan_prints(workdir: Path) -> None:
    """The README's `check` excerpt, on the seed's old table: each line is what check prints, so its
    step names (add_column, patch_columns, backfill) are the ones plan and apply use."""
    from tests import seed
    from tests.helpers import engine_for

    readme = (ROOT / "README.md").read_text()
    excerpt = readme.split("$ bqmanage check\ntenants.tenant_usage_quotas\n", 1)[1].split("\n\n", 1)[0]
    lines = [line for line in excerpt.splitlines() if line.strip() != "..."]
    assert len(lines) == 2 and "patch_columns" in excerpt
    engine = engine_for(None)
    seed.create_old_table(engine)
    engine.close()
    printed = run_cli("check").stdout.splitlines()
    assert all(line in printed for line in lines), lines


def _section_blocks(heading: str) -> list[list[tuple[str, str]]]:
    """The (command, expected output) pairs of every ```text block of one README section."""
    section = (ROOT / "README.md").read_text().split(heading, 1)[1].split("\n## ", 1)[0]
    blocks = [chunk.split("```", 1)[0] for chunk in section.split("```text\n")[1:]]
    return [[(c.partition("\n")[0].strip(), c.partition("\n")[2].strip()) for c in block.split("$ ")[1:]] for block in blocks]


def _shown(actual: str, expected: str) -> bool:
    """The README shows the output line for line; a line ending in '...' is cut short there."""
    lines, want = actual.strip().splitlines(), expected.splitlines()
    return len(lines) == len(want) and all(
        a == w or (w.endswith("...") and a.startswith(w[:-3])) for a, w in zip(lines, want, strict=True)
    )


def test_adopting_an_existing_warehouse_is_what_import_prints(workdir: Path) -> None:
    import shutil

    from tests.helpers import engine_for, write

    assert run_cli("apply").exit_code == 0
    engine = engine_for(None)
    try:  # a view made by hand, beside bqmanage's tables
        engine.con.execute("CREATE VIEW tenants.active_tenants AS SELECT tenant_id FROM tenants.tenant_profiles")  # type: ignore[attr-defined]
    finally:
        engine.close()
    shutil.rmtree("schemas")  # a warehouse with no definitions yet
    for tenant, extra in (("acme", ""), ("globex", "  - {name: note, type: STRING}\n"), ("initech", "")):
        write(
            workdir / "tenant_defs" / f"tenant_{tenant}" / "events.yaml",
            "table: events\ncolumns:\n  - {name: id, type: STRING, mode: REQUIRED}\n" + extra,
        )
    adopt, template = _section_blocks("## Adopting an existing warehouse")
    for command, expected in adopt:
        result = run_cli(*shlex.split(command)[1:])
        assert result.exit_code == 0, (command, result.stderr)
        assert _shown(result.stdout, expected), (command, result.stdout)
    assert run_cli("--schemas", "tenant_defs", "apply").exit_code == 0
    for command, expected in template:
        result = run_cli(*shlex.split(command)[1:])
        assert result.exit_code == 0, (command, result.stderr)
        assert _shown(result.stdout, expected), (command, result.stdout)
