"""Hostile input gives one located message and exit 2, never a traceback, and writes nothing.

Definitions under schemas/ and the bqmanage.yaml config are read by the same bounded reader
(bqmanage/definitions/yaml_source.py): alias bombs, deep nesting, huge files, odd tags and keys, broken
links, directories and FIFOs where a file should be, and bytes that are not UTF-8.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import pytest
import yaml

from bqmanage.definitions import yaml_source
from tests.helpers import Result, run_cli, write

TABLE = "schemas/ds/t.yaml"
GOOD = "columns:\n  - {name: id, type: STRING, mode: REQUIRED}\n"


def _bomb(levels: int = 12, width: int = 9) -> str:
    """The YAML "billion laughs": each line holds `width` aliases of the line before."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\ncolumns:\n  - {name: id, type: STRING}\n"


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under root (links not followed): mode, size and mtime, to prove nothing was written."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            info = os.lstat(os.path.join(folder, name))
            out[os.path.relpath(os.path.join(folder, name), root)] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return out


@pytest.fixture
def unchanged(workdir: Path) -> Iterator[Path]:
    """The workdir, checked after the test: no file added, removed or modified, no local warehouse."""
    yield workdir
    assert not (workdir / ".bqmanage").exists()


def _rejected(result: Result, where: str, fragment: str) -> str:
    """Exit 2 with one message that starts with ``where``; returns that message."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    located = [ln for ln in result.stderr.splitlines() if ln.startswith(where)]
    assert len(located) == 1, result.stderr
    assert fragment in located[0], located[0]
    return located[0]


def _validate_rejects(where: str, fragment: str, *args: str) -> str:
    before = _snapshot(Path.cwd())
    message = _rejected(run_cli(*args, "validate"), where, fragment)
    assert _snapshot(Path.cwd()) == before
    return message


# --- YAML that would exhaust memory, the stack or the parser -----------------------------------------


def test_alias_bomb_is_refused_quickly(unchanged: Path) -> None:
    write(Path(TABLE), _bomb())
    started = time.perf_counter()
    message = _validate_rejects(f"{TABLE}:", "expands to more than 250,000 YAML nodes")
    assert time.perf_counter() - started < 10
    assert message.split(":")[1].isdigit()  # located at the line of the alias that crossed the limit


def test_alias_bomb_of_long_text_is_refused(unchanged: Path) -> None:
    # Few nodes, but quoting each copy in an error message would print gigabytes.
    long = "x" * 100_000
    write(Path(TABLE), f"columns:\n  - &s {long}\n" + "  - *s\n" * 100)
    _validate_rejects(f"{TABLE}:", "expands to more than 4 MiB of text")


def test_aliases_within_the_limit_are_fine(unchanged: Path) -> None:
    write(Path(TABLE), "description: &d Shared text.\ncolumns:\n  - {name: id, type: STRING, description: *d}\n")
    result = run_cli("validate")
    assert result.exit_code == 0, result.stderr


def test_deep_nesting_is_refused(unchanged: Path) -> None:
    write(Path(TABLE), "columns: " + "[" * 5000 + "]" * 5000 + "\n")
    _validate_rejects(f"{TABLE}:1:", "nesting is deeper than 100 levels")


@pytest.mark.parametrize("loader", ["SafeLoader", "CSafeLoader"])
@pytest.mark.parametrize("opening", ["[" * 5000, "{a: " * 5000, "[" * 1001, "[" * 101])
def test_deep_nesting_gives_bqmanages_message_whichever_parser_stops_first(
    loader: str, opening: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libyaml has a nesting limit of its own (1,000 flow levels since PyYAML 6.0.4); the problem
    # reported must be bqmanage's, located, whichever parser is installed and whichever stops first.
    if not hasattr(yaml, loader):
        pytest.skip(f"PyYAML is built without {loader}")
    monkeypatch.setattr(yaml_source, "_LOADER", getattr(yaml, loader))
    started = time.perf_counter()
    data, _, problems = yaml_source.parse_yaml("columns: " + opening + "\n", "t.yaml")
    assert time.perf_counter() - started < 10
    assert data is None
    assert [(p.path, p.line, p.message) for p in problems] == [("t.yaml", 1, "nesting is deeper than 100 levels; refusing it")]


def test_deep_block_nesting_is_refused(unchanged: Path) -> None:
    write(Path(TABLE), "".join(f"{' ' * i}k{i}:\n" for i in range(150)))
    _validate_rejects(f"{TABLE}:101:", "nesting is deeper than 100 levels")


def test_huge_file_is_refused_before_parsing(unchanged: Path) -> None:
    write(Path(TABLE), GOOD + "# " + "x" * (4 << 20) + "\n")
    _validate_rejects(f"{TABLE}: ", "larger than 4 MiB")


@pytest.mark.parametrize(
    "text,line,fragment",
    [
        ("columns:\n  - {name: id, type: !vault secret}\n", 2, "unsupported tag '!vault'"),
        ("columns: !!set {a, b}\n", 1, "unsupported tag '!!set'"),
        ("columns:\n  - {name: id, type: STRING}\n? [a, b]\n: 1\n", 3, "complex key"),
        ("columns:\n  - {name: id, type: STRING}\n? {a: 1}\n: 1\n", 3, "complex key"),
        ("k: &k [1]\n*k : 1\ncolumns: []\n", 2, "complex key"),
        ("columns: &c\n  - {name: id, type: STRING, fields: *c}\n", 2, "recursive alias"),
        ("columns: *nowhere\n", 1, "alias *nowhere is not defined"),
        ("a: &x 1\nb: &x 2\ncolumns: []\n", 2, "anchor &x is defined twice (first at line 1)"),
        ("columns:\n  - {name: d, type: DATE, default: 2026-02-30}\n", 2, "cannot read '2026-02-30' as !!timestamp"),
        ("columns:\n  - {name: b, type: BOOL, default: !!bool maybe}\n", 2, "cannot read 'maybe' as !!bool"),
        ("columns:\n  - {name: n, type: INT64, default: !!int }\n", 2, "cannot read '' as !!int"),
        ("columns:\n  - {name: id, type: STRING}\n---\ncolumns: []\n", 3, "expected one document"),
        ('columns:\n  - {name: id, type: STRING, description: "bell \x07"}\n', 2, "control character U+0007"),
        ("columns:\n  - {name: id\ttype: STRING}\n", 2, "invalid YAML"),
    ],
    ids=[
        "custom_tag",
        "set_tag",
        "complex_key_list",
        "complex_key_map",
        "alias_key",
        "recursive_alias",
        "undefined_alias",
        "duplicate_anchor",
        "impossible_date",
        "bad_bool",
        "empty_int",
        "two_documents",
        "control_character",
        "tab",
    ],
)
def test_unsupported_yaml_is_located(text: str, line: int, fragment: str, unchanged: Path) -> None:
    write(Path(TABLE), text)
    _validate_rejects(f"{TABLE}:{line}:", fragment)


def test_merge_keys_are_supported(unchanged: Path) -> None:
    write(
        Path(TABLE),
        (
            "columns:\n"
            "  - &counter {name: runs, type: INT64, mode: REQUIRED, default: 0}\n"
            "  - {<<: *counter, name: failures}\n"
            "  - <<: [*counter, {description: merged}]\n"
            "    name: cancels\n"
            "    mode: NULLABLE\n"
        ),
    )
    result = run_cli("render")
    assert result.exit_code == 0, result.stderr
    assert "`failures` INT64 DEFAULT 0 NOT NULL," in result.stdout
    assert '`cancels` INT64 DEFAULT 0 OPTIONS (description = "merged")' in result.stdout


def test_merged_problems_are_located_where_merged(unchanged: Path) -> None:
    write(Path(TABLE), "columns:\n  - &bad {name: a, type: INT46}\n  - {<<: *bad, name: b}\n")
    result = run_cli("validate")
    assert result.exit_code == 2
    assert f"{TABLE}:2: columns[0].type: unknown type 'INT46'" in result.stderr
    assert f"{TABLE}:3: columns[1].type: unknown type 'INT46'" in result.stderr


def test_merge_of_a_scalar_is_refused(unchanged: Path) -> None:
    write(Path(TABLE), "columns:\n  - {name: a, type: STRING}\n  - {<<: 5, name: b}\n")
    _validate_rejects(f"{TABLE}:3:", "merge key '<<' takes a mapping")


def test_non_utf8_definition_is_located(unchanged: Path) -> None:
    Path("schemas/ds").mkdir()
    Path(TABLE).write_bytes(b"columns:\n  - {name: id, type: STRING, description: caf\xe9}\n")
    _validate_rejects(f"{TABLE}:2:", "not UTF-8 text (byte 0xe9)")


# --- files that are not regular readable files -------------------------------------------------------


@pytest.mark.parametrize("where", ["schemas/ds/t.yaml", "schemas/ds/_dataset.yaml"])
def test_symlink_loop(where: str, unchanged: Path) -> None:
    write(Path("schemas/ds/other.yaml"), GOOD)
    Path(where).symlink_to(Path(where).name)
    _validate_rejects(f"{where}: ", "symlink loop")


def test_dangling_symlink(unchanged: Path) -> None:
    write(Path("schemas/ds/other.yaml"), GOOD)
    Path(TABLE).symlink_to("gone.yaml")
    _validate_rejects(f"{TABLE}: ", "dangling symlink to gone.yaml")


def test_directory_named_like_a_definition(unchanged: Path) -> None:
    write(Path("schemas/ds/other.yaml"), GOOD)
    Path(TABLE).mkdir()
    _validate_rejects(f"{TABLE}: ", "is a directory, not a YAML file")


@pytest.mark.parametrize(
    "make,fragment",
    [
        (lambda p: p.symlink_to(p.name), "symlink loop"),
        (lambda p: p.symlink_to("nowhere"), "dangling symlink to nowhere"),
    ],
    ids=["loop", "dangling"],
)
def test_broken_link_directly_under_schemas(make: Callable[[Path], None], fragment: str, unchanged: Path) -> None:
    make(Path("schemas/ds2"))
    _validate_rejects("schemas/ds2: ", fragment)


@pytest.mark.parametrize("kind", ["directory", "file"])
def test_yaml_entry_directly_under_schemas(kind: str, unchanged: Path) -> None:
    path = Path("schemas/stray.yaml")
    path.mkdir() if kind == "directory" else path.write_text(GOOD)
    _validate_rejects("schemas/stray.yaml: ", "schemas/<dataset>/<table>.yaml")


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise TimeoutError("reading a FIFO blocked")


def test_fifo_is_refused_without_blocking(unchanged: Path) -> None:
    Path("schemas/ds").mkdir()
    os.mkfifo(TABLE)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(20)
    try:
        _validate_rejects(f"{TABLE}: ", "is not a regular file")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_device_is_refused(unchanged: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root (a link to /dev/zero leaves the tree, which is refused first)")
    Path("schemas/ds").mkdir()
    os.mknod(TABLE, 0o666 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero's
    _validate_rejects(f"{TABLE}: ", "is not a regular file")


def _validate_as_nobody() -> Result:
    """Root reads any file whatever its mode, so run the CLI in a forked child that dropped to uid 65534.

    The child inherits the already imported interpreter (it could not read root's Python install),
    so only the definitions are read with the lower privilege.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            try:
                os.setgid(65534)
                os.setuid(65534)
            except OSError as exc:
                report: list[object] = ["skip", f"cannot drop to uid 65534: {exc}"]
            else:
                try:
                    result = run_cli("validate")
                    report = ["ran", result.exit_code, result.stdout, result.stderr]
                except BaseException:
                    report = ["crashed", traceback.format_exc()]
            os.write(write_end, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        outcome, *rest = json.loads(pipe.read() or b'["crashed", "the child wrote nothing"]')
    os.waitpid(pid, 0)
    if outcome == "skip":
        pytest.skip(rest[0])
    assert outcome == "ran", rest[0]
    return Result(*rest)


def test_unreadable_definition_file(unchanged: Path) -> None:
    write(Path(TABLE), GOOD)
    assert run_cli("validate").exit_code == 0  # also imports everything before a child drops privileges
    Path(TABLE).chmod(0)
    unchanged.chmod(0o755)  # pytest makes its temporary directories private to their owner
    before = _snapshot(unchanged)
    result = _validate_as_nobody() if os.geteuid() == 0 else run_cli("validate")
    _rejected(result, f"{TABLE}: ", "cannot read: Permission denied")
    assert _snapshot(unchanged) == before


# --- the config file -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content,where,fragment",
    [
        (b"targets:\n  prod: {engine: bigquery, project: caf\xe9}\n", "bqmanage.yaml:2:", "not UTF-8 text (byte 0xe9)"),
        (b"- schemas\n- other\n", "bqmanage.yaml:1:", "expected a mapping of settings"),
        (b"just text\n", "bqmanage.yaml:1:", "expected a mapping of settings"),
        (_bomb().encode(), "bqmanage.yaml:", "expands to more than 250,000 YAML nodes"),
        (b"schemas: " + b"[" * 5000 + b"\n", "bqmanage.yaml:1:", "nesting is deeper than 100 levels"),
        (b"targets: {prod: !vault x}\n", "bqmanage.yaml:1:", "unsupported tag '!vault'"),
        (
            b"targets:\n  prod:\n    engine: bigquery\n    projekt: x\n",
            "bqmanage.yaml:4:",
            "targets.prod.projekt: unknown key 'projekt'; did you mean 'project'?",
        ),
        (b"schemas: [\n", "bqmanage.yaml:2:", "invalid YAML"),
    ],
    ids=["not_utf8", "list", "scalar", "bomb", "deep", "custom_tag", "unknown_key", "syntax"],
)
def test_bad_config_file(content: bytes, where: str, fragment: str, unchanged: Path) -> None:
    Path("bqmanage.yaml").write_bytes(content)
    _validate_rejects(f"error: {where}", fragment)


def test_config_is_a_directory(unchanged: Path) -> None:
    Path("conf").mkdir()
    _validate_rejects("error: conf: ", "is a directory, not a config file", "--config", "conf")


def test_default_config_is_a_dangling_symlink(unchanged: Path) -> None:
    Path("bqmanage.yaml").symlink_to("moved.yaml")
    _validate_rejects("error: bqmanage.yaml: ", "dangling symlink to moved.yaml")


def test_empty_config_is_fine(unchanged: Path) -> None:
    Path("bqmanage.yaml").write_text("# nothing configured yet\n")
    assert run_cli("validate").exit_code == 0


def test_a_schemas_directory_with_entries_that_cannot_be_read_is_bad_input_located(workdir: Path) -> None:
    # /proc holds entries that stat refuses even to root (another namespace's /proc/1/cwd).
    result = run_cli("--schemas", "/proc", "validate")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    lines = [line.removeprefix("error: ") for line in result.stderr.splitlines()]
    assert lines and all(line.startswith("/proc") for line in lines[:-1]), lines[:3]
    assert lines[-1].endswith("problems in the definitions.")
