"""A date range given on the command line (``--start`` / ``--end``), widened to whole months.

Cleaning and gold rebuild by calendar month, so a backfill of 2013-03-05..2013-04-02 rebuilds
all of March and April. Pure: no Spark, no I/O.
"""

from __future__ import annotations

import argparse
import calendar
from dataclasses import dataclass
from datetime import date

from flightpipe.core.errors import PipelineError

Month = tuple[int, int]  # (year, month)


def month_label(month: Month) -> str:
    """``YYYY-MM``."""
    return f"{month[0]:04d}-{month[1]:02d}"


@dataclass(frozen=True)
class DateRange:
    """The days ``start``..``end`` (both included) of a backfill."""

    start: date
    end: date

    @property
    def months(self) -> list[Month]:
        """Every calendar month the range touches, in order."""
        out, (y, m) = [], (self.start.year, self.start.month)
        while (y, m) <= (self.end.year, self.end.month):
            out.append((y, m))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out

    @property
    def first_day(self) -> date:
        """The first day of the first month."""
        return self.start.replace(day=1)

    @property
    def last_day(self) -> date:
        """The last day of the last month."""
        return self.end.replace(day=calendar.monthrange(self.end.year, self.end.month)[1])

    @property
    def widened(self) -> bool:
        """True when the edges were moved out to whole months."""
        return (self.first_day, self.last_day) != (self.start, self.end)

    def describe(self) -> str:
        """A log line: the range, its months, and whether the edges were widened."""
        months = ", ".join(month_label(m) for m in self.months)
        text = f"{self.start}..{self.end}: month(s) {months}"
        if self.widened:
            text += f" (edges widened to whole months: {self.first_day}..{self.last_day})"
        return text

    def details(self) -> dict[str, object]:
        """The range for a run record's details."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "months": [month_label(m) for m in self.months],
        }


def _day(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PipelineError(
            f"{option} {text!r} is not a date YYYY-MM-DD; give e.g. {option} 2013-03-01."
        ) from None


def parse_range(start: str | None, end: str | None) -> DateRange | None:
    """``--start`` / ``--end`` as a DateRange (None when neither is given); a bad one is one sentence."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise PipelineError("--start and --end go together; give both (YYYY-MM-DD) or neither.")
    first, last = _day("--start", start), _day("--end", end)
    if first > last:
        raise PipelineError(f"--start {first} is after --end {last}; give a range with start <= end.")
    return DateRange(first, last)


def add_range_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--start`` and ``--end`` (checked later by :func:`parse_range`, so a typo is one sentence)."""
    parser.add_argument("--start", metavar="YYYY-MM-DD", help=f"first day of a backfill: {what}")
    parser.add_argument("--end", metavar="YYYY-MM-DD", help="last day of the backfill (with --start)")
