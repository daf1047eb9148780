"""The backfill on a table fed by legacy streaming: BigQuery refuses DML over rows still in the
streaming buffer (for up to 90 minutes). apply says so in one line, exits 3, and the backfill stays
owed in the ledger, so that the next plan resumes it. The proxy answers the backfill's UPDATE with
BigQuery's error (https://cloud.google.com/bigquery/docs/data-manipulation-language#limitations)."""

from __future__ import annotations

import re

from tests import seed
from tests.faultproxy import Fault, FaultProxy
from tests.helpers import engine_for, run_cli, target_args

_BUFFER = (
    400,
    "invalidQuery",
    "UPDATE or DELETE statement over table p.tenants.tenant_usage_quotas would affect rows in the streaming buffer, "
    "which is not supported",
)


# The backfill's UPDATE job itself, not its dry run (plan's estimate) nor a ledger row quoting it.
_BACKFILL = re.compile(r'^(?!.*"dryRun": true).*"query": "UPDATE ', re.S)


def test_a_backfill_over_the_streaming_buffer_fails_in_one_line_and_stays_owed(proxy: FaultProxy) -> None:
    project = "streaming-buffer"
    seed.create_old_table(engine_for(project))
    proxy.faults.append(Fault("POST", re.compile(r"/jobs(\?|$)"), 1, _BUFFER, body=_BACKFILL))
    result = run_cli(*target_args(project), "apply")
    assert result.exit_code == 3 and proxy.injected == 1
    lines = [line for line in result.stderr.splitlines() if not line.startswith("[")]  # [i/n] is progress
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("error: tenants.tenant_usage_quotas: backfill not run: ")
    assert "rows in the streaming buffer; re-run in up to 90 minutes" in lines[0]
    # Owed: the next plan resumes it, and a re-run once the buffer has drained completes it.
    plan = run_cli(*target_args(project), "plan")
    assert "Resuming the unfinished backfill of tenants.tenant_usage_quotas" in plan.stdout
    assert run_cli(*target_args(project), "apply").exit_code == 0
    assert "Resuming" not in run_cli(*target_args(project), "plan").stdout
