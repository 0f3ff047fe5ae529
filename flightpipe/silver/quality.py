"""The data-quality rules of silver flights, declared in one place.

In the spirit of Delta Live Tables expectations, each rule has a name, a condition (a
Column expression that is true for a row that passes; null counts as broken) and an
action taken on the rows that break it:

- ``warn``: the row is kept; the rule's count is reported.
- ``drop``: the row goes to ``silver.flights_rejected`` with every rule it broke.
- ``fail``: the run stops before writing anything; silver is left as it was.

The default action of each rule is declared here; ``cleaning.rule_actions`` in the config
overrides it by rule name.

``unique_key`` is evaluated after the others: among the rows of one natural key
(flight date, carrier, flight number, origin) that pass every ``drop`` rule, the latest
ingested (then the higher source priority, then the later source file) is kept; the other
copies are documented duplicates, counted but not quarantined (the kept copy holds the
same flight). A row that breaks a ``drop`` rule is quarantined and never counts as a
duplicate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from flightpipe.core.errors import PipelineError
from flightpipe.silver.times import is_valid_hhmm, minutes_between

ACTIONS = ("warn", "drop", "fail")
NATURAL_KEY = ("flight_date", "carrier", "flight_number", "origin")
MONTHS = 12  # calendar months: the unique-key window's shuffle gives each its own partitions
UNIQUE_KEY_RULE = "unique_key"

# Outcome of a bronze row.
SILVER, QUARANTINED, DUPLICATE = "silver", "quarantined", "duplicate"


@dataclass(frozen=True)
class QualitySettings:
    """The rule parameters the config carries."""

    source_start_date: str
    source_end_date: str  # empty: today
    min_delay_minutes: float
    max_delay_minutes: float


@dataclass(frozen=True)
class Rule:
    """One declared expectation over conformed flights."""

    name: str
    description: str
    condition: Callable[[QualitySettings], Column]
    action: str


def _present(name: str) -> Column:
    return F.col(name).isNotNull()


def _required_keys(_: QualitySettings) -> Column:
    text_ok = [
        F.coalesce(F.length(F.trim(F.col(c))) > 0, F.lit(False)) for c in ("carrier", "origin", "dest")
    ]
    return (
        _present("flight_date")
        & _present("flight_number")
        & text_ok[0]
        & text_ok[1]
        & text_ok[2]
        & F.coalesce(is_valid_hhmm(F.col("sched_dep_hhmm")), F.lit(False))
    )


def _known_airports(_: QualitySettings) -> Column:
    return _present("origin_tz") & _present("dest_tz")


def _date_in_range(s: QualitySettings) -> Column:
    end = F.lit(s.source_end_date).cast("date") if s.source_end_date else F.current_date()
    return F.col("flight_date").between(F.lit(s.source_start_date).cast("date"), end)


def _valid_clock_times(_: QualitySettings) -> Column:
    optional_ok = [
        F.col(c).isNull() | F.coalesce(is_valid_hhmm(F.col(c)), F.lit(False))
        for c in ("dep_hhmm", "arr_hhmm")
    ]
    return F.coalesce(is_valid_hhmm(F.col("sched_arr_hhmm")), F.lit(False)) & optional_ok[0] & optional_ok[1]


def _plausible_delays(s: QualitySettings) -> Column:
    def within(c: str) -> Column:
        return F.col(c).isNull() | F.col(c).between(s.min_delay_minutes, s.max_delay_minutes)

    return within("dep_delay_min") & within("arr_delay_min")


def _arrival_after_departure(_: QualitySettings) -> Column:
    flown = ~F.col("is_cancelled") & ~F.col("is_diverted")
    elapsed = minutes_between(F.col("arr_utc"), F.col("dep_utc"))
    air_time_fits = F.col("air_time_min").isNull() | (F.col("air_time_min") <= elapsed)
    completed_ok = _present("dep_utc") & _present("arr_utc") & (elapsed > 0) & air_time_fits
    departed_ok = F.col("is_cancelled") | _present("dep_utc")
    return F.when(flown, completed_ok).otherwise(departed_ok)


def _unique_key(_: QualitySettings) -> Column:
    # _copy_rank is set by with_quality_outcome; only ranked (valid) rows can be duplicates.
    return F.col("_copy_rank").isNull() | (F.col("_copy_rank") == 1)


RULES: tuple[Rule, ...] = (
    Rule(
        "required_keys",
        "flight date, carrier, flight number, origin, dest and scheduled departure time are present",
        _required_keys,
        "drop",
    ),
    Rule("known_airports", "origin and dest are airports with a known time zone", _known_airports, "drop"),
    Rule(
        "date_in_range",
        "the flight date lies within cleaning.source_start_date..source_end_date",
        _date_in_range,
        "drop",
    ),
    Rule(
        "valid_clock_times",
        "scheduled arrival is a valid hhmm clock time; actual times are valid when present",
        _valid_clock_times,
        "drop",
    ),
    Rule(
        "plausible_delays",
        "departure and arrival delays lie within cleaning.min/max_delay_minutes",
        _plausible_delays,
        "drop",
    ),
    Rule(
        "arrival_after_departure",
        "a completed flight departs, then arrives later, with air time within that span; "
        "a flight not cancelled has a departure",
        _arrival_after_departure,
        "drop",
    ),
    Rule(
        UNIQUE_KEY_RULE,
        "one row per flight date, carrier, flight number and origin (the latest ingested is kept)",
        _unique_key,
        "drop",
    ),
)
RULE_NAMES = tuple(r.name for r in RULES)


def resolve_actions(overrides: dict[str, str], where: str) -> dict[str, str]:
    """Each rule's action: the declared default, replaced by the config's override."""
    unknown = sorted(set(overrides) - set(RULE_NAMES))
    if unknown:
        raise PipelineError(
            f"cleaning.rule_actions in {where} names an unknown rule '{unknown[0]}'; "
            f"known rules: {', '.join(RULE_NAMES)}."
        )
    actions = {r.name: r.action for r in RULES}
    for name, action in overrides.items():
        action = str(action).strip().lower()
        if action not in ACTIONS:
            raise PipelineError(
                f"cleaning.rule_actions.{name} in {where} is '{action}'; use one of {', '.join(ACTIONS)}."
            )
        actions[name] = action
    return actions


def _broken(rules: list[Rule], settings: QualitySettings) -> Column:
    flags = [F.when(~F.coalesce(r.condition(settings), F.lit(False)), F.lit(r.name)) for r in rules]
    return F.filter(F.array(*flags), lambda x: x.isNotNull())


def _names(names: list[str]) -> Column:
    return F.array(*[F.lit(n) for n in names]) if names else F.array().cast("array<string>")


def with_quality_outcome(
    df: DataFrame,
    settings: QualitySettings,
    actions: dict[str, str],
    source_priority: Column,
    quarantine_only: tuple[str, ...] = (),
    partitions: int = 0,
) -> DataFrame:
    """Add ``rules_broken`` (array of rule names) and ``outcome`` (silver | quarantined | duplicate).

    ``source_priority`` orders copies ingested at the same instant (lower wins); the columns
    ``quarantine_only`` are kept on quarantined rows and null on the others. With ``partitions``
    the unique-key window's shuffle gets about that many, each holding one calendar month (see
    :func:`month_cluster`); 0 leaves the shuffle to Spark.
    """
    row_rules = [r for r in RULES if r.name != UNIQUE_KEY_RULE]
    drop_names = [r.name for r in row_rules if actions[r.name] == "drop"]
    key_present = F.lit(True)
    for c in NATURAL_KEY:
        key_present = key_present & _present(c)

    checked = df.withColumn("_row_broken", _broken(row_rules, settings)).withColumn(
        "_is_valid", ~F.arrays_overlap(F.col("_row_broken"), _names(drop_names))
    )
    # Nulled before the window's shuffle: on a BTS row the raw values are most of its bytes,
    # and only the quarantine reads them.
    checked = checked.withColumns({c: F.when(~F.col("_is_valid"), F.col(c)) for c in quarantine_only})
    keys: list[str] = list(NATURAL_KEY)
    if partitions:
        per_month = math.ceil(partitions / MONTHS)
        checked = checked.withColumn("_cluster", month_cluster(per_month)).repartitionById(
            MONTHS * per_month, "_cluster"
        )
        # The cluster is a function of the key: ranking within it changes nothing, and the
        # window then runs on the partitions of the shuffle above instead of one of its own.
        keys.insert(0, "_cluster")
    copies = Window.partitionBy(*keys).orderBy(
        F.col("_is_valid").desc(),
        F.col("_ingested_at").desc_nulls_last(),
        source_priority.asc(),
        F.col("_source_file").desc_nulls_last(),
        F.col("_batch_id").desc_nulls_last(),
    )
    ranked = checked.withColumn(
        "_copy_rank", F.when(key_present & F.col("_is_valid"), F.row_number().over(copies))
    )
    unique = next(r for r in RULES if r.name == UNIQUE_KEY_RULE)
    is_copy = ~unique.condition(settings)
    rules_broken = F.when(is_copy, F.concat(F.col("_row_broken"), F.array(F.lit(UNIQUE_KEY_RULE)))).otherwise(
        F.col("_row_broken")
    )
    outcome = (
        F.when(~F.col("_is_valid"), F.lit(QUARANTINED))
        .when(is_copy & F.lit(actions[UNIQUE_KEY_RULE] == "drop"), F.lit(DUPLICATE))
        .otherwise(F.lit(SILVER))
    )
    return (
        ranked.withColumn("rules_broken", rules_broken)
        .withColumn("outcome", outcome)
        .drop("_row_broken", "_is_valid", "_copy_rank", "_cluster")
    )


def month_cluster(per_month: int) -> Column:
    """The shuffle partition of a row: ``per_month`` partitions for each month of the year, the
    key's hash choosing among them (null without a flight date).

    A partition then holds the rows of one month, so each task of the write that follows
    writes one month folder instead of a file in every month (216 small files per 10M rows).
    """
    bucket = F.pmod(F.hash(*NATURAL_KEY), F.lit(per_month))
    return (F.month("flight_date") - 1) * F.lit(per_month) + bucket


def rule_count_columns() -> list[Column]:
    """Aggregations counting the rows that broke each rule (``rule__<name>``)."""
    return [
        F.sum(F.array_contains(F.col("rules_broken"), r.name).cast("long")).alias(f"rule__{r.name}")
        for r in RULES
    ]


def check_fail_rules(counts: dict[str, int], actions: dict[str, str], where: str, config_file: str) -> None:
    """Stop the run when a rule whose action is ``fail`` was broken."""
    for name in RULE_NAMES:
        if actions[name] == "fail" and counts.get(name, 0) > 0:
            raise PipelineError(
                f"quality rule '{name}' (action fail) is broken by {counts[name]} rows of {where}; "
                f"silver was left unchanged: fix the input or set cleaning.rule_actions.{name} "
                f"to warn or drop in {config_file}."
            )
