"""Gold table contracts: the MariaDB marts (columns, types, keys, indexes, comments) and
the silver columns they are built from.

Shared definitions, used by every flight mart:
- ``flights`` counts every scheduled flight, cancelled and diverted ones included.
- ``flights_with_arr_delay`` counts flights with a recorded arrival delay (neither
  cancelled nor diverted); it is the denominator of ``delay_rate`` and the population of
  the arrival-delay averages and percentiles.
- ``delay_rate`` = ``delayed_15 / flights_with_arr_delay``; ``cancel_rate`` =
  ``cancelled / flights``. Rates are fractions (0-1) with 4 decimals, delays minutes with 2.
- Departure airport, hour and date are the scheduled ones, local at the origin
  (``flight_date``, ``sched_dep_local_hour`` of silver.flights).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """A column of a gold table: name, MariaDB type (with NULL/NOT NULL) and comment."""

    name: str
    sql_type: str
    comment: str


@dataclass(frozen=True)
class TableSpec:
    """A gold table: its columns in order, keys, indexes and the comment BI users read."""

    name: str
    comment: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


# --- silver inputs --------------------------------------------------------------------

# The silver.flights columns the marts use (the one scan every mart shares).
FACT_COLUMNS = (
    "flight_date",
    "carrier",
    "origin",
    "dest",
    "sched_dep_hour_utc",
    "sched_dep_local_hour",
    "dep_delay_min",
    "arr_delay_min",
    "distance_mi",
    "is_cancelled",
    "is_diverted",
    "is_delayed_15",
)

# Silver tables gold cannot run without, and the columns it reads from each.
REQUIRED_SILVER = {
    "flights": FACT_COLUMNS,
    "weather_hourly": ("airport", "hour_utc", "precip_mm", "visibility_km", "wind_speed_kmh"),
    "airlines": ("carrier", "name"),
    "airports": ("airport", "name"),
}

# --- the marts ------------------------------------------------------------------------

_DENOMINATOR = "delay_rate = delayed_15 / flights_with_arr_delay (flights neither cancelled nor diverted)"

METRIC_COLUMNS = (
    Column("flights", "BIGINT NOT NULL", "Scheduled flights, cancelled and diverted ones included"),
    Column("cancelled", "BIGINT NOT NULL", "Cancelled flights"),
    Column("diverted", "BIGINT NOT NULL", "Diverted flights"),
    Column(
        "flights_with_arr_delay",
        "BIGINT NOT NULL",
        "Flights with a recorded arrival delay (neither cancelled nor diverted); delay_rate denominator",
    ),
    Column("delayed_15", "BIGINT NOT NULL", "Flights that arrived 15 minutes late or more"),
    Column(
        "delay_rate", "DECIMAL(5,4) NULL", "delayed_15 / flights_with_arr_delay, 0-1; NULL when that is 0"
    ),
    Column("cancel_rate", "DECIMAL(5,4) NULL", "cancelled / flights, 0-1"),
    Column(
        "avg_dep_delay_min",
        "DECIMAL(8,2) NULL",
        "Mean departure delay in minutes over flights with a recorded departure delay",
    ),
    Column(
        "avg_arr_delay_min",
        "DECIMAL(8,2) NULL",
        "Mean arrival delay in minutes (early = negative) over flights with a recorded arrival delay",
    ),
)
P90_COLUMN = Column(
    "p90_arr_delay_min",
    "DECIMAL(8,2) NULL",
    "90th percentile of the arrival delay in minutes (exact, linear interpolation) over "
    "flights with a recorded arrival delay",
)

DELAY_BY_CARRIER = TableSpec(
    name="delay_by_carrier",
    comment=f"Delays per airline; grain: one row per carrier. {_DENOMINATOR}",
    columns=(
        Column("carrier", "VARCHAR(8) NOT NULL", "Airline code (IATA)"),
        Column("carrier_name", "VARCHAR(100) NOT NULL", "Airline name (the code when unknown)"),
        *METRIC_COLUMNS,
        P90_COLUMN,
    ),
    primary_key=("carrier",),
)

DELAY_BY_AIRPORT_MONTH = TableSpec(
    name="delay_by_airport_month",
    comment=(
        "Delays per departure airport and month; grain: one row per origin airport and "
        f"calendar month of the scheduled local departure date. {_DENOMINATOR}"
    ),
    columns=(
        Column("airport", "VARCHAR(8) NOT NULL", "Departure (origin) airport code"),
        Column("airport_name", "VARCHAR(150) NOT NULL", "Airport name (the code when unknown)"),
        Column("year", "SMALLINT NOT NULL", "Year of the scheduled local departure date"),
        Column("month", "TINYINT NOT NULL", "Month (1-12) of the scheduled local departure date"),
        *METRIC_COLUMNS,
    ),
    primary_key=("airport", "year", "month"),
    indexes=(("year", "month"),),
)

DELAY_BY_HOUR = TableSpec(
    name="delay_by_hour",
    comment=(
        "Delays by hour of day; grain: one row per scheduled departure hour, local time at "
        f"the origin (0-23). {_DENOMINATOR}"
    ),
    columns=(
        Column("sched_dep_local_hour", "TINYINT NOT NULL", "Scheduled departure hour, local at the origin"),
        *METRIC_COLUMNS,
        P90_COLUMN,
    ),
    primary_key=("sched_dep_local_hour",),
)

WEATHER_IMPACT = TableSpec(
    name="weather_impact",
    comment=(
        "Delays by weather at the origin in the scheduled departure hour; grain: one row per "
        "weather factor (precipitation, visibility, wind) and bucket; each factor's buckets "
        f"add up to every flight ('unknown' = no weather record). {_DENOMINATOR}"
    ),
    columns=(
        Column("factor", "VARCHAR(16) NOT NULL", "precipitation, visibility or wind"),
        Column("bucket", "VARCHAR(32) NOT NULL", "Bucket label, with its unit"),
        Column("bucket_order", "TINYINT NOT NULL", "Sort order of the buckets within a factor"),
        *METRIC_COLUMNS,
    ),
    primary_key=("factor", "bucket"),
)

ROUTE_DELAYS = TableSpec(
    name="route_delays",
    comment=f"Delays per route; grain: one row per origin-destination airport pair. {_DENOMINATOR}",
    columns=(
        Column("origin", "VARCHAR(8) NOT NULL", "Departure airport code"),
        Column("dest", "VARCHAR(8) NOT NULL", "Arrival airport code"),
        Column("origin_name", "VARCHAR(150) NOT NULL", "Departure airport name (the code when unknown)"),
        Column("dest_name", "VARCHAR(150) NOT NULL", "Arrival airport name (the code when unknown)"),
        Column("distance_mi", "DECIMAL(8,1) NULL", "Mean scheduled distance in statute miles"),
        *METRIC_COLUMNS,
    ),
    primary_key=("origin", "dest"),
    indexes=(("dest",), ("flights",)),
)

DAILY_KPIS = TableSpec(
    name="daily_kpis",
    comment=f"Daily totals; grain: one row per scheduled local departure date. {_DENOMINATOR}",
    columns=(
        Column("flight_date", "DATE NOT NULL", "Scheduled departure date, local at the origin"),
        *METRIC_COLUMNS,
        Column("carriers", "INT NOT NULL", "Airlines flying that day"),
        Column("routes", "INT NOT NULL", "Origin-destination pairs flown that day"),
    ),
    primary_key=("flight_date",),
)

MODEL_PERFORMANCE = TableSpec(
    name="model_performance",
    comment=(
        "Hold-out metrics of the delay models (from silver.model_metrics); grain: one row per "
        "training run and model"
    ),
    columns=(
        Column("run_id", "VARCHAR(64) NOT NULL", "Pipeline run that trained the model"),
        Column("model", "VARCHAR(64) NOT NULL", "Model family"),
        Column("model_version", "VARCHAR(64) NULL", "Saved model version"),
        Column("trained_at", "DATETIME NULL", "Training time, UTC"),
        Column("auc_roc", "DOUBLE NULL", "Area under the ROC curve on the hold-out period"),
        Column("auc_pr", "DOUBLE NULL", "Area under the precision-recall curve on the hold-out period"),
        Column("log_loss", "DOUBLE NULL", "Log loss on the hold-out period"),
        Column("accuracy", "DOUBLE NULL", "Accuracy at the threshold"),
        Column("precision", "DOUBLE NULL", "Precision at the threshold"),
        Column("recall", "DOUBLE NULL", "Recall at the threshold"),
        Column("f1", "DOUBLE NULL", "F1 score at the threshold"),
        Column("threshold", "DOUBLE NULL", "Probability threshold for the delayed label"),
        Column("train_rows", "BIGINT NULL", "Training rows"),
        Column("test_rows", "BIGINT NULL", "Hold-out rows"),
        Column("is_latest", "BOOLEAN NOT NULL", "1 for the latest run of this model"),
    ),
    primary_key=("run_id", "model"),
    indexes=(("model", "trained_at"),),
)

PIPELINE_RUNS = TableSpec(
    name="pipeline_runs",
    comment="Run log of the pipeline stages (copy of silver.pipeline_runs); grain: one row per stage run",
    columns=(
        Column("run_id", "VARCHAR(64) NOT NULL", "Pipeline run id, shared by the stages of one run"),
        Column("stage", "VARCHAR(32) NOT NULL", "ingest, streaming, cleaning, ml or gold"),
        Column("started_at", "DATETIME(6) NOT NULL", "Start, UTC"),
        Column("ended_at", "DATETIME(6) NULL", "End, UTC"),
        Column("seconds", "DECIMAL(10,1) NULL", "Duration in seconds"),
        Column("status", "VARCHAR(16) NOT NULL", "ok or failed"),
        Column("rows_in", "BIGINT NULL", "Rows read"),
        Column("rows_out", "BIGINT NULL", "Rows written"),
        Column("rows_rejected", "BIGINT NULL", "Rows sent to quarantine"),
        Column("error", "TEXT NULL", "The failure sentence of a failed run"),
        Column("details", "MEDIUMTEXT NULL", "Per-table or per-rule counts, JSON"),
    ),
    primary_key=("run_id", "stage", "started_at"),
    indexes=(("stage", "started_at"),),
)

DATA_QUALITY = TableSpec(
    name="data_quality",
    comment=(
        "Data-quality results of the pipeline stages (copy of silver.dq_results); grain: one row per "
        "stage run and check (row rule, dataset check or source freshness)"
    ),
    columns=(
        Column("run_id", "VARCHAR(64) NOT NULL", "Pipeline run id (join to pipeline_runs)"),
        Column("stage", "VARCHAR(32) NOT NULL", "Stage that ran the check"),
        Column("started_at", "DATETIME(6) NOT NULL", "Start of that stage run, UTC (join to pipeline_runs)"),
        Column("check_name", "VARCHAR(64) NOT NULL", "Rule or check name"),
        Column("kind", "VARCHAR(16) NOT NULL", "row_rule, dataset or freshness"),
        Column("dataset", "VARCHAR(128) NULL", "Table or source checked"),
        Column("action", "VARCHAR(8) NULL", "Configured action: warn, drop or fail"),
        Column("rows_checked", "BIGINT NULL", "Rows the check looked at"),
        Column("rows_failing", "BIGINT NULL", "Rows that broke it"),
        Column("failing_pct", "DECIMAL(9,4) NULL", "rows_failing / rows_checked * 100"),
        Column("status", "VARCHAR(8) NOT NULL", "pass, warn, dropped or failed"),
        Column("observed", "VARCHAR(255) NULL", "The value measured (a share, a newest date, an age)"),
        Column("message", "TEXT NULL", "One sentence on what was found"),
        Column(
            "sample_keys",
            "TEXT NULL",
            "Up to 5 failing rows as a JSON array of {flight_date, carrier, flight_number, origin, source_file}",
        ),
    ),
    primary_key=("run_id", "stage", "started_at", "check_name"),
    indexes=(("check_name", "started_at"), ("status",)),
)

ALL_TABLES = (
    DELAY_BY_CARRIER,
    DELAY_BY_AIRPORT_MONTH,
    DELAY_BY_HOUR,
    WEATHER_IMPACT,
    ROUTE_DELAYS,
    DAILY_KPIS,
    MODEL_PERFORMANCE,
    PIPELINE_RUNS,
    DATA_QUALITY,
)
