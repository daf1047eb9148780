"""Settings: flags and environment variables over an optional bqmanage.yaml config file.

Targets ``local`` (the embedded DuckDB default) and ``bigquery`` are built in; the config may
name more. Precedence: flag > environment variable > config file > built-in default.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bqmanage.codeaudit.config import AuditCodeConfig
from bqmanage.definitions.source_text import SourceError, leaves, read_text
from bqmanage.definitions.yaml_source import LineMap, format_key_path, parse_yaml
from bqmanage.errors import ConfigError, Problem
from bqmanage.model.locations import location_problem
from bqmanage.model.names import label_problem, project_problem
from bqmanage.model.row_access import LOCAL_WRITER, grantee_problem

CONFIG_FILE = "bqmanage.yaml"
BACKFILL_MAX_BYTES = 10 * 1024**3  # TargetConfig.backfill_max_bytes_per_job's default


class TargetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Literal["local", "bigquery"]
    project: str | None = None
    location: str | None = None
    credentials_file: str | None = None
    impersonate_service_account: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    local_path: str | None = None
    # The principal bqmanage runs as, granted the TRUE-filter row access policy of every isolated
    # table (docs/isolation.md); by default the impersonated service account.
    writer: str | None = None

    @field_validator("writer")
    @classmethod
    def _writer_is_a_grantee(cls, writer: str | None) -> str | None:
        if writer is not None and (why := grantee_problem(writer)) is not None:
            raise ValueError(why)
        return writer

    @field_validator("location")
    @classmethod
    def _location_is_bigquery_s(cls, location: str | None) -> str | None:
        # As a dataset's location in _dataset.yaml is checked: BigQuery's list, case-insensitive.
        if location is not None and (why := location_problem(location)) is not None:
            raise ValueError(why)
        return location

    @field_validator("labels")
    @classmethod
    def _labels_follow_bigquery(cls, labels: dict[str, str]) -> dict[str, str]:
        # Job labels follow the same rules as table labels; BigQuery refuses the job otherwise
        # (https://cloud.google.com/bigquery/docs/labels-intro#requirements).
        for key, value in labels.items():
            if (why := label_problem(str(key), str(value))) is not None:
                raise ValueError(why)
        return labels

    # Read INFORMATION_SCHEMA with one region-qualified job per location (false: dataset-qualified
    # views, info_schema_batch datasets per job, as a fallback does where the region cannot answer).
    region_qualified_information_schema: bool = True
    # The most bytes any one job may bill: sent with every job (BigQuery fails a job that would bill
    # more, https://cloud.google.com/bigquery/docs/best-practices-costs#limit_query_costs_by_restricting_the_number_of_bytes_billed),
    # and apply refuses up front when a data step's dry-run estimate is above it.
    maximum_bytes_billed: int | None = Field(default=None, gt=0)
    # A partitioned table's backfill whose estimate is above this runs as one UPDATE per range of
    # partitions, each billing at most this where one partition allows (changes/partitions.py).
    # 10 GiB: about 6 US cents on demand per job, and a job short enough that a concurrent writer
    # or an error costs little; each job done is recorded in the ledger.
    backfill_max_bytes_per_job: int = Field(default=BACKFILL_MAX_BYTES, gt=0)


class LegacyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    datasets: dict[str, str] = Field(default_factory=lambda: {"customers": "tenants"})
    prefixes: dict[str, str] = Field(default_factory=lambda: {"customer_": "tenant_"})

    @field_validator("datasets", "prefixes")
    @classmethod
    def _old_names_are_not_empty(cls, names: dict[str, str]) -> dict[str, str]:
        # Every name starts with the empty prefix: it would call every table legacy.
        if any(not str(old).strip() for old in names):
            raise ValueError("a legacy name or prefix must not be empty")
        return names


class ConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schemas: str | None = None
    default_target: str | None = None
    targets: dict[str, TargetConfig] = Field(default_factory=dict)
    legacy: LegacyConfig = Field(default_factory=LegacyConfig)
    audit_code: AuditCodeConfig = Field(default_factory=AuditCodeConfig)

    @field_validator("targets")
    @classmethod
    def _target_names_are_plain(cls, targets: dict[str, TargetConfig]) -> dict[str, TargetConfig]:
        # A target's name is printed in every report ("Applied 3 step(s) to target prod"): one that
        # holds a line break or an escape sequence would forge lines there, so it is refused here.
        for name in targets:
            if not _TARGET_NAME.fullmatch(str(name)):
                raise ValueError(
                    f"target name {name!r}: 1 to 63 letters, digits, '_', '-' or '.', starting with a letter or a digit"
                )
        return targets


_TARGET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


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
    writer: str | None = None  # TargetConfig.writer
    labels: dict[str, str] = Field(default_factory=dict)
    legacy: LegacyConfig = Field(default_factory=LegacyConfig)
    region_qualified_information_schema: bool = True
    maximum_bytes_billed: int | None = None  # TargetConfig.maximum_bytes_billed
    backfill_max_bytes_per_job: int = BACKFILL_MAX_BYTES  # TargetConfig.backfill_max_bytes_per_job
    # Tuning read from the environment (bqmanage/environment.py lists it), in one place.
    retry_deadline: float = 120.0
    job_timeout: float = 3600.0
    lock_timeout: float = 60.0
    info_schema_batch: int = 50
    tenant_workers: int = 8
    # Requests in flight at once on BigQuery. 8 keeps a 0.1 s call under the API's 100 requests
    # per second per method (https://cloud.google.com/bigquery/quotas#api_request_quotas).
    concurrency: int = 8
    audit_code: AuditCodeConfig = Field(default_factory=AuditCodeConfig)
    config_file: Path | None = None  # the bqmanage.yaml that was read, if any: audit-code never audits it

    @property
    def warehouse_project(self) -> str | None:
        """The project that qualifies the SQL sent to the warehouse. A project belongs to the
        bigquery engine (design §4); the local engine has none, so --project and BQMANAGE_PROJECT,
        which render and plan still print, never qualify what runs locally."""
        return self.project if self.engine == "bigquery" else None

    @property
    def writer_principal(self) -> str | None:
        """The grantee of the TRUE-filter row access policy: the configured writer, else the
        impersonated service account; on the local engine, a stand-in that names no real account."""
        if self.writer:
            return self.writer
        if self.impersonate_service_account:
            return f"serviceAccount:{self.impersonate_service_account}"
        return LOCAL_WRITER if self.engine == "local" else None


# Longer than any BigQuery job may run (6 h) by far; what exceeds it is a typo, and ``inf`` would
# overflow the client's own timers into a traceback.
MAX_SECONDS = 7 * 24 * 3600.0


def env_seconds(name: str, default: float, positive: bool = False) -> float:
    """A duration in seconds from the environment; a bad value is bad input, named as such.
    ``positive``: zero is refused too (a retry deadline of 0 would give up before the first try)."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_SECONDS or (positive and value == 0):  # also refuses NaN and inf
        least = "more than 0" if positive else "0 or more"
        raise ConfigError(f"{name}={text}: expected a number of seconds, {least} and at most {MAX_SECONDS:g} (a week)")
    return value


