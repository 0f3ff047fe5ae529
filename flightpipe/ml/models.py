"""Delay models on silver: time-split training, tuning, hold-out metrics, saved versions and scoring.

Two pipelines share the features of :mod:`flightpipe.features`: a logistic regression baseline
and gradient-boosted trees. Each is tuned with TrainValidationSplit inside the training period,
refit, then measured once on the later test period. The model with the best test AUC-ROC
becomes ``latest`` and ``ML.py --score`` uses it.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import Imputer, OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
)

from flightpipe.core import runlog
from flightpipe.core.catalog import ensure_database
from flightpipe.core.errors import PipelineError
from flightpipe.core.frames import struct
from flightpipe.core.session import temporary_conf
from flightpipe.core.settings import Section, Settings
from flightpipe.ml import features as ft

log = logging.getLogger("flightpipe.models")

# Tables of the silver database (catalog.silver_database) the ML stage reads and writes.
FLIGHTS, WEATHER, METRICS, PREDICTIONS = "flights", "weather_hourly", "model_metrics", "delay_predictions"
MODEL_NAMES = ("logistic_regression", "gbt")
LATEST_FILE = "latest.json"
WEIGHT = "class_weight"
# Flights before the period of interest that its operational features look back on.
CONTEXT_DAYS = 1

MODEL_METRICS = struct(
    ("run_id", StringType()),
    ("trained_at", TimestampType()),
    ("model_name", StringType()),
    ("model_version", StringType()),
    ("is_best", BooleanType()),  # the model promoted to models/latest.json
    ("train_start", DateType()),
    ("train_end", DateType()),
    ("test_start", DateType()),
    ("test_end", DateType()),
    ("auc_roc", DoubleType()),
    ("auc_pr", DoubleType()),
    ("log_loss", DoubleType()),
    ("accuracy", DoubleType()),
    ("precision", DoubleType()),
    ("recall", DoubleType()),
    ("f1", DoubleType()),
    ("threshold", DoubleType()),
    ("rows_train", LongType()),
    ("rows_test", LongType()),
    ("positives_test", LongType()),
    ("excluded_cancelled", LongType()),
    ("excluded_diverted", LongType()),
    ("train_seconds", DoubleType()),
    ("best_params", StringType()),  # JSON
)

DELAY_PREDICTIONS = struct(
    ("carrier", StringType()),
    ("flight_number", IntegerType()),
    ("origin", StringType()),
    ("sched_dep_utc", TimestampType()),
    ("probability", DoubleType()),
    ("predicted_label", LongType()),  # 1 = predicted 15+ minutes late at arrival
    ("model_name", StringType()),
    ("model_version", StringType()),
    ("run_id", StringType()),
    ("scored_at", TimestampType()),
    ("flight_date", DateType()),  # partition column
)


# --- configuration --------------------------------------------------------------------------


def _date(ml: Section, key: str, cfg: Settings) -> date:
    value = getattr(ml, key)
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PipelineError(
            f"config key 'ml.{key}' in {cfg.config_file} must be a date YYYY-MM-DD, not {value!r}."
        ) from None


def _numbers(values: tuple[float, ...], key: str, cfg: Settings, kind=float) -> list:
    # The settings already hold numbers (a typo fails at load time); a grid must not be empty.
    out = [kind(v) for v in values]
    if not out:
        raise PipelineError(f"config key '{key}' in {cfg.config_file} must list at least one value.")
    return out


def periods(cfg: Settings) -> tuple[date, date, date, date]:
    """(train_start, train_end, test_start, test_end), checked: test strictly after train."""
    ml = cfg.ml
    bounds = tuple(_date(ml, k, cfg) for k in ("train_start", "train_end", "test_start", "test_end"))
    train_start, train_end, test_start, test_end = bounds
    if not (train_start <= train_end < test_start <= test_end):
        raise PipelineError(
            f"the ml periods in {cfg.config_file} must satisfy train_start <= train_end < test_start <= "
            f"test_end; fix ml.train_* / ml.test_*."
        )
    return bounds


def model_names(cfg: Settings) -> list[str]:
    """The models to train, as configured (at least one, each known)."""
    names = list(cfg.ml.models)
    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown or not names:
        raise PipelineError(
            f"config key 'ml.models' in {cfg.config_file} must list some of {', '.join(MODEL_NAMES)}, "
            f"not {names!r}."
        )
    return names


# --- loading --------------------------------------------------------------------------------


def load_silver(spark: SparkSession, cfg: Settings) -> tuple[DataFrame, DataFrame]:
    """silver.flights and silver.weather_hourly, failing plainly when either is missing or empty."""
    db = cfg.catalog.silver_database
    for table in (f"{db}.{FLIGHTS}", f"{db}.{WEATHER}"):
        if not spark.catalog.tableExists(table):
            raise PipelineError(
                f"table {table} does not exist in the Hive metastore {cfg.paths.metastore_db}; "
                "run cleaning.py first."
            )
    flights = spark.table(f"{db}.{FLIGHTS}")
    if flights.isEmpty():
        raise PipelineError(f"table {db}.{FLIGHTS} is empty; run ingest.py and cleaning.py to fill it.")
    return flights, spark.table(f"{db}.{WEATHER}")


def flights_between(flights: DataFrame, start: date, end: date) -> DataFrame:
    """Flights scheduled from ``start`` to ``end`` plus the context days before (pruned by partition)."""
    first = start - timedelta(days=CONTEXT_DAYS)
    months = F.col("year") * 100 + F.col("month")
    return flights.where(
        months.between(first.year * 100 + first.month, end.year * 100 + end.month)
        & F.col("flight_date").between(first, end)
    )


# --- pipelines ------------------------------------------------------------------------------


def class_weights(train: DataFrame) -> tuple[float, float, int, int]:
    """Balanced weights (negative, positive) and class counts; one class only is an error."""
    row = train.agg(
        F.sum(F.when(F.col(ft.LABEL) == 1.0, 1).otherwise(0)).alias("pos"), F.count(F.lit(1)).alias("n")
    ).first()
    pos, n = int(row["pos"] or 0), int(row["n"])
    neg = n - pos
    if pos == 0 or neg == 0:
        only = "on time" if pos == 0 else "15+ minutes late"
        raise PipelineError(
            f"every one of the {n} training flights is {only}, so no model can be trained; "
            "widen ml.train_start/ml.train_end."
        )
    return n / (2.0 * neg), n / (2.0 * pos), neg, pos


def with_class_weight(neg_weight: float, pos_weight: float):
    """Weight column that gives both classes the same total weight."""

    def apply(df: DataFrame) -> DataFrame:
        return df.withColumn(WEIGHT, F.when(F.col(ft.LABEL) == 1.0, pos_weight).otherwise(neg_weight))

    return apply


def model_inputs(train: DataFrame) -> tuple[list[str], int]:
    """Numeric features with at least one value in ``train``, and the largest category count.

    A source without weather (or a quiet airport) leaves whole columns empty; a median cannot be
    imputed from nothing, so such a column is left out of this model and logged.
    """
    row = train.agg(
        *[F.count(c).alias(c) for c in ft.NUMERIC],
        *[F.countDistinct(c).alias(f"_k_{c}") for c in ft.CATEGORICAL],
    ).first()
    numeric = [c for c in ft.NUMERIC if row[c] > 0]
    empty = [c for c in ft.NUMERIC if row[c] == 0]
    if empty:
        log.warning("features without any value in the training rows, left out: %s", ", ".join(empty))
    return numeric, max(int(row[f"_k_{c}"]) for c in ft.CATEGORICAL)


def _feature_stages(one_hot: bool, numeric: list[str]) -> tuple[list, list[str]]:
    indexed = [f"{c}_idx" for c in ft.CATEGORICAL]
    imputed = [f"{c}_imp" for c in numeric]
    stages: list = [
        StringIndexer(inputCols=list(ft.CATEGORICAL), outputCols=indexed, handleInvalid="keep"),
        # Weather gaps and quiet hours leave nulls; the training median stands in for them.
        Imputer(inputCols=numeric, outputCols=imputed, strategy="median"),
    ]
    if one_hot:
        encoded = [f"{c}_vec" for c in ft.CATEGORICAL]
        stages.append(OneHotEncoder(inputCols=indexed, outputCols=encoded, handleInvalid="keep"))
        return stages, encoded + imputed
    return stages, indexed + imputed


def build_pipeline(
    name: str, cfg: Settings, numeric: list[str] | None = None, categories: int = 0
) -> tuple[Pipeline, list]:
    """(pipeline, param grid) for one model name, over ``numeric`` features (default: all)."""
    ml = cfg.ml
    numeric = list(ft.NUMERIC) if numeric is None else numeric
    if name == "logistic_regression":
        stages, inputs = _feature_stages(True, numeric)
        stages.append(VectorAssembler(inputCols=inputs, outputCol="raw_features"))
        stages.append(StandardScaler(inputCol="raw_features", outputCol="features", withMean=False))
        clf = LogisticRegression(
            labelCol=ft.LABEL, weightCol=WEIGHT, maxIter=int(ml.logistic.max_iter), featuresCol="features"
        )
        grid = (
            ParamGridBuilder()
            .addGrid(clf.regParam, _numbers(ml.logistic.reg_params, "ml.logistic.reg_params", cfg))
            .addGrid(
                clf.elasticNetParam,
                _numbers(ml.logistic.elastic_net_params, "ml.logistic.elastic_net_params", cfg),
            )
            .build()
        )
    else:
        stages, inputs = _feature_stages(False, numeric)
        stages.append(VectorAssembler(inputCols=inputs, outputCol="features"))
        clf = GBTClassifier(
            labelCol=ft.LABEL,
            weightCol=WEIGHT,
            featuresCol="features",
            maxIter=int(ml.gbt.max_iter),
            # Every category needs its own bin (plus one for unseen values).
            maxBins=max(int(ml.gbt.max_bins), categories + 2),
            subsamplingRate=float(ml.gbt.subsampling_rate),
            seed=int(ml.seed),
        )
        grid = (
            ParamGridBuilder()
            .addGrid(clf.maxDepth, _numbers(ml.gbt.max_depths, "ml.gbt.max_depths", cfg, int))
            .addGrid(clf.stepSize, _numbers(ml.gbt.step_sizes, "ml.gbt.step_sizes", cfg))
            .build()
        )
    stages.append(clf)
    return Pipeline(stages=stages), grid


def tune_and_fit(name: str, train: DataFrame, cfg: Settings) -> tuple[PipelineModel, dict[str, Any]]:
    """Pick parameters with TrainValidationSplit on (a sample of) the training rows, refit on all."""
    ml = cfg.ml
    pipeline, grid = build_pipeline(name, cfg, *model_inputs(train))
    fraction = float(ml.tuning_sample_fraction)
    tuning_rows = train.sample(fraction=fraction, seed=int(ml.seed)) if fraction < 1.0 else train
    tvs = TrainValidationSplit(
        estimator=pipeline,
        estimatorParamMaps=grid,
        evaluator=BinaryClassificationEvaluator(labelCol=ft.LABEL, metricName="areaUnderROC"),
        trainRatio=float(ml.train_ratio),
        parallelism=int(ml.parallelism),
        seed=int(ml.seed),
    )
    tuned = tvs.fit(tuning_rows)
    best_i = max(range(len(grid)), key=lambda i: tuned.validationMetrics[i])
    best = {p.name: v for p, v in grid[best_i].items()}
    log.info(
        "%s: best of %d settings %s (validation AUC-ROC %.4f)",
        name,
        len(grid),
        json.dumps(best, sort_keys=True),
        tuned.validationMetrics[best_i],
    )
    if fraction >= 1.0 and len(grid) > 0:
        return tuned.bestModel, best
    return pipeline.fit(train, grid[best_i]), best


# --- metrics --------------------------------------------------------------------------------


def with_probability(model: PipelineModel, threshold: float):
    """Apply a fitted pipeline: ``p_delayed`` (probability of class 1) and ``predicted_label``."""

    def apply(df: DataFrame) -> DataFrame:
        scored = model.transform(df)
        p = vector_to_array("probability")[1]
        return scored.withColumn("p_delayed", p).withColumn(
            "predicted_label", F.when(F.col("p_delayed") >= threshold, 1).otherwise(0).cast("long")
        )

    return apply


def evaluate(scored: DataFrame, threshold: float) -> dict[str, float]:
    """Hold-out metrics from a frame with ``label``, ``p_delayed``, ``predicted_label`` and ``probability``."""
    eps = 1e-15
    p = F.least(F.greatest(F.col("p_delayed"), F.lit(eps)), F.lit(1 - eps))
    y = F.col(ft.LABEL)
    pred = F.col("predicted_label")
    row = scored.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(y).alias("pos"),
        F.avg(-(y * F.log(p) + (1 - y) * F.log(1 - p))).alias("log_loss"),
        F.sum(F.when((pred == 1) & (y == 1.0), 1).otherwise(0)).alias("tp"),
        F.sum(F.when((pred == 1) & (y == 0.0), 1).otherwise(0)).alias("fp"),
        F.sum(F.when((pred == 0) & (y == 1.0), 1).otherwise(0)).alias("fn"),
        F.sum(F.when((pred == 0) & (y == 0.0), 1).otherwise(0)).alias("tn"),
    ).first()
    n, tp, fp, fn, tn = int(row["n"]), row["tp"], row["fp"], row["fn"], row["tn"]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    auc = {}
    for metric in ("areaUnderROC", "areaUnderPR"):
        evaluator = BinaryClassificationEvaluator(
            labelCol=ft.LABEL, rawPredictionCol="probability", metricName=metric
        )
        auc[metric] = evaluator.evaluate(scored)
    return {
        "auc_roc": auc["areaUnderROC"],
        "auc_pr": auc["areaUnderPR"],
        "log_loss": float(row["log_loss"]),
        "accuracy": (tp + tn) / n if n else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "threshold": threshold,
        "rows_test": n,
        "positives_test": int(row["pos"] or 0),
    }


def feature_weights(model: PipelineModel, sample: DataFrame, top: int = 20) -> list[dict[str, Any]]:
    """Top features by GBT importance or by |coefficient| of the logistic regression (on scaled inputs).

    Slot names come from the assembled vector's metadata (one slot per one-hot level), read by
    transforming one row of ``sample``.
    """
    clf = model.stages[-1]
    assembler = next(s for s in model.stages if isinstance(s, VectorAssembler))
    attrs = model.transform(sample.limit(1)).schema[assembler.getOutputCol()].metadata["ml_attr"]["attrs"]
    names = {a["idx"]: a["name"] for group in attrs.values() for a in group}
    if hasattr(clf, "featureImportances"):
        values, kind = clf.featureImportances.toArray().tolist(), "importance"
    else:
        values, kind = clf.coefficients.toArray().tolist(), "coefficient"
    ranked = sorted(range(len(values)), key=lambda i: abs(values[i]), reverse=True)[:top]
    return [{"feature": names.get(i, f"slot_{i}"), kind: round(values[i], 6)} for i in ranked]


# --- saving ---------------------------------------------------------------------------------


def new_version() -> str:
    """A sortable version name: the UTC time of training."""
    return datetime.now(timezone.utc).strftime("v%Y%m%dT%H%M%S%fZ")


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str), encoding="utf-8")
    tmp.replace(path)


def save_version(model: PipelineModel, folder: Path, metrics: dict, weights: list) -> None:
    """models/<name>/<version>/: the MLlib model, metrics.json and feature_weights.json."""
    folder.mkdir(parents=True, exist_ok=True)
    model.write().overwrite().save(str(folder / "model"))
    _write_json(folder / "metrics.json", metrics)
    _write_json(folder / "feature_weights.json", weights)


def promote(models_root: Path, name: str, version: str, metrics: dict) -> None:
    """Point models/latest.json at this version (written last, atomically)."""
    _write_json(
        models_root / LATEST_FILE,
        {"model_name": name, "model_version": version, "path": f"{name}/{version}/model", "metrics": metrics},
    )


def load_latest(cfg: Settings) -> tuple[PipelineModel, dict[str, Any]]:
    """The promoted model and its pointer record; a plain error when none was trained yet."""
    root = Path(cfg.paths.models)
    pointer = root / LATEST_FILE
    if not pointer.is_file():
        raise PipelineError(
            f"no trained model in {root} (no {LATEST_FILE}); run ML.py without --score first."
        )
    info = json.loads(pointer.read_text(encoding="utf-8"))
    path = root / info["path"]
    if not path.is_dir():
        raise PipelineError(f"{pointer} points at {path}, which does not exist; run ML.py to train again.")
    return PipelineModel.load(str(path)), info


def write_metrics(spark: SparkSession, cfg: Settings, rows: list[dict[str, Any]]) -> None:
    """Append this run's rows to silver.model_metrics (a version is never written twice)."""
    db = cfg.catalog.silver_database
    ensure_database(spark, db, cfg.paths.warehouse)
    names = MODEL_METRICS.fieldNames()
    df = spark.createDataFrame([tuple(r.get(n) for n in names) for r in rows], MODEL_METRICS)
    if spark.catalog.tableExists(f"{db}.{METRICS}"):
        done = spark.table(f"{db}.{METRICS}").select("model_name", "model_version")
        df.join(done, ["model_name", "model_version"], "left_anti").select(*names).write.insertInto(
            f"{db}.{METRICS}"
        )
    else:
        df.write.format("parquet").saveAsTable(f"{db}.{METRICS}")


