"""The documentation is what a user sees: every example that shows output is run and compared.

The convention is in tests/docs_examples.py. Each ```console block names a setup below: the
sandbox it runs in, built the way the page's prose says (a fresh clone, the demo's warehouse, ...).
"""

from __future__ import annotations

import doctest
import importlib.util
import io
import re
import runpy
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import cli_reference, docs_examples
from tests.docs_examples import ROOT, Block, Shell, bqmanage, sandbox

# ---- the sandboxes ----


def _clone(path: Path) -> None:
    """The repository's tracked files (as they are in the work tree): what `git clone` gives."""
    ls_files = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    listed = subprocess.run(ls_files, cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _demo_commands() -> list[list[str]]:
    """What `./dev demo` runs, read from the script itself, so that the two cannot drift apart."""
    body = (ROOT / "dev").read_text().split("\n  demo)", 1)[1].split(";;", 1)[0]
    return [shlex.split(line.strip()) for line in body.splitlines() if line.strip().startswith(".venv/bin/")]


def _demo(path: Path) -> None:
    _clone(path)
    for argv in _demo_commands():
        if argv[0].endswith("bqmanage"):
            code, output = bqmanage(argv[1:], path, {})
            assert code == 0, output
        else:
            assert argv[0].endswith("python"), argv
            with sandbox(path, {}):
                runpy.run_path(str(path / argv[1]), run_name="__main__")


def _sql(path: Path, *statements: str) -> None:
    """Change the local warehouse behind bqmanage's back, as a person with a SQL console would."""
    import duckdb

    con = duckdb.connect(str(path / ".bqmanage" / "local.duckdb"))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def _old_quota_table(path: Path) -> None:
    """The seed incident: tenant_usage_quotas as an old deploy script created it."""
    from tests import seed
    from tests.helpers import engine_for

    _clone(path)
    with sandbox(path, {}):
        engine = engine_for(None)
        try:
            seed.create_old_table(engine)
        finally:
            engine.close()


def _broken_definitions(path: Path) -> None:
    _clone(path)
    quotas = path / "schemas" / "tenants" / "tenant_usage_quotas.yaml"
    text = quotas.read_text()
    broken = text.replace("type: INT64", "type: INT46", 1).replace('default: "CURRENT_TIMESTAMP()"', 'default: "NOW()"', 1)
    assert broken.count("INT46") == 1 and broken.count("NOW()") == 1
    quotas.write_text(broken)


def _tenant_drift(path: Path) -> None:
    _demo(path)
    _sql(
        path,
        "ALTER TABLE tenant_acme.pipeline_runs DROP COLUMN rows_processed",
        "CREATE SCHEMA tenant_zzz",
        "CREATE TABLE tenant_zzz.pipeline_runs (run_id VARCHAR)",
    )


def _widened_policy(path: Path) -> None:
    """The demo, with its isolation policy's filter widened to TRUE by hand (docs/isolation.md)."""
    _demo(path)
    _sql(path, "UPDATE _bqmanage.row_access_policies SET filter = 'TRUE' WHERE name = 'bqmanage_tenant_isolation'")


def _access_drift(path: Path) -> None:
    """The demo's warehouse with a grant added and one removed by hand (docs/isolation.md)."""
    _demo(path)
    _sql(
        path,
        "INSERT INTO _bqmanage.dataset_access VALUES ('tenant_acme', 'WRITER', 'user:eve@example.com')",
        "DELETE FROM _bqmanage.dataset_access WHERE dataset = 'tenant_globex'",
    )


def _extra_table(path: Path) -> None:
    _demo(path)
    _sql(path, "CREATE TABLE tenants.scratch_copy AS SELECT * FROM tenants.tenant_profiles")


def _adopt(path: Path) -> None:
    """A warehouse that predates bqmanage: the tenants dataset, a view made by hand, and three
    tenants' datasets made by another tool; no definitions yet."""
    _clone(path)
    code, output = bqmanage(["apply"], path, {})
    assert code == 0, output
    statements = ["CREATE VIEW tenants.active_tenants AS SELECT tenant_id FROM tenants.tenant_profiles"]
    for tenant in ("acme", "globex", "initech"):
        note = ", note VARCHAR" if tenant == "globex" else ""
        statements += [f"CREATE SCHEMA tenant_{tenant}", f"CREATE TABLE tenant_{tenant}.events (id VARCHAR NOT NULL{note})"]
    # bqmanage's row access (the members table, the policies) is not there before bqmanage is.
    statements += ["DROP TABLE tenants.tenant_members", "DELETE FROM _bqmanage.row_access_policies"]
    _sql(path, *statements)
    shutil.rmtree(path / "schemas")


SETUPS: dict[str, Callable[[Path], None]] = {
    "clone": _clone,
    "demo": _demo,
    "old-quota-table": _old_quota_table,
    "broken-definitions": _broken_definitions,
    "tenant-drift": _tenant_drift,
    "extra-table": _extra_table,
    "widened-policy": _widened_policy,
    "access-drift": _access_drift,
    "adopt": _adopt,
}
# Setups whose blocks another test runs, because they need more than a sandbox directory.
ELSEWHERE = {
    "pytest-plugin": "tests/testing/test_pytest_plugin.py",  # a pytest run of an application, on both engines
    "emulator": "tests/testing/test_docs_emulator.py",  # bqemulator running, BIGQUERY_EMULATOR_HOST set
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Path]]:
    """Each setup built once; every block gets a copy of it."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            cache[name] = tmp_path_factory.mktemp(f"setup-{name}")
            SETUPS[name](cache[name])
        copy = tmp_path_factory.mktemp("example") / "repo"
        shutil.copytree(cache[name], copy, symlinks=True)
        return copy

    yield get


def run_block(block: Block, shell: Shell) -> None:
    steps = block.steps()
    for index, (command, expected) in enumerate(steps):
        actual = shell.run(command)
        where = f"{block.id}: $ {command}"
        difference = "\n--- shown:\n" + "\n".join(expected) + "\n--- printed:\n" + "\n".join(actual)
        assert docs_examples.shown(actual, expected), where + difference
        if shell.status != 0 and command != "echo $?":
            shows_it = index + 1 < len(steps) and steps[index + 1][0] == "echo $?"
            assert shows_it, f"{where}: exits {shell.status}; show it with $ echo $?"


def run_doctest(block: Block, cwd: Path) -> None:
    """A ```pycon block: Python's own doctest, in the sandbox (``...`` elides, as in console blocks)."""
    parser, report = doctest.DocTestParser(), io.StringIO()
    test = parser.get_doctest(block.text, {}, block.id, block.page, block.line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    with sandbox(cwd, {}):
        runner.run(test, out=report.write)
    assert runner.failures == 0 and runner.tries > 0, report.getvalue()


RUN_HERE = [b for b in docs_examples.all_blocks() if b.info in ("console", "pycon") and b.setup in SETUPS]


@pytest.mark.parametrize("block", RUN_HERE, ids=[b.id for b in RUN_HERE])
def test_example_prints_what_the_docs_show(block: Block, built: Callable[[str], Path]) -> None:
    assert block.setup is not None
    if block.info == "pycon":
        run_doctest(block, built(block.setup))
    else:
        run_block(block, Shell(cwd=built(block.setup)))


# ---- the convention itself ----


def test_every_example_with_output_names_its_sandbox() -> None:
    for block in docs_examples.all_blocks():
        if block.page == "docs/cli.md":
            continue  # generated from --help, compared whole below
        has_prompt = any(line.startswith(("$ ", ">>> ")) for line in block.text.splitlines())
        if block.info in ("console", "pycon"):
            assert block.setup in SETUPS or block.setup in ELSEWHERE, f"{block.id}: <!-- example: SETUP --> missing or unknown"
            assert has_prompt, f"{block.id}: a console block shows commands"
        else:
            assert not has_prompt, f"{block.id}: a command with its output goes in a console block, which is run"
            assert block.setup is None, f"{block.id}: only console blocks are run"


def test_examples_run_elsewhere_are_read_there() -> None:
    for setup, test_file in ELSEWHERE.items():
        assert any(b.setup == setup for b in docs_examples.all_blocks()), setup
        assert f'"{setup}"' in (ROOT / test_file).read_text(), f"{test_file} does not run the {setup} examples"


def _global_options() -> set[str]:
    return set(re.findall(r"--[a-z][a-z-]*", cli_reference.help_text().split("Commands:", 1)[0]))


def _check_bqmanage_line(argv: list[str], where: str, names: list[str], global_options: set[str]) -> None:
    words = iter(argv)
    command: list[str] = []
    for word in words:
        if word.startswith("--"):
            assert word.split("=", 1)[0] in global_options, f"{where}: no global option {word}"
            if "=" not in word:
                next(words)  # every global option takes a value
            continue
        command.append(word)
        if " ".join(command) in names and not any(n.startswith(" ".join(command) + " ") for n in names):
            break
    name = " ".join(command)
    assert name in names, f"{where}: no command bqmanage {name}"
    options = set(re.findall(r"--[a-z][a-z-]*", cli_reference.help_text(*command)))
    for word in words:
        if word.startswith("--"):
            assert word.split("=", 1)[0] in options, f"{where}: bqmanage {name} has no option {word}"


def test_commands_shown_without_output_exist() -> None:
    """```sh blocks are not run (they need BigQuery, or change the repository), but every bqmanage
    command, option, ./dev job and python -m module they name is real."""
    names = cli_reference.commands()
    global_options = _global_options()
    jobs = set(re.findall(r"^  ([\w-]+)\)", (ROOT / "dev").read_text(), re.M))
    checked = 0
    for block in docs_examples.all_blocks():
        if block.info != "sh":
            continue
        for number, raw in enumerate(block.text.replace("\\\n", "  ").splitlines()):  # one line per command
            line = raw.split(" #", 1)[0].strip()
            if not line:
                continue
            where = f"{block.page}:{block.line + 1 + number}"
            argv = shlex.split(line.replace("$(", "").replace(")", ""))
            if argv[0] == "bqmanage":
                _check_bqmanage_line(argv[1:], where, names, global_options)
            elif argv[0] == "./dev":
                assert argv[1] in jobs, f"{where}: ./dev has no job {argv[1]}"
            elif argv[:2] == ["python", "-m"]:
                assert importlib.util.find_spec(argv[2]) is not None, f"{where}: no module {argv[2]}"
            else:
                continue
            checked += 1
    assert checked >= 8


# ---- the pages ----


def test_readme_is_short_and_links_every_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) < 8 * 1024
    linked = set(re.findall(r"\]\((docs/[\w-]+\.md)(?:#[\w-]+)?\)", readme))
    assert {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")} <= linked


def test_links_between_pages_resolve() -> None:
    for page in docs_examples.pages():
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to a missing {target}"


def test_pages_name_no_issue_numbers() -> None:
    for page in docs_examples.pages():
        assert not re.search(r"\b[Ii]ssue\s*#?\d+", page.read_text()), page


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0]
    assert "./dev demo" in first_block and "./dev test" in first_block
    assert "./dev test" in (ROOT / ".ci" / "run").read_text()


def test_cli_reference_is_current() -> None:
    assert (ROOT / "docs" / "cli.md").read_text() == cli_reference.page(), (
        "docs/cli.md is stale: run python -m tests.cli_reference --write"
    )


def test_every_command_has_help_with_an_example() -> None:
    for name in cli_reference.commands():
        text = cli_reference.help_text(*name.split())
        assert "Example:" in text, f"bqmanage {name} --help has no example"