# Upper bounds of the counts, each past what could help; beyond them a value is a typo, and one
# of 20 digits would make a pool of that many threads or an INFORMATION_SCHEMA query naming that
# many datasets.
MAX_COUNTS = {
    # BigQuery's API allows 100 requests per second per method and user
    # (https://cloud.google.com/bigquery/quotas#api_request_quotas): more in flight only retries.
    "BQMANAGE_CONCURRENCY": 100,
    # Each tenant's requests share that same limit, so as many tenants at once as requests.
    "BQMANAGE_TENANT_WORKERS": 100,
    # One query per batch unions this many datasets' views; 1,000 stays well inside BigQuery's
    # query length and complexity limits.
    "BQMANAGE_INFO_SCHEMA_BATCH": 1000,
}


def _env_count(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    most = MAX_COUNTS[name]
    # str.isdigit() also takes '²'; the length test keeps int() off a huge number.
    if not re.fullmatch(r"[0-9]{1,9}", text.strip()) or not 1 <= int(text) <= most:
        raise ConfigError(f"{name}={text}: expected a whole number from 1 to {most}")
    return int(text)


# Variables that choose how many processes read files: 1 keeps one, 2 (the default) allows a
# second; bqmanage never uses more, so anything else is a typo that would otherwise be ignored.
PROCESS_VARIABLES = ("BQMANAGE_AUDIT_PROCESSES", "BQMANAGE_LOAD_PROCESSES")


def check_process_variables() -> None:
    for name in PROCESS_VARIABLES:
        text = os.environ.get(name)
        if text and text not in ("1", "2"):  # exactly: the readers compare with "1"
            raise ConfigError(f"{name}={text}: expected 1 (one process) or 2 (a second one where it helps)")


def _read_config(path: Path | None) -> ConfigFile:
    """The config file, read by the same bounded reader as the definitions; the first problem is the error."""
    explicit = path is not None
    path = path or Path(CONFIG_FILE)
    # lexists: a dangling or looping bqmanage.yaml link is a broken config, not an absent one.
    if not os.path.lexists(path):
        if explicit:
            raise ConfigError(f"{path}: config file not found")
        return ConfigFile()
    # A link out of its directory would have bqmanage read, and quote in its problems, whatever
    # file it leads to (a key file, /etc/shadow): refused unread, as the definitions refuse one.
    if path.is_symlink() and leaves(path, os.path.realpath(path.parent)):
        raise ConfigError(f"{path}: is a symbolic link to outside its directory; not read (copy the file in instead)")
    try:
        text = read_text(path, str(path), kind="config file")
    except SourceError as exc:
        raise ConfigError(str(exc.problem)) from None
    data, lines, problems = parse_yaml(text, str(path), allow_empty=True)
    if problems:
        raise ConfigError(str(_shown(problems[0])))
    if data is not None and not isinstance(data, dict):
        raise ConfigError(str(lines.problem((), "expected a mapping of settings at the top of the file")))
    try:
        return ConfigFile.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["ctx"]["error"]) if first["type"] == "value_error" else first["msg"]  # our own words
        loc = tuple(first["loc"])
        if first["type"] == "extra_forbidden":
            raise ConfigError(str(_unknown_key(lines, loc))) from None
        raise ConfigError(str(lines.problem(loc, message))) from None


