"""What a cleaning run did: counts per month and rule, the accounting equation, the log lines."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from flightpipe.silver import checks, quality
from flightpipe.silver.freshness import freshness_source
from flightpipe.silver.plan import Month, file_identities, month_of, norm_path

log = logging.getLogger("flightpipe.silver")


@dataclass
class Summary:
    """What one pass over the checked rows found."""

    per_month: dict[Month, dict[str, int]]
    rules: dict[str, int]
    file_months: dict[str, set[Month]]  # bronze file identity -> months of its rows
    per_source_file: dict[str, dict[str, int]] = field(default_factory=dict)  # outcome counts
    per_slot: dict[str, int] = field(default_factory=dict)  # bronze table/source_format -> rows
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # check -> failing keys
    referential: dict[str, int] = field(default_factory=dict)  # check -> failing silver rows
    has_carriers: bool = False
    newest: dict[str, str] = field(default_factory=dict)  # freshness source -> newest flight date


OUTCOMES = ("rows", quality.SILVER, quality.QUARANTINED, quality.DUPLICATE)


def summarize(checked: DataFrame) -> Summary:
    """Per-month outcome counts, per-rule counts, each bronze file's months, the data-quality
    checks' counts and failing keys, and the newest flight date per source, in one pass.

    ``checked`` carries ``_has_carrier`` (:func:`flightpipe.silver.checks.with_known_carrier`).
    """
    keys = ("_bronze_table", "_bronze_file", "source_format", "_source_file", "year", "month")
    rows = (
        checked.groupBy(*keys)
        .agg(
            F.count(F.lit(1)).alias("rows"),
            *[
                F.sum((F.col("outcome") == o).cast("long")).alias(o)
                for o in (quality.SILVER, quality.QUARANTINED, quality.DUPLICATE)
            ],
            *quality.rule_count_columns(),
            *checks.check_columns(),
        )
        .collect()
    )
    ids = file_identities(r["_bronze_file"] for r in rows)
    per_month: dict[Month, dict[str, int]] = {}
    rules = dict.fromkeys(quality.RULE_NAMES, 0)
    file_months: dict[str, set[Month]] = {}
    per_file: dict[str, dict[str, int]] = {}
    per_slot: dict[str, int] = {}
    referential = dict.fromkeys((checks.REFERENTIAL_AIRPORTS, checks.REFERENTIAL_CARRIERS), 0)
    newest: dict[str, str] = {}
    for r in rows:
        month = month_of(r["year"], r["month"])
        counts = per_month.setdefault(month, dict.fromkeys(OUTCOMES, 0))
        by_file = per_file.setdefault(r["_source_file"] or "(unknown)", dict.fromkeys(OUTCOMES, 0))
        for k in OUTCOMES:
            counts[k] += int(r[k] or 0)
            by_file[k] += int(r[k] or 0)
        slot = f"{r['_bronze_table']}/{r['source_format']}"
        per_slot[slot] = per_slot.get(slot, 0) + int(r["rows"])
        for name in quality.RULE_NAMES:
            rules[name] += int(r[f"rule__{name}"] or 0)
        for name in referential:
            referential[name] += int(r[f"fail__{name}"] or 0)
        file_months.setdefault(ids[norm_path(r["_bronze_file"])], set()).add(month)
        source = freshness_source(r["_bronze_table"])
        if r["newest_flight_date"] is not None:
            day = r["newest_flight_date"].isoformat()
            newest[source] = max(newest.get(source, day), day)
    # Failing keys come from the failing rows only: few, so the sample aggregates stay cheap.
    failing = checked.where(checks.is_failing()).agg(*checks.sample_columns()).collect()[0]
    samples = {
        name: checks.merge_samples([failing[f"sample__{name}"]])
        for name in (*quality.RULE_NAMES, *referential)
    }
    return Summary(
        per_month,
        rules,
        file_months,
        per_file,
        per_slot,
        samples,
        referential,
        any(r["has_carriers"] for r in rows),
        newest,
    )


@dataclass
class CleaningResult:
    """What a run did, for the summary and the run log."""

    mode: str  # full | incremental | unchanged
    months: list[Month] = field(default_factory=list)
    bronze_rows: int = 0
    silver_rows: int = 0
    quarantined: int = 0
    duplicates: int = 0
    rule_counts: dict[str, int] = field(default_factory=dict)
    rule_actions: dict[str, str] = field(default_factory=dict)
    weather: dict[str, int] = field(default_factory=dict)
    reference: dict[str, int] = field(default_factory=dict)

    def add_summary(self, summary: Summary, months: set[Month] | None) -> None:
        """Take the counts of a pass over the checked rows of ``months`` (all when None)."""
        per_month = summary.per_month
        self.rule_counts = summary.rules
        self.months = sorted(per_month) if months is None else sorted(months)
        self.bronze_rows = sum(v["rows"] for v in per_month.values())
        self.silver_rows = sum(v[quality.SILVER] for v in per_month.values())
        self.quarantined = sum(v[quality.QUARANTINED] for v in per_month.values())
        self.duplicates = sum(v[quality.DUPLICATE] for v in per_month.values())

    @property
    def balanced(self) -> bool:
        return self.bronze_rows == self.silver_rows + self.quarantined + self.duplicates

    def details(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "months": [f"{y:04d}-{m:02d}" if y else "no-date" for y, m in self.months],
            "flights": {
                "bronze_rows": self.bronze_rows,
                "silver_rows": self.silver_rows,
                "quarantined": self.quarantined,
                "duplicates": self.duplicates,
                "balanced": self.balanced,
            },
            "rules": {
                n: {"action": self.rule_actions.get(n), "rows": c} for n, c in self.rule_counts.items()
            },
            "weather": self.weather,
            "reference": self.reference,
        }


def log_summary(result: CleaningResult, db: str) -> None:
    """The run summary: rows in, out, rejected, per rule, and the accounting equation."""
    if result.mode == "unchanged":
        return
    months = result.details()["months"]
    log.info(
        "%s run over %d month(s): %s",
        result.mode,
        len(months),
        ", ".join(months[:6]) + (" ..." if len(months) > 6 else ""),
    )
    log.info(
        "flights: bronze %d = silver %d + quarantined %d + duplicates %d  [%s]",
        result.bronze_rows,
        result.silver_rows,
        result.quarantined,
        result.duplicates,
        "balanced" if result.balanced else "NOT BALANCED",
    )
    for name, count in result.rule_counts.items():
        log.info("  rule %-24s %-5s %d rows", name, result.rule_actions.get(name, ""), count)
    if result.weather:
        w = result.weather
        log.info(
            "weather: bronze %d = silver %d + duplicates %d + unplaceable %d",
            w["bronze_rows"],
            w["silver_rows"],
            w["duplicates"],
            w["unplaceable"],
        )
    for name, count in result.reference.items():
        log.info("%s.%s: %d rows", db, name, count)


def log_checks(results: list) -> None:
    """One line per check that did not pass (errors for failed ones), one for all that passed."""
    passed = [r.check_name for r in results if r.status == "pass"]
    for r in results:
        if r.status != "pass":
            level = logging.ERROR if r.status == "failed" else logging.WARNING
            log.log(level, "check %-24s %-7s %s", r.check_name, r.status, r.message)
    if passed:
        log.info("checks passed: %s", ", ".join(passed))
