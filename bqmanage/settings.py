"""Settings: flags and environment variables over an optional bqmanage.yaml config file.

Targets ``local`` (the embedded DuckDB default) and ``bigquery`` are built in; the config may
name more. Precedence: flag > environment variable > config file > built-in default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bqmanage.code_config import AuditCodeConfig
from bqmanage.errors import ConfigError
from bqmanage.names import project_problem

CONFIG_FILE = "bqmanage.yaml"


class TargetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Literal["local", "bigquery"]
    project: str | None = None
    location: str | None = None
    credentials_file: str | None = None
    impersonate_service_account: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    local_path: str | None = None
    # Read INFORMATION_SCHEMA with one region-qualified query per view instead of per-dataset batches.
    region_qualified_information_schema: bool = False


class LegacyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    datasets: dict[str, str] = Field(default_factory=lambda: {"customers": "tenants"})
    prefixes: dict[str, str] = Field(default_factory=lambda: {"customer_": "tenant_"})


class ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schemas: str | None = None
    default_target: str | None = None
    targets: dict[str, TargetConfig] = Field(default_factory=dict)
    legacy: LegacyConfig = Field(default_factory=LegacyConfig)
    audit_code: AuditCodeConfig = Field(default_factory=AuditCodeConfig)


class Settings(BaseModel):
    """Everything a command needs to know about where it runs."""

    model_config = ConfigDict(frozen=True)

    target: str
    engine: Literal["local", "bigquery"]
    project: str | None
    location: str | None
    schemas_dir: Path
    local_path: Path
    credentials_file: str | None = None
    impersonate_service_account: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    legacy: LegacyConfig = Field(default_factory=LegacyConfig)
    region_qualified_information_schema: bool = False
    audit_code: AuditCodeConfig = Field(default_factory=AuditCodeConfig)
    config_file: Path | None = None  # the bqmanage.yaml that was read, if any: audit-code never audits it


def _read_config(path: Path | None) -> ConfigFile:
    explicit = path is not None
    path = path or Path(CONFIG_FILE)
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: config file not found")
        return ConfigFile()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return ConfigFile.model_validate(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None


def resolve_settings(
    target: str | None = None,
    project: str | None = None,
    location: str | None = None,
    schemas: str | None = None,
    config: str | None = None,
) -> Settings:
    """Combine flags (already merged with their env vars by the CLI) with the config file."""
    cfg = _read_config(Path(config) if config else None)
    name = target or cfg.default_target or "local"
    if name in cfg.targets:
        tcfg = cfg.targets[name]
    elif name in ("local", "bigquery"):
        tcfg = TargetConfig(engine=name)  # type: ignore[arg-type]
    else:
        known = ", ".join(sorted({"local", "bigquery", *cfg.targets}))
        raise ConfigError(f"--target: unknown target {name!r} (known: {known})")
    resolved_project = project or tcfg.project
    if tcfg.engine == "bigquery":
        resolved_project = resolved_project or os.environ.get("GOOGLE_CLOUD_PROJECT")
        if resolved_project and (why := project_problem(resolved_project)):
            raise ConfigError(f"--project: {why}")
    return Settings(
        target=name,
        engine=tcfg.engine,
        project=resolved_project,
        location=location or tcfg.location,
        schemas_dir=Path(schemas or cfg.schemas or "schemas"),
        local_path=Path(tcfg.local_path or os.environ.get("BQMANAGE_LOCAL_PATH") or ".bqmanage/local.duckdb"),
        credentials_file=tcfg.credentials_file,
        impersonate_service_account=tcfg.impersonate_service_account,
        labels=tcfg.labels,
        legacy=cfg.legacy,
        region_qualified_information_schema=tcfg.region_qualified_information_schema,
        audit_code=cfg.audit_code,
        config_file=Path(config) if config else (Path(CONFIG_FILE) if Path(CONFIG_FILE).exists() else None),
    )
