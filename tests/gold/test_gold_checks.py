"""Gold's checks on the ten-flight fixture: each mart measured from one collect, and the totals check."""

from __future__ import annotations

from pyspark.sql import functions as F

from flightpipe.contracts.quality import FAILED, PASS, WARN
from flightpipe.contracts.silver import PIPELINE_RUNS, SILVER_WEATHER_HOURLY
from flightpipe.gold import checks, marts
from tests.support import gold_data

# Ten flights, two cancelled (3, 10), four delayed 15+ (2, 4, 5, 8): see tests/support/gold_data.py.
FIXTURE_TOTALS = {"flights": 10, "cancelled": 2, "delayed_15": 4}


def facts(spark, rows=gold_data.FLIGHT_ROWS):
    return spark.createDataFrame(rows, gold_data.SCHEMAS["flights"]).transform(marts.flight_facts)


def test_a_flight_mart_is_measured_by_its_rows_and_flight_totals(spark):
    airlines = spark.createDataFrame(gold_data.AIRLINE_ROWS, gold_data.SCHEMAS["airlines"])
    # Carriers AA (6 flights), B6 (3) and ZZ (1).
    mart = marts.delay_by_carrier(facts(spark), airlines)
    measured = checks.measure_mart("delay_by_carrier", mart)
    assert measured == checks.MartMeasure(3, {"delay_by_carrier": {"rows": 3, **FIXTURE_TOTALS}})
    # The rows it collected are the mart's, kept for the report.
    by_carrier = {r["carrier"]: r for r in measured.collected}
    assert sorted(by_carrier) == ["AA", "B6", "ZZ"]
    assert [by_carrier[c]["flights"] for c in ("AA", "B6", "ZZ")] == [6, 3, 1]
    assert sorted(measured.collected, key=lambda r: r["carrier"]) == [
        r.asDict() for r in mart.orderBy("carrier").collect()
    ]


def test_weather_impact_is_measured_per_factor(spark):
    weather = spark.createDataFrame(gold_data.WEATHER_ROWS, SILVER_WEATHER_HOURLY)
    measured = checks.measure_mart("weather_impact", marts.weather_impact(facts(spark), weather))
    # Five buckets per factor (unknown included), each factor counting every flight once.
    assert measured.rows == 15
    assert measured.totals == {
        f"weather_impact/{factor}": {"rows": 5, **FIXTURE_TOTALS}
        for factor in ("precipitation", "visibility", "wind")
    }


def test_an_airport_hour_given_twice_in_silver_weather_fails_the_totals_check(spark):
    # silver.weather_hourly is one row per airport and hour; gold joins it as it is, so an hour
    # given twice (JFK 2013-01-01 13:00 UTC, flights 1 and 2) counts its flights twice per factor.
    rows = gold_data.WEATHER_ROWS + gold_data.WEATHER_ROWS[:1]
    weather = spark.createDataFrame(rows, SILVER_WEATHER_HOURLY)
    measured = checks.measure_mart("weather_impact", marts.weather_impact(facts(spark), weather))
    result = checks.totals_result(FIXTURE_TOTALS, checks.mart_totals([measured]), "fail")
    assert result.status == FAILED
    # Per factor: 2 flights more, 1 of them (flight 2) delayed 15+.
    assert result.rows_failing == 3 * (2 + 1)
    assert result.message.startswith("weather_impact/precipitation counts 12 flights, silver.flights 10")


def test_an_empty_weather_impact_and_a_mart_without_flights_have_rows_only(spark):
    weather = spark.createDataFrame([], SILVER_WEATHER_HOURLY)
    empty = marts.weather_impact(facts(spark).where(F.lit(False)), weather)
    assert checks.measure_mart("weather_impact", empty) == checks.MartMeasure(0, {})
    runs = marts.pipeline_runs(spark.createDataFrame(gold_data.RUN_ROWS, PIPELINE_RUNS))
    measured = checks.measure_mart("pipeline_runs", runs)
    assert measured == checks.MartMeasure(2, {}) and len(measured.collected) == 2


def test_the_totals_check_names_the_mart_that_lost_a_flight(spark):
    measures = [
        checks.measure_mart("delay_by_hour", marts.delay_by_hour(facts(spark))),
        # Flight 10 (cancelled) missing from this mart only.
        checks.measure_mart("daily_kpis", marts.daily_kpis(facts(spark, gold_data.FLIGHT_ROWS[:9]))),
    ]
    result = checks.totals_result(FIXTURE_TOTALS, checks.mart_totals(measures), "warn")
    assert result.status == WARN
    assert result.rows_failing == 2
    assert result.message == (
        "daily_kpis counts 9 flights, silver.flights 10; daily_kpis counts 1 cancelled, silver.flights 2"
    )
    passing = checks.totals_result(FIXTURE_TOTALS, checks.mart_totals(measures[:1]), "fail")
    assert passing.status == PASS
