"""import compares what a definition file means, not how it is written: a file that defines
exactly what is live is left alone, whatever its wrapping, style or comments."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_cli


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()}


def test_import_all_over_the_freshly_applied_shipped_definitions_changes_nothing(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    before = _tree(workdir / "schemas")
    result = run_cli("import", "--all")
    assert result.exit_code == 0, result.stderr
    assert "already matched" in result.stdout and "Traceback" not in result.stderr
    assert _tree(workdir / "schemas") == before  # not one file rewritten
    # The summary says what was written: nothing, not "Imported N table(s)".
    assert result.stdout.splitlines()[-1].startswith("Nothing to write: ") and "Imported" not in result.stdout
    assert "wrote " not in result.stdout


def test_a_file_written_in_another_style_still_matches_and_is_kept(workdir: Path) -> None:
    assert run_cli("apply").exit_code == 0
    profiles = workdir / "schemas" / "tenants" / "tenant_profiles.yaml"
    text = profiles.read_text()
    restyled = "# kept as the team writes it\n" + text.replace(
        "  - {name: tenant_name, type: STRING, description: Display name.}",
        "  - name: tenant_name\n    type: STRING\n    description: 'Display name.'",
    )
    assert restyled != text
    profiles.write_text(restyled)
    before = _tree(workdir / "schemas")
    result = run_cli("import", "--dataset", "tenants")
    assert result.exit_code == 0, result.stderr
    assert _tree(workdir / "schemas") == before

    # A change of meaning is still a difference: refused without --overwrite, nothing written.
    profiles.write_text(restyled.replace("'Display name.'", "'Shown name.'"))
    before = _tree(workdir / "schemas")
    refused = run_cli("import", "--dataset", "tenants")
    assert refused.exit_code == 2
    assert "schemas/tenants/tenant_profiles.yaml: exists and differs from what is live; nothing written" in refused.stderr
    assert _tree(workdir / "schemas") == before
