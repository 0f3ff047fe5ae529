"""Model training on silver: pipelines and grids, tuning, hold-out evaluation, the metrics table.

Two pipelines share the features of :mod:`flightpipe.ml.features`: a logistic regression baseline
and gradient-boosted trees. Each is fitted on the training rows of :mod:`flightpipe.ml.split`
(tuned first with TrainValidationSplit inside the training period when its grid lists more
than one setting), then measured once on the later test period. The model with the best test
AUC-ROC becomes ``latest`` and ``ML.py --score`` uses it.
"""

from __future__ import annotations

import json
import logging
import time
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
from flightpipe.core.frames import records_frame
from flightpipe.core.sections import Ml
from flightpipe.ml import features as ft
from flightpipe.ml import registry
from flightpipe.ml.evaluate import evaluate, feature_weights, with_probability
from flightpipe.ml.inputs import SilverStore
from flightpipe.ml.split import WEIGHT, Periods, split_features

log = logging.getLogger("flightpipe.models")

MODEL_NAMES = ("logistic_regression", "gbt")


# --- pipelines ------------------------------------------------------------------------------


class Inputs(NamedTuple):
    """What one model reads: numeric and categorical feature columns, the largest category count."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    categories: int


def model_inputs(train: DataFrame, features: tuple[ft.Feature, ...] = ft.FEATURES) -> Inputs:
    """``features`` that have at least one value in ``train``, and the largest category count.

    A source without weather (or a quiet airport) leaves whole columns empty; a median cannot be
    imputed from nothing, so such a column is left out of this model and logged.
    """
    numeric = [f.name for f in features if f.kind == "numeric"]
    categorical = [f.name for f in features if f.kind == "categorical"]
    row = train.agg(
        F.lit(0).alias("_none"),
        *[F.count(c).alias(c) for c in numeric],
        *[F.countDistinct(c).alias(f"_k_{c}") for c in categorical],
    ).first()
    empty = [c for c in numeric if row[c] == 0]
    if empty:
        log.warning("features without any value in the training rows, left out: %s", ", ".join(empty))
    categories = max([int(row[f"_k_{c}"]) for c in categorical], default=0)
    return Inputs(tuple(c for c in numeric if row[c] > 0), tuple(categorical), categories)


def _feature_stages(one_hot: bool, inputs: Inputs) -> tuple[list, list[str]]:
    categorical, numeric = list(inputs.categorical), list(inputs.numeric)
    indexed = [f"{c}_idx" for c in categorical]
    imputed = [f"{c}_imp" for c in numeric]
    stages: list = []
    if categorical:
        stages.append(StringIndexer(inputCols=categorical, outputCols=indexed, handleInvalid="keep"))
    if numeric:
        # Weather gaps and quiet hours leave nulls; the training median stands in for them.
        stages.append(Imputer(inputCols=numeric, outputCols=imputed, strategy="median"))
    if one_hot and categorical:
        encoded = [f"{c}_vec" for c in categorical]
        stages.append(OneHotEncoder(inputCols=indexed, outputCols=encoded, handleInvalid="keep"))
        return stages, encoded + imputed
    return stages, indexed + imputed


def build_pipeline(name: str, ml: Ml, inputs: Inputs | None = None) -> tuple[Pipeline, list]:
    """(pipeline, param grid) for one model name over ``inputs`` (default: every feature).

    The grids of ``ml`` are checked non-empty by the stage before any training.
    """
    if inputs is None:
        inputs = Inputs(ft.NUMERIC, ft.CATEGORICAL, 0)
    if name == "logistic_regression":
        stages, columns = _feature_stages(True, inputs)
        stages.append(VectorAssembler(inputCols=columns, outputCol="raw_features"))
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
        stages, columns = _feature_stages(False, inputs)
        stages.append(VectorAssembler(inputCols=columns, outputCol="features"))
        clf = GBTClassifier(
            labelCol=ft.LABEL,
            weightCol=WEIGHT,
            featuresCol="features",
            maxIter=int(ml.gbt.max_iter),
            # Every category needs its own bin (plus one for unseen values).
            maxBins=max(int(ml.gbt.max_bins), inputs.categories + 2),
            subsamplingRate=float(ml.gbt.subsampling_rate),
            minInstancesPerNode=int(ml.gbt.min_instances_per_node),
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


def tune_and_fit(
    name: str, train: DataFrame, ml: Ml, features: tuple[ft.Feature, ...] = ft.FEATURES
) -> tuple[PipelineModel, dict[str, Any]]:
    """Pick parameters with TrainValidationSplit on (a sample of) the training rows, refit on all.

    A grid of one setting has nothing to choose: it is fitted on all training rows at once,
    which saves the validation fit (a third of the GBT's time).
    """
    pipeline, grid = build_pipeline(name, ml, model_inputs(train, features))
    if len(grid) == 1:
        return pipeline.fit(train, grid[0]), {p.name: v for p, v in grid[0].items()}
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
    if fraction >= 1.0:
        return tuned.bestModel, best
    return pipeline.fit(train, grid[best_i]), best


# --- training run ---------------------------------------------------------------------------


def write_metrics(spark: SparkSession, silver: SilverStore, rows: list[dict[str, Any]]) -> None:
    """Append this run's rows to the metrics table (a version is never written twice)."""
    ensure_database(spark, silver.database, silver.warehouse)
    table = silver.table(METRICS_TABLE)
    names = MODEL_METRICS.fieldNames()
    df = records_frame(spark, rows, MODEL_METRICS)
    if spark.catalog.tableExists(table):
        done = spark.table(table).select("model_name", "model_version")
        df.join(done, ["model_name", "model_version"], "left_anti").select(*names).write.insertInto(table)
    else:
        df.write.format("parquet").saveAsTable(table)


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
    threshold = float(ml.threshold)
    started = time.monotonic()
    split = split_features(spark, silver, periods, ml, run)
    train_rows, test_rows = split.train, split.test
    excluded = {k: split.counts_train[k] + split.counts_test[k] for k in ("cancelled", "diverted")}
    rows_train = split.counts_train["labelled"]

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
                "rows_train": rows_train,
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
    split.release()

    run.rows_out = len(results)
    run.rows_rejected = excluded["cancelled"] + excluded["diverted"]
    summary = {
        "best_model": best["model_name"],
        "best_version": best["model_version"],
        "auc_roc": {m["model_name"]: round(m["auc_roc"], 4) for m in results},
        "rows_train": rows_train,
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
