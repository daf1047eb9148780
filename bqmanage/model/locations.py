"""Where BigQuery can keep a dataset, so that a misspelt `location` fails at validate, not at apply.

The list is https://docs.cloud.google.com/bigquery/docs/locations#supported_locations as of
2026-08-22. BigQuery Omni locations (aws-*, azure-*) are left out on purpose: their datasets hold
only external tables, not the tables bqmanage creates. When Google adds a region, add it here.
"""

from __future__ import annotations

import difflib

DOC_URL = "https://docs.cloud.google.com/bigquery/docs/locations#supported_locations"
MULTI_REGIONS = ("US", "EU")
REGIONS = (
    # Americas
    "northamerica-northeast1",
    "northamerica-northeast2",
    "northamerica-south1",
    "southamerica-east1",
    "southamerica-west1",
    "us-central1",
    "us-central2",
    "us-east1",
    "us-east4",
    "us-east5",
    "us-south1",
    "us-west1",
    "us-west2",
    "us-west3",
    "us-west4",
    # Asia Pacific
    "asia-east1",
    "asia-east2",
    "asia-northeast1",
    "asia-northeast2",
    "asia-northeast3",
    "asia-south1",
    "asia-south2",
    "asia-southeast1",
    "asia-southeast2",
    "asia-southeast3",
    "australia-southeast1",
    "australia-southeast2",
    # Europe
    "europe-central2",
    "europe-north1",
    "europe-north2",
    "europe-southwest1",
    "europe-west1",
    "europe-west2",
    "europe-west3",
    "europe-west4",
    "europe-west6",
    "europe-west8",
    "europe-west9",
    "europe-west10",
    "europe-west12",
    # Middle East, Africa
    "me-central1",
    "me-central2",
    "me-west1",
    "africa-south1",
)
# Location names are case-insensitive; each is written here as the docs spell it.
_CANONICAL = {name.lower(): name for name in (*MULTI_REGIONS, *REGIONS)}


def canonical_location(location: str) -> str | None:
    """The documented spelling of ``location`` (``eu`` -> ``EU``), or None when BigQuery has no such location."""
    return _CANONICAL.get(location.strip().lower())


def location_problem(location: str) -> str | None:
    """Why ``location`` is not a BigQuery dataset location, or None."""
    if canonical_location(location) is not None:
        return None
    hint = difflib.get_close_matches(location.strip().lower(), list(_CANONICAL), n=1)
    suggestion = f"did you mean {_CANONICAL[hint[0]]!r}? " if hint else ""
    return (
        f"unknown BigQuery location {location!r}; {suggestion}use US, EU or a region such as us-central1 "
        f"or europe-west4 ({DOC_URL})"
    )
