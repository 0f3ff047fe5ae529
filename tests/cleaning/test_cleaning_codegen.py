"""The widest cleaning stage runs as generated code over parquet column batches."""

from __future__ import annotations

from pyspark.sql import functions as F

from flightpipe.contracts.layouts import BTS
from flightpipe.core.session import CODEGEN_MAX_FIELDS, temporary_confs
from flightpipe.silver.conform import conform_source, with_time_zones
from flightpipe.silver.inputs import flight_folders, read_flight_sources
from flightpipe.silver.times import with_utc_times


def _physical_plan(df) -> str:
    # Without adaptive execution the plan is final before it runs.
    with temporary_confs(df.sparkSession, {"spark.sql.adaptive.enabled": "false"}):
        return df._jdf.queryExecution().executedPlan().toString()


def test_a_full_bts_row_is_conformed_by_generated_code_from_column_batches(spark, tmp_path):
    # 109 BTS columns and the lineage are more fields than Spark's default of 100 per plan:
    # past it the stage falls back to interpreted expressions and the row-by-row reader.
    assert len(BTS.schema.fields) > 100
    slot = tmp_path / "bronze" / "flights_batch" / "source_format=bts"
    spark.range(2).select(
        *[F.lit(None).cast(f.dataType).alias(f.name) for f in BTS.schema.fields],
        F.lit("On_Time_2023_1.csv").alias("_source_file"),
        F.current_timestamp().alias("_ingested_at"),
        F.lit("test").alias("_batch_id"),
    ).write.parquet(str(slot))
    bronze = str(tmp_path / "bronze")
    [source] = read_flight_sources(spark, bronze, flight_folders(bronze))
    zones = spark.createDataFrame([("EWR", "America/New_York")], "airport string, tz_name string")

    def timed():
        return conform_source(source).transform(with_time_zones(zones)).transform(with_utc_times)

    assert spark.conf.get("spark.sql.codegen.maxFields") == CODEGEN_MAX_FIELDS
    plan = _physical_plan(timed())
    assert "ColumnarToRow" in plan  # the vectorized parquet reader
    assert plan.lstrip().startswith("*(")  # one whole-stage code block from the scan up
    with temporary_confs(spark, {"spark.sql.codegen.maxFields": "100"}):
        fallback = _physical_plan(timed())
    assert "ColumnarToRow" not in fallback and not fallback.lstrip().startswith("*(")
    assert timed().count() == 2
