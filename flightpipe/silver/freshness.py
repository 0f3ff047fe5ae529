"""Source freshness: the newest flight date (weather: hour) each source has landed, against now.

Cleaning finds the newest values in the pass it makes anyway and keeps them in its state file;
gold and ``scripts/pipeline.py`` (so nightly, even when every stage was skipped) judge them
from there, without Spark. Each source has its ``warn_after`` / ``error_after`` age.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from flightpipe.contracts.quality import FAILED, FRESHNESS, PASS, WARN, CheckResult
from flightpipe.core.sections import Freshness, FreshnessSources

SOURCES = ("bts", "streaming", "weather")
_STREAM_TABLE = "flights"  # bronze/flights: the streaming sink (silver.inputs.STREAM_TABLE)


def freshness_source(bronze_table: str | None) -> str:
    """The freshness source of a bronze flight table: the streaming sink or the batch files."""
    return "streaming" if bronze_table == _STREAM_TABLE else "bts"


def merge_newest(old: Mapping[str, str], new: Mapping[str, str], replace: bool) -> dict[str, str]:
    """The newest values after a run that read ``new`` (ISO text); ``replace`` when it read everything."""
    merged = {} if replace else dict(old)
    for source, value in new.items():
        if value and (source not in merged or value > merged[source]):
            merged[source] = value
    return merged


def landed_at(value: str) -> datetime:
    """The instant a newest value stands for: the end of a date, or the hour itself."""
    if len(value) == 10:
        return datetime.fromisoformat(value) + timedelta(days=1)
    return datetime.fromisoformat(value)


def _age(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:,.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:,.0f} hours"
    return f"{max(seconds, 0) / 60:,.0f} minutes"


def _limit(seconds: float | None) -> str:
    return "not set" if seconds is None else _age(seconds)


def freshness_result(source: str, newest: str | None, limits: Freshness, now: datetime) -> CheckResult:
    """The freshness check of one source."""
    action = "fail" if limits.error_after is not None else "warn"
    name, what = f"freshness_{source}", "hour" if source == "weather" else "flight date"
    if not newest:
        return CheckResult(
            name, FRESHNESS, source, action, 0, 0, PASS, "", f"nothing landed from {source} yet"
        )
    age = (now - landed_at(newest)).total_seconds()
    status = PASS
    if limits.error_after is not None and age > limits.error_after:
        status = FAILED
    elif limits.warn_after is not None and age > limits.warn_after:
        status = WARN
    message = (
        f"{source}: newest {what} landed {newest}, {_age(age)} old "
        f"(warn after {_limit(limits.warn_after)}, error after {_limit(limits.error_after)})"
    )
    return CheckResult(name, FRESHNESS, source, action, 0, 0, status, newest, message)


def freshness_results(
    newest: Mapping[str, str], thresholds: FreshnessSources, now: datetime
) -> list[CheckResult]:
    """One freshness check per source."""
    return [freshness_result(s, newest.get(s), getattr(thresholds, s), now) for s in SOURCES]


def stale_sentence(results: list[CheckResult], config_file: str) -> str | None:
    """One sentence naming the sources past their error_after, or None."""
    stale = [r for r in results if r.status == FAILED]
    if not stale:
        return None
    names = ", ".join(r.dataset for r in stale)
    return (
        f"source data is stale ({'; '.join(r.message for r in stale)}): land new {names} data, "
        f"or raise quality.freshness.<source>.error_after in {config_file}."
    )
