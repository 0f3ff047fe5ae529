"""Clean bronze into the Hive-backed silver warehouse, with quality rules and a quarantine.

Usage:
    spark-submit cleaning.py [--config conf/pipeline.yaml] [--full-refresh] [--dry-run]

Rebuilds the silver months whose bronze flight files changed since the last run (all of
them with --full-refresh, a changed cleaning config or changed airports), plus weather,
airports and airlines when their bronze files changed. Running it twice changes nothing.
"""

from __future__ import annotations

import sys

from flightpipe.core import cli
from flightpipe.silver.cleaning import clean
from flightpipe.silver.dryrun import describe_cleaning


def main(argv: list[str] | None = None) -> int:
    parser = cli.base_parser(__doc__.splitlines()[0], dry_run=True)
    parser.add_argument(
        "--full-refresh", action="store_true", help="rebuild every silver table from all of bronze"
    )
    args = parser.parse_args(argv)
    if args.dry_run:
        return cli.dry_run(
            "cleaning", args.config, lambda spark, cfg: describe_cleaning(spark, cfg, args.full_refresh)
        )

    def body(spark, cfg, record) -> int:
        clean(spark, cfg, record, full_refresh=args.full_refresh)
        return 0

    return cli.run_stage("cleaning", args.config, body)


if __name__ == "__main__":
    sys.exit(main())
