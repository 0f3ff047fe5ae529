"""The rows a model learns from and is measured on: both periods' features, split and checked.

The training rows are the labelled flights scheduled in the training period, with balanced
class weights; the test rows are the labelled flights of the later test period. Nothing of
the test period reaches the training rows: features only look back from each flight's
cutoff, and every fitted stage (indexers, imputer medians, the model) sees the training rows
only.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import NamedTuple

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flightpipe.core import runlog
from flightpipe.core.errors import PipelineError
from flightpipe.core.sections import Ml
from flightpipe.ml import features as ft
from flightpipe.ml.inputs import FLIGHTS, SilverStore, flights_between, load_silver

log = logging.getLogger("flightpipe.models")

WEIGHT = "class_weight"


class Periods(NamedTuple):
    """The training and test periods (scheduled flight dates, inclusive), test after train."""

    train_start: date
    train_end: date
    test_start: date
    test_end: date


def class_weights(train: DataFrame) -> tuple[float, float, int, int]:
    """Balanced weights (negative, positive) and class counts; one class only is an error."""
    row = train.agg(
        F.sum(F.when(F.col(ft.LABEL) == 1.0, 1).otherwise(0)).alias("pos"), F.count(F.lit(1)).alias("n")
    ).first()
    return balanced_weights(int(row["n"]), int(row["pos"] or 0))


def balanced_weights(n: int, pos: int) -> tuple[float, float, int, int]:
    """Weights (negative, positive) giving both classes of ``n`` rows, ``pos`` of them late, the
    same total, and the class counts; one class only is an error."""
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


def period_rows(feats: DataFrame, periods: Periods) -> tuple[DataFrame, DataFrame]:
    """(training rows, test rows): the labelled flights scheduled in each period, nothing else."""
    labelled = feats.where(F.col(ft.LABEL).isNotNull())
    train = labelled.where(F.col("flight_date").between(periods.train_start, periods.train_end))
    test = labelled.where(F.col("flight_date").between(periods.test_start, periods.test_end))
    return train, test


class Split(NamedTuple):
    """The feature rows of both periods, cached: every flight, labelled training rows
    (class-weighted) and labelled test rows, with the counts of each period."""

    flights: DataFrame
    feats: DataFrame
    train: DataFrame
    test: DataFrame
    counts_train: dict[str, int]
    counts_test: dict[str, int]

    def release(self) -> None:
        """Drop the cached frames."""
        for cached in (self.flights, self.feats, self.train, self.test):
            cached.unpersist()


def split_features(
    spark: SparkSession, silver: SilverStore, periods: Periods, ml: Ml, run: runlog.StageRun | None = None
) -> Split:
    """Features of the training and test periods, checked (labelled rows in both, two classes)."""
    train_start, train_end, test_start, test_end = periods
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
    if run is not None:
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
    train, test = period_rows(feats, periods)
    # The training counts are the labelled rows and the late ones: no pass of their own.
    neg_w, pos_w, _, _ = balanced_weights(counts_train["labelled"], counts_train["late"])
    _check_test_classes(periods, counts_test)
    train_rows = train.transform(with_class_weight(neg_w, pos_w)).cache()
    return Split(flights, feats, train_rows, test.cache(), counts_train, counts_test)
