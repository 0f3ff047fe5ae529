"""Train the flight-delay models on silver, or score a date range with the latest one.

Usage:
    spark-submit ML.py [--config conf/pipeline.yaml] [--dry-run]
    spark-submit ML.py --score --start 2013-12-01 --end 2013-12-31 [--config conf/pipeline.yaml] [--dry-run]

Training reads flights and weather_hourly of the silver database (``catalog.silver_database``),
fits the models of the ``ml`` config section on the training period, measures them on the test
period, saves each under models/<model>/<version>/ and records the metrics in model_metrics.
Scoring writes delay_predictions for the flights scheduled in the range, replacing earlier
scores of it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from flightpipe.core import cli
from flightpipe.ml.dryrun import describe_ml
from flightpipe.ml.stage import run_ml, stage_name


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def main(argv: list[str] | None = None) -> int:
    parser = cli.base_parser(__doc__.splitlines()[0], dry_run=True)
    parser.add_argument(
        "--score", action="store_true", help="score flights with the latest model instead of training"
    )
    parser.add_argument("--start", type=_day, help="first scheduled date to score (YYYY-MM-DD)")
    parser.add_argument("--end", type=_day, help="last scheduled date to score (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    if args.score and (args.start is None or args.end is None):
        parser.error("--score needs --start and --end")
    if not args.score and (args.start or args.end):
        parser.error("--start and --end only apply with --score")

    score_range = (args.start, args.end) if args.score else None
    if args.dry_run:
        return cli.dry_run(
            stage_name(score_range), args.config, lambda spark, cfg: describe_ml(spark, cfg, score_range)
        )

    def body(spark, cfg, record) -> int:
        run_ml(spark, cfg, record, score_range)
        return 0

    return cli.run_stage(stage_name(score_range), args.config, body, app="ml")


if __name__ == "__main__":
    sys.exit(main())
