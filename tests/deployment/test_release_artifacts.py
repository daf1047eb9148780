"""What a release ships, built and run the way the release workflow and the image run it: the
sdist and the wheel (LICENSE in both, no tests in the sdist, the metadata an index shows), the
wheel installed into a clean virtual environment and its CLI run from outside the repository, and
the image's command run as the Dockerfile and the CronJob set it up (non-root, read-only root
filesystem: nothing written outside /tmp).

The wheel's dependencies come from this test environment (a .pth file in the clean venv), so the
test needs no download beyond the build backend; the release workflow installs the wheel with its
dependencies from the index. Slow-ish (a build): about 15-30 s.
"""

from __future__ import annotations

import email
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]

pytestmark = pytest.mark.slow


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist, then the wheel built from the unpacked sdist (as `python -m build` does), by the
    build backend pyproject.toml names, in a venv of its own: a copy of the sources, so the
    repository gets no build/ or egg-info."""
    base = tmp_path_factory.mktemp("release")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "bqmanage", source / "bqmanage", ignore=shutil.ignore_patterns("__pycache__"))
    tools = base / "tools"
    subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True, timeout=120)
    backend = [*PYPROJECT["build-system"]["requires"]]
    done = _run(
        [str(tools / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *backend],
        base,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = base / "dist"
    hooks = "import sys; from setuptools import build_meta as b; print(getattr(b, sys.argv[1])(sys.argv[2]))"
    done = _run([str(tools / "bin" / "python"), "-c", hooks, "build_sdist", str(out)], source)
    assert done.returncode == 0, done.stderr
    sdist = out / done.stdout.split()[-1]
    with tarfile.open(sdist) as archive:
        archive.extractall(base / "unpacked", filter="data")
    done = _run([str(tools / "bin" / "python"), "-c", hooks, "build_wheel", str(out)], base / "unpacked" / f"bqmanage-{VERSION}")
    assert done.returncode == 0, done.stderr
    return out


def test_the_sdist_ships_the_license_and_no_tests(dist: Path) -> None:
    with tarfile.open(dist / f"bqmanage-{VERSION}.tar.gz") as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert "LICENSE" in names and "pyproject.toml" in names and "bqmanage/__init__.py" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "deployment/", "schemas/"))]


def test_the_wheel_ships_the_license_and_the_metadata_an_index_shows(dist: Path) -> None:
    with zipfile.ZipFile(dist / f"bqmanage-{VERSION}-py3-none-any.whl") as wheel:
        info = f"bqmanage-{VERSION}.dist-info"
        assert wheel.read(f"{info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
        metadata = email.message_from_bytes(wheel.read(f"{info}/METADATA"))
        assert not [n for n in wheel.namelist() if n.startswith("tests/")]
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License\n                           Version 2.0")
    assert metadata["License-Expression"] == "Apache-2.0" and metadata.get_all("License-File") == ["LICENSE"]
    classifiers = metadata.get_all("Classifier")
    assert "Framework :: Pytest" in classifiers and "Programming Language :: Python :: 3.11" in classifiers
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert urls["Homepage"] == "https://github.com/bqmanage/bqmanage" and "Issues" in urls


def test_the_findings_schema_id_is_where_the_file_is_published() -> None:
    import json

    schema_id = json.loads((ROOT / "deployment" / "findings.schema.json").read_text())["$id"]
    home = PYPROJECT["project"]["urls"]["Source"].removeprefix("https://github.com/")
    assert schema_id == f"https://raw.githubusercontent.com/{home}/main/deployment/findings.schema.json"


def _clean_venv(dist: Path, where: Path) -> Path:
    """A venv holding the wheel alone; its dependencies borrowed read-only from this environment."""
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    wheel = dist / f"bqmanage-{VERSION}-py3-none-any.whl"
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "--disable-pip-version-check"]
    done = _run([*pip, "install", "--quiet", "--no-deps", "--no-index", str(wheel)], where)
    assert done.returncode == 0, done.stderr
    site = Path(
        _run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], where).stdout.strip()
    )
    (site / "_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return venv


def _environ(**extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("BQMANAGE_", "PYTHON", "VIRTUAL_ENV"))}
    return keep | {"PATH": "/usr/bin:/bin"} | extra


def test_the_wheel_in_a_clean_venv_runs_from_outside_the_repository(dist: Path, tmp_path: Path) -> None:
    venv = _clean_venv(dist, tmp_path)
    work = tmp_path / "elsewhere"
    shutil.copytree(ROOT / "schemas", work / "schemas")
    env = _environ(HOME=str(tmp_path / "home"))
    where = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import bqmanage, importlib.metadata as m; print(bqmanage.__file__, m.version('bqmanage'))",
        ],
        work,
        env,
    )
    module, version = where.stdout.split()
    assert Path(module).is_relative_to(venv) and version == VERSION  # the wheel's code, not the repository's
    helped = _run([str(venv / "bin" / "bqmanage"), "--help"], work, env)
    assert helped.returncode == 0 and "Usage: bqmanage" in helped.stdout, helped.stderr
    validated = _run([str(venv / "bin" / "bqmanage"), "validate"], work, env)
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout.startswith("OK: 3 table(s) in 1 dataset(s)")
    assert not (work / ".bqmanage").exists()  # validate touches no warehouse


def _dockerfile() -> tuple[dict[str, str], str, list[str], str]:
    """The runtime stage's ENV, USER, ENTRYPOINT and WORKDIR, read from the Dockerfile."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    runtime = text.split("\nFROM ")[-1]
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", runtime, re.M):
        env |= dict(re.findall(r"(\w+)=(\S+)", line))
    user = re.search(r"^USER (\S+)$", runtime, re.M).group(1)  # type: ignore[union-attr]
    entrypoint = yaml.safe_load(re.search(r"^ENTRYPOINT (.+)$", runtime, re.M).group(1))  # type: ignore[union-attr]
    workdir = re.search(r"^WORKDIR (\S+)$", runtime, re.M).group(1)  # type: ignore[union-attr]
    return env, user, entrypoint, workdir


