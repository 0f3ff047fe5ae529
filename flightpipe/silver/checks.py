"""Cleaning's data-quality results: the row rules, reconciliation and referential checks.

Everything is counted in the one aggregation :func:`flightpipe.silver.summary.summarize` makes
over the checked rows; this module declares those extra aggregates and turns the collected
numbers into :class:`~flightpipe.contracts.quality.CheckResult` values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from flightpipe.contracts.quality import (
    DATASET,
    FAILED,
    PASS,
    ROW_RULE,
    SAMPLE_KEYS,
    WARN,
    CheckResult,
    failed_dataset_check,
    status_of,
)
from flightpipe.core.errors import PipelineError
from flightpipe.silver import quality

if TYPE_CHECKING:
    from flightpipe.silver.summary import Summary

FLIGHTS = "silver.flights"
REFERENTIAL_AIRPORTS, REFERENTIAL_CARRIERS = "referential_airports", "referential_carriers"
RECONCILIATION = "reconciliation"


@dataclass(frozen=True)
class Expectations:
    """The row rules and dataset checks a run applies, with their actions."""

    settings: quality.QualitySettings
    actions: dict[str, str]  # row rule -> warn | drop | fail
    dataset_actions: dict[str, str]  # dataset check -> warn | fail
    where: str  # the input, for the failure sentence
    config_file: str


def _sample_struct() -> Column:
    return F.struct(
        F.date_format("flight_date", "yyyy-MM-dd").alias("flight_date"),
        F.col("carrier"),
        F.col("flight_number"),
        F.col("origin"),
        F.col("_source_file").alias("source_file"),
    )


def _sample(broken: Column, alias: str) -> Column:
    # A hash of the key orders the candidates: the same failing rows are shown run after run,
    # spread over the input rather than its first file.
    order = F.when(broken, F.xxhash64(*quality.NATURAL_KEY))
    return F.min_by(F.struct(order.alias("order"), _sample_struct().alias("key")), order, SAMPLE_KEYS).alias(
        alias
    )


def with_known_carrier(checked: DataFrame, carriers: DataFrame | None) -> DataFrame:
    """Add ``_has_carrier``: the row's carrier is in ``carriers`` (null without a carrier table)."""
    if carriers is None:
        return checked.withColumn("_has_carrier", F.lit(None).cast("boolean"))
    known = carriers.select(F.col("carrier").alias("_known_carrier")).distinct()
    return checked.join(F.broadcast(known), F.col("carrier") == F.col("_known_carrier"), "left").select(
        *checked.columns, F.col("_known_carrier").isNotNull().alias("_has_carrier")
    )


def _airport_missing() -> Column:
    # known_airports is broken exactly when a time zone is missing (kept when its action is warn).
    return (F.col("outcome") == quality.SILVER) & F.array_contains(F.col("rules_broken"), "known_airports")


def _carrier_missing() -> Column:
    return (F.col("outcome") == quality.SILVER) & ~F.coalesce(F.col("_has_carrier"), F.lit(True))


def check_columns() -> list[Column]:
    """The aggregates behind the checks, per group: referential counts, the newest flight date."""
    return [
        F.sum(_airport_missing().cast("long")).alias(f"fail__{REFERENTIAL_AIRPORTS}"),
        F.sum(_carrier_missing().cast("long")).alias(f"fail__{REFERENTIAL_CARRIERS}"),
        F.max(F.col("_has_carrier").isNotNull().cast("int")).alias("has_carriers"),
        F.max("flight_date").alias("newest_flight_date"),
    ]


def is_failing() -> Column:
    """True for a row that broke a rule or a referential check: the rows samples come from."""
    return (F.size("rules_broken") > 0) | _airport_missing() | _carrier_missing()


def sample_columns() -> list[Column]:
    """The aggregates of failing keys per rule and referential check (over failing rows only)."""
    return [
        *[
            _sample(F.array_contains(F.col("rules_broken"), r.name), f"sample__{r.name}")
            for r in quality.RULES
        ],
        _sample(_airport_missing(), f"sample__{REFERENTIAL_AIRPORTS}"),
        _sample(_carrier_missing(), f"sample__{REFERENTIAL_CARRIERS}"),
    ]


def merge_samples(groups: Iterable[list[Any] | None]) -> list[dict[str, Any]]:
    """The SAMPLE_KEYS failing keys with the lowest order over every group's candidates."""
    candidates = [c for group in groups for c in group or ()]
    candidates.sort(key=lambda c: c["order"])
    return [c["key"].asDict() for c in candidates[:SAMPLE_KEYS]]


