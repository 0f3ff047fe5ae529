"""Measure what each ML feature group and learner setting adds to the hold-out AUC-ROC.

Usage:
    PYSPARK_PYTHON=.venv/bin/python .venv/bin/spark-submit scripts/ml_report.py [--config conf/pipeline.yaml]
    PYSPARK_PYTHON=.venv/bin/python .venv/bin/spark-submit scripts/ml_report.py --models gbt

Reads silver flights and weather_hourly (run cleaning.py first) and, on the training and
test periods of the ``ml`` config section, trains each model of ``ml.models`` (or --models)
as configured, then once without each feature group and once with each learner setting put
back to its earlier value. Writes the hold-out AUC-ROC of every run, and its difference to
the full model, to reports/ml_ablation.json and reports/ml_ablation.md. Saves no model and
writes no table. About 20 minutes on 2 cores for both models.
"""

from __future__ import annotations

import sys

from flightpipe.core import cli
from flightpipe.core.settings import Settings
from flightpipe.ml.train import MODEL_NAMES


def main(argv: list[str] | None = None) -> int:
    parser = cli.base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        choices=MODEL_NAMES,
        help="models to measure (default: ml.models of the config)",
    )
    args = parser.parse_args(argv)

    def body(cfg: Settings) -> int:
        from flightpipe.core.session import build_session
        from flightpipe.ml.ablation import ablation_report, markdown_table

        spark = build_session(cfg, "ml-report")
        try:
            rows = ablation_report(spark, cfg, args.models)
        finally:
            spark.stop()
        print(markdown_table(rows), end="", flush=True)
        return 0

    return cli.run("ml-report", args.config, body)


if __name__ == "__main__":
    sys.exit(main())
