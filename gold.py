"""Gold: analytic marts from silver, loaded atomically into MariaDB, and an HTML report.

Usage:
    spark-submit gold.py [--config conf/pipeline.yaml] [--dry-run]
    python gold.py [--config conf/pipeline.yaml]

Reads the Hive database ``catalog.silver_database`` (``silver``), builds the marts
(delay_by_carrier, delay_by_airport_month, delay_by_hour, weather_impact, route_delays,
daily_kpis, model_performance, pipeline_runs), swaps them into the MariaDB database ``gold.database``
over JDBC, and writes ``reports/index.html``. Start the project's local server first with
``scripts/mariadb.sh start``.
"""

from __future__ import annotations

import sys

from flightpipe.core import cli
from flightpipe.gold.dryrun import describe_gold
from flightpipe.gold.stage import check_gold_target, run_gold


def main(argv: list[str] | None = None) -> int:
    args = cli.base_parser(__doc__.splitlines()[0], dry_run=True).parse_args(argv)
    if args.dry_run:
        return cli.dry_run("gold", args.config, describe_gold)
    # Driver jar, server and login are checked before the JVM starts: a typo fails in a second.
    return cli.run_stage("gold", args.config, run_gold, before_session=check_gold_target)


if __name__ == "__main__":
    sys.exit(main())