def rule_results(
    checked_rows: int, counts: Mapping[str, int], actions: Mapping[str, str], samples: Mapping[str, list]
) -> list[CheckResult]:
    """One result per row rule of silver.quality."""
    results = []
    for rule in quality.RULES:
        failing = int(counts.get(rule.name, 0))
        action = actions[rule.name]
        message = f"{failing:,} of {checked_rows:,} rows break it ({rule.description})"
        results.append(
            CheckResult(
                rule.name,
                ROW_RULE,
                FLIGHTS,
                action,
                checked_rows,
                failing,
                status_of(action, failing),
                message=message,
                sample_keys=samples.get(rule.name, []),
            )
        )
    return results


def referential_results(
    silver_rows: int, failing: Mapping[str, int], has_carriers: bool, actions: Mapping[str, str], samples
) -> list[CheckResult]:
    """Silver flights whose airports are not in silver.airports, whose carrier is not in silver.airlines."""
    checks = [(REFERENTIAL_AIRPORTS, "silver.airports", "origin or dest")]
    if has_carriers:
        checks.append((REFERENTIAL_CARRIERS, "silver.airlines", "carrier"))
    results = []
    for name, table, what in checks:
        bad = int(failing.get(name, 0))
        results.append(
            CheckResult(
                name,
                DATASET,
                FLIGHTS,
                actions[name],
                silver_rows,
                bad,
                status_of(actions[name], bad),
                observed=f"{bad} missing",
                message=f"{bad:,} of {silver_rows:,} silver flights have a {what} not in {table}",
                sample_keys=samples.get(name, []),
            )
        )
    return results


def reconciliation_result(
    per_file: Mapping[str, Mapping[str, int]], landed: Mapping[str, tuple[int, int]], action: str
) -> CheckResult:
    """Per source file, bronze rows = silver + quarantined + duplicates; per bronze slot read whole,
    the rows ingest landed = the bronze rows cleaning read.

    ``per_file`` maps a source file to its counts (rows, silver, quarantined, duplicate);
    ``landed`` a bronze slot to (rows its manifest says ingest landed, rows cleaning read).
    """
    rows = sum(v["rows"] for v in per_file.values())
    off_files = {
        f: v["rows"] - v[quality.SILVER] - v[quality.QUARANTINED] - v[quality.DUPLICATE]
        for f, v in per_file.items()
    }
    off_files = {f: d for f, d in off_files.items() if d}
    off_slots = {s: (m, r) for s, (m, r) in landed.items() if m != r}
    failing = sum(abs(d) for d in off_files.values()) + sum(abs(m - r) for m, r in off_slots.values())
    if not failing:
        message = (
            f"{len(per_file):,} source files: bronze rows = silver + quarantined + duplicates; "
            f"{len(landed)} bronze slots read whole hold the rows ingest landed"
        )
    else:
        parts = [f"{f}: {d:+,} rows unaccounted" for f, d in sorted(off_files.items())[:3]]
        parts += [
            f"{s}: ingest landed {m:,}, cleaning read {r:,}" for s, (m, r) in sorted(off_slots.items())[:3]
        ]
        message = "; ".join(parts)
    return CheckResult(
        RECONCILIATION,
        DATASET,
        FLIGHTS,
        action,
        rows,
        failing,
        PASS if not failing else (FAILED if action == "fail" else WARN),
        observed=f"{len(per_file)} files, {len(landed)} slots",
        message=message,
    )


def raise_failed(results: Iterable[CheckResult], where: str, config_file: str) -> None:
    """Stop the run (nothing written) when a dataset check whose action is fail did not pass."""
    r = failed_dataset_check(results)
    if r is not None:
        raise PipelineError(
            f"data-quality check '{r.check_name}' (action fail) failed on {where}: {r.message}; "
            f"silver was left unchanged: fix the input or set quality.checks.{r.check_name} to warn "
            f"in {config_file}."
        )


def flight_results(summary: Summary, expect: Expectations, landed: dict[str, int]) -> list[CheckResult]:
    """The row rules', reconciliation's and referential checks' results of one pass."""
    checked_rows = sum(v["rows"] for v in summary.per_month.values())
    silver_rows = sum(v[quality.SILVER] for v in summary.per_month.values())
    slots = {s: (landed[s], rows) for s, rows in summary.per_slot.items() if s in landed}
    return [
        *rule_results(checked_rows, summary.rules, expect.actions, summary.samples),
        reconciliation_result(summary.per_source_file, slots, expect.dataset_actions[RECONCILIATION]),
        *referential_results(
            silver_rows, summary.referential, summary.has_carriers, expect.dataset_actions, summary.samples
        ),
    ]
