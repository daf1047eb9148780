"""audit-code on hostile trees: work linear in the references however they are laid out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bqmanage.codeaudit import lex
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = str(ROOT / "schemas")
REF = '"customers.customer_usage_quotas", '


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("BQMANAGE_SCHEMAS", "BQMANAGE_CONFIG", "BQMANAGE_TARGET"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _characters_read(monkeypatch: pytest.MonkeyPatch, path: Path) -> tuple[int, int]:
    """(findings, characters of line text read) for one audit-code run on ``path``."""
    read = [0]
    line_text = lex.Lines.line_text

    def counting(self: lex.Lines, line: int) -> str:
        text = line_text(self, line)
        read[0] += len(text)
        return text

    monkeypatch.setattr(lex.Lines, "line_text", counting)
    result = run_cli("--schemas", SCHEMAS, "audit-code", "--format", "json", str(path))
    monkeypatch.undo()
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    return len(json.loads(result.stdout)["findings"]), read[0]


@pytest.mark.parametrize(("suffix", "head", "tail"), [(".py", "X = [", "]\n"), (".json", "[", '"x"]\n')])
def test_references_on_one_line_are_read_in_linear_work(
    suffix: str, head: str, tail: str, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A minified file: every reference on one line. Each line is read a bounded number of times
    (once for its ignore marker, once for its byte columns), not once per reference, so doubling
    the references doubles the characters read, and never more than a few times the file."""
    sizes = {}
    for count in (500, 1000):
        path = tree / f"refs{count}{suffix}"
        path.write_text(head + REF * count + tail)
        found, read = _characters_read(monkeypatch, path)
        assert found == count
        assert read <= 3 * path.stat().st_size, f"{read} characters read for a file of {path.stat().st_size}"
        sizes[count] = read
    assert sizes[1000] <= 2.2 * sizes[500]


def test_an_ignore_marker_on_a_long_line_still_suppresses_every_reference(tree: Path) -> None:
    path = tree / "long.py"
    path.write_text("X = [" + REF * 300 + "]  # bqmanage: ignore[legacy_reference]\n")
    result = run_cli("--schemas", SCHEMAS, "audit-code", "--format", "json", str(path))
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["summary"]["suppressed"] == 300


def test_columns_after_wide_characters_are_located_in_characters(tree: Path) -> None:
    """ast gives UTF-8 byte columns; a finding's column counts characters, after any non-ASCII text."""
    path = tree / "wide.py"
    path.write_text('X = ["é€😀", "customers.customer_usage_quotas", "ü", "customers"]\n')
    result = run_cli("--schemas", SCHEMAS, "audit-code", "--format", "json", str(path))
    columns = [(f["line"], f["column"]) for f in json.loads(result.stdout)["findings"]]
    text = path.read_text()
    assert columns == [(1, text.index('"customers.') + 2), (1, text.index('"customers"') + 2)]


def _as_unprivileged(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a user that file modes apply to: root reads a mode-000 file regardless."""
    command = [sys.executable, "-m", "bqmanage", "--schemas", SCHEMAS, "audit-code", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: file modes cannot be tested")
        unprivileged = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        # The unprivileged user must reach the interpreter and the checkout: a clone inside a
        # directory only root may enter (mktemp -d makes one) cannot be tested this way.
        probe = subprocess.run(
            [*unprivileged, sys.executable, "-c", "import bqmanage"], cwd=tree, env=env, capture_output=True, check=False
        )
        if probe.returncode != 0:
            pytest.skip(f"an unprivileged user cannot run this checkout's Python ({ROOT} or its venv is root's alone)")
        command = [*unprivileged, *command]
    return subprocess.run(command, cwd=tree, capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.fixture
def open_tree() -> Iterator[Path]:
    """A tree an unprivileged user can enter (pytest's own tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="bqmanage-audit-"))
    path.chmod(0o755)
    yield path
    for p in path.rglob("*"):
        if not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(path)


def _listing(tree: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(tree)), p.lstat().st_mtime_ns) for p in tree.rglob("*"))


def test_unreadable_files_and_directories_are_findings_never_clean(open_tree: Path) -> None:
    src = open_tree / "src"
    for i in range(8):  # enough directories for the walk to be shared with a second process
        (src / f"pkg{i}").mkdir(parents=True)
        (src / f"pkg{i}" / "ok.py").write_text("X = 1\n")
    (src / "pkg3" / "secret.py").write_text("Y = 1\n")
    (src / "pkg3" / "secret.py").chmod(0)
    (src / "pkg6" / "locked").mkdir()
    (src / "pkg6" / "locked").chmod(0)
    before = _listing(open_tree)

    done = _as_unprivileged(open_tree, "src", "--format", "json")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert not report["clean"]
    assert {(f["kind"], f["severity"], f["path"]) for f in report["findings"]} == {
        ("unreadable_path", "error", "src/pkg3/secret.py"),
        ("unreadable_path", "error", "src/pkg6/locked/"),
    }
    assert _listing(open_tree) == before

    text = _as_unprivileged(open_tree, "src")
    assert text.returncode == 1
    assert "src/pkg3/secret.py: error unreadable_path: cannot read file" in text.stdout


