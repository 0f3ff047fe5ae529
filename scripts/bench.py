"""Benchmark the pipeline's stages on the embedded year and on synthetic BTS data.

Usage:
    .venv/bin/python scripts/bench.py [--config conf/pipeline.yaml] [--sizes 1000000,10000000]
                                      [--skip-embedded] [--seed 42] [--year 2023]
                                      [--no-peers] [--no-jdbc] [--jdbc-rows 1M]

Every stage runs as in production, in the order of the stage graph (flightpipe.core.stages)
and with the pipeline's spark-submit command lines (flightpipe.tools.pipeline), with a config
that is the project's own rooted in a bench folder of its own (``<paths.var>/bench/<case>/``),
so the benchmark never touches the demo's bronze, silver or MariaDB. Cases:

- ``embedded``: ingest (reference data and weather), replay of the 365 daily files of 2013
  (scripts/replay.py), streaming.py --available-now, cleaning.py, ML.py, gold.py.
- ``synthetic-<N>`` for each size of --sizes: scripts/synth_bts.py writes N BTS flights and
  their Open-Meteo weather (timed, not a stage), then ingest, cleaning and gold.
- ``jdbc-<N>`` (N = --jdbc-rows, default 1M; --no-jdbc skips it): scripts/jdbc_load.py builds a
  mart of N rows (route_delays' columns and types) and loads it with gold's own loader into the
  case's MariaDB; the check is the rows/s of that JDBC write (>= 100000).

For every step: wall seconds, flight rows per second, the peak resident memory of the driver
(the driver JVM plus the Python process running the script) and of the whole process tree
(plus Python workers), sampled from /proc every 0.2 s; the machine load; a profile from the
Spark event log (jobs, tasks, spill, shuffle, GC, the most skewed stage); files per bronze and
silver table. The table is printed and the run is appended to bench/results.json.

The harness is the package flightpipe.tools.bench.
"""

from __future__ import annotations

import sys

from flightpipe.tools.bench.main import main

if __name__ == "__main__":
    sys.exit(main())
