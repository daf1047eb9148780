"""The sample application's own test, through bqmanage's pytest plugin: on the embedded warehouse
and on bqemulator, both built from schemas/, with a tenant registered and today's reset run."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.sample_app import quota_app

TODAY = dt.date(2026, 11, 23)
YESTERDAY = TODAY - dt.timedelta(days=1)


@pytest.fixture(params=["local", pytest.param("emulator", marks=pytest.mark.emulator)])
def run_query(request: pytest.FixtureRequest) -> quota_app.Runner:
    if request.param == "local":
        warehouse = request.getfixturevalue("bqmanage_warehouse")
        runner = warehouse.query
    else:
        warehouse = request.getfixturevalue("bqmanage_bigquery")
        runner = quota_app.bigquery_runner(warehouse.client)
    warehouse.add_tenant("acme", daily_limit=2, on=YESTERDAY)  # as `bqmanage tenant add` did yesterday
    report = warehouse.reset(TODAY)  # as the scheduler's `bqmanage reset` does at midnight
    assert report.new_rows == 1
    return runner  # type: ignore[no-any-return]


def test_a_pipeline_run_counts_against_todays_quota(run_query: quota_app.Runner) -> None:
    assert quota_app.start_pipeline(run_query, "acme", TODAY) == quota_app.Usage(1, 2)
    assert quota_app.start_pipeline(run_query, "acme", TODAY) == quota_app.Usage(2, 2)
    with pytest.raises(quota_app.QuotaExceeded):
        quota_app.start_pipeline(run_query, "acme", TODAY)
    with pytest.raises(quota_app.NoQuotaRow):
        quota_app.start_pipeline(run_query, "globex", TODAY)
