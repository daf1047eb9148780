"""Credentials for the bigquery engine: ADC, a service-account file, or impersonation, from
google-auth; anonymous for an emulator. Every way this fails is one message naming its cause."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import google.auth
from google.auth.credentials import AnonymousCredentials, Credentials

from bqmanage.errors import ConfigError, WarehouseError

if TYPE_CHECKING:
    from bqmanage.settings import Settings

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


def _adc_file_problem(path: str) -> str | None:
    """Why the file GOOGLE_APPLICATION_CREDENTIALS names cannot hold credentials, or None.

    google-auth reports a missing or broken file as "no credentials found"; the user needs to
    hear that the variable points at the wrong thing.
    """
    if not os.path.exists(path):
        return "the file does not exist"
    if os.path.isdir(path):
        return "it is a directory, not a credentials file"
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    except (ValueError, UnicodeDecodeError) as exc:
        return f"the file is not JSON ({exc})"
    if not isinstance(data, dict) or "type" not in data:
        return 'the file is JSON but not a credentials file (no "type" key)'
    return None


def credentials(settings: Settings, emulator: bool) -> tuple[Credentials, str]:
    if emulator:
        return AnonymousCredentials(), "anonymous (emulator)"
    adc_file = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if adc_file and not settings.credentials_file and (why := _adc_file_problem(adc_file)):
        raise ConfigError(f"GOOGLE_APPLICATION_CREDENTIALS={adc_file}: {why}; fix the path or unset the variable")
    try:
        if settings.credentials_file:
            from google.oauth2 import service_account

            creds = service_account.Credentials.from_service_account_file(settings.credentials_file, scopes=SCOPES)
        else:
            creds, _ = google.auth.default(scopes=SCOPES)
        if settings.impersonate_service_account:
            from google.auth import impersonated_credentials

            creds = impersonated_credentials.Credentials(
                source_credentials=creds, target_principal=settings.impersonate_service_account, target_scopes=SCOPES
            )
            return creds, settings.impersonate_service_account
    except google.auth.exceptions.DefaultCredentialsError as exc:
        if adc_file and not settings.credentials_file:
            raise ConfigError(f"GOOGLE_APPLICATION_CREDENTIALS={adc_file}: {exc}") from None
        raise WarehouseError(
            "bigquery: no Google credentials found; run `gcloud auth application-default login`, "
            "set GOOGLE_APPLICATION_CREDENTIALS, or set credentials_file in bqmanage.yaml"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{settings.credentials_file}: cannot read service-account credentials: {exc}") from None
    principal = (
        getattr(creds, "service_account_email", None) or getattr(creds, "account", None) or "application-default credentials"
    )
    return creds, str(principal)
