"""The deployment recipes parse and say what the README says they do."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_github_workflow_runs_check_with_wif_and_uploads_sarif() -> None:
    workflow = yaml.safe_load((ROOT / "deployment" / "github" / "bqmanage-check.yml").read_text())
    assert workflow["permissions"] == {}  # per job only
    job = workflow["jobs"]["check"]
    assert job["permissions"]["id-token"] == "write" and job["permissions"]["security-events"] == "write"
    steps = job["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("google-github-actions/auth@") for u in uses)
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    check = next(s for s in steps if s.get("with", {}).get("command") == "check")
    assert check["with"]["args"].split() == ["--all-tenants", "--format", "sarif", "--output", "bqmanage.sarif"]
    assert check["with"]["success-exit-codes"].split() == ["0", "1"]  # drift is uploaded, then fails the run
    auth = next(s for s in steps if s.get("uses", "").startswith("google-github-actions/auth@"))
    assert "workload_identity_provider" in auth["with"] and "credentials_json" not in auth["with"]
    # Scheduled, not on pull requests: a PR that adds a column is drift until it is applied.
    assert "pull_request" not in workflow[True] and "schedule" in workflow[True]


def _reset_container() -> dict:  # type: ignore[type-arg]
    cron = yaml.safe_load((ROOT / "deployment" / "reset" / "cronjob.yaml").read_text())
    return cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


def test_reset_schedules_are_off_the_hour() -> None:
    cron = yaml.safe_load((ROOT / "deployment" / "reset" / "cronjob.yaml").read_text())
    assert cron["kind"] == "CronJob" and cron["spec"]["schedule"].split()[0] not in ("0", "00")
    args = _reset_container()["args"]
    assert args[: args.index("reset") + 1] == ["--target", "bigquery", "reset"]
    crontab = (ROOT / "deployment" / "reset" / "crontab").read_text().splitlines()
    line = next(ln for ln in crontab if "bqmanage" in ln and not ln.startswith("#"))
    assert line.split()[0] == "17" and "reset" in line
    # cron's PATH is minimal: bqmanage by its absolute path.
    assert "&& /opt/bqmanage/bin/bqmanage --target" in line
    import json

    config = json.loads((ROOT / "deployment" / "reset" / "scheduled_query.json").read_text())
    transfer = config["transferConfig"]
    assert transfer["dataSourceId"] == "scheduled_query" and transfer["schedule"].endswith(":17")


def _kubectl_configmaps(text: str) -> dict[str, dict[str, str]]:
    """The ConfigMaps the manifest's comments say to create, built the way kubectl builds them:
    ``--from-file=DIR/`` makes one key per regular file of DIR (not recursive), named after it."""
    import re

    maps: dict[str, dict[str, str]] = {}
    for name, source in re.findall(r"kubectl (?:-n \S+ )?create configmap (\S+) --from-file=(\S+)", text):
        directory = ROOT / source
        assert directory.is_dir(), f"{source}: --from-file of a directory the repository does not have"
        maps[name] = {f.name: f.read_text() for f in sorted(directory.iterdir()) if f.is_file()}
    return maps


def _mount_like_kubelet(
    root: Path, mount_path: str, data: dict[str, str], items: list[dict[str, str]] | None, sub_path: str | None
) -> None:
    """A configMap volume as the kubelet writes it: the files in a hidden timestamped directory,
    ``..data`` linking to it, and one link per top-level entry; ``items`` choose keys and paths,
    ``subPath`` mounts one entry of the volume instead of the whole of it.

    The mount point is a link to the volume, kept hidden beside it: a kubelet mounts the volume
    there, in the tree (bqmanage refuses a definition linked from outside the tree)."""
    mount = root / mount_path.strip("/")
    volume = mount.parent / f".volume-{mount.name}"
    stamp = volume / "..2026_11_23_00_17_00.000000001"
    chosen = [(i["key"], i["path"]) for i in items] if items else [(k, k) for k in data]
    for key, path in chosen:
        target = stamp / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(data[key])
    (volume / "..data").symlink_to(stamp.name)
    for top in sorted({p.split("/")[0] for _, p in chosen}):
        (volume / top).symlink_to(Path("..data") / top)
    mount.symlink_to((volume / sub_path) if sub_path else volume, target_is_directory=True)


def test_reset_cronjob_mounts_definitions_where_bqmanage_finds_them(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Materialise the CronJob's volumes from its ConfigMaps, then run its command's flags there."""
    from tests.helpers import run_cli

    text = (ROOT / "deployment" / "reset" / "cronjob.yaml").read_text()
    pod = yaml.safe_load(text)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    maps = _kubectl_configmaps(text)
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        if "configMap" not in volumes[mount["name"]]:
            continue  # the emptyDir at /tmp
        source = volumes[mount["name"]]["configMap"]
        _mount_like_kubelet(tmp_path, mount["mountPath"], maps[source["name"]], source.get("items"), mount.get("subPath"))
    # Every definition file in the repository reaches the container.
    shipped = {str(p.relative_to(ROOT / "schemas")) for p in (ROOT / "schemas").rglob("*.yaml")}
    env = {e["name"]: e["value"] for e in container["env"]}
    schemas = tmp_path / env["BQMANAGE_SCHEMAS"].strip("/")
    mounted = {str(p.relative_to(schemas)) for p in schemas.glob("*/*.yaml") if not p.parent.name.startswith(".")}
    assert mounted == shipped

    argv = container["args"]  # the image's entrypoint is bqmanage
    global_flags = argv[: argv.index("reset")]
    monkeypatch.chdir(tmp_path / container["workingDir"].strip("/"))
    for name, value in env.items():
        monkeypatch.setenv(name, str(tmp_path / value.strip("/")) if name == "BQMANAGE_SCHEMAS" else value)
    validated = run_cli(*global_flags, "validate")
    assert validated.exit_code == 0, validated.stderr
    assert "OK: 3 table(s) in 1 dataset(s)" in validated.stdout
    printed = run_cli(*argv, "--print-sql")
    assert printed.exit_code == 0, printed.stderr
    assert "MERGE `my-project`.`tenants`.`tenant_usage_quotas`" in printed.stdout
