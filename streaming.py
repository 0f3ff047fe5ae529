"""Stream new flight CSV files from the landing folder into bronze/flights (exactly once).

Usage:
    .venv/bin/spark-submit streaming.py --config conf/pipeline.yaml [--available-now]
    .venv/bin/python streaming.py --config conf/pipeline.yaml --trigger-seconds 5

--available-now reads every file present, then exits (cron, tests, the demo); without it the
query keeps running and SIGINT/SIGTERM stops it after the current micro-batch (exit code 0).
"""

from __future__ import annotations

import sys

from flightpipe.bronze.dryrun import describe_streaming, streaming_needs_jvm
from flightpipe.bronze.streaming import StreamOptions, run_streaming
from flightpipe.core import cli


def main(argv: list[str] | None = None) -> int:
    parser = cli.base_parser(__doc__.splitlines()[0], dry_run=True)
    parser.add_argument("--available-now", action="store_true", help="process every file present, then exit")
    parser.add_argument(
        "--trigger-seconds",
        type=float,
        help="seconds between micro-batches (default: streaming.trigger_seconds)",
    )
    parser.add_argument(
        "--max-files-per-trigger",
        type=int,
        help="new files per micro-batch (default: streaming.max_files_per_trigger)",
    )
    args = parser.parse_args(argv)
    if args.dry_run:
        return cli.dry_run(
            "streaming",
            args.config,
            lambda _spark, cfg: describe_streaming(cfg),
            spark=streaming_needs_jvm,
            hive=False,
        )

    def body(spark, cfg, record) -> int:
        options = StreamOptions(
            available_now=args.available_now,
            trigger_seconds=args.trigger_seconds or cfg.streaming.trigger_seconds,
            max_files_per_trigger=args.max_files_per_trigger or cfg.streaming.max_files_per_trigger,
        )
        run_streaming(spark, cfg, record, options)
        return 0

    # The per-micro-batch summary line is the progress report; Spark's console bar would
    # interleave with it on every micro-batch (spark.extra_conf still wins).
    return cli.run_stage(
        "streaming", args.config, body, hive=False, session_defaults={"spark.ui.showConsoleProgress": "false"}
    )


if __name__ == "__main__":
    sys.exit(main())