# --- stages ---------------------------------------------------------------------------------


def split_counts(feats: DataFrame) -> dict[str, int]:
    """Flights, cancelled, diverted, labelled and late (label 1) rows of a feature frame."""
    row = feats.agg(
        F.count(F.lit(1)).alias("flights"),
        F.sum(F.col("is_cancelled").cast("int")).alias("cancelled"),
        F.sum((F.col("is_diverted") & ~F.col("is_cancelled")).cast("int")).alias("diverted"),
        F.count(ft.LABEL).alias("labelled"),
        F.count_if(F.col(ft.LABEL) == 1.0).alias("late"),
    ).first()
    return {k: int(row[k] or 0) for k in ("flights", "cancelled", "diverted", "labelled", "late")}


def train(spark: SparkSession, cfg: Settings, run: runlog.StageRun) -> dict[str, Any]:
    """Train every configured model on the train period, measure it on the test period, save, promote."""
    db = cfg.catalog.silver_database
    train_start, train_end, test_start, test_end = periods(cfg)
    names = model_names(cfg)
    threshold = float(cfg.ml.threshold)
    flights, weather = load_silver(spark, cfg)
    started = time.monotonic()

    flights = flights_between(flights, train_start, test_end).cache()
    feats = ft.build_features(flights, weather, int(cfg.ml.cutoff_minutes))
    # A few partitions per core: the joins behind the features can leave one big partition
    # (adaptive coalescing), and every boosting round would then run on a single core.
    partitions = 2 * spark.sparkContext.defaultParallelism
    feats = feats.where(F.col("flight_date").between(train_start, test_end)).repartition(partitions).cache()
    in_train = F.col("flight_date").between(train_start, train_end)
    in_test = F.col("flight_date").between(test_start, test_end)
    counts_train = split_counts(feats.where(in_train))
    counts_test = split_counts(feats.where(in_test))
    run.rows_in = counts_train["flights"] + counts_test["flights"]
    log.info(
        "features: %d flights in train (%d cancelled, %d diverted left out), %d in test (%d cancelled, "
        "%d diverted left out), %.0fs",
        counts_train["flights"],
        counts_train["cancelled"],
        counts_train["diverted"],
        counts_test["flights"],
        counts_test["cancelled"],
        counts_test["diverted"],
        time.monotonic() - started,
    )
    if counts_train["labelled"] == 0:
        raise PipelineError(
            f"no flight with a known arrival in the training period {train_start}..{train_end} of "
            f"{db}.{FLIGHTS}; fix ml.train_start/ml.train_end or load flights for those dates."
        )
    if counts_test["labelled"] == 0:
        raise PipelineError(
            f"no flight with a known arrival in the test period {test_start}..{test_end} of "
            f"{db}.{FLIGHTS}; fix ml.test_start/ml.test_end or load flights for those dates."
        )
    labelled = feats.where(F.col(ft.LABEL).isNotNull())
    neg_w, pos_w, neg, pos = class_weights(labelled.where(in_train))
    test_pos = counts_test["late"]
    if test_pos in (0, counts_test["labelled"]):
        raise PipelineError(
            f"the test period {test_start}..{test_end} holds only {'on-time' if test_pos == 0 else 'late'} "
            "flights, so AUC cannot be measured; widen ml.test_start/ml.test_end."
        )
    train_rows = labelled.where(in_train).transform(with_class_weight(neg_w, pos_w)).cache()
    test_rows = labelled.where(in_test).cache()

    run_id = runlog.current_run_id()
    trained_at = runlog.utcnow()
    results = []
    for name in names:
        t0 = time.monotonic()
        model, best = tune_and_fit(name, train_rows, cfg)
        seconds = time.monotonic() - t0
        scored = test_rows.transform(with_probability(model, threshold))
        metrics = evaluate(scored, threshold)
        version = new_version()
        metrics.update(
            {
                "model_name": name,
                "model_version": version,
                "run_id": run_id,
                "trained_at": trained_at,
                "train_start": train_start,
                "train_end": train_end,
                "test_start": test_start,
                "test_end": test_end,
                "rows_train": neg + pos,
                "excluded_cancelled": counts_train["cancelled"] + counts_test["cancelled"],
                "excluded_diverted": counts_train["diverted"] + counts_test["diverted"],
                "train_seconds": round(seconds, 1),
                "best_params": json.dumps(best, sort_keys=True),
                "features": list(ft.NUMERIC) + list(ft.CATEGORICAL),
            }
        )
        folder = Path(cfg.paths.models) / name / version
        save_version(model, folder, metrics, feature_weights(model, test_rows))
        log.info(
            "%s %s: test AUC-ROC %.4f, AUC-PR %.4f, log loss %.4f, F1 %.4f at %.2f (%d test rows, %.0fs)",
            name,
            version,
            metrics["auc_roc"],
            metrics["auc_pr"],
            metrics["log_loss"],
            metrics["f1"],
            threshold,
            metrics["rows_test"],
            seconds,
        )
        results.append(metrics)

    best = max(results, key=lambda m: m["auc_roc"])
    for m in results:
        m["is_best"] = m is best
    write_metrics(spark, cfg, results)
    promote(
        Path(cfg.paths.models),
        best["model_name"],
        best["model_version"],
        {k: best[k] for k in ("auc_roc", "auc_pr", "f1")},
    )
    for cached in (flights, feats, train_rows, test_rows):
        cached.unpersist()

    run.rows_out = len(results)
    run.rows_rejected = (
        counts_train["cancelled"]
        + counts_train["diverted"]
        + counts_test["cancelled"]
        + counts_test["diverted"]
    )
    summary = {
        "best_model": best["model_name"],
        "best_version": best["model_version"],
        "auc_roc": {m["model_name"]: round(m["auc_roc"], 4) for m in results},
        "rows_train": neg + pos,
        "rows_test": best["rows_test"],
        "excluded_cancelled": best["excluded_cancelled"],
        "excluded_diverted": best["excluded_diverted"],
        "seconds": round(time.monotonic() - started, 1),
    }
    run.details = summary
    log.info(
        "best model: %s %s (test AUC-ROC %.4f); %.0fs in all",
        best["model_name"],
        best["model_version"],
        best["auc_roc"],
        summary["seconds"],
    )
    return summary


