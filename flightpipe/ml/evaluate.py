"""Applying a fitted pipeline and measuring it: probabilities, hold-out metrics, feature weights.

Shared by training (the test period) and scoring (any range).
"""

from __future__ import annotations

from typing import Any

from pyspark.ml import PipelineModel
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from flightpipe.ml import features as ft


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
