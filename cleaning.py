"""Clean bronze into the Hive-backed silver warehouse, with quality rules and a quarantine.

Usage:
    spark-submit cleaning.py [--config conf/pipeline.yaml] [--full-refresh] [--dry-run]
    spark-submit cleaning.py [--config conf/pipeline.yaml] --start YYYY-MM-DD --end YYYY-MM-DD [--dry-run]

Rebuilds the silver months whose bronze flight files changed since the last run (all of
them with --full-refresh, a changed cleaning config or changed airports), plus weather,
airports and airlines when their bronze files changed. Running it twice changes nothing.
With --start/--end (a backfill) it rebuilds the whole months the range touches, from all
their bronze rows, and leaves every other month and table as it is.
"""

from __future__ import annotations

import sys

from flightpipe.core import cli
from flightpipe.core.dates import add_range_arguments
from flightpipe.silver.dryrun import describe_cleaning
from flightpipe.silver.plan import backfill_range
from flightpipe.silver.stage import clean


def main(argv: list[str] | None = None) -> int:
    parser = cli.base_parser(__doc__.splitlines()[0], dry_run=True)
    parser.add_argument(
        "--full-refresh", action="store_true", help="rebuild every silver table from all of bronze"
    )
    add_range_arguments(parser, "rebuild only the silver months from --start to --end")
    args = parser.parse_args(argv)

    def check(cfg) -> None:
        # Before the session starts: a bad date fails in a second.
        backfill_range(args.start, args.end, args.full_refresh)

    if args.dry_run:
        return cli.dry_run(
            "cleaning",
            args.config,
            lambda spark, cfg: describe_cleaning(
                spark, cfg, args.full_refresh, backfill_range(args.start, args.end, args.full_refresh)
            ),
        )

    def body(spark, cfg, record) -> int:
        date_range = backfill_range(args.start, args.end, args.full_refresh)
        clean(spark, cfg, record, full_refresh=args.full_refresh, date_range=date_range)
        return 0

    return cli.run_stage("cleaning", args.config, body, before_session=check)


if __name__ == "__main__":
    sys.exit(main())