def _drop_stale_partitions(spark: SparkSession, table: str, start: date, end: date, kept: set[date]) -> None:
    for row in spark.sql(f"SHOW PARTITIONS {table}").collect():
        value = row[0].split("=", 1)[1]
        day = date.fromisoformat(value)
        if start <= day <= end and day not in kept:
            spark.sql(f"ALTER TABLE {table} DROP IF EXISTS PARTITION (flight_date = '{value}')")


def score(spark: SparkSession, cfg: Settings, start: date, end: date, run: runlog.StageRun) -> dict[str, Any]:
    """Score every flight scheduled from ``start`` to ``end`` into silver.delay_predictions (replacing that range)."""
    db = cfg.catalog.silver_database
    if end < start:
        raise PipelineError(f"--start {start} is after --end {end}; give a range with start <= end.")
    model, info = load_latest(cfg)
    flights, weather = load_silver(spark, cfg)
    flights = flights_between(flights, start, end)
    feats = ft.build_features(flights, weather, int(cfg.ml.cutoff_minutes))
    feats = feats.where(F.col("flight_date").between(start, end))
    scored = feats.transform(with_probability(model, float(cfg.ml.threshold)))
    out = scored.select(
        "carrier",
        "flight_number",
        "origin",
        "sched_dep_utc",
        F.col("p_delayed").alias("probability"),
        "predicted_label",
        F.lit(info["model_name"]).alias("model_name"),
        F.lit(info["model_version"]).alias("model_version"),
        F.lit(runlog.current_run_id()).alias("run_id"),
        F.lit(runlog.utcnow()).cast("timestamp").alias("scored_at"),
        "flight_date",
    )
    staged = out.localCheckpoint()
    n = staged.count()
    if n == 0:
        raise PipelineError(
            f"{db}.{FLIGHTS} has no flight scheduled from {start} to {end}; pick dates that cleaning.py has loaded."
        )
    ensure_database(spark, db, cfg.paths.warehouse)
    if not spark.catalog.tableExists(f"{db}.{PREDICTIONS}"):
        staged.limit(0).write.format("parquet").partitionBy("flight_date").saveAsTable(f"{db}.{PREDICTIONS}")
    # Only the days being scored are replaced; the rest of the table stays as it is.
    with temporary_conf(spark, "spark.sql.sources.partitionOverwriteMode", "dynamic"):
        staged.select(*DELAY_PREDICTIONS.fieldNames()).write.mode("overwrite").insertInto(
            f"{db}.{PREDICTIONS}"
        )
    days = {r[0] for r in staged.select("flight_date").distinct().collect()}
    _drop_stale_partitions(spark, f"{db}.{PREDICTIONS}", start, end, days)
    run.rows_in = n
    run.rows_out = n
    run.details = {
        "start": start,
        "end": end,
        "model_name": info["model_name"],
        "model_version": info["model_version"],
    }
    log.info(
        "scored %d flights from %s to %s with %s %s into %s",
        n,
        start,
        end,
        info["model_name"],
        info["model_version"],
        f"{db}.{PREDICTIONS}",
    )
    return {"rows": n, **run.details}


def stage_name(score_range: tuple[date, date] | None) -> str:
    """The run-log name of the stage: ``ml`` for training, ``ml-score`` for scoring."""
    return "ml" if score_range is None else "ml-score"


def run_ml(
    spark: SparkSession, cfg: Settings, record: runlog.StageRun, score_range: tuple[date, date] | None = None
) -> dict[str, Any]:
    """ML.py's one call: train (default) or score a date range, filling the run record."""
    if score_range is None:
        return train(spark, cfg, record)
    return score(spark, cfg, score_range[0], score_range[1], record)
