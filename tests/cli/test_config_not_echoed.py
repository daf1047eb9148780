"""A file given as the config that is not one (--config /etc/shadow), or a config holding a key
bqmanage does not know, is refused by its line and the keys valid there: the key is named only
when it reads as a setting's name, and no value is ever shown, in either log format."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli, write

HASH = "$6$Zq8sAlT$k3Y5Ecr3tHa5hV4lu3"
CASES = {
    "shadow": (f"root:{HASH}:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n", [HASH, "20228", "daemon"]),
    "token": ("GITHUB_TOKEN: ghp_S3cr3tT0k3nValue0123456789\n", ["ghp_S3cr3tT0k3nValue0123456789"]),
    "nested": ('targets:\n  prod:\n    engine: local\n    "pw: hunter2-secret": 1\n', ["hunter2-secret"]),
    "duplicate": ("pw hunter2-secret: 1\npw hunter2-secret: 1\n", ["hunter2-secret"]),
    "tag": ("x: !!int hunter2-secret\n", ["hunter2-secret"]),
}


@pytest.mark.parametrize("log_format", ["text", "json"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_file_that_is_not_a_config_is_refused_without_its_content(case: str, log_format: str, workdir: Path) -> None:
    text, secrets = CASES[case]
    config = write(workdir / "given.yaml", text)
    result = run_cli("--log-format", log_format, "--config", str(config), "validate")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "given.yaml:" in result.stderr  # located
    for secret in secrets:
        assert secret not in result.stdout and secret not in result.stderr, (secret, result.stderr)


def test_an_unknown_setting_name_is_named_with_the_valid_keys(workdir: Path) -> None:
    config = write(workdir / "given.yaml", "GITHUB_TOKEN: ghp_S3cr3tT0k3nValue0123456789\n")
    result = run_cli("--config", str(config), "validate")
    assert result.exit_code == 2
    assert "given.yaml:1: GITHUB_TOKEN: unknown key 'GITHUB_TOKEN'" in result.stderr
    assert "valid keys: audit_code, default_target, legacy, schemas, targets" in result.stderr
