"""Pure mart builders: definitions, tolerant reading of model metrics, DDL from the specs."""

from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import Observation
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType, LongType, StructType

from flightpipe.contracts import gold as contracts
from flightpipe.contracts.silver import PIPELINE_RUNS, SILVER_WEATHER_HOURLY
from flightpipe.gold import jdbc, marts
from tests.support import gold_data


def facts(spark):
    return spark.createDataFrame(gold_data.FLIGHT_ROWS, gold_data.SCHEMAS["flights"]).transform(
        marts.flight_facts
    )


def expected(spark, name, actual):
    return spark.createDataFrame(gold_data.EXPECTED[name], actual.schema)


def test_delay_by_carrier_matches_hand_computed_values(spark):
    airlines = spark.createDataFrame(gold_data.AIRLINE_ROWS, gold_data.SCHEMAS["airlines"])
    actual = marts.delay_by_carrier(facts(spark), airlines)
    assert actual.columns == contracts.DELAY_BY_CARRIER.column_names
    types = {f.name: f.dataType for f in actual.schema.fields}
    assert types["flights"] == LongType() and types["delay_rate"] == DecimalType(5, 4)
    assert types["p90_arr_delay_min"] == DecimalType(8, 2)
    assert_df_equality(
        actual, expected(spark, "delay_by_carrier", actual), ignore_row_order=True, ignore_nullable=True
    )


def test_weather_impact_matches_hand_computed_values(spark):
    weather = spark.createDataFrame(gold_data.WEATHER_ROWS, SILVER_WEATHER_HOURLY)
    actual = marts.weather_impact(facts(spark), weather)
    assert_df_equality(
        actual, expected(spark, "weather_impact", actual), ignore_row_order=True, ignore_nullable=True
    )


def test_weather_impact_observes_the_flights_with_a_weather_row(spark):
    # Flight 8 has no weather row; flight 6 has one without visibility, which counts.
    weather = spark.createDataFrame(gold_data.WEATHER_ROWS, SILVER_WEATHER_HOURLY)
    coverage = Observation("coverage")
    actual = marts.weather_impact(facts(spark), weather, coverage)
    assert actual.columns == contracts.WEATHER_IMPACT.column_names
    actual.collect()
    assert coverage.get == {"flights": 10, "with_weather": 9}


def test_weather_impact_with_deduped_hours_counts_an_hour_given_twice_once(spark):
    # The join of a gold_totals that only warns: JFK 2013-01-01 13:00 UTC (flights 1, 2) twice.
    rows = gold_data.WEATHER_ROWS + gold_data.WEATHER_ROWS[:1]
    weather = spark.createDataFrame(rows, SILVER_WEATHER_HOURLY)
    coverage = Observation("coverage")
    actual = marts.weather_impact(facts(spark), weather, coverage, dedupe_hours=True)
    assert_df_equality(
        actual, expected(spark, "weather_impact", actual), ignore_row_order=True, ignore_nullable=True
    )
    assert coverage.get == {"flights": 10, "with_weather": 9}


def test_delay_by_hour_leaves_rates_null_without_arrivals(spark):
    actual = marts.delay_by_hour(facts(spark))
    assert_df_equality(
        actual, expected(spark, "delay_by_hour", actual), ignore_row_order=True, ignore_nullable=True
    )


def test_model_performance_reads_columns_by_name_in_any_spelling(spark):
    rows = [
        ("r1", "gbt", datetime(2026, 1, 1), 0.7, 0.4, 120, 30, "x"),
        ("r1", "gbt", datetime(2026, 1, 3), 0.8, 0.5, 120, 30, "x"),  # same run twice: newest kept
        ("r2", "gbt", datetime(2026, 1, 2), 0.75, 0.45, 100, 20, "y"),
        (None, "gbt", datetime(2026, 1, 9), 0.9, 0.9, 1, 1, "z"),  # no run id: left out
    ]
    metrics = spark.createDataFrame(rows, ["RUN_ID", "model_name", "trained_at", "AUC", "areaUnderPR",
                                           "rows_train", "n_test", "notes"])  # fmt: skip
    actual = marts.model_performance(metrics).orderBy("run_id").collect()
    assert [r.asDict() for r in actual] == [
        {"run_id": "r1", "model": "gbt", "model_version": None, "trained_at": "2026-01-03 00:00:00",
         "auc_roc": 0.8, "auc_pr": 0.5, "log_loss": None, "accuracy": None, "precision": None, "recall": None,
         "f1": None, "threshold": None, "train_rows": 120, "test_rows": 30, "is_latest": True},
        {"run_id": "r2", "model": "gbt", "model_version": None, "trained_at": "2026-01-02 00:00:00",
         "auc_roc": 0.75, "auc_pr": 0.45, "log_loss": None, "accuracy": None, "precision": None, "recall": None,
         "f1": None, "threshold": None, "train_rows": 100, "test_rows": 20, "is_latest": False},
    ]  # fmt: skip


def test_model_performance_of_a_missing_table_is_empty(spark):
    actual = marts.model_performance(spark.createDataFrame([], StructType([])))
    assert actual.count() == 0
    assert actual.columns == contracts.MODEL_PERFORMANCE.column_names


def test_pipeline_runs_keeps_one_row_per_stage_run(spark):
    runs = spark.createDataFrame(gold_data.RUN_ROWS + gold_data.RUN_ROWS[:1], PIPELINE_RUNS)
    actual = marts.pipeline_runs(runs)
    assert actual.count() == 2
    assert actual.where(F.col("stage") == "cleaning").first()["seconds"] == gold_data.D("90.5")


def test_every_spec_gives_valid_ddl_with_keys_and_comments():
    for spec in contracts.ALL_TABLES:
        ddl = jdbc.create_table_sql(spec, spec.name + "__stage")
        assert ddl.startswith(f"CREATE TABLE `{spec.name}__stage` (")
        assert "PRIMARY KEY (" in ddl and ddl.count("COMMENT '") == len(spec.columns)
        assert set(spec.primary_key) <= set(spec.column_names)
        key_types = {c.name: c.sql_type for c in spec.columns if c.name in spec.primary_key}
        assert all("TEXT" not in t and "NOT NULL" in t for t in key_types.values())
    ddl = jdbc.create_table_sql(contracts.WEATHER_IMPACT)
    assert "COMMENT='Delays by weather" in ddl and "(''unknown'' = no weather record)" in ddl
