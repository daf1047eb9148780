"""The one tables.patch that sets a table's defaults, against BigQuery's answers
that bqemulator never gives: a default rejected through the API (apply falls back to ALTER COLUMN
SET DEFAULT and says so), and a stale etag (the table changed since it was read). The faults are
injected by the proxy in front of bqemulator; the real client and engine see them."""

from __future__ import annotations

import json
import re

from tests import seed
from tests.faultproxy import Fault, FaultProxy
from tests.helpers import engine_for, run_cli, target_args

_PATCH = re.compile(r"/datasets/tenants/tables/tenant_usage_quotas(\?|$)")
_REJECTED = (400, "invalid", "Default value expressions are not supported through tables.patch for this table")
_STALE = (412, "conditionNotMet", "Precondition check failed.")


def _patches(proxy: FaultProxy) -> list[tuple[bytes, dict[str, str]]]:
    return [
        (body, headers)
        for (method, path, body), headers in zip(proxy.bodies, proxy.headers, strict=True)
        if method == "PATCH" and _PATCH.search(path)
    ]


def test_a_default_rejected_through_the_api_is_set_with_ddl_and_apply_says_so(proxy: FaultProxy) -> None:
    project = "patch-rejected"
    seed.create_old_table(engine_for(project))
    proxy.faults.append(Fault("PATCH", _PATCH, 1, _REJECTED, body=re.compile("defaultValueExpression")))
    result = run_cli(*target_args(project), "apply")
    assert result.exit_code == 0, result.stderr
    assert proxy.injected == 1
    # Said so: one line per default, naming the DDL it ran instead.
    fallback = [line for line in result.stderr.splitlines() if "with DDL: BigQuery rejected it through tables.patch" in line]
    assert len(fallback) == 6 and all("set_default: set default of tenants.tenant_usage_quotas." in f for f in fallback)
    jobs = [json.loads(body) for method, path, body in proxy.bodies if method == "POST" and path.split("?")[0].endswith("/jobs")]
    set_default = [q for j in jobs if "SET DEFAULT" in (q := j["configuration"]["query"]["query"]) and q.startswith("ALTER")]
    assert len(set_default) == 6 and any("`pipelines_cancelled_today` SET DEFAULT 0" in j for j in set_default)
    # The patch had nothing but defaults, so none is sent again without them.
    assert len(_patches(proxy)) == 1
    assert run_cli(*target_args(project), "plan").exit_code == 0


def test_a_stale_etag_is_detected_and_the_patch_made_again_on_a_fresh_read(proxy: FaultProxy) -> None:
    project = "patch-stale"
    seed.create_old_table(engine_for(project))
    proxy.faults.append(Fault("PATCH", _PATCH, 1, _STALE))
    result = run_cli(*target_args(project), "apply")
    assert result.exit_code == 0, result.stderr
    patches = _patches(proxy)
    assert len(patches) == 2 and proxy.injected == 1
    # Every patch is conditional on the etag of the resource it edited (If-Match), so a table
    # changed in between is never overwritten.
    assert all(headers.get("If-Match") for _, headers in patches)
    assert run_cli(*target_args(project), "plan").exit_code == 0


def test_an_etag_that_stays_stale_fails_the_apply_without_overwriting(proxy: FaultProxy) -> None:
    project = "patch-always-stale"
    seed.create_old_table(engine_for(project))
    proxy.faults.append(Fault("PATCH", _PATCH, 100, _STALE))
    result = run_cli(*target_args(project), "apply")
    assert result.exit_code == 3
    assert "(patch_columns) failed" in result.stderr and "412" in result.stderr and "Traceback" not in result.stderr
    assert len(_patches(proxy)) == proxy.injected == 5  # every attempt read afresh, none went through
