"""Gold's checks before the swap: the marts agree with silver, and the flights' weather coverage.

Silver's totals come from an aggregate of their own over silver.flights, the weather
coverage from weather_impact's buckets; each mart's rows and totals from one collect of the
persisted mart, which also materialises it.
A failing ``fail`` check stops the load before the swap: MariaDB keeps the previous tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from flightpipe.contracts.quality import DATASET, FAILED, PASS, WARN, CheckResult, failed_dataset_check
from flightpipe.core.errors import PipelineError

GOLD_TOTALS, WEATHER_COVERAGE = "gold_totals", "weather_coverage"
TOTALS = ("flights", "cancelled", "delayed_15")
# weather_impact's factor whose buckets the weather coverage is summed over.
COVERAGE_FACTOR = "precipitation"
# The marts that count every silver flight once.
FLIGHT_MARTS = ("delay_by_carrier", "delay_by_airport_month", "delay_by_hour", "route_delays", "daily_kpis")


def silver_totals() -> list[Column]:
    """What silver.flights holds, computed while the marts are counted."""
    return [
        F.count(F.lit(1)).alias("flights"),
        F.count_if(F.col("is_cancelled")).alias("cancelled"),
        F.count_if(F.col("is_delayed_15")).alias("delayed_15"),
    ]


def totals_frame(facts: DataFrame) -> DataFrame:
    """:func:`silver_totals` of ``facts`` as one row (a plain aggregate: an observation on the
    scan would be evaluated row by row outside the generated code)."""
    return facts.agg(*silver_totals())


@dataclass
class MartMeasure:
    """A mart's row count and, for a mart that counts every flight, its flight totals
    (weather_impact's under ``weather_impact/<factor>``); ``collected``: the mart's rows."""

    rows: int
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    collected: list[dict[str, Any]] = field(default_factory=list, compare=False, repr=False)


def measure_mart(name: str, df: DataFrame) -> MartMeasure:
    """Rows and flight totals of one mart from one collect of its rows, which materialises it
    and keeps them for the report: a mart is a few thousand rows, and the queries that counted
    it, and then read it again for the report, each had their code generated and compiled."""
    return measure_rows(name, [r.asDict() for r in df.collect()])


def measure_rows(name: str, rows: list[dict[str, Any]]) -> MartMeasure:
    """:func:`measure_mart` of a mart's collected rows."""
    if name in FLIGHT_MARTS:
        groups = {name: rows}
    elif name == "weather_impact":
        groups = {}
        for r in rows:
            groups.setdefault(f"weather_impact/{r['factor']}", []).append(r)
    else:
        return MartMeasure(len(rows), collected=rows)
    totals = {
        key: {"rows": len(group), **{k: sum(int(r[k] or 0) for r in group) for k in TOTALS}}
        for key, group in groups.items()
    }
    return MartMeasure(len(rows), totals, rows)


def mart_totals(measures: Iterable[MartMeasure]) -> dict[str, dict[str, int]]:
    """Rows and flight totals of each flight mart, and of weather_impact per factor."""
    return {key: t for m in measures for key, t in m.totals.items()}


def totals_result(
    silver: Mapping[str, int], marts: Mapping[str, Mapping[str, int]], action: str
) -> CheckResult:
    """Each mart's flight totals equal silver's; a mart has rows exactly when silver has flights.

    (Observed metrics allow no DISTINCT, so a mart's row count is not compared with its grain.)
    """
    wrong: list[str] = []
    failing = 0
    for mart, got in sorted(marts.items()):
        for total in TOTALS:
            if got[total] != silver[total]:
                wrong.append(f"{mart} counts {got[total]:,} {total}, silver.flights {silver[total]:,}")
                failing += abs(got[total] - silver[total])
        if (got["rows"] > 0) != (silver["flights"] > 0):
            wrong.append(
                f"{mart} has {got['rows']:,} rows for {silver['flights']:,} flights in silver.flights"
            )
    status = PASS if not wrong else (FAILED if action == "fail" else WARN)
    message = (
        "; ".join(wrong[:4])
        if wrong
        else f"flights, cancelled and delayed_15 of {len(marts)} mart sums (weather_impact: per factor) "
        "agree with silver.flights"
    )
    return CheckResult(
        GOLD_TOTALS,
        DATASET,
        "gold marts",
        action,
        silver["flights"],
        failing,
        status,
        f"{len(wrong)} mismatches",
        message,
    )


def coverage_columns() -> list[Column]:
    """Flights, and flights with a weather row at their origin and scheduled UTC hour, over
    weather_impact's buckets before its final select (every flight is in one bucket of each
    factor, so one factor's buckets count each flight once)."""
    one_factor = F.col("factor") == COVERAGE_FACTOR
    return [
        F.sum(F.when(one_factor, F.col("flights"))).alias("flights"),
        F.sum(F.when(one_factor, F.col("_with_weather"))).alias("with_weather"),
    ]


def coverage_result(flights: int, with_weather: int, minimum: float, action: str) -> CheckResult:
    """The share of flights with weather against ``minimum``."""
    share = with_weather / flights if flights else 1.0
    ok = share >= minimum
    status = PASS if ok else (FAILED if action == "fail" else WARN)
    message = (
        f"{with_weather:,} of {flights:,} silver flights ({share:.1%}) have a weather row at their origin "
        f"and scheduled UTC hour (minimum {minimum:.0%})"
    )
    return CheckResult(
        WEATHER_COVERAGE,
        DATASET,
        "silver.weather_hourly",
        action,
        flights,
        flights - with_weather,
        status,
        f"{share:.4f}",
        message,
    )


def raise_failed(results: Sequence[CheckResult], gold_database: str, config_file: str) -> None:
    """Stop before the swap when a ``fail`` check failed; the previous marts stay."""
    r = failed_dataset_check(results)
    if r is not None:
        raise PipelineError(
            f"gold check '{r.check_name}' (action fail) failed: {r.message}; {gold_database} keeps its "
            f"previous tables: rebuild silver (cleaning.py --full-refresh) or set "
            f"quality.checks.{r.check_name} to warn in {config_file}."
        )
