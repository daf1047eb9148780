"""A definition linked from outside the definitions tree is refused without being read: its
content (a token file, a config elsewhere) is never quoted in a problem. Links inside the tree
(a shared file, a renamed directory) still work."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import run_cli, write

SECRET = "GITHUB_TOKEN: ghp_not_a_real_token\nAWS_SECRET_ACCESS_KEY: nope\n"


def _refused(where: str) -> str:
    result = run_cli("validate")
    assert result.exit_code == 2, result.stdout
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert "GITHUB_TOKEN" not in result.stderr and "ghp_" not in result.stderr and "AWS_SECRET" not in result.stderr
    located = [line for line in result.stderr.splitlines() if line.startswith(f"{where}: ")]
    assert len(located) == 1 and "outside the definitions directory" in located[0], result.stderr
    return located[0]


@pytest.mark.parametrize("name", ["leak.yaml", "_dataset.yaml"])
def test_a_definition_file_linked_from_outside_is_refused_unread(name: str, workdir: Path) -> None:
    secret = write(workdir / "home/.secrets.yaml", SECRET)
    Path(f"schemas/tenants/{name}").unlink(missing_ok=True)
    Path(f"schemas/tenants/{name}").symlink_to(secret)
    _refused(f"schemas/tenants/{name}")
    assert not Path(".bqmanage").exists()


def test_a_dataset_directory_linked_from_outside_is_refused_unread(workdir: Path) -> None:
    write(workdir / "home/config/settings.yaml", SECRET)
    Path("schemas/leak").symlink_to(workdir / "home/config", target_is_directory=True)
    _refused("schemas/leak")


def test_links_inside_the_tree_are_read(workdir: Path) -> None:
    shutil.copytree("schemas/tenants", "schemas/.shared")
    shutil.rmtree("schemas/tenants")
    Path("schemas/tenants").symlink_to(".shared", target_is_directory=True)
    profiles = Path("schemas/.shared/tenant_profiles.yaml")
    profiles.rename("schemas/.shared/profiles.txt")
    profiles.symlink_to("profiles.txt")
    result = run_cli("validate")
    assert result.exit_code == 0, result.stderr
