"""Concurrent `tenant add` of distinct tenants against the proxy's model of BigQuery's per-table DML
rules (tests/bqservice.py), in modelled time: the suite runs 50 (tests/tenants/test_onboarding_scale.py);
this runs any number, 200 by default. Every add must succeed, with one registry row and one quota
row per tenant. Usage: ``python bench/onboarding_scale.py [--count 200]``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent


def main(count: int) -> int:
    from bqmanage import api
    from bqmanage.engines.bigquery import BigQueryEngine
    from bqmanage.settings import resolve_settings
    from bqmanage.testing.emulator import running_emulator
    from tests.faultproxy import FaultProxy
    from tests.tenants.test_onboarding_scale import SCALE, onboard

    os.chdir(ROOT)  # the production definitions under schemas/
    os.environ["BQMANAGE_RETRY_DEADLINE"] = "3600"  # wall seconds, stretched by bqemulator (see the test)
    with running_emulator() as url:
        proxy = FaultProxy(url, scale=SCALE)
        os.environ["BIGQUERY_EMULATOR_HOST"] = proxy.url
        project = f"onboard-{count}"
        settings = resolve_settings(target="bigquery", project=project)
        api.apply(settings, BigQueryEngine(settings, "bench"))
        start, modelled = time.perf_counter(), proxy.clock.now()
        outcomes, registry, quota, rules = onboard(proxy, project, count)
        failed = [o for o in outcomes if o is not None]
        expected = {f"t{i:03d}": 1 for i in range(count)}
        print(
            f"{count} concurrent adds: {count - len(failed)} succeeded, registry rows as expected: {registry == expected}, "
            f"quota rows as expected: {quota == expected}; the model refused {dict(rules.rejected)} "
            f"(most outstanding DML on one table: {rules.most_outstanding}); {proxy.jobs()} jobs, "
            f"{proxy.clock.now() - modelled:.0f} modelled s, {time.perf_counter() - start:.0f} wall s"
        )
        proxy.close()
    return 0 if not failed and registry == expected and quota == expected else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[sys.argv.index("--count") + 1]) if "--count" in sys.argv else 200))
