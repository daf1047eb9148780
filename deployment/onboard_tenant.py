"""Onboard one tenant from a deploy pipeline: what `bqmanage tenant add` does, through the library API.

    python deployment/onboard_tenant.py acme --name "Acme Corp" --daily-limit 200 \
        --target bigquery --project my-project

It registers the tenant (limits not given: the registry's defaults in the definitions), creates
its templated datasets and tables, and its quota row for today. It is idempotent: run on every
deploy, it changes nothing when the tenant is already there with these values, and updates the
registry and today's row when the limits differ. Concurrent runs for one id leave one registry
row and one quota row.

Exit codes are the CLI's: 0 done (or nothing to do), 2 bad input (the id, a limit, the
definitions, the config; nothing is written), 3 warehouse failure after retries (auth, API,
network), 130 interrupted. Flags fall back to the same BQMANAGE_* environment variables as the
CLI's. ``--format json`` prints the report as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from bqmanage import api
from bqmanage.engines import engine_session
from bqmanage.errors import EXIT_INTERRUPTED, BqmanageError
from bqmanage.report import text as report
from bqmanage.settings import resolve_settings
from bqmanage.tenants.commands import check_limits
from bqmanage.tenants.ids import RULE, check_tenant_id


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Onboard one tenant (bqmanage tenant add).", epilog=RULE)
    parser.add_argument("tenant_id", metavar="ID")
    parser.add_argument("--name", help="display name")
    parser.add_argument("--daily-limit", type=int, metavar="N")
    parser.add_argument("--monthly-limit", type=int, metavar="N")
    parser.add_argument("--concurrent-limit", type=int, metavar="N")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    for flag in ("target", "project", "location", "schemas", "config"):
        parser.add_argument(f"--{flag}", default=os.environ.get(f"BQMANAGE_{flag.upper()}"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # a usage error exits 2, as the CLI's do
    try:
        # Everything that can be refused is checked before the warehouse is opened.
        check_tenant_id(args.tenant_id)
        limits = {"daily_limit": args.daily_limit, "monthly_limit": args.monthly_limit, "concurrent_limit": args.concurrent_limit}
        check_limits(limits)
        settings = resolve_settings(args.target, args.project, args.location, args.schemas, args.config)
        desired = api.validate(settings)
        with engine_session(settings, "tenant") as engine:
            done = api.tenant_add(settings, engine, args.tenant_id, args.name, **limits, desired=desired)
    except BqmanageError as exc:
        print(f"error: {exc}" if "\n" not in str(exc) else str(exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; re-run to resume (onboarding is idempotent)", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(json.dumps(done.to_json(), indent=2, default=str) if args.format == "json" else report.tenant_text(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