def test_a_named_file_that_cannot_be_read_is_a_finding(open_tree: Path) -> None:
    (open_tree / "app.py").write_text('X = "customers"\n')
    (open_tree / "app.py").chmod(0)
    done = _as_unprivileged(open_tree, "app.py", "--format", "json")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    ((kind, path),) = [(f["kind"], f["path"]) for f in json.loads(done.stdout)["findings"]]
    assert (kind, path) == ("unreadable_path", "app.py")


def test_links_leading_out_of_the_tree_are_reported_and_links_inside_it_are_audited_once(
    tree: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "far.py").write_text('X = "customers"\n')
    src = tree / "src"
    (src / "app").mkdir(parents=True)
    (src / "app" / "real.py").write_text('X = "customers"\n')
    (src / "inside.py").symlink_to(src / "app" / "real.py")  # audited once, where it points
    (src / "far.py").symlink_to(outside / "far.py")
    (src / "vendored").symlink_to(outside)
    (src / "gone.py").symlink_to(tree / "nowhere.py")
    (src / "notes.txt").symlink_to(outside / "far.py")  # not a file type audit-code reads
    result = run_cli("--schemas", SCHEMAS, "audit-code", "--format", "json", "src")
    assert result.exit_code == 1
    found = {(f["kind"], f["path"]) for f in json.loads(result.stdout)["findings"]}
    assert found == {
        ("legacy_reference", "src/app/real.py"),
        ("skipped_link", "src/far.py"),
        ("skipped_link", "src/vendored/"),
        ("skipped_link", "src/gone.py"),
    }
    # An excluded link is the user's decision: not reported.
    excluded = run_cli(
        "--schemas", SCHEMAS, "audit-code", "--format", "json", "src", "--exclude", "vendored", "--exclude", "*.py"
    )
    assert {f["kind"] for f in json.loads(excluded.stdout)["findings"]} == set()


def test_a_named_file_whose_size_lies_is_read_to_its_end(tree: Path) -> None:
    """procfs reports size 0 and answers a page per read: the name at the end of /proc/self/maps
    is found only if the file is read to its end, and a named file without a known suffix is
    audited as text, never dropped."""
    from bqmanage.codeaudit.read import Prefilter
    from bqmanage.codeaudit.scan import Scanner

    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("no procfs here")
    scanner = Scanner([maps], Prefilter(["[vsyscall]", "[stack]"]))
    (found,) = scanner.files()
    assert found.kind == "text" and len(found.data) > 4096 and b"[stack]" in found.data
    result = run_cli("--schemas", SCHEMAS, "audit-code", "/proc/version")
    assert result.exit_code == 0, result.stderr
    assert "Read 1 file(s)" in result.stdout  # read, not skipped as "no script" and called clean


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_in_an_audited_directory_is_said_and_a_named_one_refused(tree: Path) -> None:
    (tree / "src").mkdir()
    (tree / "src" / "app.py").write_text("X = 1\n")
    os.mkfifo(tree / "src" / "pipe.py")
    result = run_cli("--schemas", SCHEMAS, "audit-code", "src")
    assert result.exit_code == 0, result.stderr  # never read: a FIFO's read waits for a writer
    assert result.stderr.splitlines() == ["skipped src/pipe.py: not a regular file (a FIFO, socket or device); not audited"]
    assert "skipped 1 that are not regular files" in result.stdout
    named = run_cli("--schemas", SCHEMAS, "audit-code", "src/pipe.py")
    assert named.exit_code == 2 and named.stdout == ""
    assert named.stderr.splitlines() == ["error: src/pipe.py: not a file or directory"]


def test_fix_diff_headers_name_a_hostile_file_on_their_own_line(workdir: Path) -> None:
    """A file name with a line break and an escape sequence: the diff's headers print it escaped,
    so it cannot forge the summary line or colour the terminal."""
    name = "w\x1b[31mx\nFixed 9.py"
    (workdir / "src").mkdir()
    (workdir / "src" / name).write_text(f"q = {REF}\n")
    result = run_cli("audit-code", "src", "--fix", "--dry-run")
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not any(line.startswith("Fixed 9") for line in result.stdout.splitlines()), result.stdout
    assert all(c == "\n" or c.isprintable() for c in result.stdout), repr(result.stdout)
    assert "--- a/src/w\\x1b[31mx\\nFixed 9.py\n+++ b/src/w\\x1b[31mx\\nFixed 9.py\n" in result.stdout, result.stdout
    assert (workdir / "src" / name).read_text() == f"q = {REF}\n"  # a dry run