# A key a config may show back: a setting's spelling, not a line of some other file.
_SHOWN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def _unknown_key(lines: LineMap, loc: tuple[Any, ...]) -> Problem:
    """An unknown key, by its line and the keys valid there. The key itself is named only when it
    reads as a setting's name (a letter or _, then letters, digits, _ or -, up to 64): a file that
    is not a bqmanage config (--config /etc/shadow) is never quoted, and no value ever is."""
    import difflib

    key = str(loc[-1])
    parents = [str(p) for p in loc[:-1]]
    known = sorted(_model_at(loc[:-1]).model_fields)
    if all(_SHOWN_KEY.fullmatch(p) for p in (*parents, key)):
        hint = difflib.get_close_matches(key, known, n=1)
        message = f"unknown key {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else f" (valid keys: {', '.join(known)})")
        return lines.problem(loc, message)
    shown = format_key_path(loc[:-1]) if all(_SHOWN_KEY.fullmatch(p) for p in parents) else ""
    message = f"unknown key (not shown: not a setting's name; is this a bqmanage config?) (valid keys: {', '.join(known)})"
    return Problem(lines.path, lines.line(loc), shown, message)


def _shown(problem: Problem) -> Problem:
    """A problem of reading the config as YAML, without what it would quote of a file that is not a
    config: a key that is no setting's name (a duplicate key), or a value (a tag it cannot read)."""
    parts = [p for p in re.split(r"[.\[\]]", problem.key_path) if p and not p.isdigit()]
    if all(_SHOWN_KEY.fullmatch(p) for p in parts) and not problem.message.startswith("cannot read "):
        return problem
    return Problem(problem.path, problem.line, "", "not a valid bqmanage config here (the line is not shown)")


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel]:
    """The settings model that holds the keys at ``loc`` of a config (targets.NAME: a target)."""
    import typing

    model: Any = ConfigFile
    for part in loc:
        if isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields:
            model = model.model_fields[str(part)].annotation
        elif typing.get_origin(model) is dict:
            model = typing.get_args(model)[1]
        else:
            break
    return model if isinstance(model, type) and issubclass(model, BaseModel) else ConfigFile


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
        if name in ("local", "bigquery") and tcfg.engine != name:
            # --target local must never reach BigQuery because a config file says so.
            raise ConfigError(
                f"{config or CONFIG_FILE}: targets.{name}: the built-in target {name!r} must keep "
                f"engine: {name}; give a {tcfg.engine} target another name"
            )
    elif name in ("local", "bigquery"):
        tcfg = TargetConfig(engine=name)  # type: ignore[arg-type]
    else:
        known = ", ".join(sorted({"local", "bigquery", *cfg.targets}))
        where = "--target" if target else f"{config or CONFIG_FILE}: default_target"
        raise ConfigError(f"{where}: unknown target {name!r} (known: {known})")
    resolved_project = project or tcfg.project
    # Each problem is named where the user wrote the value: the flag, the config, or the environment.
    source = "--project" if project else f"{config or CONFIG_FILE}: targets.{name}.project"
    if tcfg.engine == "bigquery":
        if not resolved_project and os.environ.get("GOOGLE_CLOUD_PROJECT"):
            resolved_project, source = os.environ["GOOGLE_CLOUD_PROJECT"], "GOOGLE_CLOUD_PROJECT"
        if resolved_project and (why := project_problem(resolved_project)):
            raise ConfigError(f"{source}: {why}")
    if location is not None and (why := location_problem(location)) is not None:
        # typer merged the flag with its variable: name the one that was set.
        given = "BQMANAGE_LOCATION" if os.environ.get("BQMANAGE_LOCATION") == location else "--location"
        raise ConfigError(f"{given}: {why}")
    local_path = Path(tcfg.local_path or os.environ.get("BQMANAGE_LOCAL_PATH") or ".bqmanage/local.duckdb")
    schemas_dir = Path(schemas or cfg.schemas or "schemas")
    if schemas_dir.resolve() in (local_path.resolve(), *local_path.resolve().parents):
        # The warehouse file would be read as a definition, and a definition replaced by a warehouse.
        given = f"{config or CONFIG_FILE}: targets.{name}.local_path" if tcfg.local_path else "BQMANAGE_LOCAL_PATH"
        raise ConfigError(f"{given}: {local_path} is inside the definitions directory {schemas_dir}; keep the warehouse apart")
    check_process_variables()
    return Settings(
        target=name,
        engine=tcfg.engine,
        project=resolved_project,
        location=location or tcfg.location,
        schemas_dir=schemas_dir,
        local_path=local_path,
        credentials_file=tcfg.credentials_file,
        impersonate_service_account=tcfg.impersonate_service_account,
        writer=tcfg.writer,
        labels=tcfg.labels,
        legacy=cfg.legacy,
        region_qualified_information_schema=tcfg.region_qualified_information_schema,
        maximum_bytes_billed=tcfg.maximum_bytes_billed,
        backfill_max_bytes_per_job=tcfg.backfill_max_bytes_per_job,
        retry_deadline=env_seconds("BQMANAGE_RETRY_DEADLINE", 120, positive=True),
        job_timeout=env_seconds("BQMANAGE_JOB_TIMEOUT", 3600, positive=True),
        lock_timeout=env_seconds("BQMANAGE_LOCK_TIMEOUT", 60),
        info_schema_batch=_env_count("BQMANAGE_INFO_SCHEMA_BATCH", 50),
        tenant_workers=_env_count("BQMANAGE_TENANT_WORKERS", 8),
        concurrency=_env_count("BQMANAGE_CONCURRENCY", 8),
        audit_code=cfg.audit_code,
        config_file=Path(config) if config else (Path(CONFIG_FILE) if Path(CONFIG_FILE).exists() else None),
    )
