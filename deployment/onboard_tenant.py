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

import bqmanage
from bqmanage import BqmanageError, Limits, Project


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Onboard one tenant (bqmanage tenant add).", epilog="`bqmanage tenant --help` states the tenant id rule."
    )
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
        # Project.tenant_add refuses the id, the limits, the definitions and the config before it
        # opens the warehouse, as `bqmanage tenant add` does (it is the same call).
        limits = Limits(args.daily_limit, args.monthly_limit, args.concurrent_limit)
        project = Project.load(
            target=args.target, project=args.project, location=args.location, schemas=args.schemas, config=args.config
        )
        done = project.tenant_add(args.tenant_id, name=args.name, limits=limits)
    except BqmanageError as exc:
        print(exc.printed(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; re-run to resume (onboarding is idempotent)", file=sys.stderr)
        return bqmanage.EXIT_INTERRUPTED
    print(json.dumps(done.to_json(), indent=2, default=str) if args.format == "json" else bqmanage.tenant_text(done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
