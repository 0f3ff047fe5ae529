"""Model training on silver: pipelines and grids, tuning, hold-out evaluation, the metrics table.

Two pipelines share the features of :mod:`flightpipe.ml.features`: a logistic regression baseline
and gradient-boosted trees. Each is tuned with TrainValidationSplit inside the training period,
refit, then measured once on the later test period. The model with the best test AUC-ROC
becomes ``latest`` and ``ML.py --score`` uses it.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date
from typing import Any, NamedTuple

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import Imputer, OneHotEncoder, StandardScaler, StringIndexer, VectorAssembler
from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flightpipe.contracts.ml import METRICS_TABLE, MODEL_METRICS
from flightpipe.core import runlog
from flightpipe.core.catalog import ensure_database
from flightpipe.core.errors import PipelineError
from flightpipe.core.sections import Ml
from flightpipe.ml import features as ft
from flightpipe.ml import registry
from flightpipe.ml.evaluate import evaluate, feature_weights, with_probability
from flightpipe.ml.inputs import FLIGHTS, SilverStore, flights_between, load_silver

log = logging.getLogger("flightpipe.models")

MODEL_NAMES = ("logistic_regression", "gbt")
WEIGHT = "class_weight"


class Periods(NamedTuple):
    """The training and test periods (scheduled flight dates, inclusive), test after train."""

    train_start: date
    train_end: date
    test_start: date
    test_end: date


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
    name: str, ml: Ml, numeric: list[str] | None = None, categories: int = 0
) -> tuple[Pipeline, list]:
    """(pipeline, param grid) for one model name, over ``numeric`` features (default: all).

    The grids of ``ml`` are checked non-empty by the stage before any training.
    """
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
            .addGrid(clf.regParam, [float(v) for v in ml.logistic.reg_params])
            .addGrid(clf.elasticNetParam, [float(v) for v in ml.logistic.elastic_net_params])
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
            .addGrid(clf.maxDepth, [int(v) for v in ml.gbt.max_depths])
            .addGrid(clf.stepSize, [float(v) for v in ml.gbt.step_sizes])
            .build()
        )
    stages.append(clf)
    return Pipeline(stages=stages), grid


def tune_and_fit(name: str, train: DataFrame, ml: Ml) -> tuple[PipelineModel, dict[str, Any]]:
    """Pick parameters with TrainValidationSplit on (a sample of) the training rows, refit on all."""
    pipeline, grid = build_pipeline(name, ml, *model_inputs(train))
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


# --- training run ---------------------------------------------------------------------------


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


def write_metrics(spark: SparkSession, silver: SilverStore, rows: list[dict[str, Any]]) -> None:
    """Append this run's rows to the metrics table (a version is never written twice)."""
    ensure_database(spark, silver.database, silver.warehouse)
    table = silver.table(METRICS_TABLE)
    names = MODEL_METRICS.fieldNames()
    df = spark.createDataFrame([tuple(r.get(n) for n in names) for r in rows], MODEL_METRICS)
    if spark.catalog.tableExists(table):
        done = spark.table(table).select("model_name", "model_version")
        df.join(done, ["model_name", "model_version"], "left_anti").select(*names).write.insertInto(table)
    else:
        df.write.format("parquet").saveAsTable(table)


def _check_periods(flights_table: str, periods: Periods, train: dict[str, int], test: dict[str, int]) -> None:
    """Both periods need labelled flights; the test period needs both classes (AUC)."""
    if train["labelled"] == 0:
        raise PipelineError(
            f"no flight with a known arrival in the training period {periods.train_start}..{periods.train_end} "
            f"of {flights_table}; fix ml.train_start/ml.train_end or load flights for those dates."
        )
    if test["labelled"] == 0:
        raise PipelineError(
            f"no flight with a known arrival in the test period {periods.test_start}..{periods.test_end} of "
            f"{flights_table}; fix ml.test_start/ml.test_end or load flights for those dates."
        )


def _check_test_classes(periods: Periods, test: dict[str, int]) -> None:
    if test["late"] in (0, test["labelled"]):
        raise PipelineError(
            f"the test period {periods.test_start}..{periods.test_end} holds only "
            f"{'on-time' if test['late'] == 0 else 'late'} flights, so AUC cannot be measured; "
            "widen ml.test_start/ml.test_end."
        )


def train_models(
    spark: SparkSession,
    silver: SilverStore,
    models_path: str,
    periods: Periods,
    names: list[str],
    ml: Ml,
    run: runlog.StageRun,
) -> dict[str, Any]:
    """Train every model of ``names`` on the train period, measure it on the test period, save, promote."""
    train_start, train_end, test_start, test_end = periods
    threshold = float(ml.threshold)
    flights, weather = load_silver(spark, silver)
    started = time.monotonic()

    flights = flights_between(flights, train_start, test_end).cache()
    feats = ft.build_features(flights, weather, int(ml.cutoff_minutes))
    # A few partitions per core: the joins behind the features can leave one big partition
    # (adaptive coalescing), and every boosting round would then run on a single core.
    partitions = 2 * spark.sparkContext.defaultParallelism
    feats = feats.where(F.col("flight_date").between(train_start, test_end)).repartition(partitions).cache()
    in_train = F.col("flight_date").between(train_start, train_end)
    in_test = F.col("flight_date").between(test_start, test_end)
    counts_train = split_counts(feats.where(in_train))
    counts_test = split_counts(feats.where(in_test))
    excluded = {k: counts_train[k] + counts_test[k] for k in ("cancelled", "diverted")}
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
    _check_periods(silver.table(FLIGHTS), periods, counts_train, counts_test)
    labelled = feats.where(F.col(ft.LABEL).isNotNull())
    neg_w, pos_w, neg, pos = class_weights(labelled.where(in_train))
    _check_test_classes(periods, counts_test)
    train_rows = labelled.where(in_train).transform(with_class_weight(neg_w, pos_w)).cache()
    test_rows = labelled.where(in_test).cache()

    run_id = runlog.current_run_id()
    trained_at = runlog.utcnow()
    results = []
    for name in names:
        t0 = time.monotonic()
        model, best = tune_and_fit(name, train_rows, ml)
        seconds = time.monotonic() - t0
        scored = test_rows.transform(with_probability(model, threshold))
        metrics = evaluate(scored, threshold)
        version = registry.new_version()
        metrics.update(
            {
                "model_name": name,
                "model_version": version,
                "run_id": run_id,
                "trained_at": trained_at,
                **periods._asdict(),
                "rows_train": neg + pos,
                "excluded_cancelled": excluded["cancelled"],
                "excluded_diverted": excluded["diverted"],
                "train_seconds": round(seconds, 1),
                "best_params": json.dumps(best, sort_keys=True),
                "features": list(ft.NUMERIC) + list(ft.CATEGORICAL),
            }
        )
        folder = registry.version_folder(models_path, name, version)
        registry.save_version(model, folder, metrics, feature_weights(model, test_rows))
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
    write_metrics(spark, silver, results)
    registry.promote(
        models_path,
        best["model_name"],
        best["model_version"],
        {k: best[k] for k in ("auc_roc", "auc_pr", "f1")},
    )
    for cached in (flights, feats, train_rows, test_rows):
        cached.unpersist()

    run.rows_out = len(results)
    run.rows_rejected = excluded["cancelled"] + excluded["diverted"]
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
