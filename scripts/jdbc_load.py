"""Bench step: load a mart of a million rows into MariaDB with gold's own JDBC loader.

Usage:
    .venv/bin/spark-submit --driver-class-path jars/mariadb-java-client.jar \
        scripts/jdbc_load.py --config conf/pipeline.yaml [--rows 1000000]

Builds ``--rows`` rows shaped and typed like the ``route_delays`` mart from ``spark.range``
(nothing collected to the driver), then loads them as gold.py loads its marts: a staging table,
Spark's JDBC writer, the row-count check and the atomic ``RENAME TABLE`` swap into
``gold.database`` (the server must be running: ``scripts/mariadb.sh start``). It logs the rows,
seconds and rows/s of the JDBC write, and its run record (stage ``jdbc_load``, in ``var/runs``)
keeps them. ``scripts/bench.py`` runs it in the ``jdbc-<rows>`` case against a server of its own.
"""

from __future__ import annotations

import sys

from flightpipe.core import cli
from flightpipe.gold.jdbc import check_target
from flightpipe.tools.bench.jdbc_load import ROWS, STAGE, run_load


def main(argv: list[str] | None = None) -> int:
    parser = cli.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS, help=f"rows of the mart (default {ROWS})")
    args = parser.parse_args(argv)

    def body(spark, cfg, record) -> int:
        return run_load(spark, cfg, record, args.rows)

    def check(cfg) -> None:
        # Driver jar, server and login are checked before the JVM starts.
        check_target(cfg.gold, cfg.spark.jars, cfg.config_file)

    # No Hive: the step reads nothing from silver and its record stays in var/runs.
    return cli.run_stage(STAGE, args.config, body, hive=False, before_session=check)


if __name__ == "__main__":
    sys.exit(main())
