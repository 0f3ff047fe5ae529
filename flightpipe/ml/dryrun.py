"""The plan ``ML.py --dry-run`` prints: config and silver checked, the flights each period holds."""

from __future__ import annotations

from datetime import date

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from flightpipe.contracts.ml import PREDICTIONS_TABLE
from flightpipe.core.dryrun import CHECK, READ, REPLACE, WRITE, DryRun, table_exists
from flightpipe.core.errors import PipelineError
from flightpipe.core.settings import Settings
from flightpipe.ml import registry
from flightpipe.ml.inputs import FLIGHTS, WEATHER, SilverStore
from flightpipe.ml.stage import check_grids, model_names, periods, stage_name


def _require_silver(spark: SparkSession, silver: SilverStore) -> None:
    for name in (FLIGHTS, WEATHER):
        if not table_exists(spark, silver.table(name)):
            raise PipelineError(
                f"table {silver.table(name)} does not exist in the Hive metastore {silver.metastore_db}; "
                "run cleaning.py first."
            )


def _flights_in(spark: SparkSession, table: str, ranges: dict[str, tuple[date, date]]) -> dict[str, int]:
    """Flights scheduled in each named date range, in one pass over the months they cover."""
    first, last = min(r[0] for r in ranges.values()), max(r[1] for r in ranges.values())
    months = F.col("year") * 100 + F.col("month")
    flights = spark.table(table).where(
        months.between(first.year * 100 + first.month, last.year * 100 + last.month)
    )
    row = flights.agg(
        *[F.sum(F.col("flight_date").between(a, b).cast("long")).alias(k) for k, (a, b) in ranges.items()]
    ).first()
    return {k: int(row[k] or 0) for k in ranges}


def describe_ml(spark: SparkSession, cfg: Settings, score_range: tuple[date, date] | None = None) -> DryRun:
    """What ``ML.py`` (training) or ``ML.py --score`` would read and write."""
    silver = SilverStore(cfg.catalog.silver_database, cfg.paths.warehouse, cfg.paths.metastore_db)
    ml, models = cfg.ml, cfg.paths.models
    out = DryRun(stage_name(score_range))
    if score_range is None:
        bounds = periods(ml, cfg.config_file)
        names = model_names(ml, cfg.config_file)
        check_grids(ml, names, cfg.config_file)
        _require_silver(spark, silver)
        counts = _flights_in(
            spark,
            silver.table(FLIGHTS),
            {"train": (bounds.train_start, bounds.train_end), "test": (bounds.test_start, bounds.test_end)},
        )
        out.add(
            READ,
            silver.table(FLIGHTS),
            f"{counts['train']:,} flights to train on "
            f"({bounds.train_start} to {bounds.train_end}), {counts['test']:,} to test on "
            f"({bounds.test_start} to {bounds.test_end})",
        )
        out.add(READ, silver.table(WEATHER), "the weather at each flight's origin up to its cutoff")
        for name in names:
            out.add(
                WRITE,
                f"{models}/{name}/<new version>",
                "the fitted model, metrics.json, feature_weights.json",
            )
        out.add(WRITE, silver.table("model_metrics"), f"one row per model ({', '.join(names)})")
        out.add(REPLACE, f"{models}/{registry.LATEST_FILE}", "points at the model with the best test AUC-ROC")
        return out
    start, end = score_range
    if end < start:
        raise PipelineError(f"--start {start} is after --end {end}; give a range with start <= end.")
    info, path = registry.latest_pointer(models)
    out.add(CHECK, path, f"the latest model: {info.get('model_name')} {info.get('model_version')}")
    _require_silver(spark, silver)
    n = _flights_in(spark, silver.table(FLIGHTS), {"range": (start, end)})["range"]
    if n == 0:
        raise PipelineError(
            f"{silver.table(FLIGHTS)} has no flight scheduled from {start} to {end}; "
            "pick dates that cleaning.py has loaded."
        )
    out.add(READ, silver.table(FLIGHTS), f"{n:,} flights scheduled from {start} to {end}")
    out.add(REPLACE, silver.table(PREDICTIONS_TABLE), f"the days {start} to {end} (earlier scores of them)")
    return out
