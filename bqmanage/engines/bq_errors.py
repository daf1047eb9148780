"""How the bigquery engine reads a failure: worth a retry, a network failure, or a message for the user."""

from __future__ import annotations

import re

import requests
from google.api_core import exceptions as gexc

from bqmanage.errors import StreamingBufferError, WarehouseError
from bqmanage.terminal import printable

# Failures worth a new attempt: short-term rate limits, backend errors, and DML that lost a
# concurrent-update race (reason invalidQuery, which the client does not retry by itself).
_RETRY_REASONS = {
    "rateLimitExceeded",
    "jobRateLimitExceeded",
    "backendError",
    "internalError",
    "jobBackendError",
    "jobInternalError",
}
# Two per-table DML queue errors are transient too, though their reasons (resourcesExceeded,
# quotaExceeded) usually are not: the mutating queue is full (2 running + 20 pending,
# https://cloud.google.com/bigquery/docs/troubleshoot-queries#too_many_dml_statements), or too many
# DML jobs write one table (troubleshoot-queries#error_403_quota_exceeded). Both clear as the
# queued statements finish, so they are matched by their text, not their reason.
_RETRY_TEXT = (
    "could not serialize access",
    "concurrent update",
    "exceeded rate limits",
    "too many dml statements outstanding",
    "total number of dml jobs writing to a table",
)
# What the transport raises when the endpoint is down, drops the connection or does not answer;
# the client's own retry wraps the last of them in a RetryError at its deadline.
NETWORK = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, gexc.RetryError)


def is_retryable(exc: Exception) -> bool:
    reasons = {e.get("reason") for e in getattr(exc, "errors", None) or [] if isinstance(e, dict)}
    text = str(exc).lower()
    return (
        bool(reasons & _RETRY_REASONS)
        or any(t in text for t in _RETRY_TEXT)
        or isinstance(exc, (gexc.InternalServerError, gexc.ServiceUnavailable, gexc.BadGateway, gexc.TooManyRequests))
    )


# https://cloud.google.com/bigquery/docs/data-manipulation-language#limitations: rows written by
# legacy streaming in the last ~30 minutes (rarely up to 90) cannot be changed by DML.
_STREAMING = "would affect rows in the streaming buffer"


def error_class(exc: gexc.GoogleAPICallError) -> type[WarehouseError]:
    """The WarehouseError a client error becomes."""
    return StreamingBufferError if _STREAMING in str(exc) else WarehouseError


# What the client appends to a query job's error (google/cloud/bigquery/job/query.py): the job's
# location and id on lines of their own. The message names the job where it matters already.
_JOB_FOOTER = re.compile(r"\s*\n\nLocation: [^\n]*\nJob ID: [^\n]*\n?\Z")
# A server's message is quoted up to this many characters: an endpoint that is not BigQuery may
# answer a whole HTML page.
_QUOTED = 500


def one_line(text: str) -> str:
    """The one formatter of every failure message the bigquery engine makes: a server's or a
    transport's text, quoted on one line (terminal.printable) and cut to a sensible length."""
    text = text.strip()
    return printable(text if len(text) <= _QUOTED else text[:_QUOTED] + "...")


def api_message(exc: gexc.GoogleAPICallError) -> str:
    if _STREAMING in str(exc):
        return "rows in the streaming buffer; re-run in up to 90 minutes (DML cannot change rows streamed in that time)"
    message = f"{exc.code} {one_line(_JOB_FOOTER.sub('', str(getattr(exc, 'message', None) or exc)))}"
    if isinstance(exc, (gexc.Forbidden, gexc.Unauthorized)) and not is_retryable(exc):
        message += " (check the credentials' BigQuery roles: Data Editor and Job User for apply)"
    return message


def is_not_found(exc: BaseException | None) -> bool:
    """Whether a failure says the resource does not exist: a 404 carrying BigQuery's own JSON
    error (reason notFound). A bare 404, or one with an HTML page, comes from something that is
    not BigQuery's API (a wrong endpoint, a proxy) and must not read as an empty warehouse."""
    if not isinstance(exc, gexc.NotFound):
        return False
    return any(isinstance(e, dict) and e.get("reason") == "notFound" for e in exc.errors or [])


def network_reason(exc: BaseException | None, timeout: float) -> str:
    """The short cause inside a transport error's nested text: "[Errno 111] Connection refused"."""
    text = str(exc)
    if match := re.search(r"\[Errno -?\d+\] [^'\")]+", text):
        return match.group(0).strip()
    if match := re.search(r"\((\d+), '([^']+)'\)", text):
        return f"[Errno {match.group(1)}] {match.group(2)}"
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in text.lower():
        return f"no answer within {timeout:g} s"
    return text[:300]


def missing(exc: WarehouseError, where: str) -> None:
    """None, for a resource BigQuery says does not exist (``is_not_found``); any other failure is
    raised again, and a 404 that is not BigQuery's as a wrong endpoint."""
    if is_not_found(exc.__cause__):
        return None
    if isinstance(exc.__cause__, gexc.NotFound):
        raise WarehouseError(
            f"{where} failed: 404 without BigQuery's JSON notFound error: the endpoint does not answer as the BigQuery API"
        ) from None
    raise exc


def not_the_api(exc: BaseException) -> str:
    """Why a 200 answer failed to decode: a page that is no JSON (an HTML page), or JSON that lacks
    or mistypes what BigQuery's API answers (KeyError, TypeError, AttributeError in the client)."""
    if isinstance(exc, ValueError):
        return "the endpoint did not answer with JSON"
    return "the endpoint does not answer as the BigQuery API"
