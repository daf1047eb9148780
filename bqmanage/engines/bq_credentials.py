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


def emulator_endpoint() -> tuple[str | None, str | None]:
    """BIGQUERY_EMULATOR_HOST checked as a URL (the client would only fail on it deep in a request,
    with a traceback), and how it is shown: any user:password in it is never printed.

    (None, None) when unset: the real BigQuery."""
    from urllib.parse import urlsplit

    url = os.environ.get("BIGQUERY_EMULATOR_HOST")
    if not url:
        return None, None
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port outside 0-65535 or not a number
        host = parts.hostname
    except ValueError:
        parts, port, host = None, None, None
    shown = redacted(url)
    if parts is None or parts.scheme not in ("http", "https") or not host or parts.path not in ("", "/"):
        problem = "expected a URL such as http://localhost:9050"
    elif any(c.isspace() or not c.isprintable() for c in url) or parts.query or parts.fragment:
        problem = "spaces, control characters, a query or a fragment have no place in it"
    elif port == 0:
        problem = "port 0 is not a port to connect to"
    else:
        return url, shown
    raise ConfigError(f"BIGQUERY_EMULATOR_HOST={shown!r}: {problem}")


def redacted(url: str) -> str:
    """``url`` with the password of any user:password@ replaced, for messages."""
    import re

    return re.sub(r"://[^/@\s'\"]*@", "://***@", url)


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
