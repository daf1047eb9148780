"""The literal formats BigQuery parses for DATE, DATETIME, TIME and TIMESTAMP.

A default such as ``DATE 'not-a-date'`` passes every local check and fails in BigQuery's
ALTER COLUMN SET DEFAULT, after earlier statements already ran. The formats are the canonical
ones of https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/data-types
(#canonical_format_for_date_literals and its datetime, time and timestamp siblings); where the
page is silent, the rules follow GoogleSQL's reference parser (ZetaSQL's date_time_util.cc):
a TIMESTAMP year may have 5 digits, an offset may omit its colon, no surrounding spaces.
"""

from __future__ import annotations

import calendar
import re
import zoneinfo

FORMATS = {
    "DATE": "YYYY-[M]M-[D]D",
    "TIME": "[H]H:[M]M:[S]S[.F]",
    "DATETIME": "YYYY-[M]M-[D]D[( |T)[H]H:[M]M:[S]S[.F]]",
    "TIMESTAMP": "YYYY-[M]M-[D]D[( |T)[H]H:[M]M:[S]S[.F]][Z|{+|-}H[H][:M[M]]| time_zone_name]",
}
_DATE = r"(?P<year>\d{{{y}}})-(?P<month>\d{{1,2}}+)-(?P<day>\d{{1,2}}+)"
# Up to six fractional digits: BigQuery keeps microseconds.
_TIME = r"(?P<hour>\d{1,2}+):(?P<minute>\d{1,2}+):(?P<second>\d{1,2}+)(?:\.\d{1,6}+)?"
_LITERAL = {
    "DATE": re.compile(_DATE.format(y="4") + r"\Z"),
    "TIME": re.compile(_TIME + r"\Z"),
    "DATETIME": re.compile(_DATE.format(y="4") + rf"(?:[ Tt]{_TIME})?\Z"),
    # The zone, after the time or right after the separator, is checked by _zone_problem.
    "TIMESTAMP": re.compile(_DATE.format(y="4,5") + rf"(?:[ Tt](?:{_TIME}(?P<zone>.*)|(?P<bare>[+-].*)))?\Z"),
}
_OFFSET = re.compile(r"[+-](?P<hours>\d{1,2}+)(?::?(?P<minutes>\d{1,2}+))?\Z")
_MAX_OFFSET_MINUTES = 14 * 60  # GoogleSQL accepts offsets from -14:00 to +14:00


def literal_problem(type_: str, text: str) -> str | None:
    """Why ``text`` is not a literal of the temporal ``type_``, or None."""
    match = _LITERAL[type_].match(text)
    if match is None:
        return f"default {text!r} is not a {type_} literal ({FORMATS[type_]})"
    why = _range_problem(match.groupdict())
    if why is None and type_ == "TIMESTAMP":
        why = _zone_problem(match["zone"] if match["zone"] is not None else match["bare"] or "", bare=match["bare"] is not None)
    if why is None:
        return None
    if why == "format":
        return f"default {text!r} is not a {type_} literal ({FORMATS[type_]})"
    return f"default {text!r} is not a valid {type_}: {why}"


def _range_problem(parts: dict[str, str | None]) -> str | None:
    value = {k: int(v) for k, v in parts.items() if v is not None and k not in ("zone", "bare")}
    if "year" in value:
        year, month, day = value["year"], value["month"], value["day"]
        if not 1 <= year <= 9999:
            return f"year {year} is out of range (1 to 9999)"
        if not 1 <= month <= 12:
            return f"month {month} is out of range (1 to 12)"
        if not 1 <= day <= calendar.monthrange(year, month)[1]:
            return f"day {day} is out of range for {year:04d}-{month:02d}"
    limits = (("hour", 23), ("minute", 59), ("second", 60))  # 60: a leap second is accepted
    for part, top in limits:
        if part in value and value[part] > top:
            return f"{part} {value[part]} is out of range (0 to {top})"
    return None


def _zone_problem(zone: str, bare: bool) -> str | None:
    """The time zone suffix of a TIMESTAMP: '', 'Z', an offset, ' UTC' or ' <tz database name>'."""
    if not bare and zone.startswith(" UTC"):
        zone = zone[4:]
    if zone in ("", "Z", "z") and not bare:
        return None
    if zone[:1] in ("+", "-"):
        return _offset_problem(zone)
    if bare or zone[:1] != " " or zone[1:2] in ("", "+", "-"):
        return "format"
    name = zone[1:]
    if name.startswith("UTC") and name[3:4] in ("+", "-"):
        return _offset_problem(name[3:])
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}"
    return None


def _offset_problem(offset: str) -> str | None:
    match = _OFFSET.match(offset)
    if match is None:
        return "format"
    hours, minutes = int(match["hours"]), int(match["minutes"] or 0)
    if minutes > 59 or hours * 60 + minutes > _MAX_OFFSET_MINUTES:
        return f"offset {offset} is out of range (-14:00 to +14:00)"
    return None
