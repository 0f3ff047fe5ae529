"""ML table contracts (Hive database ``catalog.silver_database``, beside the silver tables).

Column order is part of the contract: partition columns come last.
"""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    TimestampType,
)

from flightpipe.core.frames import struct

# Table names inside the silver database.
METRICS_TABLE = "model_metrics"
PREDICTIONS_TABLE = "delay_predictions"

# One row per model and training run: hold-out metrics; appended, a version is never written twice.
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

# One row per scored flight; partitioned by flight_date, a re-scored day replaces its partition.
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