def test_the_image_runs_as_non_root_with_bqmanage_as_entrypoint_and_matches_the_cronjob() -> None:
    env, user, entrypoint, workdir = _dockerfile()
    assert entrypoint == ["bqmanage"] and user == "10001:10001"
    assert env["HOME"] == "/tmp" and env["XDG_CACHE_HOME"].startswith("/tmp/") and env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PATH"].startswith("/opt/bqmanage/bin:")
    cron = yaml.safe_load((ROOT / "deployment" / "reset" / "cronjob.yaml").read_text())
    job = cron["spec"]["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (10001, 10001)
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    container = pod["containers"][0]
    assert re.fullmatch(r"ghcr\.io/bqmanage/bqmanage:[\w.]+@sha256:[0-9a-f]{64}", container["image"])
    assert "command" not in container and container["workingDir"] == workdir
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/tmp"}
    assert container["resources"]["limits"] and container["resources"]["requests"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid" and job["activeDeadlineSeconds"] > 0 and job["backoffLimit"] >= 1
    rules = {r["action"]: r for r in job["podFailurePolicy"]["rules"]}
    assert rules["FailJob"]["onExitCodes"]["values"] == [2] and rules["Count"]["onExitCodes"]["values"] == [3]
    assert pod["automountServiceAccountToken"] is False
    account = yaml.safe_load((ROOT / "deployment" / "reset" / "serviceaccount.yaml").read_text())
    assert account["metadata"]["name"] == pod["serviceAccountName"]
    assert account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].endswith(".iam.gserviceaccount.com")
    assert account["metadata"]["namespace"] == cron["metadata"]["namespace"] != "default"


def _tree(root: Path) -> dict[str, float]:
    return {str(p): p.lstat().st_mtime for p in root.rglob("*")}


def test_the_image_command_writes_nothing_outside_tmp(dist: Path, tmp_path: Path) -> None:
    """The CronJob's command as the image runs it: the image's environment, /tmp its only
    writable place, the definitions mounted read-only. The root filesystem (the venv, the
    working directory) must be left exactly as it was. Built and run for real with podman, see
    docs/platform.md; this test runs where no container engine is."""
    venv = _clean_venv(dist, tmp_path)
    image_env, _, entrypoint, _ = _dockerfile()
    root = tmp_path / "root"
    warehouse = root / "warehouse"
    shutil.copytree(ROOT / "schemas", warehouse / "schemas")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    cron = yaml.safe_load((ROOT / "deployment" / "reset" / "cronjob.yaml").read_text())
    container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = _environ(**{k: v.replace("/tmp", str(tmp)) for k, v in image_env.items() if k != "PATH"})
    env |= {e["name"]: e["value"].replace("/warehouse", str(warehouse)) for e in container["env"]}
    env["PATH"] = f"{venv / 'bin'}:/usr/bin:/bin"
    before = _tree(venv) | _tree(root)
    args = container["args"]
    for argv in (["--help"], ["validate"], [*args, "--print-sql"], [*args[: args.index("reset")], "render"]):
        done = _run([*entrypoint, *argv], warehouse, env)
        assert done.returncode == 0, (argv, done.stderr)
    assert "MERGE `my-project`.`tenants`.`tenant_usage_quotas`" in done.stdout or "CREATE" in done.stdout
    assert _tree(venv) | _tree(root) == before
    assert shutil.which("bqmanage", path=env["PATH"]) == str(venv / "bin" / "bqmanage")
