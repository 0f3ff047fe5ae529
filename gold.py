"""Gold: analytic marts from silver, loaded atomically into MariaDB, and an HTML report.

Usage:
    spark-submit gold.py [--config conf/pipeline.yaml] [--dry-run]
    python gold.py [--config conf/pipeline.yaml]
    spark-submit gold.py [--config conf/pipeline.yaml] --start YYYY-MM-DD --end YYYY-MM-DD [--dry-run]

Reads the Hive database ``catalog.silver_database`` (``silver``), builds the marts
(delay_by_carrier, delay_by_airport_month, delay_by_hour, weather_impact, route_delays,
daily_kpis, model_performance, pipeline_runs), swaps them into the MariaDB database ``gold.database``
over JDBC, and writes ``reports/index.html``. Start the project's local server first with
``scripts/mariadb.sh start``. With --start/--end, delay_by_airport_month and daily_kpis get
only the rows of the whole months the range touches replaced; the other marts are reloaded whole.
"""

from __future__ import annotations

import sys

from flightpipe.core import cli
from flightpipe.core.dates import add_range_arguments, parse_range
from flightpipe.gold.dryrun import describe_gold
from flightpipe.gold.stage import check_gold_target, run_gold


def main(argv: list[str] | None = None) -> int:
    parser = cli.base_parser(__doc__.splitlines()[0], dry_run=True)
    add_range_arguments(
        parser, "replace only the rows of the months from --start to --end in the marts by date"
    )
    args = parser.parse_args(argv)
    if args.dry_run:
        return cli.dry_run(
            "gold",
            args.config,
            lambda spark, cfg: describe_gold(spark, cfg, date_range=parse_range(args.start, args.end)),
        )

    def check(cfg) -> None:
        # Range, driver jar, server and login are checked before the JVM starts: a typo fails in a second.
        parse_range(args.start, args.end)
        check_gold_target(cfg)

    def body(spark, cfg, record) -> int:
        return run_gold(spark, cfg, record, date_range=parse_range(args.start, args.end))

    return cli.run_stage(
        "gold",
        args.config,
        body,
        before_session=check,
        # Gold's queries are group-bys into marts of a few thousand rows and broadcast joins
        # of small tables: adaptive execution has nothing to re-plan, and running each query
        # stage by stage cost 2-4 s at 10M rows (3-4 CPU-s more in the marts' tasks).
        # spark.extra_conf can turn it back on (see bench/README.md).
        session_defaults={"spark.sql.adaptive.enabled": "false"},
    )


if __name__ == "__main__":
    sys.exit(main())
